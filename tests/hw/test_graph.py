"""The graph description (``hw.graph``, ``hw.semantics``, ``hw.chain_graph``): each node's
semantics against PyTorch (float64, exact on these integers), the shipped chains through the
graph on real windows against an independent PyTorch chain, lossless conversion both ways, a
residual graph with a metadata input and a multi-label head, and the errors for bad graphs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgaccel.artifacts import load_description
from ecgaccel.hw import semantics as sem
from ecgaccel.hw.chain_graph import (
    chain_from_graph,
    graph_from_chain,
    steps_to_thresholds,
    thresholds_to_steps,
)
from ecgaccel.hw.description import NetworkDescription, Thresholds
from ecgaccel.hw.graph import (
    AddStreams,
    Concat,
    Conv,
    GlobalAccPool,
    GraphError,
    GraphInput,
    IntGraph,
    LinearHead,
    MatMul,
    MaxPool,
    MultiLabel,
    MultiThreshold,
    insert_forks,
    signed,
    topological_order,
    unsigned,
)
from ecgaccel.models import reference
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.run import load_selected_windows

SHIPPED = [("ecgbnn5", "patient"), ("ecgbnn17", "paper"), ("ecgbnn5-w2a2", "patient"),
           ("ecgbnn5-w4a4", "patient"), ("ecgbnn-beat", "interpatient")]  # fmt: skip


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float64))


# --------------------------------------------------------------------------- semantics


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_equals_torch_dense_and_depthwise(seed):
    rng = np.random.default_rng(seed)
    c_in, groups = (4, 1) if seed % 2 else (4, 4)
    c_out = 8
    w = rng.integers(-8, 8, size=(c_out, c_in // groups, rng.integers(1, 4), rng.integers(1, 6)))
    v = rng.integers(-8, 8, size=(3, c_in, 5, 23))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
    pad_value = int(rng.integers(-3, 4))
    got = sem.conv2d(v, w, stride, pads, pad_value, groups)
    vp = F.pad(_t(v), (pads[2], pads[3], pads[0], pads[1]), value=float(pad_value))
    want = F.conv2d(vp, _t(w), stride=stride, groups=groups).numpy()
    np.testing.assert_array_equal(got, want.astype(np.int64))


def test_max_pool_and_global_pool_equal_torch():
    rng = np.random.default_rng(7)
    acc = rng.integers(-1000, 1000, size=(2, 3, 6, 40))
    got = sem.max_pool(acc, (2, 7), (2, 2))
    np.testing.assert_array_equal(got, F.max_pool2d(_t(acc), (2, 7), (2, 2)).numpy())
    np.testing.assert_array_equal(sem.global_acc_pool(acc)[..., 0, 0], acc.sum(axis=(2, 3)))
    with pytest.raises(ValueError, match="do not fit"):
        sem.max_pool(acc, (1, 7), (1, 2), (1, 30))


def test_multithreshold_levels_and_heads():
    m = np.arange(-5, 6)[None, None, None, :]  # [1, 1, 1, 11]
    levels = sem.multithreshold(m, np.array([[-2, 0, 3]]), np.array([[1, 1, -1]]), np.array([-1]))
    assert levels.ravel().tolist() == [-1, -1, -1, 0, 0, 1, 1, 1, 0, 0, 0]
    scores = np.array([[3, 7, 7, -1], [0, 0, 0, 0]])
    assert sem.label_select(scores, 2).tolist() == [[1, 2], [0, 1]]  # lowest index on ties
    tau = np.array([0.5, 0.2, 0.9, 0.5])
    frac = 4
    t = np.ceil(np.log(tau / (1 - tau)) * 2**frac).astype(np.int64)
    got = sem.multilabel(scores, t)
    want = 1 / (1 + np.exp(-scores / 2**frac)) >= tau
    np.testing.assert_array_equal(got, want.astype(np.uint8))


def test_add_concat_and_matmul():
    rng = np.random.default_rng(3)
    a, b = rng.integers(-9, 9, size=(2, 2, 4, 1, 5))
    np.testing.assert_array_equal(sem.add_streams(a, b, 2, -1), 2 * a - b)
    with pytest.raises(ValueError, match="AddStreams of shapes"):
        sem.add_streams(a, b[:, :3])
    cat = sem.concat([a, b[:, :1]])
    assert cat.shape == (2, 5, 1, 5)
    w = rng.integers(-4, 4, size=(3, 20))
    np.testing.assert_array_equal(sem.matmul(a, w)[:, :, 0, 0], a.reshape(2, -1) @ w.T)


@pytest.mark.parametrize("seed", range(4))
def test_binary_thresholds_are_two_step_multithresholds(seed):
    rng = np.random.default_rng(seed)
    acc_max = 60
    lo = rng.integers(-70, 70, size=40)
    hi = lo + rng.integers(-5, 80, size=40)  # some lo >= hi: constant channels
    inv = rng.integers(0, 2, size=40).astype(bool)
    th = Thresholds(lo, hi, inv)
    t, s, b = thresholds_to_steps(th, acc_max)
    m = np.broadcast_to(np.arange(-acc_max, acc_max + 1), (1, 40, 2 * acc_max + 1))
    np.testing.assert_array_equal(sem.multithreshold(m, t, s, b), th.apply(m[0])[None])
    node = MultiThreshold("act", ("x",), thresholds=t, sign=s, base=b)
    back = steps_to_thresholds(node, -acc_max, acc_max)
    np.testing.assert_array_equal(back.apply(m[0]), th.apply(m[0]))
    keep = lo < hi  # these come back field for field
    for f in ("lo", "hi", "invert"):
        np.testing.assert_array_equal(getattr(back, f)[keep], getattr(th, f)[keep])


def test_a_multithreshold_that_is_not_binary_is_refused():
    node = MultiThreshold("b2.act", ("x",), thresholds=np.array([[0, 5]]),
                          sign=np.array([[1, 1]], np.int8), base=np.array([0]))  # fmt: skip
    with pytest.raises(GraphError, match=r"b2.act \(MultiThreshold\): channel 0"):
        steps_to_thresholds(node, -10, 10)


# --------------------------------------------------------------------------- shipped chains


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    """24 real 10-s windows of the bundled records, quantized (int8 [24, 1, 3600])."""
    _, data, _ = load_selected_windows(None, None, 24)
    return quantize_input(zscore(data.x))


def _torch_chain(desc: NetworkDescription, q: np.ndarray) -> np.ndarray:
    """An independent chain reference: PyTorch float64 conv1d / max_pool1d, lo/hi/invert
    thresholds, the head written out."""
    h = _t(q)
    for layer in desc.layers:
        v = h if layer.input_bits is not None else 2 * h - 1
        v = F.pad(v, (layer.pad_left, layer.pad_right), value=float(layer.pad_value))
        acc = F.conv1d(v, _t(layer.weights), stride=layer.stride)
        m = F.max_pool1d(acc, layer.pool_kernel, layer.pool_stride).numpy().astype(np.int64)
        th = layer.thresholds
        h = _t(th.apply(m)) if th is not None else m
    hd = desc.head
    return (hd.a_pos * np.clip(h, 0, None).sum(-1) + hd.a_neg * np.clip(h, None, 0).sum(-1)
            + hd.bias)  # fmt: skip


@pytest.mark.parametrize(("model", "protocol"), SHIPPED)
def test_shipped_chain_round_trips_and_runs_as_a_graph(model, protocol, windows):
    desc = load_description(model, protocol)
    graph = graph_from_chain(desc)
    text = json.dumps(graph.to_json())
    again = IntGraph.from_json(json.loads(text))
    assert chain_from_graph(again).to_json() == desc.to_json()  # lossless, every field
    assert again.storage_bits() == desc.storage_bits()
    assert [n.op for n in graph.nodes[:3]] == ["Conv", "MaxPool", "MultiThreshold"]
    if desc.input_length == windows.shape[-1]:
        q = windows
    else:  # the beat model: random int8 beats
        q = np.random.default_rng(0).integers(-128, 128, (24, 1, desc.input_length), np.int8)
    out = again.run(q[:, :, None, :])
    np.testing.assert_array_equal(out["scores"], _torch_chain(desc, q))
    np.testing.assert_array_equal(out["decision"][:, 0], out["scores"].argmax(axis=1))
    np.testing.assert_array_equal(reference.run(desc, q).scores, out["scores"])


# --------------------------------------------------------------------------- a residual graph


def _residual_graph(rng) -> IntGraph:
    """2 leads x 32 samples (int4), a 2-D stem over both leads, a residual block (identity
    shortcut), global pooling, age/sex concatenated before a Linear head, three sigmoid
    labels."""

    def w(*shape, bits=2):
        return rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=shape).astype(np.int8)

    def mt(c, lo, hi, bits=4):
        steps = 2**bits - 1
        t = np.sort(rng.integers(lo, hi, size=(c, steps)), axis=1)
        return dict(thresholds=t, sign=np.ones((c, steps), np.int8),
                    base=np.full(c, -(2 ** (bits - 1))), out_bits=bits)  # fmt: skip

    nodes = [
        Conv("stem", ("x",), weights=w(4, 1, 2, 5), weight_bits=2, pads=(0, 0, 2, 2)),
        MultiThreshold("stem.act", ("stem",), **mt(4, -30, 30)),
        Conv("b1.conv1", ("stem.act",), weights=w(4, 4, 1, 3), weight_bits=2, pads=(0, 0, 1, 1)),
        MultiThreshold("b1.act1", ("b1.conv1",), **mt(4, -40, 40)),
        Conv("b1.conv2", ("b1.act1",), weights=w(4, 4, 1, 3), weight_bits=2, pads=(0, 0, 1, 1)),
        AddStreams("b1.add", ("b1.conv2", "stem.act"), ka=1, kb=4),
        MultiThreshold("b1.act2", ("b1.add",), **mt(4, -60, 60)),
        MaxPool("pool", ("b1.act2",), kernel=(1, 2), stride=(1, 2)),
        GlobalAccPool("gap", ("pool",)),
        Concat("fuse", ("gap", "meta")),
        LinearHead("head", ("fuse",), weights=w(3, 6, bits=8), bias=np.array([5, -3, 0]),
                   weight_bits=8, frac_bits=3),
        MultiLabel("labels", ("head",), thresholds=np.array([0, 2, -2]), tau=(0.5, 0.56, 0.44)),
    ]  # fmt: skip
    inputs = (GraphInput("x", signed((1, 2, 32), 4), 2),
              GraphInput("meta", unsigned((2, 1, 1), 7)))  # fmt: skip
    return IntGraph("resnet-tiny", ("NORM", "MI", "STTC"), inputs,
                    tuple(insert_forks(nodes)), "head", "labels")  # fmt: skip


def test_residual_graph_with_metadata_runs_and_round_trips():
    rng = np.random.default_rng(11)
    g = _residual_graph(rng)
    assert "stem.act.fork" in [n.name for n in g.nodes]  # the shortcut is an explicit fork
    assert g.types["b1.add"].kind == "acc" and g.types["gap"].shape == (4, 1, 1)
    x = rng.integers(-8, 8, size=(16, 1, 2, 32))
    meta = np.stack([rng.integers(20, 90, 16), rng.integers(0, 2, 16)], 1)[:, :, None, None]
    out = g.run({"x": x, "meta": meta}, keep=True)
    # the same network written out in PyTorch float64
    nd = {n.name: n for n in g.nodes}

    def act(name, m):
        n = nd[name]
        return sem.multithreshold(np.asarray(m, np.int64), n.thresholds, n.sign, n.base)

    s = act("stem.act", F.conv2d(F.pad(_t(x), (2, 2)), _t(nd["stem"].weights)).numpy())
    a1 = act("b1.act1", F.conv2d(F.pad(_t(s), (1, 1)), _t(nd["b1.conv1"].weights)).numpy())
    c2 = F.conv2d(F.pad(_t(a1), (1, 1)), _t(nd["b1.conv2"].weights)).numpy()
    a2 = act("b1.act2", c2 + 4 * s)
    gap = F.max_pool2d(_t(a2), (1, 2), (1, 2)).numpy().sum(axis=(2, 3))
    fused = np.concatenate([gap, meta[:, :, 0, 0]], axis=1)
    scores = fused @ nd["head"].weights.astype(np.float64).T + nd["head"].bias
    np.testing.assert_array_equal(out["scores"], scores.astype(np.int64))
    np.testing.assert_array_equal(out["decision"], (scores >= [0, 2, -2]).astype(np.uint8))
    again = IntGraph.from_json(json.loads(json.dumps(g.to_json())))
    np.testing.assert_array_equal(again.run({"x": x, "meta": meta})["scores"], out["scores"])
    r = reference.run(again, {"x": x, "meta": meta})
    np.testing.assert_array_equal(r.scores, out["scores"])
    bits = g.storage_bits()
    assert bits["weights"] == (40 + 48 + 48) * 2
    assert bits["head"] == 18 * 8 + 3 * 32 + 3 * 32  # Linear weights and bias, label thresholds
    with pytest.raises(GraphError, match=r"node fuse \(Concat\): not a chain .*second graph input"):
        chain_from_graph(g)


def test_a_graph_that_is_not_a_chain_is_named_for_the_core():
    x = GraphInput("x", signed((1, 1, 16), 8))
    nodes = (Conv("c", ("x",), weights=np.ones((2, 1, 1, 3), np.int8)),
             MaxPool("p", ("c",), kernel=(1, 2), stride=(1, 2)),
             GlobalAccPool("gap", ("p",)))  # fmt: skip
    g = IntGraph("g", ("a", "b"), (x,), nodes, "gap")
    with pytest.raises(GraphError, match=r"node gap \(GlobalAccPool\): not a chain"):
        chain_from_graph(g)


# --------------------------------------------------------------------------- bad graphs


def test_bad_graphs_name_the_node_and_op():
    x = GraphInput("x", signed((2, 1, 8), 4))
    add = AddStreams("add", ("a", "b"))
    a = MaxPool("a", ("x",), kernel=(1, 2), stride=(1, 1))
    b = MaxPool("b", ("x",), kernel=(1, 3), stride=(1, 1))
    with pytest.raises(GraphError, match=r"node add \(AddStreams\): inputs of shapes"):
        IntGraph("g", ("p", "q"), (x,), tuple(insert_forks([a, b, add])), "add")
    with pytest.raises(GraphError, match=r"node a \(MaxPool\): read by 2 nodes"):
        IntGraph("g", ("p", "q"), (x,), (a, AddStreams("add", ("a", "a"))), "add")
    with pytest.raises(GraphError, match=r"node p \(MaxPool\): is on a cycle"):
        topological_order([MaxPool("p", ("q",)), MaxPool("q", ("p",))], {"x"})
    with pytest.raises(GraphError, match="produced later"):
        IntGraph("g", ("p", "q"), (x,), (MaxPool("p", ("q",)), MaxPool("q", ("x",))), "p")
    with pytest.raises(GraphError, match=r"node m \(MatMul\): weights \[2, 5\]"):
        IntGraph("g", ("p", "q"), (x,), (MatMul("m", ("x",), weights=np.ones((2, 5))),), "m")
    with pytest.raises(GraphError, match=r"node c \(Conv\): pad value 9"):
        IntGraph("g", ("p", "q"), (x,), (Conv("c", ("x",), weights=np.ones((2, 2, 1, 3)),
                                              pad_value=9, pads=(0, 0, 1, 1)),), "c")  # fmt: skip
    g = IntGraph("g", ("p", "q"), (x,), (a,), "a")
    with pytest.raises(GraphError, match="values outside"):
        g.run(np.full((1, 2, 1, 8), 8))
    with pytest.raises(GraphError, match=r"must be \[N, 2, 1, 8\]"):
        g.run(np.zeros((1, 2, 8)))


def test_the_core_takes_a_chain_graph_and_names_the_node_of_any_other():
    from ecgaccel.hw.core_plan import CoreConfigError, plan_core

    desc = load_description("ecgbnn5", "patient")
    assert plan_core(graph_from_chain(desc), pe=2, simd=64) == plan_core(desc, pe=2, simd=64)
    x = GraphInput("x", signed((1, 1, 16), 8))
    nodes = (Conv("c", ("x",), weights=np.ones((2, 1, 1, 3), np.int8)),
             MaxPool("p", ("c",), kernel=(1, 2), stride=(1, 2)),
             GlobalAccPool("gap", ("p",)))  # fmt: skip
    with pytest.raises(CoreConfigError, match=r"node gap \(GlobalAccPool\): not a chain.*"
                                              r"use --backend dataflow"):  # fmt: skip
        plan_core(IntGraph("g", ("a", "b"), (x,), nodes, "gap"))


def test_first_difference_names_the_differing_node():
    from ecgaccel.hw.graph import first_difference

    desc = load_description("ecgbnn5", "patient")
    g = graph_from_chain(desc)
    assert first_difference(g, graph_from_chain(desc)) is None
    pool = g.nodes[1]
    other = IntGraph(g.name, g.classes, g.inputs,
                     (g.nodes[0], MaxPool(pool.name, pool.inputs, kernel=(1, 5), stride=(1, 2)),
                      *g.nodes[2:]), g.scores, g.decision)  # fmt: skip
    assert first_difference(g, other) == "block1.pool (MaxPool) differs from block1.pool (MaxPool)"
    assert (
        first_difference(g, replace(g, nodes=g.nodes[:-1], decision=None)) == "19 nodes against 18"
    )
