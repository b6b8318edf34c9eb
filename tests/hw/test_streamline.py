"""Streamlining passes: outputs kept on real MIT-BIH windows, bit-exact agreement with the golden
model, and FINN's known traps (purely bipolar graph, binary 1-D max-pool, accumulator wrap, 1-D
attribute consistency); the same for the WnAn (n-bit weights and activations) variants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes

from ecgaccel.hw import streamline as S
from ecgaccel.hw.compile import CompileError, compile_chain
from ecgaccel.hw.description import (
    MultiThresholds,
    NetworkDescription,
    Thresholds,
    acc_width,
    weight_max,
)
from ecgaccel.hw.graph import MultiThreshold
from ecgaccel.hw.streamline.thresholds import is_increasing
from ecgaccel.models import reference
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import BnnConfig, quantize_input, zscore
from ecgaccel.models.windows import load_windows
from tests.helpers import random_bnn

CHECKPOINTS = Path(__file__).resolve().parents[2] / "models" / "checkpoints"
FLOAT_ATOL = 1e-4
"""Float stages: ORT float32 kernels may sum in another order once constants are folded."""
HEAD_ATOL, HEAD_RTOL = 5e-3, 1e-4
"""Real-valued scores vs fixed point: the head's 16-bit coefficient rounding (atol as in
test_compile; rtol for the large synthetic scores, 2^-15 relative per coefficient)."""
QDOM = "qonnx.custom_op.general"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def windows():
    """Four real windows of four different classes: z float32 [4, 1, 3600], q int8."""
    w = load_windows(bundled_data_dir())
    idx = [int(np.flatnonzero(w.y == c)[0]) for c in np.unique(w.y)][:4]
    z = zscore(w.x[idx])
    return z, quantize_input(z)


@pytest.fixture(scope="module")
def patient():
    """The default model and its compiled description."""
    model = ModelWrapper(str(CHECKPOINTS / "ecgbnn5-patient.onnx"))
    desc = NetworkDescription.load(CHECKPOINTS / "ecgbnn5-patient.intnet.json")
    return model, desc


def run(model, x: np.ndarray, full: bool = False) -> list[dict]:
    """execute_onnx per window (the graphs have batch 1); x is reshaped to the input's shape."""
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    return [
        execute_onnx(model, {name: x[k : k + 1].astype(np.float32).reshape(shape)}, full)
        for k in range(len(x))
    ]


def first_output(model, outs: list[dict]) -> np.ndarray:
    return np.concatenate([o[model.graph.output[0].name] for o in outs])


def input_for(model, z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Float z before IntegerizeInput; the host-quantized integers after it."""
    dt = model.get_tensor_datatype(model.graph.input[0].name)
    if not dt.is_integer():
        return z
    return np.where(z >= 0, 1, -1) if dt == DataType["BIPOLAR"] else q


def assert_same_outputs(before, after, ref: np.ndarray, z, q) -> np.ndarray:
    """``after``'s first output equals ``ref`` (``before``'s on z): exactly for ±1 outputs, within
    FLOAT_ATOL for float ones, within HEAD_ATOL (and same argmax) once the head is fixed point."""
    got = first_output(after, run(after, input_for(after, z, q)))
    head = after.get_metadata_prop(S.HEAD_KEY)
    if head is not None:
        real = got * 2.0 ** -json.loads(head)["frac_bits"]
        np.testing.assert_allclose(real, ref, atol=HEAD_ATOL, rtol=HEAD_RTOL)
        np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
    elif before.get_tensor_datatype(before.graph.output[0].name) == DataType["BIPOLAR"]:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, atol=FLOAT_ATOL, rtol=0)
    return got


class Graph:
    """A tiny QONNX graph builder (onnx.helper) for synthetic ECG-BNN-like blocks."""

    def __init__(self, shape: list[int]) -> None:
        self.shape, self.nodes, self.inits, self.cur, self.n = shape, [], {}, "x", 0

    def const(self, value) -> str:
        self.n += 1
        self.inits[f"c{self.n}"] = np.asarray(value, dtype=np.float32)
        return f"c{self.n}"

    def op(self, op_type: str, *inputs: str, domain: str = "", **attrs) -> Graph:
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(
            helper.make_node(
                op_type,
                [self.cur, *inputs],
                [out],
                domain=domain,
                name=f"{op_type}_{self.n}",
                **attrs,
            )
        )
        self.cur = out
        return self

    def quant(self, scale: float = 2**-5, bits: int = 8, zero: float = 0.0) -> Graph:
        return self.act(scale, bits, zero)

    def sign(self, scale: float = 1.0) -> Graph:
        return self.op("BipolarQuant", self.const(scale), domain=QDOM)

    def act(self, scale: float, bits: int, zero: float = 0.0, signed: int = 1) -> Graph:
        """An n-bit activation quantizer (Brevitas's Int8ActPerTensorFloat export)."""
        return self.op(
            "Quant",
            self.const(scale),
            self.const(zero),
            self.const(bits),
            domain=QDOM,
            signed=signed,
            narrow=0,
            rounding_mode="ROUND",
        )

    def block(
        self,
        w,
        w_scale=1.0,
        pad=5,
        pad_value=1.0,
        stride=1,
        pool=(7, 2),
        slope=0.25,
        gamma=1.0,
        beta=0.0,
        mean=0.0,
        var=1.0,
        wbits=None,
        conv_pads=False,
    ) -> Graph:
        """Pad → Conv(BipolarQuant(w)) → MaxPool → PRelu → BatchNormalization (no activation).

        ``wbits``: n-bit weights ``Quant(w, w_scale, 0, wbits)`` (narrow range) instead;
        ``conv_pads``: a zero pad held in the Conv's ``pads`` (as the ONNX exporter folds it)."""
        c = w.shape[0]
        per = lambda v: np.broadcast_to(np.asarray(v, np.float32), (c,))  # noqa: E731
        if pad and not conv_pads:
            pads = self.const(np.array([0, 0, pad, 0, 0, pad], np.int64))
            self.op("Pad", pads, self.const(pad_value), mode="constant")
            self.inits[pads] = self.inits[pads].astype(np.int64)
        self.n += 1
        wq = f"w{self.n}"
        if wbits is None:
            wnode = helper.make_node(
                "BipolarQuant", [self.const(w), self.const(w_scale)], [wq], domain=QDOM
            )
        else:
            params = [self.const(v) for v in (w, w_scale, 0.0, wbits)]
            wnode = helper.make_node(
                "Quant", params, [wq], domain=QDOM, signed=1, narrow=1, rounding_mode="ROUND"
            )
        wnode.name = f"WQ_{self.n}"
        self.nodes.append(wnode)
        k = w.shape[-1]
        cp = [pad, pad] if conv_pads else [0, 0]
        self.op("Conv", wq, kernel_shape=[k], strides=[stride], pads=cp, dilations=[1])
        if pool:
            self.op(
                "MaxPool", kernel_shape=[pool[0]], strides=[pool[1]], pads=[0, 0], dilations=[1]
            )
        self.op("PRelu", self.const(per(slope).reshape(1, c, 1)))
        return self.op(
            "BatchNormalization", *(self.const(per(v)) for v in (gamma, beta, mean, var))
        )

    def head(self) -> Graph:
        return self.op("ReduceSum", self.const(np.array([-1], np.int64)), keepdims=0)

    def model(self) -> ModelWrapper:
        for k, v in self.inits.items():
            if k.startswith("c") and v.dtype == np.float32 and self._is_axes(k):
                self.inits[k] = v.astype(np.int64)
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape)
        y = helper.make_tensor_value_info(self.cur, TensorProto.FLOAT, None)
        inits = [onnx.numpy_helper.from_array(v, k) for k, v in self.inits.items()]
        graph = helper.make_graph(self.nodes, "g", [x], [y], initializer=inits)
        proto = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid(QDOM, 2)]
        )
        proto.ir_version = 10
        return ModelWrapper(proto).transform(InferShapes())

    def _is_axes(self, name: str) -> bool:
        return any(n.op_type == "ReduceSum" and n.input[1] == name for n in self.nodes)


