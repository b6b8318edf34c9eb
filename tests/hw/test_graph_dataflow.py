"""The dataflow back end over graphs (hw/graph_dataflow.py): lowering, join FIFO sizing, and the
RTL of whole random residual graphs on Verilator against IntGraph.run, with stalls, at the
estimated initiation interval, and a too-shallow join FIFO caught by the watchdog."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgaccel.hw.graph import (
    AddStreams,
    Conv,
    DuplicateStreams,
    GlobalAccPool,
    GraphInput,
    IntGraph,
    LabelSelect,
    LinearHead,
    MaxPool,
    MultiThreshold,
    signed,
)
from ecgaccel.hw.graph_dataflow import (
    GraphPipeline,
    NodeFolding,
    join_fifo_depths,
    lower,
    plan_graph,
)
from ecgaccel.hw.layers.common import LayerConfigError
from ecgaccel.hw.random_graph import random_graph

II_RTOL = 0.10


def _mt(name, src, c, bits, lo=-40, hi=40):
    steps = (1 << bits) - 1
    t = np.tile(np.linspace(lo, hi, steps).round().astype(np.int64), (c, 1))
    return MultiThreshold(name, (src,), thresholds=t, sign=np.ones_like(t, np.int8),
                          base=np.full(c, -(1 << (bits - 1)), np.int64), out_bits=bits)  # fmt: skip


def _residual_graph(k1=5, pad1=2, k2=3, pad2=1, c=4, length=32, rows=1):
    """x int8 [1, rows, L] → stem Conv(1x3) → int3 → fork → Conv(k1) → int3 → Conv(k2) → int3 →
    add(skip) → int3 → GAP → LinearHead → LabelSelect."""
    rng = np.random.default_rng(0)

    def conv(name, src, cin, k, pad):
        w = rng.integers(-2, 2, size=(c, cin, 1, k)).astype(np.int8)
        return Conv(name, (src,), weights=w, weight_bits=2, pads=(0, 0, pad, k - 1 - pad))

    nodes = [conv("stem", "x", 1, 3, 1), _mt("stem.act", "stem", c, 3, -200, 200),
             DuplicateStreams("fork", ("stem.act",)),
             conv("c1", "fork", c, k1, pad1), _mt("a1", "c1", c, 3),
             conv("c2", "a1", c, k2, pad2), _mt("a2", "c2", c, 3),
             AddStreams("add", ("a2", "fork")), _mt("a3", "add", c, 3, -6, 6),
             GlobalAccPool("gap", ("a3",)),
             LinearHead("head", ("gap",), weights=rng.integers(-7, 8, size=(3, c)).astype(np.int8),
                        weight_bits=4, bias=np.array([3, -2, 0])),
             LabelSelect("label", ("head",))]  # fmt: skip
    gin = GraphInput("x", signed((1, rows, length), 8))
    return IntGraph("res", ("a", "b", "c"), (gin,), tuple(nodes), "head", "label")


def test_lowering_makes_one_stage_per_node_and_merges_the_label_select():
    g = _residual_graph()
    stages = lower(g)
    assert [s.name for s in stages] == [n.name for n in g.nodes if n.op != "LabelSelect"]
    ops = {s.name: [c.__name__ for c, _ in s.components] for s in stages}
    assert ops["c1"] == ["SlidingWindowGenerator", "MVAU"]
    assert ops["head"] == ["MVAU", "HeadLayer"]
    assert ops["fork"] == ["DuplicateStreamsLayer"]


def test_join_fifo_depth_is_the_main_paths_kernel_reach():
    # main path: conv k1 reaches k1 - 1 - pad1 positions ahead, conv k2 k2 - 1 - pad2; the skip
    # FIFO waits that many positions plus the one being added, a beat a position (PE = C = 4
    # lanes, the add's), plus a slice of 2 beats per component of the main path: SWG + MVAU
    # twice, two thresholding layers
    for k1, pad1, k2, pad2 in [(5, 2, 3, 1), (7, 0, 3, 1), (3, 1, 9, 4)]:
        g = _residual_graph(k1, pad1, k2, pad2)
        depths = join_fifo_depths(g, lower(g))
        reach = (k1 - 1 - pad1) + (k2 - 1 - pad2) + 1
        assert depths[("add", 1)] == reach + 2 * 6, (k1, pad1, k2, pad2)
        assert depths[("add", 0)] <= 2  # the main path needs no FIFO


def test_unsupported_nodes_and_foldings_name_the_node():
    g = _residual_graph(rows=12)
    assert lower(g)[0].components[0][1][0].rows == 12  # a 12-lead map: the SWG takes the rows
    pool = MaxPool("pool", ("a3",), kernel=(3, 2), stride=(1, 2))
    nodes = [*g.nodes[:9], pool, replace(g.nodes[9], inputs=("pool",)), *g.nodes[10:]]
    with pytest.raises(LayerConfigError, match=r"pool \(MaxPool\): a pool over several rows"):
        lower(replace(g, nodes=tuple(nodes)))
    with pytest.raises(LayerConfigError, match=r"c1 \(Conv\).*pe=3 does not divide"):
        plan_graph(_residual_graph(), {"c1": NodeFolding(pe=3, simd=4)})


def test_estimates_cover_every_component():
    plan = plan_graph(random_graph(1))
    pipe = GraphPipeline(plan)
    est = pipe.estimate()
    assert set(est.per_stage) == {s.name for s in pipe.hw}
    assert est.ii == max(est.per_stage.values())
    total = sum(c.estimate_resources()["lut"] for cs in pipe.parts.values() for c in cs)
    assert est.resources["lut"] > total  # the join FIFOs and width converters count too


def _windows(seed: int, n_random: int) -> np.ndarray:
    """Two 64-sample pieces of a real bundled window (record 200, quantized as the flow
    does) and ``n_random`` random int8 windows, ``[N, 1, 64]``."""
    from ecgaccel.models.nets import quantize_input, zscore
    from ecgaccel.run import load_selected_windows

    _, data, _ = load_selected_windows(None, ["200"], 1)
    q = quantize_input(zscore(data.x))[0, 0]
    real = np.stack([q[1000:1064], q[2000:2064]])[:, None]
    rand = np.random.default_rng(seed).integers(-128, 128, size=(n_random, 1, 64))
    return np.concatenate([real, rand]).astype(np.int64)


def _windows_12_leads(n: int) -> np.ndarray:
    """One 32-sample piece of both real leads of bundled record 200 (MLII, V1) laid over 12
    rows (six copies of each) and ``n - 1`` random int8 maps, ``[n, 1, 12, 32]``."""
    import wfdb

    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.nets import quantize_input, zscore

    two = wfdb.rdrecord(str(bundled_data_dir() / "200"), sampfrom=5000, sampto=5032).p_signal
    real = np.repeat(quantize_input(zscore(two.T[None].astype(np.float32))), 6, axis=1)
    rand = np.random.default_rng(n).integers(-128, 128, size=(n - 1, 12, 32))
    return np.concatenate([real, rand])[:, None].astype(np.int64)


# one lead's residual graphs reach the RTL through tests/models/test_resnet.py and the deadlock
# test below; ecgaccel verify --random-graphs runs many more of both kinds
@pytest.mark.parametrize("seed, leads", [(3, 12)])
def test_random_residual_graphs_are_bit_exact_on_verilator(seed, leads, tmp_path):
    from ecgaccel.sim.core_sim import simulate_core

    g = random_graph(seed, leads=leads, length=64 if leads == 1 else 32)
    assert sum(n.op == "AddStreams" for n in g.nodes) >= 2
    plan = plan_graph(g, in_lanes=8 if leads == 1 else 4)
    if leads > 1:  # kernels over 3 leads and one over all 12
        assert {n.kernel[0] for n in g.nodes if n.op == "Conv"} == {1, 3, 12}
    x = _windows(seed, 3)[:, None] if leads == 1 else _windows_12_leads(3)
    ref = g.run(x)
    r = simulate_core(plan, x, idle=0.3, pause=0.5, seed=seed, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref["scores"])
    np.testing.assert_array_equal(r.classes, ref["decision"][:, 0])
    back = simulate_core(plan, x, overlap=True, build_root=tmp_path)
    np.testing.assert_array_equal(back.scores, ref["scores"])
    ii, est = back.cycles[1:].max(), plan.estimates().ii
    assert abs(ii - est) <= II_RTOL * est, (ii, est)


def test_a_too_shallow_join_fifo_deadlocks_and_the_watchdog_says_so(tmp_path):
    from ecgaccel.sim.core_sim import simulate_core
    from ecgaccel.sim.runner import SimulationError

    plan = plan_graph(random_graph(1))
    assert max(plan.fifo_depths.values()) > 2
    shallow = replace(plan, fifo_depths={})
    with pytest.raises(SimulationError):
        simulate_core(shallow, _windows(1, 0), timeout_cycles=5000, build_root=tmp_path,
                      log_dir=tmp_path)  # fmt: skip
    assert "DEADLOCK" in (tmp_path / "sim0.log").read_text()


def _metadata_graph():
    """ECG int8 [1, 1, 32] → Conv → int3 → GAP → Concat(age/sex-like int8 metadata [2, 1, 1])
    → LinearHead (3 labels) → MultiLabel: the late-fusion, multi-label head of the 12-lead
    models on one lead."""
    from ecgaccel.hw.graph import Concat, MultiLabel

    rng = np.random.default_rng(4)
    w = rng.integers(-2, 2, size=(4, 1, 1, 5)).astype(np.int8)
    nodes = (Conv("c", ("x",), weights=w, weight_bits=2, pads=(0, 0, 2, 2)),
             _mt("a", "c", 4, 3, -150, 150), GlobalAccPool("gap", ("a",)),
             Concat("cat", ("gap", "meta")),
             LinearHead("head", ("cat",), weights=rng.integers(-7, 8, size=(3, 6)).astype(np.int8),
                        weight_bits=4, bias=np.array([40, -25, 3])),
             MultiLabel("labels", ("head",), thresholds=np.array([0, 30, -20]),
                        tau=(0.5, 0.6, 0.4)))  # fmt: skip
    inputs = (GraphInput("x", signed((1, 1, 32), 8)), GraphInput("meta", signed((2, 1, 1), 8)))
    return IntGraph("meta", ("p", "q", "r"), inputs, nodes, "head", "labels")


def test_metadata_input_and_multilabel_head_on_verilator(tmp_path):
    from ecgaccel.hw.layers.common import pack_lanes
    from ecgaccel.hw.layers.header import split_header
    from ecgaccel.sim.layers_tb import BenchCase, run_layer_bench

    g = _metadata_graph()
    plan = plan_graph(g)
    pipe = GraphPipeline(plan)
    head = [c.__name__ for c, _ in plan.stages()[-1].components]
    assert head[0] == "MVAU" and head[-1] == "MultiLabelLayer"  # PE 3, a width converter between
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(1, 1, 1, 32))
    meta = np.array([[[[70]], [[-1]]]])  # e.g. age 70 years, a sex code
    out = g.run({"x": x, "meta": meta})
    assert 0 < out["decision"].sum() < 3  # the thresholds split the labels
    width = pipe.m_axis.tdata.shape().width
    bits = sum(int(v) << k for k, v in enumerate(out["decision"][0]))
    want = [int(v) & ((1 << width) - 1) for v in out["scores"][0]] + [bits]
    assert plan.header_beats == 1 and plan.in_beats == 1 + 4  # the metadata header, the ECG
    header = np.zeros(8, np.int64)
    header[:2] = meta[0, :, 0, 0]
    stream = np.concatenate([header, x[0, 0, 0]])
    got_meta, got_x = split_header(stream, 2, 8)  # the header layer's Python model
    assert got_meta.tolist() == [70, -1] and np.array_equal(got_x, x[0, 0, 0])
    beats = stream.reshape(-1, 8)
    case = BenchCase(pipe, {"s": pack_lanes(beats, 8)}, want)
    run_layer_bench({"meta": case}, tmp_path, seed=2)


def test_byte_stream_of_a_graph_with_metadata_and_a_multilabel_head(tmp_path):
    """What a build synthesizes for such a graph (its byte-stream wrapper, whose output words
    are not whole bytes: zero-extended) equals the reference, with stalls."""
    from ecgaccel.hw.byte_stream import ByteStreamPlan
    from ecgaccel.sim.core_sim import simulate_core

    g = _metadata_graph()
    plan = ByteStreamPlan(plan_graph(g))
    assert plan.word_width % 8 and plan.out_bytes == -(-plan.word_width // 8)
    rng = np.random.default_rng(8)
    x = rng.integers(-128, 128, size=(3, 1, 1, 32))
    meta = rng.integers(-128, 128, size=(3, 2))
    ref = g.run({"x": x, "meta": meta[:, :, None, None]})
    r = simulate_core(plan, x, meta=meta, idle=0.3, pause=0.5, seed=4, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref["scores"])
    bits = (ref["decision"].reshape(3, -1) << np.arange(3)).sum(axis=1)
    np.testing.assert_array_equal(r.classes, bits)
