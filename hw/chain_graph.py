"""Chain descriptions (format ``ecgaccel-intnet-1``, :class:`~.description.NetworkDescription`)
as graphs (:class:`~.graph.IntGraph`) and back.

A chain of :class:`~.description.ConvLayer` blocks becomes, per block, ``<layer>.conv``
(:class:`~.graph.Conv`, kernel ``(1, K)``), ``<layer>.pool`` (:class:`~.graph.MaxPool`) and,
except for the last block, ``<layer>.act`` (:class:`~.graph.MultiThreshold`), then ``head``
(:class:`~.graph.SumHead`) and ``label`` (:class:`~.graph.LabelSelect`, top-1). Binary
:class:`~.description.Thresholds` become two-step multi-thresholds with levels 0/1
(:func:`thresholds_to_steps`); :func:`chain_from_graph` turns them back
(:func:`steps_to_thresholds`), so a chain survives the round trip field for field. The
hand-written core and the chain back ends read chains; a graph that is not one gets a
:class:`~.graph.GraphError` naming the first node that breaks the pattern.
"""

from __future__ import annotations

import numpy as np

from .description import ConvLayer, MultiThresholds, NetworkDescription, SumHead, Thresholds
from .graph import (
    Conv,
    GraphError,
    GraphInput,
    IntGraph,
    LabelSelect,
    MaxPool,
    MultiThreshold,
    Node,
    TensorType,
    signed,
)
from .graph import SumHead as SumHeadNode