def check_every_pass(model, z, q, **kw) -> ModelWrapper:
    """Apply streamline's passes one by one, asserting outputs are kept after each."""
    ref = first_output(model, run(model, z))
    cur = model
    for p in S.passes(**kw):
        after = cur.transform(p)
        assert_same_outputs(cur, after, ref, z, q)
        cur = after
    return cur


# ---------------------------------------------------------------- the shipped model


@pytest.fixture(scope="module")
def stages(patient):
    """(pass name, model after it) for every pass of streamline on the default model."""
    model, _ = patient
    out, cur = [("export", model)], model
    for p in S.passes():
        cur = cur.transform(p)
        out.append((type(p).__name__, cur))
    return out


GONE_AFTER = {
    "FoldBinaryWeights": lambda m: (
        not any(
            n.op_type == "BipolarQuant" and m.get_initializer(n.input[0]) is not None
            for n in m.graph.node
        )
    ),
    "IntegerizeInput": lambda m: (
        m.get_tensor_datatype("global_in") == DataType["INT8"]
        and not m.get_nodes_by_op_type("Quant")
    ),
    "MoveScaleMulsDown": lambda m: all(
        m.find_producer(n.input[0]).op_type == "MaxPool" for n in m.get_nodes_by_op_type("Mul")
    ),
    "AbsorbAffineIntoThresholds": lambda m: (
        not m.get_nodes_by_op_type("BipolarQuant")
        and len(m.get_nodes_by_op_type("BatchNormalization")) == 1
    ),
    "LowerSumHead": lambda m: (
        not m.get_nodes_by_op_type("ReduceSum") and not m.get_nodes_by_op_type("PRelu")
    ),
}


@pytest.mark.parametrize("i", range(1, len(S.passes()) + 1))
def test_pass_keeps_outputs_and_bits_on_real_windows(stages, patient, windows, i):
    z, q = windows
    _, desc = patient
    (_, before), (name, after) = stages[i - 1], stages[i]
    ref = first_output(stages[0][1], run(stages[0][1], z))
    assert_same_outputs(before, after, ref, z, q)
    if name in GONE_AFTER:
        assert GONE_AFTER[name](after), f"{name} left its pattern in the graph"
    # integer parts exactly: the ±1 activations entering blocks 2..6 are the reference's bits
    bits = reference.run(desc, q, keep=True).activations
    ctx = run(after, input_for(after, z, q), full=True)
    pads = after.get_nodes_by_op_type("Pad")[1:]
    assert len(pads) == 5
    for layer, pad in enumerate(pads):
        got = np.concatenate([c[pad.input[0]] for c in ctx]).reshape(bits[layer].shape)
        np.testing.assert_array_equal(got, 2.0 * bits[layer] - 1, err_msg=f"{name}: block {layer}")


