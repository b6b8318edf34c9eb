"""ECG-BNN shapes, storage formula, input quantization and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgaccel.models.nets import BnnConfig, EcgBnn, quantize_input, storage_bits_paper, zscore
from ecgaccel.models.registry import REGISTRY, UnknownModelError, get_spec


def test_paper_storage_formula():
    assert storage_bits_paper(BnnConfig(5)) == 28_280 + 157 * 16
    assert storage_bits_paper(BnnConfig(5)) // 8 == 3849  # 3.76 KiB, the paper's figure
    assert storage_bits_paper(BnnConfig(17)) / 8 / 1024 <= 4.45


def test_block_lengths():
    assert BnnConfig().block_lengths() == [898, 448, 223, 111, 55, 27]
    assert BnnConfig(input_length=720).block_lengths()[-1] == 4
    with pytest.raises(ValueError, match="too short"):
        BnnConfig(input_length=200).block_lengths()


def test_registry_names():
    assert {"ecgbnn5", "ecgbnn17", "ecgbnn5-fp", "ecgbnn17-fp", "ecgbnn-beat"} <= set(REGISTRY)
    with pytest.raises(UnknownModelError, match="unknown model 'nope'; known: ecgbnn5"):
        get_spec("nope")


def test_quantize_input_matches_brevitas():
    model = EcgBnn(BnnConfig()).eval()
    z = np.random.default_rng(0).normal(0, 2, (4, 1, 3600)).astype(np.float32)
    z[0, 0, :4] = [0.015625, -0.046875, 10.0, -10.0]  # half-way points and clipping
    q = quantize_input(z)
    with torch.no_grad():
        brevitas = model.input_quant(torch.from_numpy(z)).numpy()
    np.testing.assert_array_equal(q.astype(np.float32) / 32, brevitas)
    assert q.dtype == np.int8 and q[0, 0, 2] == 127 and q[0, 0, 3] == -128


def test_zscore():
    x = np.random.default_rng(1).normal(3, 2, (2, 1, 500)).astype(np.float32)
    z = zscore(x)
    np.testing.assert_allclose(z.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=-1), 1, atol=1e-4)
    assert np.all(zscore(np.ones((1, 1, 10))) == 0)


def test_wrong_window_length_is_a_clear_error():
    model = EcgBnn(BnnConfig()).eval()
    with pytest.raises(ValueError, match=r"expects input \[N, 1, 3600\], got \[2, 1, 3000\]"):
        model(torch.zeros(2, 1, 3000))
