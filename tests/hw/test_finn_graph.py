"""The FINN hand-off graph (hw/finn_graph.py) and its folding (hw/finn_folding.py): the graph
computes what the integer reference computes, on real and random windows, for every shipped
network and for random networks with every threshold shape; the threshold rewrites are exact
on every accumulator value; FINN's node names and cycle formulas."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.onnx_exec import execute_onnx

from ecgaccel.hw.compile import compile_chain
from ecgaccel.hw.description import MultiThresholds, Thresholds
from ecgaccel.hw.finn_folding import NODE_OPS, finn_nodes, set_finn_folding
from ecgaccel.hw.finn_graph import (
    FinnGraphError,
    finn_graph,
    host_input,
    host_scores,
    level_map,
    lower_layers,
    stream_map,
)
from ecgaccel.models import reference
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.nets import BnnConfig
from tests.helpers import bundled_windows, random_bnn, shipped_chain_networks, shipped_description

REPO = Path(__file__).resolve().parents[2]
SHIPPED = shipped_chain_networks()  # the FINN hand-off lowers chains (graphs: finn_export test)


def _run_graph(desc, x: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx of the FINN graph, window by window → int64 class scores."""
    model = finn_graph(desc)
    outs = [execute_onnx(model, {"global_in": xi})["global_out"] for xi in host_input(desc, x)
            [:, None]]  # fmt: skip
    return host_scores(desc, np.concatenate(outs))


def _check(desc, x: np.ndarray) -> None:
    ref = reference.run(desc, x)
    scores = _run_graph(desc, x)
    np.testing.assert_array_equal(scores, ref.scores)
    np.testing.assert_array_equal(scores.argmax(axis=1), ref.pred)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_networks_equal_the_reference_on_real_and_random_windows(name):
    model, protocol = name.rsplit("-", 1)
    desc = shipped_description(model, protocol)
    if desc.input_length == 3600:
        x = bundled_windows(("200", "213", "232", "233"))
    else:  # a beat network: real windows do not apply, random inputs do
        x = np.zeros((0, 1, desc.input_length), dtype=np.int8)
    rng = np.random.default_rng(7)
    noise = rng.integers(-128, 128, size=(2, 1, desc.input_length), dtype=np.int8)
    _check(desc, np.concatenate([x, noise]))


@pytest.fixture(scope="module", params=[1, 2])
def random_desc(request, tmp_path_factory):
    """Untrained networks whose thresholds take every shape (rising, falling, V, inverted V)."""
    net = random_bnn(BnnConfig(5, bits=request.param), seed=3)
    path = export_qonnx(net, tmp_path_factory.mktemp("q") / "net.onnx")
    return compile_chain(path, f"random-w{request.param}", list("NSVFQ"))


def test_random_networks_with_every_threshold_shape(random_desc):
    lowered = lower_layers(random_desc)
    split = sum(len(fl.out_map.channels) > fl.layer.out_channels for fl in lowered if fl.out_map)
    assert split, "the random network should have two-sided thresholds somewhere"
    x = np.random.default_rng(0).integers(-128, 128, size=(3, 1, random_desc.input_length))
    _check(random_desc, x.astype(np.int8))


def _bipolar_of_stream(sm, c: int, m: np.ndarray, pad: bool) -> np.ndarray:
    """x[c] as the next layer sees it from the streamed bits (``pad``: in the padding)."""
    x = np.full(m.shape, sm.gamma[c], dtype=np.int64)
    for ch in sm.channels:
        if ch.source == c:
            bit = np.full(m.shape, ch.pad_bit) if pad else (ch.sign * m >= ch.theta)
            x += ch.alpha * (2 * bit.astype(np.int64) - 1)
    return x


@pytest.mark.parametrize(
    ("lo", "hi", "inv"),
    [
        (-100, 3, False),  # rising
        (-100, 3, True),
        (-4, 100, False),  # falling
        (-4, 100, True),
        (-4, 3, False),  # V: 1 outside (lo, hi)
        (-4, 3, True),  # inverted V
        (2, 3, False),  # the two comparisons cover every m: constant
        (-100, 100, False),  # neither reachable: constant
        (-100, 100, True),
    ],
)
def test_stream_map_is_exact_on_every_accumulator_value(lo, hi, inv):
    th = Thresholds(lo=np.array([lo]), hi=np.array([hi]), invert=np.array([inv]))
    m = np.arange(-10, 11)
    sm = stream_map(th, -10, 10)
    want = 2 * th.apply(m[None, :])[0].astype(np.int64) - 1
    np.testing.assert_array_equal(_bipolar_of_stream(sm, 0, m, pad=False), want)
    assert _bipolar_of_stream(sm, 0, m[:1], pad=True)[0] == 1  # the ECG-BNN pads with +1
    assert all(ch.sign in (-1, 1) and ch.alpha in (-1, 1) for ch in sm.channels)


@pytest.mark.parametrize(
    ("thresholds", "sign", "base"),
    [
        ([-5, 0, 4], [1, 1, 1], -2),  # rising
        ([-5, 3, 20, 20], [1, 1, 1, 1], 0),  # fewer reachable steps, a higher base
        ([-5, 2, 20, 20], [-1, 1, 1, 1], 1),  # V
        ([-6, -1, 1, 5], [-1, -1, 1, 1], 1),  # a deeper V (needs the shift)
        ([-30, 0, 2], [1, -1, 1], -1),  # one step below the range (always reached)
    ],
)
def test_level_map_is_exact_on_every_accumulator_value(thresholds, sign, base):
    mt = MultiThresholds(np.array([thresholds]), np.array([sign], dtype=np.int8),
                         np.array([base]), out_bits=2)  # fmt: skip
    m = np.arange(-10, 11)
    lm = level_map(mt, -10, 10)
    t = lm.matrix(-10, 10)
    assert np.all(np.diff(t, axis=1) >= 0), "FINN's thresholds ascend"
    levels = lm.bias + (m[None, :, None] >= t[:, None, :]).sum(axis=2)  # FINN's MultiThreshold
    x = sum(ch.alpha * levels[j] for j, ch in enumerate(lm.channels))
    np.testing.assert_array_equal(x, mt.apply(m[None, :])[0])
    lo_, hi_ = lm.bias, lm.bias + lm.steps
    assert lm.dtype == "INT2" or (lo_ < -2 or hi_ > 1), "INT2 whenever the values fit"


