"""Residual networks: a scale ``Mul`` read by several nodes (a fork), and the integer add of two
scaled tensors (the join).

After :class:`~.scales.ExtractActivationScales` a residual block reads
``Quant(1) → Mul(s_x)`` into both its main path and its add, and its main path ends in
``Quant(1) → Mul(s_m)``: :class:`SplitFanOutMuls` gives each reader its own ``Mul`` (so
:class:`~.scales.MoveScaleMulsDown` can push one into the main path's convolution), and
:class:`FactorScalesOutOfAdd` turns ``Mul(a, s_a) + Mul(b, s_b)`` into
``ScaledAdd(a, b; ka, kb) → Mul(s)`` when ``s_a / s_b`` is a power of two (Brevitas fixed-point
activations), exactly: ``s = min(s_a, s_b)``, ``ka = s_a / s``, ``kb = s_b / s``. The thresholds
after the add then absorb ``Mul(s)`` as they absorb a convolution's scale.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from ..compile import CompileError
from ._graph import insert_after, is_const, new_init, single_consumer
from .ops import DOMAIN, ScaledAdd


def _scale_mul(model, tensor: str):
    """The ``Mul(x, c)`` (constant ``c``, non-constant ``x``) producing ``tensor``, or None."""
    mul = model.find_producer(tensor)
    if (
        mul is None
        or mul.op_type != "Mul"
        or not is_const(model, mul.input[1])
        or is_const(model, mul.input[0])
    ):
        return None
    return mul


class SplitFanOutMuls(Transformation):
    """A scale ``Mul(x, c)`` whose output several nodes read → one copy per reader (FINN:
    ``MoveLinearPastFork``, before the fork instead of after it). Never raises."""

    def apply(self, model):
        """Split the first forked scale."""
        for mul in model.graph.node:
            if _scale_mul(model, mul.output[0]) is not mul:
                continue
            readers = model.find_consumers(mul.output[0])
            if len(readers) < 2 or mul.output[0] in {o.name for o in model.graph.output}:
                continue
            shape = model.get_tensor_shape(mul.output[0])
            for k, r in enumerate(readers[1:], start=1):
                out = f"{mul.output[0]}_fork{k}"
                model.set_tensor_shape(out, shape)
                copy = helper.make_node("Mul", list(mul.input), [out], name=f"{mul.name}_fork{k}")
                insert_after(model, mul, copy)
                r.input[list(r.input).index(mul.output[0])] = out
            return model, True
        return model, False


def _scaled(model, add, tensor: str) -> tuple[str, float, object] | None:
    """``(integer tensor, scale, its Mul or None)`` of an add input: a scale ``Mul`` of an
    integer tensor read only by ``add``, or an integer tensor itself (scale 1); else None."""
    mul = _scale_mul(model, tensor)
    if mul is not None and single_consumer(model, mul.output[0]) is add:
        c = np.asarray(model.get_initializer(mul.input[1]), np.float64)
        if c.size == 1 and model.get_tensor_datatype(mul.input[0]).is_integer():
            return mul.input[0], float(c.reshape(-1)[0]), mul
        return None
    if model.get_tensor_datatype(tensor).is_integer():
        return tensor, 1.0, None
    return None


def _power_of_two(r: float) -> bool:
    e = np.log2(r)
    return bool(np.isfinite(e) and e == np.rint(e))


class FactorScalesOutOfAdd(Transformation):
    """``Add(Mul(a, s_a), Mul(b, s_b))`` with scalar scales whose ratio is a power of two →
    ``ScaledAdd(a, b; ka, kb) → Mul(min(s_a, s_b))`` (see the module docstring); an integer
    input without a ``Mul`` has scale 1.

    Raises
    ------
    CompileError
        An add of two scaled integer tensors whose scales do not differ by a power of two (the
        add has no exact integer form; train with power-of-two activation scales), naming it.
    """

    def apply(self, model):
        """Factor the first matching add."""
        for add in model.graph.node:
            if add.op_type != "Add" or len(add.input) != 2:
                continue
            parts = [_scaled(model, add, t) for t in add.input]
            if any(p is None for p in parts):
                continue
            (a, sa, mul_a), (b, sb, mul_b) = parts
            if sa <= 0 or sb <= 0 or not _power_of_two(sa / sb):
                raise CompileError(f"{add.name} (Add): scales {sa} and {sb} of its integer "
                                   "inputs do not differ by a power of two; no exact integer "
                                   "add")  # fmt: skip
            s = min(sa, sb)
            model.set_opset_import(DOMAIN, 1)
            out, inner = add.output[0], add.output[0] + "_int"
            model.set_tensor_shape(inner, model.get_tensor_shape(out))
            node = helper.make_node(ScaledAdd.__name__, [a, b],
                                    [inner], domain=DOMAIN, name=add.name + "_int",
                                    ka=round(sa / s), kb=round(sb / s))  # fmt: skip
            if s != 1.0:
                scale = new_init(model, np.float32(s).reshape(()))
                insert_after(model, add, helper.make_node("Mul", [inner, scale], [out],
                                                          name=add.name + "_scale"))  # fmt: skip
            else:
                node.output[0] = out
            insert_after(model, add, node)
            for n in (add, mul_a, mul_b):
                if n is not None:
                    model.graph.node.remove(n)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False
