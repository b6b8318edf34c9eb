"""Tidy-up, binary and n-bit weights and the integer input: the first streamlining passes."""

from __future__ import annotations

import json

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (
    GiveReadableTensorNames,
    GiveUniqueNodeNames,
    RemoveUnusedTensors,
    SortGraph,
)
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.remove import RemoveIdentityOps

from ..compile import CompileError, quant_node
from ._graph import attr, const, insert_after, is_const, new_init, new_tensor

INPUT_QUANT_KEY = "ecgaccel.input_quant"
"""Metadata key: JSON of the host-side input quantizer removed by :class:`IntegerizeInput`."""


def input_quant_key(model, k: int) -> str:
    """The metadata key of graph input ``k``'s removed quantizer: :data:`INPUT_QUANT_KEY` for
    the first (the ECG), ``INPUT_QUANT_KEY + "." + name`` for another (e.g. the metadata)."""
    return INPUT_QUANT_KEY if k == 0 else f"{INPUT_QUANT_KEY}.{model.graph.input[k].name}"


class TidyUp(Transformation):
    """qonnx's own clean-up, in FINN's order: ``SortGraph``, ``InferShapes``, ``FoldConstants``
    (quantizers excluded, as qonnx's default), ``RemoveIdentityOps``, ``RemoveUnusedTensors``,
    ``GiveUniqueNodeNames``, ``GiveReadableTensorNames``, ``InferShapes``, ``InferDataTypes``.

    ``readable_names=False`` skips the two renaming passes (tensor and node names stay).
    Never raises on a well-formed model; returns ``(model, False)``.
    """

    def __init__(self, readable_names: bool = True) -> None:
        super().__init__()
        self.readable_names = readable_names

    def apply(self, model):
        """Apply the passes once."""
        passes = [
            SortGraph(),
            InferShapes(),
            FoldConstants(),
            RemoveIdentityOps(),
            RemoveUnusedTensors(),
        ]
        if self.readable_names:
            passes += [GiveUniqueNodeNames(), GiveReadableTensorNames()]
        passes += [InferShapes(), InferDataTypes()]
        for p in passes:
            model = model.transform(p)
        return model, False


class FoldBinaryWeights(Transformation):
    """Fold every ``BipolarQuant`` of a constant (binary weights) into a ±1 initializer.

    ``BipolarQuant(w, s) = s * sign(w)`` (sign(0) = +1). The constant becomes ``sign(w)``,
    annotated ``BIPOLAR``; a scale ``s != 1`` must be per-tensor or per output channel and moves
    behind each consuming ``Conv`` as ``Mul(s[1, C_out, 1...])``: ``Conv(x, s*W) = s*Conv(x, W)``.
    Works whether or not the graph has any ``Quant`` node (FINN's purely-bipolar trap).
    FINN counterpart: ``FoldQuantWeights``; n-bit weights: :class:`FoldQuantWeights`.

    Raises
    ------
    CompileError
        A scaled binary constant feeds something other than a bias-free ``Conv``'s weight input,
        or its scale varies along the input-channel or kernel axes.
    """

    def apply(self, model):
        """Fold all weight quantizers in one sweep."""
        modified = False
        for q in list(model.graph.node):
            if q.op_type != "BipolarQuant" or not all(is_const(model, i) for i in q.input):
                continue
            w = np.asarray(model.get_initializer(q.input[0]), dtype=np.float32)
            s = np.asarray(model.get_initializer(q.input[1]), dtype=np.float32)
            consumers = model.find_consumers(q.output[0])
            scaled = not np.all(s == 1.0)
            if scaled:
                for c in consumers:
                    if (
                        c.op_type != "Conv"
                        or list(c.input[1:2]) != [q.output[0]]
                        or len(c.input) > 2
                    ):
                        raise CompileError(
                            f"{q.name}: scaled binary constant feeds {c.name} "
                            f"({c.op_type}); only bias-free Conv weights can take it"
                        )
                per_out = np.broadcast_to(s, w.shape).reshape(w.shape[0], -1)
                if not np.all(per_out == per_out[:, :1]):
                    raise CompileError(f"{q.name}: weight scale must be per output channel")
                for c in consumers:
                    self._scale_after(model, c, per_out[:, 0])
            model.set_initializer(q.output[0], np.where(w >= 0, 1.0, -1.0).astype(np.float32))
            model.set_tensor_datatype(q.output[0], DataType["BIPOLAR"])
            model.graph.node.remove(q)
            modified = True
        if modified:
            model = model.transform(InferShapes())
        return model, False

    @staticmethod
    def _scale_after(model, conv, scale: np.ndarray) -> None:
        out = conv.output[0]
        shape = model.get_tensor_shape(out)
        acc = new_tensor(model, shape)
        conv.output[0] = acc
        value = scale.reshape([1, -1] + [1] * (len(shape) - 2)).astype(np.float32)
        if np.all(value == value.reshape(-1)[0]):
            value = np.asarray(value.reshape(-1)[0], dtype=np.float32)
        mul = helper.make_node(
            "Mul", [acc, new_init(model, value)], [out], name=conv.name + "_w_scale"
        )
        insert_after(model, conv, mul)


