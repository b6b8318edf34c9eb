"""Scales out of the activation quantizers, and scale ``Mul`` nodes down through the linear
integer part of each block."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes

from ..compile import CompileError, quant_node
from ._graph import attr, insert_after, is_const, new_init, single_consumer


class ExtractActivationScales(Transformation):
    """``Quant(y, s, 0, n)`` on an activation → ``Div(y, s) → Quant(·, 1, 0, n) → Mul(s)``.

    The middle ``Quant`` now outputs the integer levels (annotated ``INTn``), and
    :class:`MoveScaleMulsDown` can push ``Mul(s)`` into the next block. Exact under qonnx
    execution: qonnx's ``Quant`` computes ``clip(round(y / s)) * s`` with the same float32
    division. Quantizers of constants (weights: :class:`~.tidy.FoldQuantWeights`), of a graph
    input (:class:`~.tidy.IntegerizeInput`) and with scale 1 are left alone. FINN counterpart:
    ``ExtractQuantScaleZeroPt`` (zero point 0 only).

    Raises
    ------
    CompileError
        An activation quantizer ``compile.quant_node`` rejects (non-constant or per-channel
        parameters, a non-zero zero point, a rounding mode other than ``ROUND``).
    """

    def apply(self, model):
        """Extract every activation scale in one sweep."""
        inputs = {i.name for i in model.graph.input}
        modified = False
        for q in list(model.graph.node):
            if q.op_type != "Quant" or is_const(model, q.input[0]) or q.input[0] in inputs:
                continue
            aq = quant_node(model, q, "activation")
            if aq.scale == 1.0:
                continue
            scale = new_init(model, np.asarray(aq.scale, dtype=np.float32))
            y, out = q.input[0], q.output[0]
            shape = model.get_tensor_shape(out)
            t, levels = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            for name in (t, levels):
                model.set_tensor_shape(name, shape)
            div = helper.make_node("Div", [y, scale], [t], name=q.name + "_div")
            mul = helper.make_node("Mul", [levels, scale], [out], name=q.name + "_scale")
            unit = [new_init(model, np.asarray(v, dtype=np.float32)) for v in (1.0, 0.0)]
            bits = new_init(model, np.asarray(aq.bits, dtype=np.float32))  # 0-d: qonnx's INTn
            q.input[0], q.input[1], q.input[2], q.input[3] = t, unit[0], unit[1], bits
            q.output[0] = levels
            model.graph.node.insert(model.get_node_index(q), div)
            insert_after(model, q, mul)
            model.set_tensor_datatype(
                levels, DataType[f"{'INT' if aq.signed else 'UINT'}{aq.bits}"]
            )
            modified = True
        if modified:
            model = model.transform(InferDataTypes())
        return model, False


class MoveScaleMulsDown(Transformation):
    """Push every ``Mul(x, c)`` with a constant ``c`` past the next node while that is exact.

    Rules (one rewrite per ``apply``; qonnx repeats until nothing changes):

    * ``Mul(c1) → Mul(c2)`` → ``Mul(c1 * c2)`` when the float32 product is exact (FINN:
      ``CollapseRepeatedMul``); otherwise both stay, as a chain of scale ``Mul`` nodes whose
      float64 product is exactly the description's ``input scale x weight scale`` (the
      threshold passes multiply such a chain out in float64);
    * ``Mul(c) → Pad(v)`` → ``Pad(v / c) → Mul(c)`` for a scalar ``c != 0`` (constant mode);
    * ``Mul(c) → Conv`` → ``Conv → Mul(c)`` for a scalar ``c`` and a bias-free conv
      (FINN: ``MoveScalarMulPastConv``);
    * ``Mul(c) → MaxPool`` → ``MaxPool → Mul(c)`` for ``c > 0`` per tensor or per channel
      (FINN: ``MoveMulPastMaxPool``; a negative scale would turn max into min).

    Afterwards each block reads ``Conv → MaxPool → Mul(s) [→ Mul(s')] → PRelu → ...`` on
    integers.
    ``InferDataTypes`` re-annotates the integer tensors at the end.

    Raises
    ------
    CompileError
        A pad value that becomes a non-integer on an integer-typed tensor (it would have no
        exact integer form in hardware).
    """

    def apply(self, model):
        """Apply the first applicable rewrite."""
        for mul in model.graph.node:
            if (
                mul.op_type != "Mul"
                or not is_const(model, mul.input[1])
                or is_const(model, mul.input[0])
            ):
                continue
            nxt = single_consumer(model, mul.output[0])
            if nxt is None or nxt.input[0] != mul.output[0]:
                continue
            c = np.asarray(model.get_initializer(mul.input[1]), dtype=np.float32)
            if nxt.op_type == "Mul" and is_const(model, nxt.input[1]):
                exact = c.astype(np.float64) * model.get_initializer(nxt.input[1])
                if np.array_equal(exact.astype(np.float32), exact):
                    nxt.input[0] = mul.input[0]
                    nxt.input[1] = new_init(model, exact.astype(np.float32))
                    model.graph.node.remove(mul)
                    return model, True
                continue
            if (
                nxt.op_type == "Pad"
                and c.size == 1
                and c.reshape(-1)[0] != 0
                and self._pad(model, mul, nxt, c)
            ):
                return model, True
            if nxt.op_type == "Conv" and c.size == 1 and len(nxt.input) == 2:
                self._swap(model, mul, nxt, c)
                return model, True
            if nxt.op_type == "MaxPool" and np.all(c > 0) and len(nxt.output) == 1:
                self._swap(model, mul, nxt, c)
                return model, True
        return model.transform(InferDataTypes()), False

    @staticmethod
    def _pad(model, mul, pad, c: np.ndarray) -> bool:
        if attr(pad, "mode", "constant") != "constant":
            return False
        value = 0.0
        if len(pad.input) > 2 and pad.input[2]:
            v = model.get_initializer(pad.input[2])
            if v is None:
                return False
            value = float(np.asarray(v).reshape(-1)[0])
        new_value = np.float32(value) / c.reshape(-1)[0]
        if model.get_tensor_datatype(mul.input[0]).is_integer() and new_value != np.rint(new_value):
            raise CompileError(
                f"{pad.name}: pad value {value} is not an integer at scale "
                f"{c.reshape(-1)[0]} of its integer input"
            )
        inputs = [*pad.input[:2], new_init(model, np.asarray(new_value, dtype=np.float32))]
        del pad.input[:]
        pad.input.extend(inputs)
        MoveScaleMulsDown._swap(model, mul, pad, c)
        return True

    @staticmethod
    def _swap(model, mul, nxt, c: np.ndarray) -> None:
        """``x → mul → t → nxt → y`` becomes ``x → nxt → t → mul → y``."""
        x, t, y = mul.input[0], mul.output[0], nxt.output[0]
        nxt.input[0], nxt.output[0] = x, t
        model.set_tensor_shape(t, model.get_tensor_shape(y))
        new_mul = helper.make_node("Mul", [t, mul.input[1]], [y], name=mul.name)
        model.graph.node.remove(mul)
        model.graph.node.insert(model.get_node_index(nxt) + 1, new_mul)