def test_finn_graph_layout_and_opset():
    desc = shipped_description()
    model = finn_graph(desc)
    assert model.model.opset_import[0].domain == ""  # FINN's qonnx reads entry 0 as ONNX's
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Im2Col", "MatMul", "XnorPopcountMatMul", "MaxPoolNHWC", "Mul", "Add", "Pad",
                   "MultiThreshold"}  # fmt: skip
    xnor = [n for n in model.graph.node if n.op_type == "XnorPopcountMatMul"]
    assert len(xnor) == len(desc.layers) - 1  # every layer after the first takes bits
    assert all(model.get_tensor_datatype(n.input[1]).name == "BINARY" for n in xnor)
    assert model.get_tensor_shape("global_in") == [1, 1, 3610, 1]
    assert model.get_tensor_datatype("global_in").name == "INT8"
    for n in model.graph.node:
        if n.op_type == "MultiThreshold":
            assert model.get_tensor_datatype(n.output[0]).name == "BINARY"


def test_first_layer_must_take_integers():
    desc = shipped_description()
    bad = desc.__class__(**{**desc.__dict__, "layers": desc.layers[1:]})
    with pytest.raises(FinnGraphError, match="integer input"):
        finn_graph(bad)


@pytest.mark.parametrize("model", ["ecgbnn5", "ecgbnn5-w2a2"])
def test_finn_nodes_names_and_folding(model):
    desc = shipped_description(model)
    nodes = finn_nodes(desc)
    assert {n.op_type for n in nodes} <= set(NODE_OPS)
    for op in NODE_OPS:
        named = [n.name for n in nodes if n.op_type == op]
        assert named == [f"{op}_{i}" for i in range(len(named))]  # GiveUniqueNodeNames order
    assert sum(n.op_type == "MVAU_hls" for n in nodes) == len(desc.layers)
    for target in (16_522, 60_000):
        f = set_finn_folding(desc, target)
        assert f.ii == max(f.cycles.values()) <= target or f.bottleneck.startswith("Conv")
        for n in nodes:
            v = f.values[n.name]
            assert n.dim % v[n.attr] == 0, n.name
            if n.role == "mvau":
                assert n.mh % v["PE"] == 0
        pools = [n for n in nodes if n.role == "pool"]
        swgs = [n for n in nodes if n.role == "pool_swg"]
        assert [f.values[p.name]["PE"] for p in pools] == [f.values[s.name]["SIMD"] for s in swgs]
    with pytest.raises(ValueError, match="target_cycles"):
        set_finn_folding(desc, 0)


def test_finn_cycle_formulas_match_what_finn_reported():
    """FINN 39f0c9a reported these for ecgbnn5 with no folding config (PE = SIMD = 1, except
    the depthwise SWG and Pool that InferPool makes with all 10 channels): the first SWG
    12,616, MVAU 0 126,140, the depthwise SWG 6,288, Pool 6,286, the Add 8,980, FMPadding and
    Thresholding 9,080."""
    nodes = {n.name: n for n in finn_nodes(shipped_description())}
    assert nodes["ConvolutionInputGenerator_rtl_0"].cycles(1) == 12_616
    assert nodes["MVAU_hls_0"].cycles(1, 1) == 126_140
    assert nodes["ConvolutionInputGenerator_rtl_1"].cycles(10) == 6_288
    assert nodes["Pool_hls_0"].cycles(10) == 6_286
    assert nodes["ChannelwiseOp_hls_1"].cycles(1) == 8_980
    assert nodes["FMPadding_rtl_0"].cycles(1) == nodes["Thresholding_rtl_0"].cycles(1) == 9_080


def test_finn_steps_imports_only_finn_qonnx_numpy_onnx_and_the_standard_library():
    import sys

    tree = ast.parse((REPO / "hw" / "finn_steps.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) <= {"finn", "qonnx", "numpy", "onnx"}


def test_the_datatype_check_of_finn_steps_counts_values_a_datatype_cannot_hold():
    from qonnx.core.datatype import DataType

    from ecgaccel.hw.finn_steps import _outside

    pop = np.array([0, 200, 255, 256, 303], dtype=np.float32)  # popcounts of an MW-448 MVAU
    assert _outside(DataType["INT9"], pop) == 2  # FINN's ±1-range width wraps 256 and 303
    assert _outside(DataType["UINT9"], pop) == 0
    assert _outside(DataType["BIPOLAR"], np.array([-1.0, 1.0, 0.0])) == 1
    assert _outside(DataType["INT4"], np.array([1.5])) == 1  # not an integer
    assert _outside(DataType["FLOAT32"], np.array([1e9])) == 0


def test_host_parts_refuse_wrong_shapes():
    desc = shipped_description()
    with pytest.raises(ValueError, match=r"input must be \[N, 1, 3600\]"):
        host_input(desc, np.zeros((1, 3600), dtype=np.int8))
    with pytest.raises(ValueError, match=r"graph output must be \[N, 1, 27, 5\]"):
        host_scores(desc, np.zeros((1, 27, 5)))
