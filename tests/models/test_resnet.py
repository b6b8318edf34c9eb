"""The quantized 1-D ResNet (models/resnet.py) through the graph front end: Brevitas → QONNX →
streamlined (ScaledAdd, GlobalAccPool, IntLinearHead) → IntGraph, equal to qonnx execution and
to Brevitas's logits (up to the head bias's rounding), and through the dataflow RTL."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from ecgaccel.hw.compile import CompileError, compile_qonnx
from ecgaccel.hw.streamline import HEAD_KEY, streamline
from ecgaccel.hw.streamline.to_graph import graph_from_streamlined
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.resnet import QuantResNet1d, ResNetConfig
from tests.helpers import calibrated_export

L = 128


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A 3-block int4 ResNet (8 → 16 channels in block 2: stride 2 and a 1x1 projection
    shortcut; identity shortcuts in blocks 1 and 3) whose scales and BatchNorm statistics are
    set on real ECG (a few forward passes in training mode, no gradient steps), exported to
    QONNX."""
    from ecgaccel.run import load_selected_windows

    torch.manual_seed(1)
    config = ResNetConfig(n_classes=4, input_length=L, channels=8, blocks=3, widths=(8, 16, 16))
    model = QuantResNet1d(config)
    _, data, _ = load_selected_windows(None, ["200", "213"], 4)
    x = data.x[:, :, : 28 * L].reshape(-1, 1, L)  # 10-s windows cut into 128-sample pieces
    z = zscore(x)
    model, path = calibrated_export(model, z, tmp_path_factory.mktemp("resnet") / "resnet.onnx")
    q = quantize_input(z[:24])
    return model, path, q


def test_residual_network_compiles_to_a_graph_of_adds_pool_and_linear_head(net):
    _, path, _ = net
    g = compile_qonnx(path, "resnet", ("a", "b", "c", "d"))
    ops = [n.op for n in g.nodes]
    assert ops.count("AddStreams") == 3 and ops.count("DuplicateStreams") == 3
    convs = [n for n in g.nodes if n.op == "Conv"]
    projection = [c for c in convs if c.kernel == (1, 1)]
    assert len(projection) == 1 and projection[0].stride == (1, 2)
    assert [c.weights.shape[0] for c in convs] == [8, 8, 8, 16, 16, 16, 16, 16]
    assert ops.count("GlobalAccPool") == 1 and ops[-2:] == ["LinearHead", "LabelSelect"]
    assert g.node(g.scores).weight_bits == 8


def test_graph_reference_equals_qonnx_and_brevitas(net):
    from qonnx.core.onnx_exec import execute_onnx

    from ecgaccel.hw.compile import load_qonnx

    model, path, q = net
    s = streamline(load_qonnx(path))
    g = graph_from_streamlined(s, "resnet", ("a", "b", "c", "d"))
    ref = g.run(q[:, None].astype(np.int64))
    for i in range(0, len(q), 6):
        out = execute_onnx(s, {"global_in": q[i : i + 1].astype(np.float32)})
        np.testing.assert_array_equal(out["global_out"][0], ref["scores"][i])
    unit = json.loads(s.get_metadata_prop(HEAD_KEY))["unit"]
    with torch.no_grad():
        logits = model(torch.from_numpy(q.astype(np.float32) / 32)).numpy() / unit
    # the only rounding is the bias's, half a unit, plus float32 noise of the logits
    err = np.abs(ref["scores"] - logits)
    assert err.max() <= 0.5 + 1e-3 * np.abs(logits).max(), err.max()
    close = np.sort(logits, axis=1)[:, -1] - np.sort(logits, axis=1)[:, -2] > 1.0
    np.testing.assert_array_equal(ref["decision"][close, 0], logits[close].argmax(1))


def test_scales_that_do_not_differ_by_a_power_of_two_are_refused(net, tmp_path):
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    model = copy.deepcopy(net[0])
    model.blocks[0].unit2.quant = QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4,
                                                return_quant_tensor=False)  # fmt: skip
    with torch.no_grad():
        model.blocks[0].unit2.quant.train()
        model(torch.randn(8, 1, L))
        model.eval()
    path = export_qonnx(model, tmp_path / "bad.onnx")
    with pytest.raises(CompileError, match=r"\(Add\): scales .* power of two"):
        compile_qonnx(path, "bad", ("a", "b", "c", "d"))


def test_the_residual_network_is_bit_exact_on_the_dataflow_rtl(net, tmp_path):
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.sim.core_sim import simulate_core

    _, path, q = net
    g = compile_qonnx(path, "resnet", ("a", "b", "c", "d"))
    x = q[:4].astype(np.int64)
    ref = g.run(x[:, None])
    r = simulate_core(plan_graph(g), x, idle=0.3, pause=0.5, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref["scores"])
    np.testing.assert_array_equal(r.classes, ref["decision"][:, 0])


def test_the_registered_resnet_round_trips_through_a_checkpoint(tmp_path):
    from ecgaccel.models.checkpoint import build_model, config_to_dict
    from ecgaccel.models.registry import build_network, get_spec

    spec = get_spec("resnet-beat")
    net = build_network(spec.config)
    assert isinstance(net, QuantResNet1d) and spec.config.receptive_field > spec.config.kernel
    net.train()  # Brevitas learns an activation scale after 30 steps of statistics
    with torch.no_grad():
        for _ in range(31):
            net(torch.randn(2, 1, spec.config.input_length))
    # the shape as checkpoints stored it before ResNetConfig.widths existed: no such key
    assert config_to_dict(spec.config) == {
        "arch": "resnet",
        "n_classes": 5,
        "input_length": 720,
        "channels": 16,
        "blocks": 3,
        "kernel": 5,
        "bits": 4,
    }
    ckpt = {"model": "resnet-beat", "config": config_to_dict(spec.config),
            "state_dict": net.state_dict()}  # fmt: skip
    again = build_model(ckpt, tmp_path / "x.pt", expect_model="resnet-beat")
    from ecgaccel.models.nets import storage_bits_paper

    # 16 x 5 stem + 6 convs of 16 x 16 x 5 weights at 4 bits, 16 x 5 head weights at 8 bits,
    # 16 bits for each of 16 x 10 + 5 output channels
    assert storage_bits_paper(spec.config) == (16 * 5 + 6 * 16 * 16 * 5) * 4 + 640 + 165 * 16
    x = torch.randn(2, 1, spec.config.input_length)
    with torch.no_grad():
        torch.testing.assert_close(again(x), net.eval()(x))
