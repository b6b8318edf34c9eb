"""The classifier head: sum over time + per-class PReLU/BatchNorm → fixed point + label select."""

from __future__ import annotations

import json

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from ..compile import CompileError, derive_head
from ..graph import TAU_KEY
from ..semantics import logit
from ._graph import attr, new_init, scalar_muls_above, signed_type, single_consumer
from .accumulators import integer_range
from .ops import DOMAIN, FixedPointSumHead
from .thresholds import match_affine

HEAD_KEY = "ecgaccel.head"
"""Metadata key: JSON ``{"frac_bits", "coef_bits", "length"}`` of the lowered head."""


class LowerSumHead(Transformation):
    """``m → [Mul(s)] → PRelu → BatchNormalization → ReduceSum(time, keepdims=0)`` →
    ``FixedPointSumHead(m)`` (integer scores) ``→ ArgMax`` (the label).

    The coefficients are ``compile.derive_head`` of ``compile.block_affine`` (so the scores are
    bit-identical to ``SumHead``/``models.reference``): the output tensor keeps its name and now
    holds float64 integers ``score`` with real value ``score * 2^-frac_bits`` (annotated with the
    smallest ``INTn`` that holds them); a second graph output ``<name>_label`` int64 ``[N]`` is the
    ``ArgMax`` over classes (lowest index on ties, as ``numpy.argmax``). FINN counterpart: global
    pooling + ``InsertTopK``/``LabelSelect``. ``coef_bits`` as in ``derive_head``.

    Raises
    ------
    CompileError
        The ``ReduceSum`` does not sum exactly the time axis with ``keepdims=0``.
    """

    def __init__(self, coef_bits: int = 16, label: bool = True) -> None:
        super().__init__()
        self.coef_bits = coef_bits
        self.label = label

    def apply(self, model):
        """Lower the first matching head."""
        for rs in model.graph.node:
            if rs.op_type != "ReduceSum":
                continue
            bn = model.find_producer(rs.input[0])
            match = None if bn is None else match_affine(model, bn)
            if match is None:
                continue
            shape = model.get_tensor_shape(match.m)
            self._check_axes(model, rs, len(shape))
            length = int(np.prod(shape[2:]))
            head = derive_head(match.f, match.scale, length, self.coef_bits)
            try:
                lo, hi = integer_range(model, match.m)
            except CompileError as exc:
                raise CompileError(f"{bn.name} before {rs.name}: {exc}") from exc
            bound = (
                np.abs(head.a_pos) * length * max(hi, 0)
                + np.abs(head.a_neg) * length * max(-lo, 0)
                + np.abs(head.bias)
            )
            if bound.max() >= 2**53:
                raise CompileError(f"{rs.name}: head scores up to {bound.max()} exceed 2^53")
            out = rs.output[0]
            model.set_opset_import(DOMAIN, 1)
            ins = [match.m] + [new_init(model, a) for a in (head.a_pos, head.a_neg, head.bias)]
            node = helper.make_node(
                FixedPointSumHead.__name__,
                ins,
                [out],
                domain=DOMAIN,
                name=rs.name + "_head",
                frac_bits=head.frac_bits,
                coef_bits=head.coef_bits,
            )
            vi = get_by_name(model.graph.output, out) or get_by_name(model.graph.value_info, out)
            if vi is not None:
                vi.type.tensor_type.elem_type = TensorProto.DOUBLE
            model.graph.node.insert(model.get_node_index(rs), node)
            model.set_tensor_datatype(out, signed_type(-int(bound.max()), int(bound.max())))
            meta = {"frac_bits": head.frac_bits, "coef_bits": head.coef_bits, "length": length}
            model.set_metadata_prop(HEAD_KEY, json.dumps(meta))
            if self.label:
                self._add_label(model, node, shape[0])
            for n in [*match.nodes, rs]:
                model.graph.node.remove(n)
            return model.transform(InferShapes()), True
        return model, False

    @staticmethod
    def _check_axes(model, rs, rank: int) -> None:
        axes = attr(rs, "axes")
        if axes is None and len(rs.input) > 1 and rs.input[1]:
            axes = model.get_initializer(rs.input[1])
        axes = set() if axes is None else {int(a) % rank for a in np.asarray(axes).reshape(-1)}
        time_axes = set(range(2, rank))
        if attr(rs, "keepdims", 1) != 0 or not axes or not axes <= time_axes:
            raise CompileError(
                f"{rs.name}: the head must sum over time with keepdims=0, "
                f"got axes {sorted(axes)} of a rank-{rank} tensor"
            )
        shape = model.get_tensor_shape(rs.input[0])
        if any(shape[a] != 1 for a in time_axes - axes):
            raise CompileError(f"{rs.name}: the head must sum over every time axis")

    @staticmethod
    def _add_label(model, head_node, batch: int) -> str:
        label = head_node.output[0] + "_label"
        argmax = helper.make_node(
            "ArgMax",
            [head_node.output[0]],
            [label],
            axis=1,
            keepdims=0,
            name=head_node.name + "_label",
        )
        model.graph.node.insert(model.get_node_index(head_node) + 1, argmax)
        model.graph.output.append(helper.make_tensor_value_info(label, TensorProto.INT64, [batch]))
        return label


