"""Custom qonnx ops of the streamlined ECG-BNN graph, in the domain :data:`DOMAIN`.

qonnx 1.0.0 resolves a node's ``domain`` to a Python module with ``importlib`` (see
``qonnx.custom_op.registry.getCustomOp``) and looks the ``op_type`` up in that module's
``__all__``; so a node with ``domain = "ecgaccel.hw.streamline.ops"`` and ``op_type =
"BipolarThreshold"`` runs :class:`BipolarThreshold` under ``qonnx.core.onnx_exec.execute_onnx``
with nothing to register by hand.

The ops evaluate the integer semantics of :mod:`ecgaccel.hw.description` (``Thresholds.apply``
and ``MultiThresholds.apply`` for the activations; the :class:`~ecgaccel.hw.description.SumHead`
formula for the head) on integer values carried in float tensors, as qonnx does.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from ..description import MultiThresholds, Thresholds, sum_head_scores

DOMAIN = "ecgaccel.hw.streamline.ops"
"""ONNX domain of the ops below (= this module's import path, which is how qonnx finds them)."""

__all__ = [
    "DOMAIN",
    "BipolarThreshold",
    "FixedPointSumHead",
    "GlobalAccPool",
    "IntLinearHead",
    "IntMultiLabel",
    "ScaledAdd",
    "SignedMultiThreshold",
]


class BipolarThreshold(CustomOp):
    """Two-threshold binary activation: ``y = 2 * bit - 1`` with
    ``bit = invert XOR (m >= hi OR m <= lo)`` per channel.

    Inputs: ``m`` integer-valued float ``[N, C, L]`` (or ``[N, C, 1, L]``; the channel axis is 1),
    ``lo``, ``hi`` int64 ``[C]``, ``invert`` int64 ``[C]`` (0/1). Output: float32 ±1 of m's shape,
    annotated ``BIPOLAR``. Unlike FINN's ``MultiThreshold`` (a monotone staircase) it expresses the
    non-monotone BatchNorm ∘ PReLU ∘ sign channels (negative PReLU slope); semantics are
    :class:`ecgaccel.hw.description.Thresholds` (compile.derive_thresholds makes them).
    """

    def get_nodeattr_types(self):
        """No attributes: the thresholds are initializer inputs."""
        return {}

    def make_shape_compatible_op(self, model):
        """Shape-preserving stand-in for ONNX shape inference."""
        node = self.onnx_node
        return helper.make_node("Relu", [node.input[0]], [node.output[0]])

    def infer_node_datatype(self, model):
        """The output is ``BIPOLAR``."""
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["BIPOLAR"])

    def thresholds(self, context) -> Thresholds:
        """The node's :class:`Thresholds` from ``context`` (tensor name → array)."""
        lo, hi, inv = (np.asarray(context[n]).reshape(-1) for n in self.onnx_node.input[1:4])
        return Thresholds(lo=lo.astype(np.int64), hi=hi.astype(np.int64), invert=inv.astype(bool))

    def execute_node(self, context, graph):
        """``context[out] = 2 * Thresholds.apply(m) - 1`` (float32)."""
        node = self.onnx_node
        m = np.asarray(context[node.input[0]])
        flat = m.reshape(m.shape[0], m.shape[1], -1)  # [N, C, H*W]: apply() wants C second-last
        bits = self.thresholds(context).apply(flat).reshape(m.shape)
        context[node.output[0]] = (2.0 * bits - 1.0).astype(np.float32)

    def verify_node(self):
        """Messages about the node's input count."""
        ok = len(self.onnx_node.input) == 4
        return ["BipolarThreshold has 4 inputs" if ok else "BipolarThreshold needs 4 inputs"]


