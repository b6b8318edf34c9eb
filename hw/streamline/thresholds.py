"""Scales, PReLU and BatchNorm + binary or n-bit activation → integer thresholds; max-pool
reordering."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from ..compile import (
    CompileError,
    block_affine,
    derive_multithresholds,
    derive_thresholds,
    quant_node,
)
from ..description import MultiThresholds, Thresholds
from ._graph import channel_vector, const, insert_after, is_const, new_init, single_consumer
from .accumulators import integer_range
from .ops import DOMAIN


@dataclass
class AffineMatch:
    """``m → [Mul(s1) → Mul(s2) ...] → PRelu → BatchNormalization`` found backwards from the BN.

    ``m``: the integer tensor; ``scale`` float64 ``[C]``, the product of the scale ``Mul``
    constants in float64 (exact for a chain of two float32 factors, so it equals the
    description's ``input scale x weight scale``); ``f``: compile's BN ∘ PReLU map; ``nodes``:
    the matched nodes, first to last.
    """

    m: str
    scale: np.ndarray
    f: object
    nodes: list


def match_affine(model, bn) -> AffineMatch | None:
    """Match the block tail ending in ``bn`` (``None`` if it is not that pattern).

    Raises
    ------
    CompileError
        Matched, but the scale or BN/PReLU parameters are not constants of per-channel shape.
    """
    if bn.op_type != "BatchNormalization":
        return None
    prelu = model.find_producer(bn.input[0])
    if prelu is None or prelu.op_type != "PRelu" or single_consumer(model, prelu.output[0]) is None:
        return None
    nodes, m = [prelu, bn], prelu.input[0]
    channels = model.get_tensor_shape(m)[1]
    scale = np.ones(channels)
    pre = model.find_producer(m)
    while (
        pre is not None
        and pre.op_type == "Mul"
        and is_const(model, pre.input[1])
        and not is_const(model, pre.input[0])
        and single_consumer(model, pre.output[0]) is not None
    ):
        nodes.insert(0, pre)
        m, scale = pre.input[0], channel_vector(const(model, pre, 1), channels, pre.name) * scale
        pre = model.find_producer(m)
    return AffineMatch(m=m, scale=scale, f=block_affine(model, prelu, bn, channels), nodes=nodes)


def is_increasing(th: Thresholds, lo: int) -> np.ndarray:
    """Per channel: the bit is the monotone increasing step ``m >= hi`` on ``m >= lo``."""
    return ~th.invert & (th.lo < lo)


class AbsorbAffineIntoThresholds(Transformation):
    """``m → [Mul(s)] → PRelu → BatchNormalization → BipolarQuant`` → one threshold node.

    ``m`` is an integer tensor (a pooled accumulator); its range comes from
    :func:`~.accumulators.integer_range`. The thresholds are ``compile.derive_thresholds`` of
    ``compile.block_affine`` at scale ``s`` (exact on that range, whatever the signs of γ and
    the PReLU slope). If every channel is a monotone increasing step the node is FINN's
    ``MultiThreshold`` (``out_scale=2, out_bias=-1``, ``data_layout="NCW"``: qonnx would guess
    NWC for a rank-3 tensor), else a :class:`~.ops.BipolarThreshold`. Either way the output is
    ±1, annotated ``BIPOLAR``; an activation scale ``!= 1`` stays as a ``Mul`` after it. FINN
    counterpart: ``AbsorbSignBiasIntoMultiThreshold`` + ``AbsorbMulIntoMultiThreshold`` + ...

    Raises
    ------
    CompileError
        A channel whose sign changes more than twice, or a non-integer ``m`` (names the node).
    """

    def apply(self, model):
        """Absorb the first matching block tail."""
        for bq in model.graph.node:
            if bq.op_type != "BipolarQuant" or is_const(model, bq.input[0]):
                continue
            bn = model.find_producer(bq.input[0])
            if bn is None or single_consumer(model, bn.output[0]) is None:
                continue
            match = match_affine(model, bn)
            if match is None:
                continue
            try:
                lo, hi = integer_range(model, match.m)
                th = derive_thresholds(match.f, match.scale, lo, hi)
            except CompileError as exc:
                raise CompileError(f"{bn.name} before {bq.name}: {exc}") from exc
            node = self._node(model, match.m, th, lo, bq.output[0], bq.name)
            act_scale = const(model, bq, 1).astype(np.float32)
            if not np.all(act_scale == 1.0):
                out = node.output[0]
                node.output[0] = out + "_bits"
                model.set_tensor_shape(node.output[0], model.get_tensor_shape(out))
                mul = helper.make_node("Mul", [node.output[0], new_init(model, act_scale)], [out])
                insert_after(model, bq, mul)
            insert_after(model, bq, node)
            model.set_tensor_datatype(node.output[0], DataType["BIPOLAR"])
            for n in [*match.nodes, bq]:
                model.graph.node.remove(n)
            return model.transform(InferShapes()), True
        return model, False

    @staticmethod
    def _node(model, m: str, th: Thresholds, lo: int, out: str, name: str):
        if np.all(is_increasing(th, lo)):
            t = new_init(model, th.hi.astype(np.float32).reshape(-1, 1))
            node = helper.make_node(
                "MultiThreshold",
                [m, t],
                [out],
                domain="qonnx.custom_op.general",
                out_dtype="BIPOLAR",
                out_scale=2.0,
                out_bias=-1.0,
                data_layout={2: "NC", 3: "NCW"}.get(len(model.get_tensor_shape(m)), "NCHW"),
                name=name + "_thresholds",
            )
            return node
        model.set_opset_import(DOMAIN, 1)
        inputs = [m] + [new_init(model, a.astype(np.int64)) for a in (th.lo, th.hi, th.invert)]
        return helper.make_node(
            "BipolarThreshold", inputs, [out], domain=DOMAIN, name=name + "_thresholds"
        )


def multithreshold_form(mt: MultiThresholds, lo: int, hi: int) -> tuple[np.ndarray, int] | None:
    """``(thresholds [C, J'], out_bias)`` of qonnx's ``MultiThreshold`` computing ``mt`` on the
    integer range ``[lo, hi]``, or ``None`` if some step has sign -1.

    qonnx's ``out_bias`` is one scalar, while ``mt.base`` is per channel: ``out_bias`` is the
    smallest base, and a channel whose base is ``k`` above it gets ``k`` extra thresholds ``lo``
    in front (always reached on the range). Rows are padded at the end with ``hi + 1`` (never
    reached), as ``derive_multithresholds`` pads. When every base is equal (the usual case) the
    thresholds are ``mt.thresholds`` unchanged and ``out_bias`` is that base.
    """
    if np.any(mt.sign != 1):
        return None
    bias = int(mt.base.min())
    extra = mt.base - bias
    width = mt.steps + int(extra.max())
    th = np.full((len(mt.base), width), hi + 1, dtype=np.int64)
    for c, k in enumerate(extra):
        th[c, :k] = lo
        th[c, k : k + mt.steps] = mt.thresholds[c]
    return th, bias


class AbsorbAffineIntoMultiThresholds(Transformation):
    """``m → [Mul(s)...] → PRelu → BatchNormalization → [Div(a)] → Quant`` (an n-bit activation)
    → one multi-threshold node whose output is the integer level (``INTn``).

    ``m`` is an integer tensor (a pooled accumulator; range from
    :func:`~.accumulators.integer_range`). The quantizer is ``compile.quant_node`` of the
    ``Quant``; after :class:`~.scales.ExtractActivationScales` it has scale 1 behind a
    ``Div(a)``, and ``a`` is its scale. The levels are ``compile.derive_multithresholds`` of
    ``compile.block_affine`` at scale ``s`` (the description's :class:`MultiThresholds`,
    exact on that range whatever the signs of γ and the PReLU slope).

    The node: qonnx's own ``MultiThreshold`` (domain ``qonnx.custom_op.general``,
    ``out_dtype="INTn"``, ``out_bias`` = the base, ``data_layout="NCW"``; see
    :func:`multithreshold_form`) when every step has sign +1, i.e. every channel is monotone
    increasing, which FINN's thresholding hardware implements; otherwise a
    :class:`~.ops.SignedMultiThreshold` holding ``thresholds``, ``sign`` and ``base`` verbatim
    (decreasing channels for γ < 0, V shapes for a negative PReLU slope, which qonnx's
    scalar-scaled staircase cannot express). A ``Quant`` that still has a scale ``a != 1`` (no
    ``Div``) leaves ``Mul(a)`` after the node. FINN counterpart: ``ConvertQuantActToMultiThreshold``
    + ``AbsorbMulIntoMultiThreshold`` + ``AbsorbAddIntoMultiThreshold`` + ...

    Raises
    ------
    CompileError
        A quantizer ``quant_node`` / ``derive_multithresholds`` rejects (unsigned, non-zero
        zero point, ...), a channel that is not BN ∘ PReLU, or a non-integer ``m`` (names the
        nodes).
    """

    def apply(self, model):
        """Absorb the first matching block tail."""
        for q in model.graph.node:
            if q.op_type != "Quant" or is_const(model, q.input[0]):
                continue
            tail, y = [q], q.input[0]
            div = model.find_producer(y)
            if (
                div is not None
                and div.op_type == "Div"
                and is_const(model, div.input[1])
                and np.asarray(model.get_initializer(div.input[1])).size == 1
                and single_consumer(model, div.output[0]) is not None
            ):
                tail.insert(0, div)
                y = div.input[0]
            bn = model.find_producer(y)
            if bn is None or single_consumer(model, bn.output[0]) is None:
                continue
            match = match_affine(model, bn)
            if match is None:
                continue
            try:
                aq, out_scale = level_quant(model, q, tail[0] if len(tail) == 2 else None)
                lo, hi = integer_range(model, match.m)
                mt = derive_multithresholds(match.f, match.scale, aq, lo, hi)
            except CompileError as exc:
                raise CompileError(f"{bn.name} before {q.name}: {exc}") from exc
            insert_levels(model, q, match.m, mt, lo, hi, aq.bits, out_scale)
            for n in [*match.nodes, *tail]:
                model.graph.node.remove(n)
            return model.transform(InferShapes()), True
        return model, False

    @staticmethod
    def _node(model, m: str, mt: MultiThresholds, lo: int, hi: int, dtype, out: str, name: str):
        form = multithreshold_form(mt, lo, hi)
        if form is not None:
            th, bias = form
            return helper.make_node(
                "MultiThreshold",
                [m, new_init(model, th.astype(np.float32))],
                [out],
                domain="qonnx.custom_op.general",
                out_dtype=dtype.get_canonical_name(),
                out_bias=float(bias),
                data_layout={2: "NC", 3: "NCW"}.get(len(model.get_tensor_shape(m)), "NCHW"),
                name=name + "_thresholds",
            )
        model.set_opset_import(DOMAIN, 1)
        inputs = [m] + [
            new_init(model, a.astype(np.int64)) for a in (mt.thresholds, mt.sign, mt.base)
        ]
        return helper.make_node(
            "SignedMultiThreshold",
            inputs,
            [out],
            domain=DOMAIN,
            out_dtype=dtype.get_canonical_name(),
            name=name + "_thresholds",
        )


def level_quant(model, q, div) -> tuple[object, float]:
    """Activation quantizer ``q`` (after ``Div(a)`` ``div``, or ``None``) as
    ``(compile.ActQuant at the real scale of what the Div takes, the scale q still applies)``.

    Raises
    ------
    CompileError
        ``quant_node`` rejects it, it has 1 bit, or it keeps a scale behind a ``Div``.
    """
    aq = quant_node(model, q, "activation")
    if aq.bits < 2:
        raise CompileError("a 1-bit Quant activation (export binary ones as BipolarQuant)")
    out_scale = aq.scale
    if div is not None:
        if aq.scale != 1.0:
            raise CompileError(f"{div.name} feeds a quantizer of scale {aq.scale}")
        aq = replace(aq, scale=float(const(model, div, 1).reshape(-1)[0]))
    return aq, out_scale


def insert_levels(model, q, m: str, mt: MultiThresholds, lo: int, hi: int, bits: int,
                  out_scale: float) -> None:  # fmt: skip
    """The multi-threshold node of ``mt`` on integers ``m`` (range ``[lo, hi]``) after ``q``,
    writing ``q``'s output (``INTbits`` levels, then ``Mul(out_scale)`` unless it is 1); the
    caller removes ``q`` and what it replaces."""
    dtype = DataType[f"INT{bits}"]
    node = AbsorbAffineIntoMultiThresholds._node(model, m, mt, lo, hi, dtype, q.output[0],
                                                q.name)  # fmt: skip
    if out_scale != 1.0:
        out = node.output[0]
        node.output[0] = out + "_levels"
        model.set_tensor_shape(node.output[0], model.get_tensor_shape(out))
        scale = new_init(model, np.asarray(out_scale, dtype=np.float32))
        insert_after(model, q, helper.make_node("Mul", [node.output[0], scale], [out]))
    insert_after(model, q, node)
    model.set_tensor_datatype(node.output[0], dtype)


THRESHOLD_OPS = ("MultiThreshold", "BipolarThreshold", "SignedMultiThreshold")
"""Op types of the activation nodes the threshold passes make."""


def threshold_is_increasing(model, node) -> bool:
    """Whether threshold ``node`` (one of :data:`THRESHOLD_OPS`) is a monotone non-decreasing
    function of its input, per channel, on the input's integer range."""
    if node.op_type == "MultiThreshold":
        from qonnx.custom_op.registry import getCustomOp

        return getCustomOp(node).get_nodeattr("out_scale") > 0
    if node.op_type == "BipolarThreshold":
        lo, _ = integer_range(model, node.input[0])
        lo_t, hi_t, inv = (np.asarray(model.get_initializer(i)) for i in node.input[1:4])
        return bool(np.all(is_increasing(Thresholds(lo_t, hi_t, inv.astype(bool)), lo)))
    if node.op_type == "SignedMultiThreshold":
        return bool(np.all(np.asarray(model.get_initializer(node.input[2])) > 0))
    return False


class MoveMaxPoolPastMonotoneThresholds(Transformation):
    """``MaxPool → threshold`` → ``threshold → MaxPool`` (binary max-pool on ±1, or on n-bit
    levels) where legal.

    ``max_j T(m_j) = T(max_j m_j)`` holds for a non-decreasing ``T`` only, so a node with any
    decreasing or non-monotone channel (γ < 0, negative PReLU slope) keeps the pool on the
    integers. The binary max-pool is an OR of bits; the thresholds then run at the conv rate.
    The pooled tensor keeps the threshold's output datatype (``BIPOLAR`` or ``INTn``).
    FINN counterpart: ``MoveMaxPoolPastMultiThreshold``. Never raises for a streamlined graph.
    """

    def apply(self, model):
        """Reorder the first legal pair."""
        for pool in model.graph.node:
            if pool.op_type != "MaxPool" or len(pool.output) != 1:
                continue
            th = single_consumer(model, pool.output[0])
            if (
                th is None
                or th.input[0] != pool.output[0]
                or not threshold_is_increasing(model, th)
            ):
                continue
            x, t, y = pool.input[0], pool.output[0], th.output[0]
            dtype = model.get_tensor_datatype(y)
            th.input[0], th.output[0] = x, t
            pool.input[0], pool.output[0] = t, y
            model.set_tensor_shape(t, model.get_tensor_shape(x))
            model.set_tensor_datatype(t, dtype)
            moved = copy.deepcopy(th)
            model.graph.node.remove(th)
            model.graph.node.insert(model.get_node_index(pool), moved)
            return model.transform(InferShapes()), True
        return model, False