def thresholds_to_steps(th: Thresholds, acc_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thresholds int64 [C, 2], sign int8 [C, 2], base int64 [C])`` of the multi-threshold
    with levels 0/1 equal to ``bit = invert XOR (m >= hi OR m <= lo)`` for every integer ``m``.

    With ``lo < hi`` the two events are disjoint: ``[m >= hi] + [m <= lo] = 1 - [m >= lo + 1] +
    [m >= hi]``, so thresholds ``(lo + 1, hi)``, signs ``(-1, +1)`` and base 1 (inverted: signs
    ``(+1, -1)``, base 0). With ``lo >= hi`` the bit is constant (``1 XOR invert``): both
    thresholds above the range (``acc_max + 1``), signs +1.
    """
    lo, hi, inv = th.lo.astype(np.int64), th.hi.astype(np.int64), th.invert.astype(bool)
    c = len(lo)
    const = lo >= hi
    t = np.stack([np.where(const, acc_max + 1, lo + 1), np.where(const, acc_max + 1, hi)], 1)
    sign = np.where(inv[:, None], [[1, -1]], [[-1, 1]]).astype(np.int8)
    sign[const] = 1
    base = np.where(inv, 0, 1).astype(np.int64)
    base[const] = np.where(inv[const], 0, 1)
    return t.reshape(c, 2), sign, base


def steps_to_thresholds(node: MultiThreshold, acc_min: int, acc_max: int) -> Thresholds:
    """The binary :class:`~.description.Thresholds` of a multi-threshold with levels 0/1 of
    one or two steps (the inverse of :func:`thresholds_to_steps`; also a one-step ``[m >= t]``
    or ``[m < t]``) on accumulators in ``[acc_min, acc_max]``.

    Raises
    ------
    GraphError
        A channel with another shape (it is not a binary threshold function).
    """
    c, j = node.thresholds.shape
    lo, hi, inv = np.empty(c, np.int64), np.empty(c, np.int64), np.zeros(c, bool)
    for ch in range(c):
        t, s, b = node.thresholds[ch].tolist(), node.sign[ch].tolist(), int(node.base[ch])
        reached = [k for k in range(j) if t[k] <= acc_max]
        if j == 2 and (b, s) in ((1, [-1, 1]), (0, [1, -1])):
            lo[ch], hi[ch], inv[ch] = t[0] - 1, t[1], b == 0
        elif not reached and b in (0, 1):  # constant b
            lo[ch], hi[ch], inv[ch] = acc_max, acc_max + 1, b == 0
        elif len(reached) == 1 and (b, s[reached[0]]) == (0, 1):
            lo[ch], hi[ch] = acc_min - 1, t[reached[0]]
        elif len(reached) == 1 and (b, s[reached[0]]) == (1, -1):
            lo[ch], hi[ch] = t[reached[0]] - 1, acc_max + 1
        else:
            raise node.error(f"channel {ch} (thresholds {t}, signs {s}, base {b}) is not a binary "
                             "threshold function")  # fmt: skip
    return Thresholds(lo=lo, hi=hi, invert=inv)


def graph_from_chain(desc: NetworkDescription) -> IntGraph:
    """The graph of the chain ``desc`` (the module docstring gives the node names)."""
    nodes: list[Node] = []
    prev = "x"
    for layer in desc.layers:
        conv = Conv(f"{layer.name}.conv", (prev,), weights=layer.weights[:, :, None, :],
                    weight_bits=layer.weight_bits, stride=(1, layer.stride),
                    pads=(0, 0, layer.pad_left, layer.pad_right),
                    pad_value=layer.pad_value)  # fmt: skip
        pool = MaxPool(f"{layer.name}.pool", (conv.name,), kernel=(1, layer.pool_kernel),
                       stride=(1, layer.pool_stride))  # fmt: skip
        nodes += [conv, pool]
        prev = pool.name
        th = layer.thresholds
        if isinstance(th, MultiThresholds):
            nodes.append(MultiThreshold(f"{layer.name}.act", (prev,),
                                        thresholds=th.thresholds, sign=th.sign, base=th.base,
                                        out_bits=th.out_bits))  # fmt: skip
        elif th is not None:
            t, s, b = thresholds_to_steps(th, layer.acc_max)
            nodes.append(MultiThreshold(f"{layer.name}.act", (prev,), thresholds=t, sign=s,
                                        base=b, out_bits=None))  # fmt: skip
        if th is not None:
            prev = nodes[-1].name
    h = desc.head
    nodes.append(SumHeadNode("head", (prev,), a_pos=h.a_pos, a_neg=h.a_neg, bias=h.bias,
                             frac_bits=h.frac_bits, coef_bits=h.coef_bits))  # fmt: skip
    nodes.append(LabelSelect("label", ("head",), k=1))
    x = GraphInput("x", signed((1, 1, desc.input_length), desc.input_bits), desc.input_frac_bits)
    return IntGraph(desc.name, tuple(desc.classes), (x,), tuple(nodes), "head", "label")


def _not_chain(node: Node, why: str) -> GraphError:
    return node.error(f"not a chain of Conv → MaxPool → MultiThreshold blocks ending in a SumHead "
                      f"({why})")  # fmt: skip


def _chain_input_bits(t: TensorType, node: Node) -> int | None:
    if t.bipolar:
        return None
    if t.kind != "int":
        raise _not_chain(node, f"its input is {t.kind}, not bipolar or signed n-bit")
    return t.bits


def chain_from_graph(g: IntGraph) -> NetworkDescription:
    """The chain description of a graph made by :func:`graph_from_chain` (or of the same
    pattern: one input, 1-D ``Conv`` → ``MaxPool`` [→ ``MultiThreshold``] blocks, a
    ``SumHead``, optionally a top-1 ``LabelSelect``).

    Raises
    ------
    GraphError
        The first node that breaks the pattern, with its op and why.
    """
    if len(g.inputs) != 1:
        raise _not_chain(g.node(g.readers(g.inputs[1].name)[0].name), "a second graph input")
    x = g.inputs[0]
    if x.type.kind != "int" or x.type.shape[:2] != (1, 1):
        raise GraphError(f"input {x.name}: the chain takes one signed lead [1, 1, W], got "
                         f"{x.type.kind} {list(x.type.shape)}")  # fmt: skip
    nodes = list(g.nodes)
    layers: list[ConvLayer] = []
    head: SumHead | None = None
    prev, i = x.name, 0
    while i < len(nodes):
        conv = nodes[i]
        if head is not None:
            if isinstance(conv, LabelSelect) and conv.k == 1 and conv.inputs == (prev,):
                i += 1
                continue
            raise _not_chain(conv, "a node after the head")
        if isinstance(conv, SumHeadNode) and conv.inputs == (prev,) and layers:
            head = SumHead(a_pos=conv.a_pos, a_neg=conv.a_neg, bias=conv.bias,
                           frac_bits=conv.frac_bits, coef_bits=conv.coef_bits,
                           length=g.types[prev].shape[2])  # fmt: skip
            if layers[-1].thresholds is not None:
                raise _not_chain(conv, "the last block has thresholds before the head")
            prev, i = conv.name, i + 1
            continue
        if not isinstance(conv, Conv) or conv.inputs != (prev,):
            raise _not_chain(conv, "a Conv reading the previous block was expected")
        t_in = g.types[prev]
        if conv.groups != 1 or conv.kernel[0] != 1 or conv.stride[0] != 1 or any(conv.pads[:2]):
            raise _not_chain(conv, "a 2-D or grouped convolution")
        pool = nodes[i + 1] if i + 1 < len(nodes) else None
        if not isinstance(pool, MaxPool) or pool.inputs != (conv.name,) or pool.kernel[0] != 1:
            raise _not_chain(pool or conv, "a 1-D MaxPool after the Conv was expected")
        act = nodes[i + 2] if i + 2 < len(nodes) else None
        layer = ConvLayer(
            name=conv.name.removesuffix(".conv"), in_channels=t_in.shape[0],
            out_channels=conv.weights.shape[0], kernel=conv.kernel[1], stride=conv.stride[1],
            pad_left=conv.pads[2], pad_right=conv.pads[3], pad_value=conv.pad_value,
            input_bits=_chain_input_bits(t_in, conv), weights=conv.weights[:, :, 0, :],
            pool_kernel=pool.kernel[1], pool_stride=pool.stride[1], in_length=t_in.shape[2],
            thresholds=None, weight_bits=conv.weight_bits,
        )  # fmt: skip
        i, prev = i + 2, pool.name
        if isinstance(act, MultiThreshold) and act.inputs == (pool.name,):
            acc = g.types[pool.name]
            if act.out_bits is None:
                th = steps_to_thresholds(act, acc.lo, acc.hi)
            else:
                th = MultiThresholds(act.thresholds, act.sign, act.base, act.out_bits)
            layer = ConvLayer(**{**layer.__dict__, "thresholds": th})
            i, prev = i + 1, act.name
        layers.append(layer)
    if head is None:
        raise _not_chain(nodes[-1], "no SumHead")
    return NetworkDescription(
        name=g.name, classes=g.classes, input_length=x.type.shape[2], input_bits=x.type.bits,
        input_frac_bits=x.frac_bits, layers=tuple(layers), head=head,
    )  # fmt: skip