class SignedMultiThreshold(CustomOp):
    """n-bit activation with signed steps: ``y = base + sum_j sign_j * [m >= T_j]`` per channel.

    Inputs: ``m`` integer-valued float ``[N, C, L]`` (or ``[N, C, 1, L]``; the channel axis is 1),
    ``thresholds`` int64 ``[C, J]`` (ascending along ``j``), ``sign`` int64 ``[C, J]`` in {-1, +1},
    ``base`` int64 ``[C]``. Attribute ``out_dtype`` (``"INT<n>"``). Output: float32 integers of
    m's shape in the ``out_dtype`` range, annotated ``out_dtype``. Semantics are
    :class:`ecgaccel.hw.description.MultiThresholds` (``compile.derive_multithresholds`` makes
    them).

    Why not qonnx's ``MultiThreshold``: its output is ``out_scale * count + out_bias`` with one
    scalar scale and bias, a monotone non-decreasing staircase; a channel with BatchNorm γ < 0
    (decreasing) or a negative PReLU slope (V-shaped) needs steps of sign -1. The streamlining
    pass uses ``MultiThreshold`` whenever every step of a layer has sign +1 and this op otherwise.
    """

    def get_nodeattr_types(self):
        """``out_dtype``: the signed integer type of the levels, e.g. ``"INT4"``."""
        return {"out_dtype": ("s", True, "")}

    def make_shape_compatible_op(self, model):
        """Shape-preserving stand-in for ONNX shape inference."""
        node = self.onnx_node
        return helper.make_node("Relu", [node.input[0]], [node.output[0]])

    def infer_node_datatype(self, model):
        """The output is ``out_dtype``."""
        model.set_tensor_datatype(
            self.onnx_node.output[0], DataType[self.get_nodeattr("out_dtype")]
        )

    def multithresholds(self, context) -> MultiThresholds:
        """The node's :class:`MultiThresholds` from ``context`` (tensor name → array)."""
        th, sign, base = (np.asarray(context[n]) for n in self.onnx_node.input[1:4])
        c = base.size
        return MultiThresholds(
            thresholds=th.reshape(c, -1).astype(np.int64),
            sign=sign.reshape(c, -1).astype(np.int8),
            base=base.reshape(-1).astype(np.int64),
            out_bits=DataType[self.get_nodeattr("out_dtype")].bitwidth(),
        )

    def execute_node(self, context, graph):
        """``context[out] = MultiThresholds.apply(m)`` (float32)."""
        node = self.onnx_node
        m = np.rint(np.asarray(context[node.input[0]], dtype=np.float64)).astype(np.int64)
        flat = m.reshape(m.shape[0], m.shape[1], -1)  # [N, C, H*W]: apply() wants C second-last
        levels = self.multithresholds(context).apply(flat).reshape(m.shape)
        context[node.output[0]] = levels.astype(np.float32)

    def verify_node(self):
        """Messages about the node's input count."""
        ok = len(self.onnx_node.input) == 4
        return [
            "SignedMultiThreshold has 4 inputs" if ok else "SignedMultiThreshold needs 4 inputs"
        ]


class FixedPointSumHead(CustomOp):
    """Global sum pooling + per-class PReLU/BatchNorm folded into fixed point (the ECG-BNN head).

    ``score[n, c] = a_pos[c] * sum_t max(m[n, c, t], 0) + a_neg[c] * sum_t min(m[n, c, t], 0)
    + bias[c]``, the :class:`~ecgaccel.hw.description.SumHead` of ``compile.derive_head``; the real
    score is ``score * 2^-frac_bits``. Inputs: ``m`` integer-valued ``[N, C, L]`` (or
    ``[N, C, 1, L]``; sums run over every axis after C), ``a_pos``, ``a_neg``, ``bias`` int64
    ``[C]``. Output: float64 ``[N, C]`` holding exact integers (below 2^53). Attributes
    ``frac_bits``, ``coef_bits`` (as in ``SumHead``). FINN counterpart: a global (sum) pooling
    layer feeding ``LabelSelect``.
    """

    def get_nodeattr_types(self):
        """``frac_bits`` and ``coef_bits`` of the fixed-point coefficients."""
        return {"frac_bits": ("i", True, 0), "coef_bits": ("i", True, 16)}

    def make_shape_compatible_op(self, model):
        """A constant-shape stand-in producing float64 ``[N, C]`` (from the input's shape, or
        the output's while the input's is being re-inferred)."""
        shape = model.get_tensor_shape(self.onnx_node.input[0])
        shape = shape[:2] if shape is not None else model.get_tensor_shape(self.onnx_node.output[0])
        return helper.make_node(
            "RandomNormal",
            inputs=[],
            outputs=[self.onnx_node.output[0]],
            mean=0.0,
            scale=1.0,
            dtype=TensorProto.DOUBLE,
            shape=shape,
        )

    def infer_node_datatype(self, model):
        """Annotates the scores ``INT64``, refined by the head pass to the exact width."""
        out = self.onnx_node.output[0]
        if not model.get_tensor_datatype(out).is_integer():
            model.set_tensor_datatype(out, DataType["INT64"])

    def execute_node(self, context, graph):
        """Exact int64 arithmetic, stored as float64."""
        node = self.onnx_node
        m = np.rint(np.asarray(context[node.input[0]], dtype=np.float64)).astype(np.int64)
        m = m.reshape(m.shape[0], m.shape[1], -1)
        a_pos, a_neg, bias = (np.asarray(context[n]).astype(np.int64) for n in node.input[1:4])
        context[node.output[0]] = sum_head_scores(m, a_pos, a_neg, bias).astype(np.float64)

    def verify_node(self):
        """Messages about the node's input count."""
        ok = len(self.onnx_node.input) == 4
        return ["FixedPointSumHead has 4 inputs" if ok else "FixedPointSumHead needs 4 inputs"]


