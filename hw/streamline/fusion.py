"""Late fusion: pooled features and a second graph input (e.g. age and sex) joined by a
``Concat`` and put on one integer scale by the quantizer after it, before a fully connected head
(the 12-lead models of the efficient-architectures paper, ../shared/docs/SEEDS.md §2)."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from ..compile import CompileError, _Affine, derive_multithresholds
from ._graph import attr, insert_after, is_const, scalar_muls_above, signed_type, single_consumer
from .accumulators import MAX_RANGE, integer_range
from .ops import DOMAIN, GlobalAccPool
from .thresholds import insert_levels, level_quant


class LowerFusedFeatures(Transformation):
    """``Concat(axis 1)`` of branches ``m → [Mul(s)...] → ReduceMean(time) → [Mul...]`` (a
    global average pool of integers ``m`` ``[N, C, ...]``) or ``q → [Mul(s)...]`` (integers ``q``
    ``[N, M]``, e.g. the integerized metadata input), followed by ``[Div(a)] → Quant`` (an n-bit
    activation of scale ``a``) → ``GlobalAccPool(m)`` / ``q`` → ``Concat`` (integers) → one
    multi-threshold node (``INTn`` levels) ``[→ Mul(a)]``.

    Channel ``c`` of the concatenation is the integer ``v_c`` at the real scale ``s / L`` (a pooled
    branch over ``L`` positions) or ``s`` (a plain one); the levels are
    ``quant(s_c * v_c)``, exactly as ``compile.derive_multithresholds`` with the identity affine
    map gives them for every integer in the branches' joint range. The ``Mul(a)`` after the
    quantizer stays, for :class:`~.head.LowerLinearHead` to fold into its unit. FINN
    counterpart: ``GlobalAccPool`` + ``StreamingConcat`` + ``Thresholding``.

    Raises
    ------
    CompileError
        A branch that is neither form (a float op, a per-channel scale), or a quantizer
        ``quant_node`` rejects; names the ``Concat``.
    """

    def apply(self, model):
        """Lower the first matching fusion."""
        for cat in model.graph.node:
            if cat.op_type != "Concat":
                continue
            tail = self._quant_tail(model, cat)
            if tail is None:
                continue
            where = f"{cat.name} (Concat)"
            if attr(cat, "axis", 1) % len(model.get_tensor_shape(cat.output[0])) != 1:
                raise CompileError(f"{where}: only a concatenation of channels (axis 1)")
            ints, scales, lows, highs, remove, new = [], [], [], [], [], []
            for tensor in cat.input:
                v, s, lo, hi, used, made = self._branch(model, tensor, where)
                ints.append(v)
                scales.append(s)
                lows.append(lo)
                highs.append(hi)
                remove += used
                new += made
            model.set_opset_import(DOMAIN, 1)
            joined = cat.output[0] + "_int"
            model.set_tensor_shape(joined, model.get_tensor_shape(cat.output[0]))
            new.append(helper.make_node("Concat", ints, [joined], axis=1, name=cat.name))
            lo, hi = min(lows), max(highs)
            model.set_tensor_datatype(joined, signed_type(lo, hi))
            q, div = tail
            try:
                aq, out_scale = level_quant(model, q, div)
                scale = np.concatenate(scales)
                one, zero = np.ones(scale.size), np.zeros(scale.size)
                mt = derive_multithresholds(_Affine(one, one, zero, zero), scale, aq, lo, hi)
            except CompileError as exc:
                raise CompileError(f"{where} before {q.name}: {exc}") from exc
            insert_levels(model, q, joined, mt, lo, hi, aq.bits, out_scale)
            for n in reversed(new):
                insert_after(model, cat, n)
            for n in [*remove, cat, *([div] if div is not None else []), q]:
                model.graph.node.remove(n)
            return model.transform(InferShapes()), True
        return model, False

    @staticmethod
    def _branch(model, tensor: str, where: str):
        """``(integers, scale per channel float64 [C], min, max, nodes it replaces, new
        nodes)`` of one input of the ``Concat``."""
        from .head import LowerSumHead

        src, s, muls = scalar_muls_above(model, tensor)
        mean = model.find_producer(src)
        if mean is not None and mean.op_type == "ReduceMean":
            if any(single_consumer(model, n.output[0]) is None for n in [mean, *muls]):
                raise CompileError(f"{where}: the pooled input {tensor} is read elsewhere too")
            m, s_in, muls_in = scalar_muls_above(model, mean.input[0])
            shape = model.get_tensor_shape(m)
            LowerSumHead._check_axes(model, mean, len(shape))
            positions = int(np.prod(shape[2:]))
            lo, hi = integer_range(model, m)
            lo, hi = positions * lo, positions * hi
            if hi - lo > MAX_RANGE:
                raise CompileError(
                    f"{where}: the pooled sums of {m} span {hi - lo + 1} "
                    f"values, over the {MAX_RANGE + 1} thresholds are read from"
                )
            pooled = m + "_gap"
            model.set_tensor_shape(pooled, list(shape[:2]))
            model.set_tensor_datatype(pooled, signed_type(lo, hi))
            gap = helper.make_node(GlobalAccPool.__name__, [m], [pooled], domain=DOMAIN,
                                   name=mean.name + "_gap")  # fmt: skip
            scale = np.full(shape[1], s * s_in / positions)
            return pooled, scale, lo, hi, [*muls_in, mean, *muls], [gap]
        shape = model.get_tensor_shape(src)
        if len(shape) == 2 and model.get_tensor_datatype(src).is_integer():
            lo, hi = integer_range(model, src)
            return src, np.full(shape[1], s), lo, hi, muls, []
        raise CompileError(
            f"{where}: input {tensor} is neither a global average pool of "
            "integers nor integers [N, M] behind scale Muls"
        )

    @staticmethod
    def _quant_tail(model, cat):
        """``(Quant, Div or None)`` right after ``cat``, else ``None``."""
        consumers = model.find_consumers(cat.output[0])
        if len(consumers) != 1:
            return None
        nxt, div = consumers[0], None
        if nxt.op_type == "Div" and is_const(model, nxt.input[1]) and (
                np.asarray(model.get_initializer(nxt.input[1])).size == 1):  # fmt: skip
            div = nxt
            consumers = model.find_consumers(div.output[0])
            if len(consumers) != 1:
                return None
            nxt = consumers[0]
        return (nxt, div) if nxt.op_type == "Quant" else None