@pytest.mark.parametrize(
    ("reorder_pool", "layout_4d"), [(False, False), (True, False), (True, True)]
)
def test_streamlined_graph_equals_reference_bit_exactly(patient, windows, reorder_pool, layout_4d):
    model, desc = patient
    _, q = windows
    s = S.streamline(model, reorder_pool=reorder_pool, layout_4d=layout_4d)
    outs = run(s, q)
    want = reference.run(desc, q)
    np.testing.assert_array_equal(np.concatenate([o["global_out"] for o in outs]), want.scores)
    np.testing.assert_array_equal(np.concatenate([o["global_out_1"] for o in outs]), want.pred)
    # which blocks are monotone depends on the trained model: read it from the description
    monotone = [bool(np.all(is_increasing(layer.thresholds, layer.acc_min)))
                for layer in desc.layers if layer.thresholds is not None]  # fmt: skip
    th_ops = [n.op_type for n in s.graph.node
              if n.op_type in ("MultiThreshold", "BipolarThreshold")]  # fmt: skip
    assert th_ops == ["MultiThreshold" if mono else "BipolarThreshold" for mono in monotone]
    kinds = {n.op_type for n in s.graph.node}
    assert {"Pad", "Conv", "MaxPool", "FixedPointSumHead", "ArgMax"} <= kinds
    assert kinds <= {"Pad", "Conv", "MaxPool", "MultiThreshold", "BipolarThreshold",
                     "FixedPointSumHead", "ArgMax"}  # fmt: skip
    # a pool moves behind its threshold only when asked, and only where the block is monotone
    order = [n.op_type for n in s.graph.node
             if n.op_type in ("MaxPool", "MultiThreshold", "BipolarThreshold")]  # fmt: skip
    pairs = [order[i : i + 2] for i in range(0, 2 * len(monotone), 2)]
    for block, (pair, mono) in enumerate(zip(pairs, monotone, strict=True)):
        swapped = reorder_pool and mono
        assert (pair[0] != "MaxPool") == swapped, f"block {block + 1}: {pair}"


def test_thresholds_and_head_are_the_compilers(stages, patient):
    """One source of integer semantics: the graph holds exactly the description's numbers."""
    _, desc = patient
    s = stages[-1][1]
    ths = [n for n in s.graph.node if n.op_type in ("MultiThreshold", "BipolarThreshold")]
    assert len(ths) == len(desc.layers) - 1
    for node, layer in zip(ths, desc.layers, strict=False):
        t = layer.thresholds
        increasing = bool(np.all(~t.invert & (t.lo < layer.acc_min)))
        assert (node.op_type == "MultiThreshold") == increasing
        if node.op_type == "MultiThreshold":
            np.testing.assert_array_equal(s.get_initializer(node.input[1]).reshape(-1), t.hi)
            assert getCustomOp(node).get_nodeattr("data_layout") == "NCW"
        else:
            got = [s.get_initializer(i) for i in node.input[1:]]
            for a, b in zip(got, (t.lo, t.hi, t.invert), strict=True):
                np.testing.assert_array_equal(a, b)
    (head,) = s.get_nodes_by_op_type("FixedPointSumHead")
    for name, want in zip(
        head.input[1:], (desc.head.a_pos, desc.head.a_neg, desc.head.bias), strict=True
    ):
        np.testing.assert_array_equal(s.get_initializer(name), want)
    assert json.loads(s.get_metadata_prop(S.HEAD_KEY))["frac_bits"] == desc.head.frac_bits
    quant = json.loads(s.get_metadata_prop(S.INPUT_QUANT_KEY))
    assert quant["bits"] == 8 and quant["scale"] == [2.0**-desc.input_frac_bits]
    # accumulator annotations agree with the description's register widths
    ranges = list(S.recorded_ranges(s).values())
    assert [r["acc_type"] for r in ranges] == [f"INT{acc_width(x)}" for x in desc.layers]
    assert [r["acc_max"] for r in ranges] == [x.acc_max for x in desc.layers]
    assert [r["xnor"] for r in ranges] == [x.input_bits is None for x in desc.layers]


# ---------------------------------------------------------------- traps on synthetic graphs


def test_purely_bipolar_graph_is_converted(windows):
    """No Quant at all (FINN trap): bipolar input, scaled binary weights, both still lowered."""
    z, _ = windows
    rng = np.random.default_rng(3)
    g = Graph([1, 1, 3600]).sign()
    w_scale = np.array([0.5, 0.25, 1.0, 2.0], np.float32).reshape(4, 1, 1)
    g.block(
        rng.standard_normal((4, 1, 7)),
        w_scale,
        slope=[0.3, -0.4, 0.2, 0.5],
        gamma=[1.0, 1.0, -1.0, 0.5],
        mean=[0.5, 1.0, -0.5, 0.0],
        beta=[0.1, 0.2, 0.0, -0.3],
    )
    g.sign().block(
        rng.standard_normal((3, 4, 7)),
        0.5,
        slope=[0.5, -0.3, 0.1],
        gamma=[1.0, -0.5, 2.0],
        mean=[1.0, 0.0, -1.0],
    ).head()
    model = g.model()
    assert not model.get_nodes_by_op_type("Quant")
    s = check_every_pass(model, z, None)
    assert s.get_tensor_datatype("global_in") == DataType["BIPOLAR"]
    assert not s.get_nodes_by_op_type("BipolarQuant") and not s.get_nodes_by_op_type("Mul")
    for conv in s.get_nodes_by_op_type("Conv"):
        assert s.get_tensor_datatype(conv.input[1]) == DataType["BIPOLAR"]
        assert set(np.unique(s.get_initializer(conv.input[1]))) == {-1.0, 1.0}
    ranges = S.recorded_ranges(s)
    assert all(r["xnor"] for r in ranges.values()) and len(ranges) == 2
    want = first_output(model, run(model, z)).argmax(axis=1)
    np.testing.assert_array_equal(
        np.concatenate([o["global_out_1"] for o in run(s, np.where(z >= 0, 1, -1))]), want
    )