class FoldQuantWeights(Transformation):
    """Fold every ``Quant`` of a constant (the n-bit weights of the WnAn variants) into an
    integer initializer, its scale into a ``Mul`` after each consuming ``Conv``.

    ``Quant(w, s, 0, n) = s * q`` with the integer levels ``q = compile.quant_node(...).levels(w)``
    (the same integers as the description's ``ConvLayer.weights``); the constant becomes ``q``,
    annotated ``INTn`` (``UINTn`` if unsigned), and ``Conv(x, s*q) = s * Conv(x, q)`` puts
    ``Mul(s)`` behind each ``Conv`` for :class:`~.scales.MoveScaleMulsDown` to push on. The scale
    must be per tensor (as ``quant_node`` and the description require). Quantizers of non-constant
    tensors (activations, the input) are left alone. FINN counterpart: ``FoldQuantWeights``.

    Raises
    ------
    CompileError
        A weight quantizer ``quant_node`` rejects (per-channel scale, zero point, rounding mode),
        or one that feeds something other than a bias-free ``Conv``'s weight input.
    """

    def apply(self, model):
        """Fold all n-bit weight quantizers in one sweep."""
        modified = False
        for q in list(model.graph.node):
            if q.op_type != "Quant" or not all(is_const(model, i) for i in q.input):
                continue
            wq = quant_node(model, q, "weight")
            levels = wq.levels(np.asarray(model.get_initializer(q.input[0]), dtype=np.float64))
            readers = model.find_consumers(q.output[0])
            if readers and all(c.op_type == "Gemm" for c in readers):
                continue  # a fully connected head's weights: LowerLinearHead folds them
            for c in readers:
                if c.op_type != "Conv" or list(c.input[1:2]) != [q.output[0]] or len(c.input) > 2:
                    raise CompileError(
                        f"{q.name}: n-bit weights feed {c.name} ({c.op_type}); only "
                        "bias-free Conv weights can take them"
                    )
                if wq.scale != 1.0:
                    FoldBinaryWeights._scale_after(model, c, np.full(levels.shape[0], wq.scale))
            prefix = "INT" if wq.signed else "UINT"
            model.set_initializer(q.output[0], levels.astype(np.float32))
            model.set_tensor_datatype(q.output[0], DataType[f"{prefix}{wq.bits}"])
            model.graph.node.remove(q)
            modified = True
        if modified:
            model = model.transform(InferShapes())
        return model, False


class IntegerizeInput(Transformation):
    """Make the graph input integer: remove its quantizer and pull the scale out as a ``Mul``.

    ``Quant(x, s, 0, b)`` (signed or not) on the graph input ``x`` → ``x`` now carries the
    integer ``q = clip(round(x / s))`` itself (the host quantizes, e.g. ``models.nets.
    quantize_input``), annotated ``INTb``/``UINTb``, followed by ``Mul(s)``. A ``BipolarQuant(x,
    s)`` on the input likewise gives a ``BIPOLAR`` input. The removed quantizer is recorded as JSON
    under the metadata key :data:`INPUT_QUANT_KEY` (a second input, e.g. the metadata, under
    :func:`input_quant_key`). Every graph input is integerized; one whose input feeds no
    quantizer is left unchanged. FINN counterpart: ``ExtractQuantScaleZeroPt`` + cutting the
    graph after the ``Quant`` (the input contract changes from float to integer).

    Raises
    ------
    CompileError
        The input quantizer has a non-zero zero point, non-constant parameters, or the input
        feeds several nodes.
    """

    def apply(self, model):
        """Integerize the first graph input that still feeds its quantizer."""
        for k, gi in enumerate(model.graph.input):
            consumers = model.find_consumers(gi.name)
            if consumers and consumers[0].op_type in ("Quant", "BipolarQuant"):
                if len(consumers) > 1:
                    raise CompileError(f"graph input {gi.name} feeds {len(consumers)} nodes; "
                                       "expected one quantizer")  # fmt: skip
                self._integerize(model, gi.name, consumers[0], input_quant_key(model, k))
                return model.transform(InferShapes()), True
        return model, False

    @staticmethod
    def _integerize(model, x: str, q, key: str) -> None:
        scale = const(model, q, 1).astype(np.float32)
        if q.op_type == "Quant":
            zero, bits = (float(const(model, q, i).reshape(-1)[0]) for i in (2, 3))
            if zero != 0:
                raise CompileError(f"{q.name}: input quantizer zero point {zero} is not 0")
            signed = bool(attr(q, "signed", 1))
            dtype = DataType[f"{'INT' if signed else 'UINT'}{round(bits)}"]
            info = {
                "bits": round(bits),
                "signed": signed,
                "narrow": bool(attr(q, "narrow", 0)),
                "rounding_mode": attr(q, "rounding_mode", "ROUND"),
            }
        else:
            dtype, info = DataType["BIPOLAR"], {"bits": 1, "bipolar": True}
        info["scale"] = scale.reshape(-1).tolist()
        model.set_metadata_prop(key, json.dumps(info))
        model.set_tensor_datatype(x, dtype)
        out = q.output[0]
        if np.all(scale == 1.0):
            for c in model.find_consumers(out):
                c.input[list(c.input).index(out)] = x
        else:
            mul = helper.make_node(
                "Mul", [x, new_init(model, scale)], [out], name=q.name + "_scale"
            )
            insert_after(model, q, mul)
        model.graph.node.remove(q)