def _taus(model, k: int, where: str) -> list[float]:
    raw = model.get_metadata_prop(TAU_KEY)
    tau = [0.5] * k if raw is None else [float(t) for t in json.loads(raw)]
    if len(tau) != k or not all(0.0 < t < 1.0 for t in tau):
        raise CompileError(f"{where}: {TAU_KEY} must give {k} levels in (0, 1), got {tau}")
    return tau


def _multilabel_thresholds(tau: list[float], unit: float) -> np.ndarray:
    """Integer score thresholds ``ceil(logit(tau) / unit)``: ``sigmoid(unit * s) >= tau`` ⇔
    ``s >= logit(tau) / unit`` ⇔ (``s`` an integer) ``s >= ceil(logit(tau) / unit)``."""
    return np.ceil(logit(tau) / unit - 1e-9).astype(np.int64)


def _add_multilabel(model, head_node, batch: int, thresholds: list[int]) -> str:
    """``IntMultiLabel(scores, thresholds)`` → the graph output ``<scores>_label`` [N, K]."""
    from .ops import IntMultiLabel

    label = head_node.output[0] + "_label"
    t = new_init(model, np.asarray(thresholds, np.int64))
    node = helper.make_node(IntMultiLabel.__name__, [head_node.output[0], t], [label],
                            domain=DOMAIN, name=head_node.name + "_multilabel")  # fmt: skip
    model.graph.node.insert(model.get_node_index(head_node) + 1, node)
    k = len(thresholds)
    model.graph.output.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, [batch, k]))
    return label