def _pool_graph(slopes) -> ModelWrapper:
    """int8 input → one block with 2 channels → sign; channel shapes set by the PReLU slopes."""
    w = np.random.default_rng(7).standard_normal((2, 1, 7))
    return (
        Graph([1, 1, 3600])
        .quant()
        .block(w, stride=2, slope=slopes, mean=[2.0, 2.0], beta=[0.1, 0.1])
        .sign()
        .model()
    )


@pytest.mark.parametrize(("slopes", "legal"), [([0.3, 0.2], True), ([0.3, -0.5], False)])
def test_binary_1d_maxpool_reorders_only_monotone_thresholds(windows, slopes, legal):
    z, q = windows
    model = _pool_graph(slopes)
    s = check_every_pass(model, z, q, reorder_pool=True)
    ops = [n.op_type for n in s.graph.node]
    th_op = "MultiThreshold" if legal else "BipolarThreshold"
    assert ops == (
        ["Pad", "Conv", th_op, "MaxPool"] if legal else ["Pad", "Conv", "MaxPool", th_op]
    )
    if legal:  # the max-pool now runs on ±1 values: a binary (OR) max-pool
        pool = s.get_nodes_by_op_type("MaxPool")[0]
        assert s.get_tensor_datatype(pool.input[0]) == DataType["BIPOLAR"]
        return
    # the refused swap would have been wrong on these windows for the non-monotone channel only
    node = s.get_nodes_by_op_type("BipolarThreshold")[0]
    th = Thresholds(*(s.get_initializer(i) for i in node.input[1:]))
    th = Thresholds(th.lo, th.hi, th.invert.astype(bool))
    assert -896 <= th.lo[1] < th.hi[1] <= 896  # channel 1: bit 1 outside (lo, hi)
    conv = s.get_nodes_by_op_type("Conv")[0]
    acc = np.concatenate([c[conv.output[0]] for c in run(s, q, full=True)]).astype(np.int64)
    pool = lambda a: np.lib.stride_tricks.sliding_window_view(a, 7, axis=-1)[..., ::2, :].max(-1)  # noqa: E731
    swapped, kept = pool(th.apply(acc)), th.apply(pool(acc))
    np.testing.assert_array_equal(swapped[:, 0], kept[:, 0])
    assert np.any(swapped[:, 1] != kept[:, 1])


def test_4d_layout_keeps_every_1d_attribute_consistent(windows):
    """[N, C, L] → [N, C, 1, L]: kernels (1, k), strides, dilations, pads, weights all follow."""
    z, q = windows
    rng = np.random.default_rng(5)
    g = (
        Graph([1, 1, 3600])
        .quant()
        .block(
            rng.standard_normal((4, 1, 7)),
            stride=2,
            slope=[0.3, -0.5, 0.2, 0.1],
            mean=[2.0, 2.0, 0, 1],
        )
    )
    model = g.sign().block(rng.standard_normal((3, 4, 5)), pool=(3, 3)).head().model()
    flat = S.streamline(model)
    s = check_every_pass(model, z, q, layout_4d=True)
    for node in s.graph.node:
        if node.op_type in ("Conv", "MaxPool"):
            a = {x.name: list(x.ints) for x in node.attribute if x.ints}
            assert a["kernel_shape"][0] == 1 and len(a["kernel_shape"]) == 2, node.name
            assert a["strides"][0] == 1 and len(a["strides"]) == 2, node.name
            assert a["dilations"] == [1, 1], node.name
            assert len(a["pads"]) == 4 and a["pads"][0] == a["pads"][2] == 0, node.name
        if node.op_type == "Conv":
            assert s.get_initializer(node.input[1]).shape[2] == 1
        if node.op_type == "Pad":
            p = s.get_initializer(node.input[1])
            assert len(p) == 8 and p[2] == p[6] == 0 and p[3] == p[7] == 5
    for vi in [*s.graph.input, *s.graph.value_info]:
        shape = s.get_tensor_shape(vi.name)
        if s.get_initializer(vi.name) is None and len(shape) > 2:
            assert len(shape) == 4 and shape[2] == 1, vi.name
    got = np.concatenate([o["global_out"] for o in run(s, q)])
    np.testing.assert_array_equal(got, np.concatenate([o["global_out"] for o in run(flat, q)]))


