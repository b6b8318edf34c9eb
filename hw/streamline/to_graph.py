"""The streamlined integer QONNX graph (:func:`~ecgaccel.hw.streamline.streamline`) as the
network graph (:class:`~ecgaccel.hw.graph.IntGraph`): one node of the graph per ONNX node.

=======================  ====================================================================
ONNX / custom op         graph node
=======================  ====================================================================
``Pad`` (constant)       merged into the ``Conv`` it feeds (padding with its value)
``Conv``                 :class:`~ecgaccel.hw.graph.Conv` (1-D as kernel ``(1, k)``; groups)
``MaxPool``              :class:`~ecgaccel.hw.graph.MaxPool`
``MultiThreshold``       :class:`~ecgaccel.hw.graph.MultiThreshold`, signs +1, base
                         ``out_bias``
``SignedMultiThreshold`` :class:`~ecgaccel.hw.graph.MultiThreshold` (n-bit)
``BipolarThreshold``     :class:`~ecgaccel.hw.graph.MultiThreshold` with levels 0/1
                         (:func:`~ecgaccel.hw.chain_graph.thresholds_to_steps`)
``Add``, ``ScaledAdd``   :class:`~ecgaccel.hw.graph.AddStreams` (``ka``, ``kb``); a tensor
                         read twice gets a :class:`~ecgaccel.hw.graph.DuplicateStreams`
``GlobalAccPool``        :class:`~ecgaccel.hw.graph.GlobalAccPool`
``Concat`` (axis 1)      :class:`~ecgaccel.hw.graph.Concat` (e.g. pooled features and the
                         metadata input, a second graph input ``meta``)
``IntLinearHead``        :class:`~ecgaccel.hw.graph.LinearHead`
``FixedPointSumHead``    :class:`~ecgaccel.hw.graph.SumHead`
``ArgMax``               :class:`~ecgaccel.hw.graph.LabelSelect` (top-1)
=======================  ====================================================================

Anything else is a :class:`~ecgaccel.hw.compile.CompileError` naming the node and its op.
"""

from __future__ import annotations

import json

import numpy as np
from qonnx.core.datatype import DataType

from ..chain_graph import thresholds_to_steps
from ..compile import CompileError
from ..description import Thresholds
from ..graph import (
    AddStreams,
    Concat,
    Conv,
    GlobalAccPool,
    GraphError,
    GraphInput,
    IntGraph,
    LabelSelect,
    LinearHead,
    MaxPool,
    MultiLabel,
    MultiThreshold,
    Node,
    SumHead,
    insert_forks,
    signed,
)
from ._graph import attr, const
from .head import HEAD_KEY
from .tidy import input_quant_key

__all__ = ["graph_from_streamlined"]


def _spatial(values: list[int], rank: int) -> tuple[int, ...]:
    """ONNX per-axis values of a 1-D or 2-D op as ``(h, w)``."""
    return (1, *values) if rank == 1 else tuple(values)


def _weight_bits(model, tensor: str, where: str) -> int:
    dt = model.get_tensor_datatype(tensor)
    if dt == DataType["BIPOLAR"]:
        return 1
    if dt.is_integer() and dt.signed():
        return dt.bitwidth()
    raise CompileError(f"{where}: weights of type {dt.name}, not bipolar or signed integers")


def _graph_input(model, k: int, name: str) -> GraphInput:
    """Graph input ``k`` of the streamlined model as the graph's input ``name``: its integer
    type ``[C, H, W]`` (``[N, M]`` metadata as ``[M, 1, 1]``) and fractional bits (the removed
    quantizer's power-of-two scale, :func:`~.tidy.input_quant_key`)."""
    vi = model.graph.input[k].name
    shape = model.get_tensor_shape(vi)
    dt = model.get_tensor_datatype(vi)
    if not (dt.is_integer() and dt.signed()):
        raise CompileError(f"graph input {vi}: {dt.name}, not a signed integer (the input must "
                           "feed a signed Quant node, the int8 input quantizer)")  # fmt: skip
    quant = json.loads(model.get_metadata_prop(input_quant_key(model, k)) or '{"scale": [1.0]}')
    scale = float(np.asarray(quant["scale"]).reshape(-1)[0])
    frac = round(-np.log2(scale))
    if 2.0**-frac != scale:
        raise CompileError(f"graph input {vi}: input scale {scale} is not a power of two")
    if len(shape) == 2:
        chw = (shape[1], 1, 1)
    else:
        chw = (shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape[1:])
    return GraphInput(name, signed(chw, dt.bitwidth()), frac)


