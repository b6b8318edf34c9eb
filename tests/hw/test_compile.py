"""QONNX → integer description: thresholds, head, round trip, and agreement with Brevitas."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgaccel.hw.compile import CompileError, _Affine, compile_chain, derive_thresholds
from ecgaccel.hw.description import DescriptionError, MultiThresholds, NetworkDescription
from ecgaccel.models import reference
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import BnnConfig, quantize_input, zscore
from ecgaccel.models.windows import load_windows
from tests.helpers import random_bnn


@pytest.mark.parametrize(
    ("slope", "gamma", "shape"),
    [(0.3, 1.0, "ge"), (0.3, -1.0, "le"), (-0.5, 1.0, "outside"), (-0.5, -1.0, "inside")],
)
def test_threshold_shapes_match_brute_force(slope, gamma, shape):
    f = _Affine(slope=np.array([slope]), a=np.array([gamma]), mean=np.array([2.0]),
                beta=np.array([0.1]))  # fmt: skip
    scale = np.array([0.25])
    th = derive_thresholds(f, scale, -100, 100)
    m = np.arange(-100, 101)
    expected = (f(scale[:, None] * m[None, :]) >= 0).astype(np.uint8)
    np.testing.assert_array_equal(th.apply(m[None, :]), expected)
    assert bool(th.invert[0]) == (shape == "inside")
    assert (th.lo[0] >= -100) == (shape in ("le", "outside", "inside"))
    assert (th.hi[0] <= 100) == (shape in ("ge", "outside", "inside"))


@pytest.fixture(scope="module")
def random_export(tmp_path_factory):
    model = random_bnn(BnnConfig(5), seed=1)
    path = export_qonnx(model, tmp_path_factory.mktemp("q") / "net.onnx")
    return model, path, compile_chain(path, "random", list("NSVFQ"))


def test_description_shape(random_export):
    _, _, desc = random_export
    assert [layer.out_length for layer in desc.layers] == [898, 448, 223, 111, 55, 27]
    assert desc.layers[0].input_bits == 8 and desc.layers[0].pad_value == 32
    assert all(layer.pad_value == 1 and layer.input_bits is None for layer in desc.layers[1:])
    assert desc.storage_bits()["weights"] == 28_280
    shapes = np.concatenate([layer.thresholds.invert for layer in desc.layers[:-1]])
    assert shapes.any() and not shapes.all()  # random γ / slopes give inverted channels too


def test_reference_agrees_with_brevitas_on_real_windows(random_export):
    model, _, desc = random_export
    w = load_windows(bundled_data_dir(), ["213"])
    z = zscore(w.x)
    with torch.no_grad():
        scores = model(torch.from_numpy(z)).numpy()
    out = reference.run(desc, quantize_input(z))
    np.testing.assert_array_equal(out.pred, scores.argmax(axis=1))
    # the only rounding is the head's fixed-point coefficients
    np.testing.assert_allclose(out.scores * 2.0**-desc.head.frac_bits, scores, atol=5e-3)


def test_qonnx_execution_equals_pytorch(random_export):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model, path, desc = random_export
    z = zscore(load_windows(bundled_data_dir(), ["200"]).x[:3])
    wrapper = ModelWrapper(str(path))
    for k in range(3):
        got = execute_onnx(wrapper, {"global_in": z[k : k + 1]})["global_out"]
        with torch.no_grad():
            want = model(torch.from_numpy(z[k : k + 1])).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
        assert got.argmax() == reference.run(desc, quantize_input(z[k : k + 1])).pred[0]


def test_description_json_round_trip(random_export, tmp_path):
    _, _, desc = random_export
    back = NetworkDescription.load(desc.save(tmp_path / "d.json"))
    # every field (weights, thresholds lo / hi / invert or levels, pads, pools, head), not a few
    assert json.dumps(back.to_json(), sort_keys=True) == json.dumps(desc.to_json(), sort_keys=True)
    x = np.random.default_rng(3).integers(-128, 128, (4, 1, desc.input_length)).astype(np.int8)
    a, b = reference.run(desc, x, keep=True), reference.run(back, x, keep=True)
    np.testing.assert_array_equal(a.scores, b.scores)
    for u, v in zip(a.activations, b.activations, strict=True):
        np.testing.assert_array_equal(u, v)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DescriptionError, match=r"bad\.json: malformed description"):
        NetworkDescription.load(tmp_path / "bad.json")


def test_reference_rejects_bad_input(random_export):
    _, _, desc = random_export
    with pytest.raises(ValueError, match=r"input must be \[N, 1, 3600\]"):
        reference.run(desc, np.zeros((1, 1, 3000), np.int8))
    with pytest.raises(ValueError, match="outside the signed 8-bit range"):
        reference.run(desc, np.full((1, 1, 3600), 300, np.int16))


def test_compile_rejects_graph_without_input_quant(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph), tmp_path / "relu.onnx")
    with pytest.raises(CompileError, match="must feed a signed Quant node"):
        compile_chain(tmp_path / "relu.onnx", "x", ["a"])
    with pytest.raises(CompileError, match="QONNX file not found"):
        compile_chain(tmp_path / "missing.onnx", "x", ["a"])


@pytest.fixture(scope="module", params=[2, 4], ids=["w2a2", "w4a4"])
def int_export(request, tmp_path_factory):
    model = random_bnn(BnnConfig(5, bits=request.param), seed=2)
    path = export_qonnx(model, tmp_path_factory.mktemp("q") / "net.onnx")
    return request.param, model, compile_chain(path, "random-int", list("NSVFQ"))


def test_int_description_shape(int_export):
    bits, _, desc = int_export
    assert desc.layers[0].input_bits == 8 and desc.layers[0].pad_value == 32
    assert all(layer.input_bits == bits and layer.pad_value == 0 for layer in desc.layers[1:])
    hi = 2 ** (bits - 1) - 1  # narrow-range weights
    for layer in desc.layers:
        assert layer.weight_bits == bits
        assert layer.weights.min() >= -hi and layer.weights.max() <= hi
    acts = [layer.thresholds for layer in desc.layers[:-1]]
    assert all(isinstance(a, MultiThresholds) and a.out_bits == bits for a in acts)
    signs = np.concatenate([a.sign.ravel() for a in acts])
    assert (signs == 1).any() and (signs == -1).any()  # random γ / slopes: both directions
    assert desc.storage_bits()["weights"] == 28_280 * bits


def test_int_reference_agrees_with_brevitas(int_export, tmp_path):
    _, model, desc = int_export
    z = zscore(load_windows(bundled_data_dir(), ["213"]).x)
    with torch.no_grad():
        scores = model(torch.from_numpy(z)).numpy()
    out = reference.run(desc, quantize_input(z), keep=True)
    np.testing.assert_array_equal(out.pred, scores.argmax(axis=1))
    # the head's 16-bit coefficients: relative rounding of about 2^-15 on large random scores
    np.testing.assert_allclose(out.scores * 2.0**-desc.head.frac_bits, scores, rtol=1e-3,
                               atol=5e-3)  # fmt: skip
    levels = np.concatenate([a.ravel() for a in out.activations[:-1]])
    assert len(np.unique(levels)) > 2  # really n-bit activations, not stuck at one level
    back = NetworkDescription.load(desc.save(tmp_path / "d.json"))
    np.testing.assert_array_equal(reference.run(back, quantize_input(z)).scores, out.scores)