def test_accumulator_annotation_covers_the_popcount_range():
    """fan_in 1028: the popcount reaches 1028, which an 11-bit signed register reads as -1020."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((2, 4, 257))
    g = Graph([1, 4, 600]).sign()
    g.n += 1
    g.nodes.append(
        helper.make_node("BipolarQuant", [g.const(w), g.const(1.0)], ["wq"], domain=QDOM, name="WQ")
    )
    model = g.op("Conv", "wq", kernel_shape=[257], strides=[1], pads=[0, 0]).model()
    s = model
    for p in (
        S.TidyUp(),
        S.FoldBinaryWeights(),
        S.IntegerizeInput(),
        S.AnnotateAccumulatorRanges(),
    ):
        s = s.transform(p)
    (r,) = S.recorded_ranges(s).values()
    assert (r["fan_in"], r["popcount_max"], r["acc_min"], r["acc_max"]) == (1028, 1028, -1028, 1028)
    pc_type, acc_type = DataType[r["popcount_type"]], DataType[r["acc_type"]]
    conv_out = s.get_nodes_by_op_type("Conv")[0].output[0]
    assert s.get_tensor_datatype(conv_out) == acc_type == DataType["INT12"]
    # an input equal to the weights of output 0 at t=0 gives the extreme popcount 1028
    x = np.where(w[0] >= 0, 1.0, -1.0)
    x = np.concatenate([x, -x, np.ones((4, 600 - 514))], axis=1)[None]
    acc = run(s, x)[0][s.graph.output[0].name]
    popcount = (acc + 1028) // 2
    assert acc[0, 0, 0] == 1028 and popcount.max() == 1028 and acc.min() == -1028
    assert pc_type.allowed(popcount).all() and acc_type.allowed(acc).all()

    def wrap(v: int, bits: int) -> int:  # a signed register of that width
        return (v + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)

    assert wrap(1028, 11) == -1020  # the minimized-accumulator trap
    assert wrap(1028, acc_type.bitwidth()) == 1028 and pc_type.bitwidth() == 11


# ---------------------------------------------------------------- custom op and errors


def test_bipolar_threshold_runs_through_the_qonnx_registry():
    th = Thresholds(
        lo=np.array([-3, 2, -100]), hi=np.array([4, 100, 5]), invert=np.array([False, True, False])
    )
    m = np.arange(-8, 9, dtype=np.float32)[None, None, :].repeat(3, axis=1)
    x = helper.make_tensor_value_info("m", TensorProto.FLOAT, [1, 3, 17])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 17])
    inits = [
        onnx.numpy_helper.from_array(a.astype(np.int64), n)
        for a, n in zip((th.lo, th.hi, th.invert), ("lo", "hi", "inv"), strict=True)
    ]
    node = helper.make_node("BipolarThreshold", ["m", "lo", "hi", "inv"], ["y"], domain=S.DOMAIN)
    proto = helper.make_model(helper.make_graph([node], "g", [x], [y], initializer=inits))
    model = ModelWrapper(proto)
    assert isinstance(getCustomOp(model.graph.node[0]), S.BipolarThreshold)
    got = execute_onnx(model, {"m": m})["y"]
    np.testing.assert_array_equal(got, 2.0 * th.apply(m[0].astype(np.int64))[None] - 1)


def test_errors_name_the_node():
    g = Graph([1, 1, 64]).quant(zero=1.0)
    with pytest.raises(CompileError, match=r"Quant_\d+: input quantizer zero point"):
        g.model().transform(S.IntegerizeInput())
    w = np.ones((2, 1, 3))
    bad = Graph([1, 1, 64]).quant().block(w, pad=0, pool=None)
    bad.op("ReduceSum", bad.const(np.array([1], np.int64)), keepdims=0)
    with pytest.raises(CompileError, match=r"ReduceSum_\d+: the head must sum over time"):
        S.streamline(bad.model())
    neg = Graph([1, 1, 64]).quant().block(w, w_scale=-0.5, pad=0).sign()  # -0.5: max ≠ -min
    with pytest.raises(
        CompileError, match=r"BatchNormalization_\d+ before .*: tensor .* no integer range"
    ):
        S.streamline(neg.model())
    plain = Graph([1, 1, 64]).quant()
    plain.nodes.append(
        helper.make_node(
            "BipolarQuant", [plain.const(w), plain.const(1.0)], ["wq"], domain=QDOM, name="WQ"
        )
    )
    plain.op("Conv", "wq", kernel_shape=[3], strides=[1], pads=[0, 0]).head()
    with pytest.raises(CompileError, match=r"ReduceSum_\d+ \(ReduceSum\): left in the stream"):
        S.streamline(plain.model())
    g = Graph([1, 1, 64]).quant(scale=0.3).block(w, pad=2, pad_value=1.0, pool=None)
    with pytest.raises(CompileError, match=r"Pad_\d+: pad value 1.0 is not an integer"):
        S.streamline(g.model())


@pytest.mark.parametrize(
    "name", ["ecgbnn5-paper", "ecgbnn17-paper", "ecgbnn17-patient", "ecgbnn-beat-interpatient"]
)
def test_other_shipped_models_streamline_bit_exactly(windows, name):
    z, _ = windows
    desc = NetworkDescription.load(CHECKPOINTS / f"{name}.intnet.json")
    q = quantize_input(zscore(z[:2, :, : desc.input_length]))  # the beat model takes 720 samples
    s = S.streamline(ModelWrapper(str(CHECKPOINTS / f"{name}.onnx")))
    outs = run(s, q)
    want = reference.run(desc, q)
    np.testing.assert_array_equal(np.concatenate([o["global_out"] for o in outs]), want.scores)
    np.testing.assert_array_equal(np.concatenate([o["global_out_1"] for o in outs]), want.pred)


# ---------------------------------------------------------------- WnAn: n-bit weights, activations

INT_OPS = {"Pad", "Conv", "MaxPool", "MultiThreshold", "SignedMultiThreshold",
           "FixedPointSumHead", "ArgMax"}  # fmt: skip
"""Everything a streamlined WnAn graph may hold."""


@pytest.fixture(scope="module", params=[2, 4], ids=["w2a2", "w4a4"])
def int_model(request, tmp_path_factory):
    """A random WnAn export: (bits, its QONNX, compile_chain's description of the same file)."""
    bits = request.param
    net = random_bnn(BnnConfig(5, bits=bits), seed=2)
    path = export_qonnx(net, tmp_path_factory.mktemp("q") / "net.onnx")
    return bits, ModelWrapper(str(path)), compile_chain(path, "random-int", list("NSVFQ"))


@pytest.fixture(scope="module")
def int_stages(int_model, windows):
    """(pass name, model after it) for every pass of streamline on the WnAn model, and the
    export's scores on the first two windows."""
    _, model, _ = int_model
    out, cur = [("export", model)], model
    for p in S.passes():
        cur = cur.transform(p)
        out.append((type(p).__name__, cur))
    return out, first_output(model, run(model, windows[0][:2]))


def act_scales(model) -> list[float]:
    """Scales of the activation quantizers (blocks 2..6) of an exported WnAn graph, in order."""
    return [float(model.get_initializer(n.input[1])) for n in model.get_nodes_by_op_type("Quant")
            if model.get_initializer(n.input[0]) is None and n.input[0] != "global_in"]  # fmt: skip


def conv_inputs(model) -> list[str]:
    """What each Conv of blocks 2..6 reads (the activation levels, or their scaled values)."""
    out = []
    for conv in model.get_nodes_by_op_type("Conv")[1:]:
        prod = model.find_producer(conv.input[0])
        out.append(prod.input[0] if prod is not None and prod.op_type == "Pad" else conv.input[0])
    return out


INT_GONE_AFTER = {
    "FoldQuantWeights": lambda m: all(
        m.get_initializer(c.input[1]) is not None
        and m.get_tensor_datatype(c.input[1]).name.startswith("INT")
        for c in m.get_nodes_by_op_type("Conv")
    ),
    "ExtractActivationScales": lambda m: all(
        float(m.get_initializer(n.input[1])) == 1.0 for n in m.get_nodes_by_op_type("Quant")
    ),
    "MoveScaleMulsDown": lambda m: all(
        m.get_tensor_datatype(x).is_integer() for x in conv_inputs(m)
    ),
    "AbsorbAffineIntoMultiThresholds": lambda m: (
        not m.get_nodes_by_op_type("Quant")
        and not m.get_nodes_by_op_type("Div")
        and len(m.get_nodes_by_op_type("BatchNormalization")) == 1
    ),
    "LowerSumHead": lambda m: not {n.op_type for n in m.graph.node} - INT_OPS,
}


@pytest.mark.parametrize("i", range(1, len(S.passes()) + 1))
def test_int_pass_keeps_outputs_and_levels(int_stages, int_model, windows, i):
    """Every pass keeps the scores (allclose) and the n-bit levels entering blocks 2..6 (exactly:
    the description's levels, scaled by the activation scale where the graph still is)."""
    bits, model, desc = int_model
    z, q = windows[0][:2], windows[1][:2]
    stages, ref = int_stages
    (_, before), (name, after) = stages[i - 1], stages[i]
    assert_same_outputs(before, after, ref, z, q)
    if name in INT_GONE_AFTER:
        assert INT_GONE_AFTER[name](after), f"{name} left its pattern in the graph"
    levels = reference.run(desc, q, keep=True).activations[:-1]
    ctx = run(after, input_for(after, z, q), full=True)
    tensors = conv_inputs(after)
    assert len(tensors) == 5
    for block, (t, want, a) in enumerate(zip(tensors, levels, act_scales(model), strict=True)):
        got = np.concatenate([c[t] for c in ctx]).reshape(want.shape)
        if not after.get_tensor_datatype(t).is_integer():
            want = want.astype(np.float32) * np.float32(a)  # qonnx's Quant: level * scale
        else:
            assert after.get_tensor_datatype(t) == DataType[f"INT{bits}"], f"{name}: {t}"
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: block {block + 2}")


def node_steps(s, node) -> MultiThreshold:
    """The multi-threshold a streamlined threshold node computes, read from its initializers:
    SignedMultiThreshold's (thresholds, sign, base) verbatim; qonnx MultiThreshold's thresholds
    with every sign +1 and every base out_bias (qonnx: ``out_bias + sum_j [x >= T_j]``)."""
    if node.op_type == "SignedMultiThreshold":
        t, sign, base = (s.get_initializer(i) for i in node.input[1:])
        for a in (t, sign, base):
            assert a.dtype == np.int64
    else:
        t = s.get_initializer(node.input[1]).astype(np.int64)
        sign = np.ones(t.shape, np.int8)
        base = np.full(t.shape[0], getCustomOp(node).get_nodeattr("out_bias"), np.int64)
    out_bits = int(getCustomOp(node).get_nodeattr("out_dtype").removeprefix("INT"))
    return MultiThreshold("t", ("m",), t.astype(np.int64), sign.astype(np.int8),
                          base.astype(np.int64), out_bits)  # fmt: skip


def assert_thresholds_are_the_descriptions(s, desc) -> None:
    """The threshold nodes of streamlined ``s`` compute the description's MultiThresholds on
    the accumulator range (the same canonical form: a qonnx MultiThreshold when every step is
    +1, else a SignedMultiThreshold), and its accumulator annotations are the description's
    ranges."""
    ths = [n for n in s.graph.node if n.op_type in S.THRESHOLD_OPS]
    assert len(ths) == len(desc.layers) - 1
    for node, layer in zip(ths, desc.layers, strict=False):
        mt = layer.thresholds
        assert isinstance(mt, MultiThresholds)
        inst = getCustomOp(node)
        assert inst.get_nodeattr("out_dtype") == f"INT{mt.out_bits}"
        assert s.get_tensor_datatype(node.output[0]) == DataType[f"INT{mt.out_bits}"]
        assert (node.op_type == "MultiThreshold") == bool(np.all(mt.sign == 1))
        if node.op_type == "MultiThreshold":
            assert inst.get_nodeattr("out_scale") == 1
        got = node_steps(s, node).canonical(layer.acc_min, layer.acc_max)
        want = MultiThreshold("t", ("m",), mt.thresholds, mt.sign, mt.base, mt.out_bits)
        want = want.canonical(layer.acc_min, layer.acc_max)
        for a, b in ((got.thresholds, want.thresholds), (got.sign, want.sign),
                     (got.base, want.base)):  # fmt: skip
            np.testing.assert_array_equal(a, b)
    ranges = list(S.recorded_ranges(s).values())
    assert [r["acc_max"] for r in ranges] == [x.acc_max for x in desc.layers]
    assert [r["acc_min"] for r in ranges] == [x.acc_min for x in desc.layers]
    assert [r["acc_type"] for r in ranges] == [f"INT{acc_width(x)}" for x in desc.layers]
    assert [-r["weight_min"] for r in ranges] == [weight_max(x.weight_bits) for x in desc.layers]
    assert not any(r["xnor"] or r["popcount_type"] for r in ranges)
    for conv, layer in zip(s.get_nodes_by_op_type("Conv"), desc.layers, strict=True):
        w = s.get_initializer(conv.input[1])
        np.testing.assert_array_equal(w.reshape(layer.weights.shape), layer.weights)
        assert s.get_tensor_datatype(conv.input[1]) == DataType[f"INT{layer.weight_bits}"]


@pytest.mark.parametrize(
    ("reorder_pool", "layout_4d"), [(False, False), (True, False), (True, True)]
)
def test_int_streamlined_graph_equals_reference_bit_exactly(
    int_model, windows, reorder_pool, layout_4d
):
    _, model, desc = int_model
    _, q = windows
    s = S.streamline(model, reorder_pool=reorder_pool, layout_4d=layout_4d)
    outs = run(s, q)
    want = reference.run(desc, q)
    np.testing.assert_array_equal(np.concatenate([o["global_out"] for o in outs]), want.scores)
    np.testing.assert_array_equal(np.concatenate([o["global_out_1"] for o in outs]), want.pred)
    kinds = {n.op_type for n in s.graph.node}
    assert {"Conv", "MaxPool", "FixedPointSumHead", "ArgMax"} <= kinds <= INT_OPS
    assert not kinds & {"BatchNormalization", "PRelu", "Quant", "Div", "Mul"}
    assert_thresholds_are_the_descriptions(s, desc)
    # random γ / slopes: decreasing and V-shaped channels, hence the signed op
    assert "SignedMultiThreshold" in kinds
    assert json.loads(s.get_metadata_prop(S.INPUT_QUANT_KEY))["bits"] == 8
    if layout_4d:
        for conv in s.get_nodes_by_op_type("Conv")[1:]:  # the zero pads folded into the Conv
            assert next(a.ints for a in conv.attribute if a.name == "pads") == [0, 5, 0, 5]


def _int_graph(bits: int, conv_pads: bool) -> ModelWrapper:
    """int8 input → a 4-channel n-bit block, all channels increasing (one constant, at a level
    above the others' base) → n-bit activation → a 3-channel block with decreasing / V-shaped
    channels → n-bit activation → a 3-channel block → sum head. Blocks 2 and 3 pad with zeros
    (explicit Pad nodes, or the Conv's pads); their scales (0.45 x 0.29, 0.3 x 0.41) have no
    exact float32 product, so the threshold pass reads a chain of two scale Muls."""
    rng = np.random.default_rng(13)
    g = Graph([1, 1, 3600]).quant()
    g.block(
        rng.standard_normal((4, 1, 7)),
        w_scale=0.37,
        wbits=bits,
        stride=2,
        slope=[0.3, 0.2, 0.5, 0.1],
        gamma=[1.0, 0.5, 1e-4, 2.0],
        beta=[0.1, -0.2, 1.3, 0.0],
        mean=[0.5, 1.0, 0.0, -0.5],
    )
    g.act(0.45, bits)
    g.block(
        rng.standard_normal((3, 4, 7)),
        w_scale=0.29,
        wbits=bits,
        pad_value=0.0,
        conv_pads=conv_pads,
        slope=[-0.5, 0.3, -0.2],
        gamma=[1.0, -1.0, 0.5],
        mean=[1.0, 0.0, -1.0],
    )
    g.act(0.3, bits)
    g.block(
        rng.standard_normal((3, 3, 5)),
        w_scale=0.41,
        wbits=bits,
        pad=2,
        pad_value=0.0,
        conv_pads=conv_pads,
        pool=(3, 3),
        slope=[0.2, -0.3, 0.4],
        gamma=[0.1, -0.1, 0.05],  # small scores: the head's 16-bit coefficients stay within atol
        mean=[1.0, 0.0, -1.0],
    )
    return g.head().model()


@pytest.mark.parametrize("conv_pads", [False, True], ids=["pad-node", "conv-pads"])
@pytest.mark.parametrize("bits", [2, 4])
def test_int_synthetic_graph_multithreshold_forms_and_zero_pads(windows, bits, conv_pads,
                                                                 tmp_path):  # fmt: skip
    """All-increasing channels → qonnx's MultiThreshold (INTn, out_bias), and a max-pool moves
    behind it onto the n-bit levels; other channels → SignedMultiThreshold, pool kept; the zero
    pads are lowered whether explicit or folded into the Conv; thresholds = the description's."""
    z, q = windows
    z, q = z[:2], q[:2]
    model = _int_graph(bits, conv_pads)
    assert len(model.get_nodes_by_op_type("Pad")) == (1 if conv_pads else 3)
    onnx.save(model.model, tmp_path / "synthetic.onnx")
    desc = compile_chain(tmp_path / "synthetic.onnx", "synthetic", ["a", "b", "c"])
    s = check_every_pass(model, z, q, reorder_pool=True, layout_4d=True)
    pad = [] if conv_pads else ["Pad"]
    assert [n.op_type for n in s.graph.node] == [
        *["Pad", "Conv", "MultiThreshold", "MaxPool"],
        *[*pad, "Conv", "MaxPool", "SignedMultiThreshold"],
        *[*pad, "Conv", "MaxPool", "FixedPointSumHead", "ArgMax"],
    ]
    mt_node = s.get_nodes_by_op_type("MultiThreshold")[0]
    assert getCustomOp(mt_node).get_nodeattr("data_layout") == "NCHW"
    pool = s.get_nodes_by_op_type("MaxPool")[0]
    assert s.get_tensor_datatype(pool.input[0]) == DataType[f"INT{bits}"]
    assert s.get_tensor_datatype(pool.output[0]) == DataType[f"INT{bits}"]
    mt = desc.layers[0].thresholds
    assert len(set(mt.base.tolist())) > 1  # the constant channel: out_bias needs the prefix
    assert s.get_initializer(mt_node.input[1]).shape[1] > mt.steps
    # the graph without the layout / reorder options holds the description's numbers
    assert_thresholds_are_the_descriptions(S.streamline(model), desc)
    got = np.concatenate([o["global_out"] for o in run(s, q)])
    np.testing.assert_array_equal(got, reference.run(desc, q).scores)


def test_int_quant_with_its_scale_keeps_a_mul_after_the_thresholds(windows):
    """Without ExtractActivationScales the threshold node takes the Quant's scale along as a
    Mul: the levels times the scale are the Quant's output, bit for bit."""
    z, q = windows
    z, q = z[:2], q[:2]
    rng = np.random.default_rng(17)
    g = Graph([1, 1, 3600]).quant()
    g.block(rng.standard_normal((3, 1, 7)), w_scale=0.5, wbits=4, stride=2, slope=[0.3, -0.4, 0.2],
            gamma=[1.0, 1.0, -0.5], mean=[0.5, 1.0, 0.0])  # fmt: skip
    model = g.act(0.45, 4).model()
    cur, want = model, first_output(model, run(model, z))
    for p in (S.TidyUp(), S.FoldQuantWeights(), S.IntegerizeInput(), S.MoveScaleMulsDown(),
              S.AbsorbAffineIntoMultiThresholds()):  # fmt: skip
        cur = cur.transform(p)
    assert [n.op_type for n in cur.graph.node] == [
        "Pad", "Conv", "MaxPool", "SignedMultiThreshold", "Mul"
    ]  # fmt: skip
    np.testing.assert_array_equal(first_output(cur, run(cur, q)), want)
    assert float(cur.get_initializer(cur.get_nodes_by_op_type("Mul")[0].input[1])) == np.float32(
        0.45
    )


def test_signed_multithreshold_runs_through_the_qonnx_registry():
    mt = MultiThresholds(
        thresholds=np.array([[-3, 2, 9], [-1, 4, 9], [0, 9, 9]]),
        sign=np.array([[1, 1, 1], [-1, -1, 1], [-1, 1, 1]], dtype=np.int8),
        base=np.array([-2, 1, 0]),
        out_bits=2,
    )
    m = np.arange(-8, 9, dtype=np.float32)[None, None, :].repeat(3, axis=1)
    x = helper.make_tensor_value_info("m", TensorProto.FLOAT, [1, 3, 17])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 17])
    inits = [
        onnx.numpy_helper.from_array(a.astype(np.int64), n)
        for a, n in zip((mt.thresholds, mt.sign, mt.base), ("t", "s", "b"), strict=True)
    ]
    node = helper.make_node(
        "SignedMultiThreshold", ["m", "t", "s", "b"], ["y"], domain=S.DOMAIN, out_dtype="INT2"
    )
    proto = helper.make_model(helper.make_graph([node], "g", [x], [y], initializer=inits))
    model = ModelWrapper(proto)
    assert isinstance(getCustomOp(model.graph.node[0]), S.SignedMultiThreshold)
    got = execute_onnx(model, {"m": m})["y"]
    np.testing.assert_array_equal(got, mt.apply(m[0].astype(np.int64))[None])
    model = model.transform(S.TidyUp(readable_names=False))
    assert model.get_tensor_datatype("y") == DataType["INT2"]


def test_int_errors_name_the_node():
    w = np.ones((2, 1, 3))
    g = Graph([1, 1, 64]).quant().block(w, pad=0, wbits=4).act(0.5, 4, zero=1.0)
    with pytest.raises(CompileError, match=r"Quant_\d+: activation quantizer must have zero"):
        S.streamline(g.model())
    g = Graph([1, 1, 64]).quant().block(w, pad=0, wbits=4).act(0.5, 4, signed=0)
    with pytest.raises(CompileError, match=r"BatchNormalization_\d+ before Quant_\d+: n-bit act"):
        S.streamline(g.model())
    g = Graph([1, 1, 64]).quant().block(w, pad=0, wbits=4)
    g.nodes[1].input[1] = g.const(np.array([0.5, 0.25], np.float32).reshape(2, 1, 1))
    with pytest.raises(CompileError, match=r"Quant_\d+: weight quantizer must be per tensor"):
        S.streamline(g.head().model())