def _int(context, name: str) -> np.ndarray:
    return np.rint(np.asarray(context[name], dtype=np.float64)).astype(np.int64)


def _set_shape_op(node, shape, dtype=TensorProto.FLOAT):
    return helper.make_node("RandomNormal", inputs=[], outputs=[node.output[0]], mean=0.0,
                            scale=1.0, dtype=dtype, shape=list(shape))  # fmt: skip


class ScaledAdd(CustomOp):
    """Residual add of two integer tensors of one shape: ``y = ka * a + kb * b`` with integer
    attributes ``ka``, ``kb`` (FINN ``AddStreams`` after the scales are aligned; the graph's
    :class:`~ecgaccel.hw.graph.AddStreams`, :func:`~ecgaccel.hw.semantics.add_streams`)."""

    def get_nodeattr_types(self):
        """The integer factors."""
        return {"ka": ("i", True, 1), "kb": ("i", True, 1)}

    def make_shape_compatible_op(self, model):
        """The input's shape."""
        return _set_shape_op(self.onnx_node, model.get_tensor_shape(self.onnx_node.input[0]))

    def infer_node_datatype(self, model):
        """The smallest signed type holding ``ka * a + kb * b`` over the inputs' types."""
        from ._graph import int_bounds, signed_type

        ka, kb = self.get_nodeattr("ka"), self.get_nodeattr("kb")
        ra, rb = (int_bounds(model.get_tensor_datatype(t)) for t in self.onnx_node.input[:2])
        if ra is None or rb is None:
            return
        ea, eb = sorted((ka * ra[0], ka * ra[1])), sorted((kb * rb[0], kb * rb[1]))
        model.set_tensor_datatype(self.onnx_node.output[0],
                                  signed_type(ea[0] + eb[0], ea[1] + eb[1]))  # fmt: skip

    def execute_node(self, context, graph):
        """Exact integers, stored as float32 (qonnx's convention)."""
        from ..semantics import add_streams

        a, b = (_int(context, t) for t in self.onnx_node.input[:2])
        y = add_streams(a, b, self.get_nodeattr("ka"), self.get_nodeattr("kb"))
        context[self.onnx_node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        """Messages about the input count."""
        return ["ScaledAdd has 2 inputs" if len(self.onnx_node.input) == 2 else "needs 2"]


class GlobalAccPool(CustomOp):
    """Global sum pooling (FINN ``GlobalAccPool``): integers ``[N, C, ...]`` → their sums over
    every axis after C, ``[N, C]`` (the average's divisor is left to the next node's scale;
    :func:`~ecgaccel.hw.semantics.global_acc_pool`)."""

    def get_nodeattr_types(self):
        """None."""
        return {}

    def make_shape_compatible_op(self, model):
        """``[N, C]``."""
        shape = model.get_tensor_shape(self.onnx_node.input[0])
        return _set_shape_op(self.onnx_node, shape[:2])

    def infer_node_datatype(self, model):
        """The input's range times the positions."""
        from ._graph import int_bounds, signed_type

        shape = model.get_tensor_shape(self.onnx_node.input[0])
        r = int_bounds(model.get_tensor_datatype(self.onnx_node.input[0]))
        if r is not None:
            n = int(np.prod(shape[2:]))
            model.set_tensor_datatype(self.onnx_node.output[0], signed_type(n * r[0], n * r[1]))

    def execute_node(self, context, graph):
        """Exact integer sums, as float32 (the ONNX type of the tensor, which a standard op such
        as ``Concat`` may read); exact below 2^24, checked."""
        x = _int(context, self.onnx_node.input[0])
        s = x.reshape(*x.shape[:2], -1).sum(-1)
        if s.size and np.abs(s).max() >= 2**24:
            raise ValueError(f"{self.onnx_node.name}: a sum of magnitude >= 2^24 (not exact)")
        context[self.onnx_node.output[0]] = s.astype(np.float32)

    def verify_node(self):
        """No checks beyond qonnx's."""
        return []


class IntLinearHead(CustomOp):
    """Fully connected head on integers: ``score = x @ W.T + bias``, ``x`` ``[N, F]``, ``W``
    int ``[K, F]``, ``bias`` int64 ``[K]``, float64 ``[N, K]`` exact integers; the real logits
    are ``scale x score`` (the head pass records ``scale``;
    :func:`~ecgaccel.hw.semantics.linear_head`)."""

    def get_nodeattr_types(self):
        """None."""
        return {}

    def make_shape_compatible_op(self, model):
        """``[N, K]``."""
        n = model.get_tensor_shape(self.onnx_node.input[0])[0]
        k = model.get_initializer(self.onnx_node.input[1]).shape[0]
        return _set_shape_op(self.onnx_node, (n, k), TensorProto.DOUBLE)

    def infer_node_datatype(self, model):
        """Annotated ``INT64``; the head pass refines it."""
        out = self.onnx_node.output[0]
        if not model.get_tensor_datatype(out).is_integer():
            model.set_tensor_datatype(out, DataType["INT64"])

    def execute_node(self, context, graph):
        """Exact int64 arithmetic."""
        from ..semantics import linear_head

        x = _int(context, self.onnx_node.input[0])
        w, b = (_int(context, t) for t in self.onnx_node.input[1:3])
        context[self.onnx_node.output[0]] = linear_head(x, w, b).astype(np.float64)

    def verify_node(self):
        """Messages about the input count."""
        return ["IntLinearHead has 3 inputs" if len(self.onnx_node.input) == 3 else "needs 3"]


class IntMultiLabel(CustomOp):
    """Multi-label decision on integer scores: ``label[n, k] = score[n, k] >= t[k]``, ``score``
    ``[N, K]``, thresholds int64 ``[K]``; float32 ``[N, K]`` 0/1, annotated ``BINARY``. The
    head pass derives ``t[k] = ceil(logit(tau_k) / unit)``, so that ``label`` is
    ``sigmoid(logit) >= tau_k`` (:func:`~ecgaccel.hw.semantics.multilabel`)."""

    def get_nodeattr_types(self):
        """None."""
        return {}

    def make_shape_compatible_op(self, model):
        """The scores' shape."""
        return _set_shape_op(self.onnx_node, model.get_tensor_shape(self.onnx_node.input[0]),
                             TensorProto.FLOAT)  # fmt: skip

    def infer_node_datatype(self, model):
        """``BINARY``."""
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["BINARY"])

    def execute_node(self, context, graph):
        """Exact integer comparison."""
        from ..semantics import multilabel

        scores, t = (_int(context, n) for n in self.onnx_node.input[:2])
        context[self.onnx_node.output[0]] = multilabel(scores, t).astype(np.float32)

    def verify_node(self):
        """Messages about the input count."""
        return ["IntMultiLabel has 2 inputs" if len(self.onnx_node.input) == 2 else "needs 2"]
