"""Scales, PReLU and BatchNorm + binary activation → integer thresholds; max-pool reordering."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from ..compile import CompileError, block_affine, derive_thresholds
from ..description import Thresholds
from ._graph import channel_vector, const, insert_after, is_const, new_init, single_consumer
from .accumulators import integer_range
from .ops import DOMAIN


@dataclass
class AffineMatch:
    """``m → [Mul(scale)] → PRelu → BatchNormalization`` found backwards from the BN.

    ``m``: the integer tensor; ``scale`` float64 ``[C]``; ``f``: compile's BN ∘ PReLU map;
    ``nodes``: the matched nodes, first to last.
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
    pre = model.find_producer(m)
    scale = np.asarray(1.0)
    if (
        pre is not None
        and pre.op_type == "Mul"
        and is_const(model, pre.input[1])
        and single_consumer(model, pre.output[0]) is not None
    ):
        nodes.insert(0, pre)
        m, scale = pre.input[0], const(model, pre, 1)
    channels = model.get_tensor_shape(m)[1]
    scale = channel_vector(scale, channels, nodes[0].name)
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
                data_layout="NCW" if len(model.get_tensor_shape(m)) == 3 else "NCHW",
                name=name + "_thresholds",
            )
            return node
        model.set_opset_import(DOMAIN, 1)
        inputs = [m] + [new_init(model, a.astype(np.int64)) for a in (th.lo, th.hi, th.invert)]
        return helper.make_node(
            "BipolarThreshold", inputs, [out], domain=DOMAIN, name=name + "_thresholds"
        )


def threshold_is_increasing(model, node) -> bool:
    """Whether threshold ``node`` (``MultiThreshold`` or ``BipolarThreshold``) is a monotone
    non-decreasing function of its input, per channel, on the input's integer range."""
    if node.op_type == "MultiThreshold":
        from qonnx.custom_op.registry import getCustomOp

        return getCustomOp(node).get_nodeattr("out_scale") > 0
    if node.op_type == "BipolarThreshold":
        lo, _ = integer_range(model, node.input[0])
        lo_t, hi_t, inv = (np.asarray(model.get_initializer(i)) for i in node.input[1:4])
        return bool(np.all(is_increasing(Thresholds(lo_t, hi_t, inv.astype(bool)), lo)))
    return False


class MoveMaxPoolPastMonotoneThresholds(Transformation):
    """``MaxPool → threshold`` → ``threshold → MaxPool`` (binary max-pool on ±1) where legal.

    ``max_j T(m_j) = T(max_j m_j)`` holds for a non-decreasing ``T`` only, so a node with any
    decreasing or non-monotone channel (γ < 0, negative PReLU slope) keeps the pool on the
    integers. The binary max-pool is an OR of bits; the thresholds then run at the conv rate.
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
            th.input[0], th.output[0] = x, t
            pool.input[0], pool.output[0] = t, y
            model.set_tensor_shape(t, model.get_tensor_shape(x))
            model.set_tensor_datatype(t, DataType["BIPOLAR"])
            moved = copy.deepcopy(th)
            model.graph.node.remove(th)
            model.graph.node.insert(model.get_node_index(pool), moved)
            return model.transform(InferShapes()), True
        return model, False
