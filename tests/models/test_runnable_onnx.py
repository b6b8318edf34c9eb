"""The runnable ONNX: folding the quantizers keeps the Brevitas model's scores exactly (binary
and W2A2), and onnxruntime runs the export with standard ops only, to the same classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgaccel.artifacts import artifact_paths
from ecgaccel.bench import bundled_windows
from ecgaccel.models.checkpoint import build_model, load_checkpoint
from ecgaccel.models.runnable_onnx import (
    FakeQuant,
    export_runnable_onnx,
    fold_quantizers,
    onnx_cache_path,
    onnx_ops,
    scores_agreement,
)
from ecgaccel.models.train import predict_scores


def test_fake_quant_ranges():
    x = torch.tensor([-9.0, -0.25, 0.0, 0.25, 0.5, 9.0])
    bipolar = FakeQuant(2.0, 0.0, 1, signed=True, narrow=True)
    assert bipolar(x).tolist() == [-2.0, -2.0, 2.0, 2.0, 2.0, 2.0]  # 0 maps to +1
    int2 = FakeQuant(0.5, 0.0, 2, signed=True, narrow=False)  # [-2, 1] * 0.5, half to even
    assert int2(x).tolist() == [-1.0, -0.0, 0.0, 0.0, 0.5, 0.5]
    narrow = FakeQuant(1.0, 0.0, 2, signed=True, narrow=True)  # [-1, 1]
    assert narrow(x).tolist() == [-1.0, -0.0, 0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("model", ["ecgbnn5", "ecgbnn5-w2a2"])
def test_folded_model_and_onnx_match_brevitas(tmp_path, model):
    import onnxruntime as ort

    paths = artifact_paths(model, "patient")
    net = build_model(load_checkpoint(paths["checkpoint"]), paths["checkpoint"], model)
    z, _, _ = bundled_windows(4)
    brevitas = predict_scores(net, z)
    with torch.inference_mode():
        folded = fold_quantizers(net)(torch.from_numpy(z)).numpy()
    np.testing.assert_array_equal(folded, brevitas)
    path = export_runnable_onnx(net, onnx_cache_path(net, model, tmp_path))
    assert path.parent == tmp_path and path.name.startswith(f"{model}-")
    assert not [op for op in onnx_ops(path) if "Quant" in op or "." in op]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scores = session.run(None, {"global_in": z})[0]
    agreement = scores_agreement(brevitas, scores)
    assert agreement["classes"] == 1.0 and agreement["max_abs_score_diff"] < 1e-3
    assert export_runnable_onnx(net, path) == path  # cached: kept as it is