class LowerLinearHead(Transformation):
    """``m → [Mul(s)...] → ReduceMean(time, keepdims=0) → Gemm(·, Quant(W), bias)`` (global
    average pooling and a fully connected head) → ``GlobalAccPool(m) → IntLinearHead`` (integer
    scores) ``→ ArgMax`` (the label); with a ``Sigmoid`` after the ``Gemm`` (a multi-label
    network) ``→ IntMultiLabel`` instead: label ``k`` is ``score_k >= ceil(logit(tau_k) / u)``
    (``tau`` from :data:`TAU_KEY`, recorded with the thresholds under :data:`HEAD_KEY`).

    With ``L`` pooled positions, per-tensor weight scale ``s_w`` and levels ``W``, the logits are
    ``u * (W @ sum(m) + bias / u)`` with the unit ``u = s * s_w / L``: the scores are the integers
    ``W @ sum(m) + round(bias / u)``, the only rounding being the bias's (at most half a unit per
    class); ``u`` is recorded under :data:`HEAD_KEY` (``{"kind": "linear", "unit": u, ...}``).
    The average's divisor ends up in the unit, as FINN folds it into what follows its
    ``GlobalAccPool``.

    Raises
    ------
    CompileError
        A ``Gemm`` with ``alpha`` / ``beta`` other than 1 or a transposed input, a mean over
        other than the time axes, a per-channel weight scale (names the node).
    """

    def __init__(self, label: bool = True) -> None:
        super().__init__()
        self.label = label

    def apply(self, model):
        """Lower the first matching head."""
        from ..compile import quant_node
        from .ops import GlobalAccPool, IntLinearHead

        for gemm in model.graph.node:
            if gemm.op_type != "Gemm":
                continue
            src, scale, chain = scalar_muls_above(model, gemm.input[0])
            mean = model.find_producer(src)
            if mean is not None and mean.op_type == "ReduceMean":
                m, s_in, muls = scalar_muls_above(model, mean.input[0])
                scale *= s_in
                chain = [*muls, mean, *chain]
            elif len(model.get_tensor_shape(src)) == 2 and (
                    model.get_tensor_datatype(src).is_integer()):  # fmt: skip
                m, mean = src, None  # integer features [N, F] (e.g. the fused metadata)
            else:
                continue
            where = f"{gemm.name} (Gemm)"
            if any(single_consumer(model, n.output[0]) is None for n in chain):
                raise CompileError(f"{where}: a tensor between the pooling and it is read "
                                   "elsewhere too")  # fmt: skip
            if attr(gemm, "alpha", 1.0) != 1.0 or attr(gemm, "beta", 1.0) != 1.0 or attr(
                    gemm, "transA", 0):  # fmt: skip
                raise CompileError(f"{where}: alpha, beta 1 and an untransposed input only")
            shape = model.get_tensor_shape(m)
            if mean is not None:
                LowerSumHead._check_axes(model, mean, len(shape))
            if not model.get_tensor_datatype(m).is_integer():
                raise CompileError(f"{where}: its pooled input {m} is not an integer tensor")
            positions = int(np.prod(shape[2:]))
            wq_node = model.find_producer(gemm.input[1])
            if wq_node is not None and wq_node.op_type == "Quant":
                wq = quant_node(model, wq_node, "weight")
                levels = wq.levels(np.asarray(model.get_initializer(wq_node.input[0]), np.float64))
                s_w, bits = wq.scale, wq.bits
            else:
                raise CompileError(f"{where}: weights must come from a per-tensor Quant")
            if attr(gemm, "transB", 0) == 0:
                levels = levels.T
            unit = scale * s_w / positions
            bias = np.zeros(levels.shape[0])
            if len(gemm.input) > 2 and gemm.input[2]:
                bias = np.asarray(model.get_initializer(gemm.input[2]), np.float64).reshape(-1)
            bias_int = np.rint(bias / unit).astype(np.int64)
            model.set_opset_import(DOMAIN, 1)
            pooled, gap = m, None
            if mean is not None:
                pooled = m + "_gap"
                model.set_tensor_shape(pooled, list(shape[:2]))
                gap = helper.make_node(GlobalAccPool.__name__, [m], [pooled], domain=DOMAIN,
                                       name=mean.name + "_gap")  # fmt: skip
            out = gemm.output[0]
            sigmoid = model.find_consumer(out)
            if sigmoid is not None and sigmoid.op_type == "Sigmoid":
                out = sigmoid.output[0]  # the scores take the probabilities' place
            else:
                sigmoid = None
            w_name = new_init(model, levels.astype(np.float32))
            model.set_tensor_datatype(w_name, DataType[f"INT{bits}"])
            ins = [pooled, w_name, new_init(model, bias_int)]
            node = helper.make_node(IntLinearHead.__name__, ins, [out], domain=DOMAIN,
                                    name=gemm.name + "_head")  # fmt: skip
            vi = get_by_name(model.graph.output, out) or get_by_name(model.graph.value_info, out)
            if vi is not None:
                vi.type.tensor_type.elem_type = TensorProto.DOUBLE
            at = model.get_node_index(gemm)
            model.graph.node.insert(at, node)
            if gap is not None:
                model.graph.node.insert(at, gap)
            meta = {"kind": "linear", "unit": unit, "frac_bits": 0, "length": positions}
            if sigmoid is not None:
                tau = _taus(model, len(bias_int), where)
                meta["tau"] = tau
                meta["thresholds"] = _multilabel_thresholds(tau, unit).tolist()
                _add_multilabel(model, node, shape[0], meta["thresholds"])
            elif self.label:
                LowerSumHead._add_label(model, node, shape[0])
            model.set_metadata_prop(HEAD_KEY, json.dumps(meta))
            for n in [*chain, gemm, wq_node, *([sigmoid] if sigmoid is not None else [])]:
                model.graph.node.remove(n)
            return model.transform(InferShapes()), True
        return model, False