def graph_from_streamlined(model, name: str, classes: tuple[str, ...] | list[str]) -> IntGraph:
    """The :class:`~ecgaccel.hw.graph.IntGraph` of a streamlined model (``[N, C, L]`` or
    ``[N, C, H, W]`` layout); tensors keep the ONNX node names.

    Raises
    ------
    CompileError
        An op or attribute the graph has no node for (a non-constant pad, a dilation, a float
        op), naming the node; a :class:`~ecgaccel.hw.graph.GraphError` of the result (shapes,
        types) is re-raised as one.
    """
    inputs, rename = [], {}
    for k, vi in enumerate(model.graph.input):
        gi = _graph_input(model, k, "x" if k == 0 else ("meta" if k == 1 else f"meta{k - 1}"))
        inputs.append(gi)
        rename[vi.name] = gi.name
    rank = len(model.get_tensor_shape(model.graph.input[0].name)) - 2
    pending: dict[str, tuple[tuple[int, int, int, int], int]] = {}  # pad output → pads, value
    nodes: list[Node] = []
    types = {gi.name: gi.type for gi in inputs}
    for node in model.graph.node:
        if nodes and nodes[-1].name not in types:
            try:
                types[nodes[-1].name] = nodes[-1].infer([types[t] for t in nodes[-1].inputs])
            except (GraphError, KeyError) as exc:
                raise CompileError(f"{nodes[-1].name}: {exc}") from exc
        op, where = node.op_type, f"{node.name} ({node.op_type})"
        src = rename.get(node.input[0], node.input[0])
        if op == "Pad":
            pads = [int(v) for v in const(model, node, 1).reshape(-1)]
            value = float(const(model, node, 2).reshape(-1)[0]) if len(node.input) > 2 else 0.0
            if attr(node, "mode", "constant") not in ("constant", b"constant"):
                raise CompileError(f"{where}: only constant padding")
            half = len(pads) // 2
            begin, end = pads[:half], pads[half:]
            if any(begin[:2]) or any(end[:2]):
                raise CompileError(f"{where}: pads the batch or channel axis")
            top, left = (0, begin[2]) if rank == 1 else (begin[2], begin[3])
            bottom, right = (0, end[2]) if rank == 1 else (end[2], end[3])
            pending[node.output[0]] = ((top, bottom, left, right), round(value))
            rename[node.output[0]] = src
            continue
        if op == "Conv":
            if any(d != 1 for d in attr(node, "dilations", [1] * rank)):
                raise CompileError(f"{where}: dilated convolution")
            w = np.rint(const(model, node, 1)).astype(np.int64)
            w = w[:, :, None, :] if w.ndim == 3 else w
            pads, value = pending.pop(node.input[0], ((0, 0, 0, 0), 0))
            own = [int(v) for v in attr(node, "pads", [0] * (2 * rank))]
            if any(own):
                o = (0, 0, own[0], own[1]) if rank == 1 else (own[0], own[2], own[1], own[3])
                if any(pads) and value != 0:
                    raise CompileError(f"{where}: own zero padding after a Pad of {value}")
                pads = tuple(a + b for a, b in zip(pads, o, strict=True))
            nodes.append(Conv(node.output[0], (src,), weights=w.astype(np.int8),
                              weight_bits=_weight_bits(model, node.input[1], where),
                              stride=_spatial([int(s) for s in attr(node, "strides")], rank),
                              pads=pads, pad_value=value,
                              groups=int(attr(node, "group", 1))))  # fmt: skip
        elif op == "MaxPool":
            if any(int(p) for p in attr(node, "pads", [0] * (2 * rank))):
                raise CompileError(f"{where}: padded max-pool")
            nodes.append(MaxPool(node.output[0], (src,),
                                 kernel=_spatial(list(attr(node, "kernel_shape")), rank),
                                 stride=_spatial(list(attr(node, "strides")), rank)))  # fmt: skip
        elif op == "MultiThreshold":
            t = np.rint(const(model, node, 1)).astype(np.int64)
            out = DataType[attr(node, "out_dtype")]
            bias = round(float(attr(node, "out_bias", 0.0)))
            scale = float(attr(node, "out_scale", 1.0))
            if out == DataType["BIPOLAR"]:  # 2 * [m >= T] - 1: the bit is the step
                if t.shape[1] != 1 or (scale, bias) != (2.0, -1):
                    raise CompileError(f"{where}: a BIPOLAR output needs one threshold, "
                                       "out_scale 2, out_bias -1")  # fmt: skip
                bias, bits = 0, None
            elif scale != 1.0:
                raise CompileError(f"{where}: out_scale {scale}; the graph takes 1")
            else:
                bits = out.bitwidth()
            nodes.append(MultiThreshold(node.output[0], (src,), thresholds=t,
                                        sign=np.ones(t.shape, np.int8),
                                        base=np.full(t.shape[0], bias, np.int64),
                                        out_bits=bits))  # fmt: skip
        elif op == "SignedMultiThreshold":
            t, s, b = (const(model, node, i) for i in (1, 2, 3))
            c = b.size
            bits = DataType[attr(node, "out_dtype")].bitwidth()
            nodes.append(MultiThreshold(node.output[0], (src,),
                                        thresholds=np.rint(t).astype(np.int64).reshape(c, -1),
                                        sign=np.rint(s).astype(np.int8).reshape(c, -1),
                                        base=np.rint(b).astype(np.int64).reshape(-1),
                                        out_bits=bits))  # fmt: skip
        elif op == "BipolarThreshold":
            lo, hi, inv = (np.rint(const(model, node, i)).astype(np.int64).reshape(-1)
                           for i in (1, 2, 3))  # fmt: skip
            th = Thresholds(lo=lo, hi=hi, invert=inv.astype(bool))
            t, s, b = thresholds_to_steps(th, types[src].hi)
            nodes.append(MultiThreshold(node.output[0], (src,), thresholds=t, sign=s, base=b,
                                        out_bits=None))  # fmt: skip
        elif op in ("Add", "ScaledAdd"):
            b_src = rename.get(node.input[1], node.input[1])
            nodes.append(AddStreams(node.output[0], (src, b_src), ka=int(attr(node, "ka", 1)),
                                    kb=int(attr(node, "kb", 1))))  # fmt: skip
        elif op == "GlobalAccPool":
            nodes.append(GlobalAccPool(node.output[0], (src,)))
        elif op == "Concat":
            if attr(node, "axis", 1) != 1:
                raise CompileError(f"{where}: only a concatenation of channels (axis 1)")
            nodes.append(Concat(node.output[0], tuple(rename.get(t, t) for t in node.input)))
        elif op == "IntLinearHead":
            w = np.rint(const(model, node, 1)).astype(np.int64)
            nodes.append(LinearHead(node.output[0], (src,), weights=w.astype(np.int8),
                                    weight_bits=_weight_bits(model, node.input[1], where),
                                    bias=np.rint(const(model, node, 2)).astype(np.int64),
                                    frac_bits=0))  # fmt: skip
        elif op == "FixedPointSumHead":
            a_pos, a_neg, bias = (np.rint(const(model, node, i)).astype(np.int64).reshape(-1)
                                  for i in (1, 2, 3))  # fmt: skip
            nodes.append(SumHead(node.output[0], (src,), a_pos=a_pos, a_neg=a_neg, bias=bias,
                                 frac_bits=int(attr(node, "frac_bits")),
                                 coef_bits=int(attr(node, "coef_bits"))))  # fmt: skip
        elif op == "ArgMax":
            nodes.append(LabelSelect(node.output[0], (src,), k=1))
        elif op == "IntMultiLabel":
            head = json.loads(model.get_metadata_prop(HEAD_KEY) or "{}")
            t = np.rint(const(model, node, 1)).astype(np.int64).reshape(-1)
            nodes.append(MultiLabel(node.output[0], (src,), thresholds=t,
                                    tau=tuple(head.get("tau", [0.5] * t.size))))  # fmt: skip
        else:
            raise CompileError(f"{where}: no graph node for this op (supported: Pad, Conv, "
                               "MaxPool, MultiThreshold, SignedMultiThreshold, "
                               "BipolarThreshold, Add, ScaledAdd, GlobalAccPool, Concat, "
                               "IntLinearHead, FixedPointSumHead, ArgMax, "
                               "IntMultiLabel)")  # fmt: skip
    nodes = insert_forks(nodes)
    heads = [n for n in nodes if isinstance(n, SumHead | LinearHead)]
    if len(heads) != 1:
        raise CompileError(f"{name}: {len(heads)} heads in the streamlined graph, need one")
    labels = [n.name for n in nodes if isinstance(n, LabelSelect | MultiLabel)]
    try:
        return IntGraph(name, tuple(classes), tuple(inputs), tuple(nodes), heads[0].name,
                        labels[0] if labels else None)  # fmt: skip
    except GraphError as exc:
        raise CompileError(str(exc)) from exc
