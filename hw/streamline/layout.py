"""1-D as 2-D: FINN's ``[N, C, 1, L]`` layout with ``(1, k)`` kernels."""

from __future__ import annotations

import numpy as np
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from ..compile import CompileError
from ._graph import attr, set_attr

ELEMENTWISE = {"Mul", "Add", "Sub", "Div", "PRelu", "Quant", "BipolarQuant"}
"""Ops whose rank-3 constant inputs (e.g. ``[1, C, 1]`` scales, PReLU slopes) gain the H axis."""

UNCHANGED = {
    "BatchNormalization",
    "MultiThreshold",
    "BipolarThreshold",
    "SignedMultiThreshold",
    "FixedPointSumHead",
    "ArgMax",
    "ReduceSum",
}
"""Ops that need no edit: channel axis 1, or reduce over every axis after it (see below)."""


def _spatial(values: list[int], fill: int) -> list[int]:
    """``[w]`` → ``[fill, w]``; ``[b, e]`` pads → ``[fill, b, fill, e]``."""
    if len(values) == 1:
        return [fill, values[0]]
    if len(values) == 2:
        return [fill, values[0], fill, values[1]]
    return values


class ConvertTo4DLayout(Transformation):
    """Every rank-3 ``[N, C, L]`` tensor becomes ``[N, C, 1, L]``, with every attribute kept
    consistent: ``Conv``/``MaxPool`` ``kernel_shape`` ``[k] → [1, k]``, ``strides [s] → [1, s]``,
    ``dilations [d] → [1, d]``, ``pads [b, e] → [0, b, 0, e]``; conv weights ``[O, I, k] →
    [O, I, 1, k]``; ``Pad`` pads ``[0, 0, b, 0, 0, e] → [0, 0, 0, b, 0, 0, 0, e]``; rank-3
    constants of element-wise ops gain the axis; ``MultiThreshold`` gets ``data_layout="NCHW"``;
    a ``ReduceSum`` over axis 2 now sums axes 2 and 3. Value infos are re-inferred and checked.

    FINN's 1-D convention; qonnx's ``Change3DTo4DTensors`` gives ``[N, C, L, 1]`` instead,
    rejects ``Pad``/``PRelu``/custom ops, and leaves ``MaxPool`` ``dilations`` at length 1.

    Raises
    ------
    CompileError
        An op it does not know with a rank-3 tensor, or an inferred shape that is not the
        expected ``[N, C, 1, L]`` (names the tensor).
    """

    def apply(self, model):
        """Convert the whole graph once."""
        expected = {}
        for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
            shape = model.get_tensor_shape(vi.name)
            if shape is not None and len(shape) == 3 and model.get_initializer(vi.name) is None:
                expected[vi.name] = [*shape[:2], 1, shape[2]]
        if not expected:
            return model, False
        for node in model.graph.node:
            self._node(model, node)
        for vi in [*model.graph.input, *model.graph.output]:
            if vi.name in expected:
                model.set_tensor_shape(vi.name, expected[vi.name], vi.type.tensor_type.elem_type)
        outputs = {o.name for o in model.graph.output}
        keep = [vi for vi in model.graph.value_info if vi.name not in expected]
        del model.graph.value_info[:]
        model.graph.value_info.extend(keep)
        model = model.transform(InferShapes())
        for name, shape in expected.items():
            got = model.get_tensor_shape(name)
            if got != shape and name not in outputs:
                raise CompileError(f"tensor {name}: inferred shape {got}, expected {shape}")
        return model, False

    @staticmethod
    def _node(model, node) -> None:
        op = node.op_type
        if op in ("Conv", "MaxPool"):
            for name, fill in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("pads", 0)):
                value = attr(node, name)
                if value is not None:
                    set_attr(node, name, _spatial(list(value), fill))
            if op == "Conv":
                w = model.get_initializer(node.input[1])
                if w is None or w.ndim != 3:
                    raise CompileError(f"{node.name}: needs constant rank-3 weights for 1-D → 2-D")
                model.set_initializer(node.input[1], w[:, :, None, :])
        elif op == "Pad":
            pads = model.get_initializer(node.input[1])
            if pads is None or len(pads) != 6:
                raise CompileError(f"{node.name}: needs constant pads of a rank-3 tensor")
            p = np.asarray(pads, dtype=np.int64)
            model.set_initializer(node.input[1], np.array([*p[:2], 0, p[2], *p[3:5], 0, p[5]]))
        elif op in ELEMENTWISE:
            for name in node.input[1:]:
                c = model.get_initializer(name) if name else None
                if c is not None and c.ndim == 3:
                    model.set_initializer(name, c[:, :, None, :])
        elif op == "MultiThreshold":
            set_attr(node, "data_layout", "NCHW")
        elif op == "ReduceSum":
            axes = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
            if axes is not None and {int(a) % 3 for a in np.asarray(axes).reshape(-1)} == {2}:
                model.set_initializer(node.input[1], np.array([2, 3], dtype=np.int64))
        elif op not in UNCHANGED:
            shapes = [model.get_tensor_shape(t) for t in [*node.input, *node.output] if t]
            if any(s is not None and len(s) == 3 for s in shapes):
                raise CompileError(f"{node.name} ({op}): no 1-D → 2-D rule for this op")
