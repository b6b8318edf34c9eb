"""Small graph-editing helpers shared by the streamlining passes (not public API)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.util.basic import get_by_name

from ..compile import CompileError


def attr(node, name: str, default=None):
    """Value of attribute ``name`` of ``node`` (ints as a list, strings decoded), or ``default``."""
    a = get_by_name(node.attribute, name)
    if a is None:
        return default
    value = helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode()
    return list(value) if isinstance(value, list | tuple) or a.ints else value


def set_attr(node, name: str, value) -> None:
    """Set (replace) attribute ``name`` of ``node``."""
    old = get_by_name(node.attribute, name)
    if old is not None:
        node.attribute.remove(old)
    node.attribute.append(helper.make_attribute(name, value))


def const(model, node, i: int) -> np.ndarray:
    """Constant input ``i`` of ``node``; raises :class:`CompileError` naming the node."""
    if i >= len(node.input) or not node.input[i]:
        raise CompileError(f"{node.name} ({node.op_type}): input {i} is missing")
    value = model.get_initializer(node.input[i])
    if value is None:
        raise CompileError(f"{node.name} ({node.op_type}): input {i} is not a constant")
    return np.asarray(value)


def is_const(model, name: str) -> bool:
    """Whether tensor ``name`` is an initializer."""
    return model.get_initializer(name) is not None


def single_consumer(model, tensor: str):
    """The only consumer of ``tensor``, or ``None`` if it has none or several (or is an output)."""
    consumers = model.find_consumers(tensor)
    if len(consumers) != 1 or tensor in [o.name for o in model.graph.output]:
        return None
    return consumers[0]


def new_init(model, value: np.ndarray, dtype: DataType | None = None) -> str:
    """A fresh initializer holding ``value`` (optionally annotated with ``dtype``); its name."""
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, value)
    if dtype is not None:
        model.set_tensor_datatype(name, dtype)
    return name


def new_tensor(model, shape, elem_type: int = TensorProto.FLOAT) -> str:
    """A fresh intermediate tensor with a value_info of ``shape``; its name."""
    name = model.make_new_valueinfo_name()
    model.graph.value_info.append(helper.make_tensor_value_info(name, elem_type, shape))
    return name


def insert_after(model, anchor, node) -> None:
    """Insert ``node`` right after ``anchor`` in the node list (keeps topological order)."""
    model.graph.node.insert(model.get_node_index(anchor) + 1, node)


def channel_vector(value: np.ndarray, channels: int, where: str) -> np.ndarray:
    """A scalar or per-channel constant (broadcastable to ``[1, C, 1...]``) as float64 ``[C]``.

    Raises
    ------
    CompileError
        ``value`` varies along an axis other than the channel axis 1.
    """
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return np.full(channels, float(v.reshape(-1)[0]))
    if v.ndim < 2 or v.shape[1] != channels or v.size != channels:
        raise CompileError(f"{where}: constant of shape {list(v.shape)} is not per-channel")
    return v.reshape(-1)


def int_bounds(dtype: DataType) -> tuple[int, int] | None:
    """``(min, max)`` of an integer qonnx ``DataType`` (BIPOLAR: -1, +1), else ``None``."""
    if not dtype.is_integer():
        return None
    return int(dtype.min()), int(dtype.max())


def signed_type(lo: int, hi: int) -> DataType:
    """Smallest signed ``INTn`` holding ``[lo, hi]`` (as ``description.acc_width`` sizes it)."""
    return DataType[f"INT{int(max(abs(lo), abs(hi))).bit_length() + 1}"]


def scalar_muls_above(model, tensor: str) -> tuple[str, float, list]:
    """Walk up from ``tensor`` through ``Mul`` nodes by scalar constants: ``(the tensor above
    them, the product of their constants in float64, the Mul nodes first to last)``."""
    scale, chain = 1.0, []
    pre = model.find_producer(tensor)
    while pre is not None and pre.op_type == "Mul" and is_const(model, pre.input[1]) and (
            np.asarray(model.get_initializer(pre.input[1])).size == 1):  # fmt: skip
        scale *= float(np.asarray(model.get_initializer(pre.input[1])).reshape(-1)[0])
        chain.insert(0, pre)
        tensor = pre.input[0]
        pre = model.find_producer(tensor)
    return tensor, scale, chain
