# amaranth: UnusedElaboratable=no
# (a pipeline is also built only to ask its layers for their estimates, never elaborated)
"""The dataflow back end over a whole network graph (:class:`~.graph.IntGraph`): one hardware
stage per graph node, wired as the graph is (FINN's dataflow partition of a DAG).

:func:`lower` turns the graph and a folding into :class:`HwStage`\\ s, one per node (a head and
the :class:`~.graph.LabelSelect` after it make one stage)::

    Conv            → SWG (swg_simd) [→ width converter] → MVAU (simd, pe)
    MatMul          → MVAU on one vector (fully connected)
    MaxPool         → MaxPoolLayer          MultiThreshold → ThresholdLayer | MultiThresholdLayer
    GlobalAccPool   → GlobalAccPoolLayer    AddStreams     → AddStreamsLayer
    DuplicateStreams→ DuplicateStreamsLayer Concat         → ConcatLayer
    SumHead + LabelSelect    → HeadLayer
    LinearHead + LabelSelect → MVAU → HeadLayer (coefficients 1, the bias)
    LinearHead + MultiLabel  → MVAU → MultiLabelLayer (the bias, the scores passed on)

Every stream carries a feature map position-major, channels within a position, a fixed number
of lanes a beat (:func:`~.layers.graph_ops.map_to_beats`), so two stages that disagree on the
lanes are joined by a :class:`~.layers.fifo.StreamWidthConverter`; a stage takes the lane width
its producer emits (only an SWG / MVAU chooses its lanes: the folding). A join (AddStreams,
Concat) gets a :class:`~.layers.fifo.StreamFifo` on each input whose path from the common fork
is shorter (:func:`join_fifo_depths`): without it the fork stops and the graph deadlocks.

:class:`GraphPipeline` has the streams of the chain pipeline and the core: the ECG window in
``in_lanes`` samples a beat, then ``n_classes`` score beats and the class beat with ``tlast``,
so the same testbench (:func:`ecgaccel.sim.core_sim.simulate_core`) verifies it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .description import MultiThresholds
from .description import SumHead as ChainSumHead
from .graph import (
    AddStreams,
    Concat,
    Conv,
    DuplicateStreams,
    GlobalAccPool,
    IntGraph,
    LabelSelect,
    LinearHead,
    MatMul,
    MaxPool,
    MultiLabel,
    MultiThreshold,
    Node,
    SumHead,
)
from .layers.common import LayerConfigError, signed_bits
from .layers.fifo import StreamFifo, StreamWidthConverter
from .layers.graph_ops import (
    AddParams,
    AddStreamsLayer,
    ConcatLayer,
    ConcatParams,
    DuplicateStreamsLayer,
    GlobalAccPoolLayer,
    GlobalPoolParams,
    MultiLabelLayer,
    fc_weight_matrix,
)
from .layers.head import HeadLayer, HeadParams
from .layers.header import HeaderSplit, header_beats
from .layers.mvau import MVAU, MvauParams, conv_weight_matrix
from .layers.pool import MaxPoolLayer, PoolParams
from .layers.swg import SlidingWindowGenerator, SwgParams
from .layers.threshold import threshold_stage
from .stream import AxiStreamSignature

SLICE_BEATS = 2
"""Beats one stage's output register slice holds (:class:`~.layers.common.RegisterSlice`)."""

SHALLOW_FIFO = 2
"""A joint this deep or shallower needs no FIFO (FINN's ``RemoveShallowFIFOs``)."""


@dataclass(frozen=True)
class NodeFolding:
    """Folding of one graph node (FINN's ``PE`` / ``SIMD`` attributes): ``pe`` output channels
    and ``simd`` inputs a cycle of an MVAU (Conv, MatMul, LinearHead), ``swg_simd`` channels a
    beat of a Conv's sliding-window generator (default ``simd``), ``pool_serial`` for a MaxPool
    (:attr:`~.layers.pool.PoolParams.serial`). Nodes without a choice take their producer's
    lanes and ignore it."""

    pe: int = 1
    simd: int = 1
    swg_simd: int | None = None
    pool_serial: bool = False

    @property
    def swg(self) -> int:
        """Channels a beat of the SWG."""
        return self.swg_simd or self.simd

    def to_json(self) -> dict:
        """FINN's folding-config entry (``PE``, ``SIMD``, and ours)."""
        return {"PE": self.pe, "SIMD": self.simd, "swg_simd": self.swg,
                "pool_serial": self.pool_serial}  # fmt: skip

    @classmethod
    def from_json(cls, entry: dict) -> NodeFolding:
        """The folding of a :meth:`to_json` entry (a ``swg_simd`` equal to ``SIMD`` read back
        as the default ``None``, so that the round trip compares equal).

        Raises
        ------
        KeyError, TypeError, ValueError
            No ``PE`` / ``SIMD``, or values that are not integers.
        """
        simd, swg = int(entry["SIMD"]), entry.get("swg_simd")
        swg = None if swg is None or int(swg) == simd else int(swg)
        return cls(int(entry["PE"]), simd, swg, bool(entry.get("pool_serial", False)))


@dataclass(frozen=True)
class Format:
    """A stream's beat layout: ``lanes`` elements a beat, ``width`` bits each (1: a bipolar
    bit; otherwise two's complement)."""

    lanes: int
    width: int


@dataclass
class HwStage:
    """The hardware of one graph node: ``components`` ``(class, args)`` in series (a multi-port
    component stands alone), the ``inputs`` it reads with the :class:`Format` each port takes,
    the tensor it produces and its format, and ``positions`` of its output map."""

    name: str
    op: str
    components: list[tuple[type, tuple]]
    inputs: tuple[str, ...]
    in_formats: tuple[Format, ...]
    out_format: Format
    positions: int
    channels: int

    def build(self) -> list[wiring.Component]:
        """Fresh components."""
        return [cls(*args) for cls, args in self.components]


def lane_width(t) -> int:
    """Bits of one stream lane of a graph input of type ``t``: 1 for bipolar bits, else the
    two's complement bits of its range (an unsigned n-bit input takes n + 1)."""
    return 1 if t.bipolar else signed_bits(t.lo, t.hi)


def _divisor_at_most(n: int, cap: int) -> int:
    d = min(n, cap)
    while n % d:
        d -= 1
    return d


def default_folding(graph: IntGraph) -> dict[str, NodeFolding]:
    """One column a cycle for every convolution (``SIMD = C_in``, ``SWG SIMD = C_in``; a
    one-channel input: ``SIMD = K`` over a one-channel SWG), ``PE`` the largest divisor of the
    output channels up to 8; fully connected layers ``SIMD`` up to 32 and ``PE`` up to 8."""
    out = {}
    for node in graph.nodes:
        if isinstance(node, Conv):
            c_in = graph.types[node.inputs[0]].shape[0]
            c_out = node.weights.shape[0]
            kw = node.kernel[1]
            pe = _divisor_at_most(c_out, 8)
            if c_in == 1:
                out[node.name] = NodeFolding(pe=pe, simd=kw, swg_simd=1)
            else:
                out[node.name] = NodeFolding(pe=pe, simd=c_in)
        elif isinstance(node, MatMul | LinearHead):
            mh, mw = node.weights.shape
            out[node.name] = NodeFolding(pe=_divisor_at_most(mh, 8), simd=_divisor_at_most(mw, 32))
    return out


def _unsupported(node: Node, why: str) -> LayerConfigError:
    return LayerConfigError(f"{node.name} ({node.op}): {why}")


def _elem_bits(fmt: Format, bipolar: bool) -> int | None:
    return None if bipolar else fmt.width


def lower(graph: IntGraph, folding: Mapping[str, NodeFolding] | None = None,
          in_lanes: int = 8) -> list[HwStage]:  # fmt: skip
    """The hardware stages of ``graph`` in its node order (see the module docstring);
    ``folding`` per node name (default :func:`default_folding`, missing nodes take theirs).

    Raises
    ------
    LayerConfigError
        Naming the node and op: a node the dataflow back end does not build (a 2-D
        convolution, a grouped one, a head not followed by a top-1 LabelSelect), or a folding
        that does not divide the node's channels / fan-in.
    """
    fold = {**default_folding(graph), **dict(folding or {})}
    types = graph.types
    fmt: dict[str, Format] = {}
    stages: list[HwStage] = []
    for i, gin in enumerate(graph.inputs):
        lanes = in_lanes if i == 0 else gin.type.shape[0]
        if int(np.prod(gin.type.shape)) % lanes:
            raise LayerConfigError(f"in_lanes={lanes} does not divide input {gin.name} "
                                   f"{list(gin.type.shape)}")  # fmt: skip
        fmt[gin.name] = Format(lanes, lane_width(gin.type))
    merged = {n.name for n in graph.nodes if isinstance(n, LabelSelect | MultiLabel)}
    for node in graph.nodes:
        if node.name in merged:
            continue
        t_in = [types[t] for t in node.inputs]
        f_in = [fmt[t] for t in node.inputs]
        c, h, w = types[node.name].shape
        try:
            st = _lower_node(graph, node, t_in, f_in, fold.get(node.name, NodeFolding()))
        except LayerConfigError as exc:
            raise _unsupported(node, str(exc)) from exc
        st.positions, st.channels = h * w, c
        stages.append(st)
        fmt[node.name] = st.out_format
    return stages


def _lower_node(graph: IntGraph, node: Node, t_in, f_in: list[Format],
                f: NodeFolding) -> HwStage:  # fmt: skip
    if isinstance(node, Conv):
        (t,), (fi,) = t_in, f_in
        if node.groups != 1:
            raise LayerConfigError("grouped convolution: no VVAU in the dataflow back end yet")
        if f.simd % f.swg:
            raise LayerConfigError(f"MVAU simd={f.simd} is not a multiple of the SWG's "
                                   f"simd={f.swg}")  # fmt: skip
        bits = _elem_bits(fi, t.bipolar)
        (kh, kw), (sh, sw) = node.kernel, node.stride
        top, bottom, left, right = node.pads
        swg = SwgParams(t.shape[0], t.shape[2], kw, sw, left, right, node.pad_value, f.swg, bits,
                        rows=t.shape[1], kernel_rows=kh, stride_rows=sh, pad_top=top,
                        pad_bottom=bottom)  # fmt: skip
        comps: list[tuple[type, tuple]] = [(SlidingWindowGenerator, (swg,))]
        if f.simd != f.swg:
            comps.append((StreamWidthConverter, (f.swg, f.simd, swg.width)))
        mv = MvauParams(conv_weight_matrix(node.weights), swg.conv_length * swg.out_rows, f.pe,
                        f.simd, bits, weight_bits=node.weight_bits)  # fmt: skip
        comps.append((MVAU, (mv,)))
        return HwStage(node.name, node.op, comps, node.inputs, (Format(f.swg, swg.width),),
                       Format(f.pe, mv.width), 0, 0)  # fmt: skip
    if isinstance(node, MatMul | LinearHead):
        (t,), (fi,) = t_in, f_in
        w = fc_weight_matrix(node.weights, t.shape)
        mv = MvauParams(w, 1, f.pe, f.simd, _elem_bits(fi, t.bipolar),
                        weight_bits=node.weight_bits)  # fmt: skip
        comps = [(MVAU, (mv,))]
        out = Format(f.pe, mv.width)
        if isinstance(node, LinearHead) and isinstance(_decision(graph, node), MultiLabel):
            if f.pe > 1:
                comps.append((StreamWidthConverter, (f.pe, 1, mv.width)))
            args = (_decision(graph, node).thresholds, mv.width, node.bias, True)
            comps.append((MultiLabelLayer, args))
            out = Format(1, MultiLabelLayer(*args).out_width)
        elif isinstance(node, LinearHead):
            k = len(node.bias)
            head = ChainSumHead(np.ones(k, np.int64), np.ones(k, np.int64),
                                np.asarray(node.bias, np.int64), node.frac_bits, 2, 1)  # fmt: skip
            hp = HeadParams(head, 1, f.pe, mv.width)
            comps.append((HeadLayer, (hp,)))
            out = Format(1, hp.width)
        return HwStage(node.name, node.op, comps, node.inputs, (Format(f.simd, fi.width),),
                       out, 0, 0)  # fmt: skip
    (fi, *_), (t, *_) = f_in, t_in
    if isinstance(node, MaxPool):
        if node.kernel[0] != 1 or node.stride[0] != 1:
            raise LayerConfigError("a pool over several rows (leads): only (1, k) pools over "
                                   "time so far")  # fmt: skip
        # time-major order: a (1, k) pool over H rows of C channels is a 1-D pool of H * C
        p = PoolParams(t.shape[0] * t.shape[1], t.shape[2], node.kernel[1], node.stride[1],
                       fi.lanes, fi.width, f.pool_serial)  # fmt: skip
        return HwStage(node.name, node.op, [(MaxPoolLayer, (p,))], node.inputs, (fi,), fi, 0, 0)
    if isinstance(node, MultiThreshold):
        act = _activation(node, t)
        cls, p = threshold_stage(act, t.shape[1] * t.shape[2], fi.lanes, fi.width)
        return HwStage(node.name, node.op, [(cls, (p,))], node.inputs, (fi,),
                       Format(fi.lanes, p.out_bits), 0, 0)  # fmt: skip
    if isinstance(node, GlobalAccPool):
        p = GlobalPoolParams(t.shape[0], t.shape[1] * t.shape[2], fi.lanes, fi.width)
        return HwStage(node.name, node.op, [(GlobalAccPoolLayer, (p,))], node.inputs, (fi,),
                       Format(fi.lanes, p.out_width), 0, 0)  # fmt: skip
    if isinstance(node, AddStreams):
        fb = f_in[1]
        beats = int(np.prod(t.shape)) // fi.lanes
        p = AddParams(beats, fi.lanes, fi.width, fb.width, node.ka, node.kb)
        return HwStage(
            node.name,
            node.op,
            [(AddStreamsLayer, (p,))],
            node.inputs,
            (fi, Format(fi.lanes, fb.width)),
            Format(fi.lanes, p.out_width),
            0,
            0,
        )
    if isinstance(node, DuplicateStreams):
        beats = int(np.prod(t.shape)) // fi.lanes
        comp = (DuplicateStreamsLayer, (fi.lanes * fi.width, node.n, beats))
        return HwStage(node.name, node.op, [comp], node.inputs, (fi,), fi, 0, 0)
    if isinstance(node, Concat):
        if len(node.inputs) != 2:
            raise LayerConfigError("concatenation of more than two streams")
        pe = math.gcd(fi.lanes, *(x.shape[0] for x in t_in))
        p = ConcatParams(tuple(x.shape[0] for x in t_in), t.shape[1] * t.shape[2], pe,
                         tuple(x.width for x in f_in))  # fmt: skip
        fmts = tuple(Format(pe, x.width) for x in f_in)
        return HwStage(node.name, node.op, [(ConcatLayer, (p,))], node.inputs, fmts,
                       Format(pe, p.out_width), 0, 0)  # fmt: skip
    if isinstance(node, SumHead):
        if not isinstance(_decision(graph, node), LabelSelect):
            raise LayerConfigError("a sum head emits the top-1 class only")
        length = t.shape[1] * t.shape[2]
        head = ChainSumHead(node.a_pos, node.a_neg, node.bias, node.frac_bits, node.coef_bits,
                            length)  # fmt: skip
        hp = HeadParams(head, length, fi.lanes, fi.width)
        return HwStage(node.name, node.op, [(HeadLayer, (hp,))], node.inputs, (fi,),
                       Format(1, hp.width), 0, 0)  # fmt: skip
    raise LayerConfigError("no dataflow layer for this op yet")


def _decision(graph: IntGraph, head: Node) -> LabelSelect | MultiLabel:
    """The one node reading the head's scores: a top-1 LabelSelect (the head layer emits the
    class) or a MultiLabel (the multi-label layer emits the label bits)."""
    readers = graph.readers(head.name)
    ok = len(readers) == 1 and (isinstance(readers[0], MultiLabel) or (
        isinstance(readers[0], LabelSelect) and readers[0].k == 1))  # fmt: skip
    if not ok:
        raise LayerConfigError("the head layer emits the scores and then the decision: its "
                               "scores must feed one LabelSelect with k = 1 or one "
                               "MultiLabel")  # fmt: skip
    return readers[0]


def _activation(node: MultiThreshold, t) -> MultiThresholds:
    """The layer parameters of a graph MultiThreshold: the chain's binary :class:`Thresholds`
    (lo / hi / invert) for 0/1 levels, :class:`MultiThresholds` otherwise."""
    if node.out_bits is None:
        from .chain_graph import steps_to_thresholds

        return steps_to_thresholds(node, t.lo, t.hi)
    return MultiThresholds(node.thresholds, node.sign, node.base, node.out_bits)


# --------------------------------------------------------------------------- FIFOs at joins


def _need_maps(graph: IntGraph, fork: str) -> dict[str, np.ndarray]:
    """For every tensor downstream of ``fork``: per output time step (a column of all rows, the
    unit of the time-major stream), the last time step of ``fork`` it needs (int64 ``[W]``);
    the fork's own time steps need themselves."""
    types = graph.types
    need: dict[str, np.ndarray] = {fork: np.arange(types[fork].shape[2])}
    for node in graph.nodes:
        ins = [need.get(t) for t in node.inputs]
        if all(x is None for x in ins):
            continue
        positions = types[node.name].shape[2]
        first = next(x for x in ins if x is not None)
        if isinstance(node, Conv | MaxPool):
            kw, sw = node.kernel[1], node.stride[1]
            pad = node.pads[2] if isinstance(node, Conv) else 0
            idx = np.clip(np.arange(positions) * sw + kw - 1 - pad, 0, len(first) - 1)
            need[node.name] = first[idx]
        elif isinstance(node, MultiThreshold | DuplicateStreams | AddStreams | Concat):
            present = [x for x in ins if x is not None]
            need[node.name] = np.max(np.stack(present), axis=0)
        else:  # one position needing all of its input
            need[node.name] = np.full(positions, max(int(x.max()) for x in ins if x is not None))
    return need


def _components_between(graph: IntGraph, stages: dict[str, HwStage], fork: str,
                        tensor: str) -> int:  # fmt: skip
    """Components on the longest path from ``fork`` (exclusive) to ``tensor`` (inclusive)."""
    depth: dict[str, int] = {fork: 0}
    for node in graph.nodes:
        ins = [depth[t] for t in node.inputs if t in depth]
        if ins and node.name in stages:
            depth[node.name] = max(ins) + len(stages[node.name].components)
    return depth.get(tensor, 0)


def join_fifo_depths(graph: IntGraph, stages: list[HwStage]) -> dict[tuple[str, int], int]:
    """The FIFO depth (beats, in the join's input format) in front of input ``i`` of every join
    (AddStreams, Concat), keyed ``(join name, i)``.

    When the join takes position ``p`` from its slower input ``a``, the fork has sent
    ``need_a[p]`` positions down both paths, and the faster input ``b`` has produced every
    position ``q`` with ``need_b[q] <= need_a[p]``; those ``count - p`` positions wait in
    ``b``'s FIFO (:func:`_need_maps` gives ``need`` exactly from the kernels, strides and
    paddings). The depth is the largest wait over ``p``, times the beats of a column, plus
    :data:`SLICE_BEATS` per component of the slower path (their register slices also hold
    beats the join has not taken). A join whose inputs share no fork gets none."""
    by_name = {s.name: s for s in stages}
    forks = [n.name for n in graph.nodes if isinstance(n, DuplicateStreams)]
    out: dict[tuple[str, int], int] = {}
    for node in graph.nodes:
        if not isinstance(node, AddStreams | Concat):
            continue
        st = by_name[node.name]
        for fork in reversed(forks):  # the nearest common fork: the latest in node order
            need = _need_maps(graph, fork)
            if all(t in need for t in node.inputs):
                break
        else:
            continue
        for i, b in enumerate(node.inputs):
            wait = 0
            for j, a in enumerate(node.inputs):
                if j == i:
                    continue
                count = np.searchsorted(need[b], need[a], side="right")
                positions = np.minimum(count, len(need[b])) - np.arange(len(need[a]))
                slices = SLICE_BEATS * _components_between(graph, by_name, fork, a)
                c, h, _ = graph.types[b].shape
                beats = c * h // st.in_formats[i].lanes  # a column
                wait = max(wait, int(positions.max(initial=0)) * beats + slices)
            out[(node.name, i)] = wait
    return out


# --------------------------------------------------------------------------- plan and pipeline


@dataclass(frozen=True)
class GraphPlan:
    """A graph with its folding and FIFO depths: everything :class:`GraphPipeline` builds from.
    ``in_lanes``: samples a beat of the ECG input; ``fifo_depths``: per ``(join, input)``
    (default :func:`join_fifo_depths`, see :func:`plan_graph`)."""

    graph: IntGraph
    folding: Mapping[str, NodeFolding]
    in_lanes: int = 8
    fifo_depths: Mapping[tuple[str, int], int] = field(default_factory=dict)

    @property
    def input_bits(self) -> int:
        """Bits of one ECG sample."""
        return lane_width(self.graph.inputs[0].type)

    @property
    def window_beats(self) -> int:
        """Beats of one window's ECG."""
        return int(np.prod(self.graph.inputs[0].type.shape)) // self.in_lanes

    @property
    def header_beats(self) -> int:
        """Beats of metadata before each window (:mod:`.layers.header`): 0 for a graph of one
        input; the second input's channels, ``in_lanes`` a beat, otherwise.

        Raises
        ------
        LayerConfigError
            More than two inputs, a metadata input that is not ``[M, 1, 1]``, or its values
            not as wide as an ECG sample (they share the input's lanes).
        """
        ins = self.graph.inputs
        if len(ins) == 1:
            return 0
        meta = ins[1]
        if len(ins) > 2 or meta.type.shape[1:] != (1, 1):
            shapes = [(i.name, list(i.type.shape)) for i in ins]
            raise LayerConfigError(
                f"graph {self.graph.name}: inputs {shapes}; the back end "
                "takes the ECG and at most one metadata vector [M, 1, 1]"
            )
        if lane_width(meta.type) != self.input_bits:
            raise LayerConfigError(f"graph {self.graph.name}: metadata of {lane_width(meta.type)}"
                                   f" bits in {self.input_bits}-bit ECG lanes")  # fmt: skip
        return header_beats(meta.type.shape[0], self.in_lanes)

    @property
    def in_beats(self) -> int:
        """Input beats of one window: the metadata header's, then the ECG's."""
        return self.header_beats + self.window_beats

    @property
    def n_classes(self) -> int:
        """Score beats before the class beat."""
        return len(self.graph.classes)

    def stages(self) -> list[HwStage]:
        """:func:`lower` of this plan."""
        return lower(self.graph, self.folding, self.in_lanes)

    @property
    def out_width(self) -> int:
        """Bits of an output beat (the head layer's)."""
        return next(s for s in self.stages() if s.name == self.graph.scores).out_format.width

    def key(self) -> str:
        """A digest of everything the Verilog depends on."""
        text = json.dumps([self.graph.to_json(),
                           sorted((k, v.to_json()) for k, v in self.folding.items()),
                           self.in_lanes, sorted(self.fifo_depths.items())],
                          sort_keys=True, default=str)  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()

    def estimates(self) -> GraphEstimate:
        """Cycles and resources from the layers' own estimates (:class:`GraphEstimate`)."""
        return GraphPipeline(self).estimate()


def plan_graph(graph: IntGraph, folding: Mapping[str, NodeFolding] | None = None,
               in_lanes: int = 8) -> GraphPlan:  # fmt: skip
    """The plan of ``graph``: the folding (default :func:`default_folding`, per node
    overrides), checked by lowering it, and the join FIFO depths of :func:`join_fifo_depths`.

    Raises
    ------
    LayerConfigError
        A node the back end cannot build or a folding that does not fit it (naming the node).
    """
    fold = {**default_folding(graph), **dict(folding or {})}
    stages = lower(graph, fold, in_lanes)
    return GraphPlan(graph, fold, in_lanes, join_fifo_depths(graph, stages))


@dataclass(frozen=True)
class GraphEstimate:
    """Estimated figures of a :class:`GraphPipeline`: ``ii`` (cycles between windows: the
    slowest layer), ``latency`` (cycles of one window: the longest path of layer cycles through
    the graph, FINN's conservative sum), ``per_stage`` (node → cycles) and ``resources``."""

    ii: int
    latency: int
    per_stage: dict[str, int]
    resources: dict[str, int]


def _port(comp: wiring.Component, kind: str, i: int):
    return getattr(comp, kind if i == 0 else f"{kind}_{i}")


class GraphPipeline(wiring.Component):
    """The whole graph as one streaming design (see the module docstring).

    Members
    -------
    s_axis : In(AxiStreamSignature(in_lanes * input_bits))
        One ECG window, sample ``p`` in lane ``p % in_lanes``; for a graph with a metadata
        input, preceded by its ``header_beats`` (:mod:`.layers.header`), which a
        :class:`~.layers.header.HeaderSplit` routes to the metadata input's consumers.
    m_axis : Out(AxiStreamSignature(out_width))
        ``n_classes`` score beats (two's complement), then the class (a multi-label head: the
        label bits, label 0 lowest) with ``tlast``.
    """

    def __init__(self, plan: GraphPlan) -> None:
        self.plan = plan
        self.hw = plan.stages()
        self.parts = {st.name: st.build() for st in self.hw}
        self.formats = {gi.name: Format(plan.in_lanes if i == 0 else gi.type.shape[0],
                                        lane_width(gi.type))
                        for i, gi in enumerate(plan.graph.inputs)}  # fmt: skip
        self.formats.update({st.name: st.out_format for st in self.hw})
        x = self.formats[plan.graph.inputs[0].name]
        out = self.formats[plan.graph.scores]
        ports = {"s_axis": In(AxiStreamSignature(x.lanes * x.width)),
                 "m_axis": Out(AxiStreamSignature(out.width))}  # fmt: skip
        self.header, self.meta_fifo = None, None
        if plan.header_beats:
            meta = self.formats[plan.graph.inputs[1].name]
            self.header = HeaderSplit(x.lanes * x.width, meta.lanes * meta.width,
                                      plan.header_beats, plan.window_beats)  # fmt: skip
        self.joints: list[tuple[str, int, list[wiring.Component]]] = []
        for st in self.hw:
            for i, (t, want) in enumerate(zip(st.inputs, st.in_formats, strict=True)):
                have = self.formats[t]
                if have.width != want.width:
                    raise LayerConfigError(f"{st.name}: input {t} has {have.width}-bit lanes, "
                                           f"the layer takes {want.width}")  # fmt: skip
                glue: list[wiring.Component] = []
                if have.lanes != want.lanes:
                    glue.append(StreamWidthConverter(have.lanes, want.lanes, want.width))
                depth = plan.fifo_depths.get((st.name, i), 0)
                if depth > SHALLOW_FIFO:
                    glue.append(StreamFifo(want.lanes * want.width, depth))
                self.joints.append((st.name, i, glue))
        if self.header is not None:
            # a metadata word per window between the header and the Concat: without room for
            # them, the next window's header (and its ECG) would wait until this window's
            # metadata is consumed, late in the graph, and windows would not overlap
            est = self.estimate()
            in_flight = -(-est.latency // max(est.ii, 1)) + 1
            self.meta_fifo = StreamFifo(self.header.meta_width, min(max(in_flight, 2), 32))
        super().__init__(ports)

    def estimate(self) -> GraphEstimate:
        """:class:`GraphEstimate` of the layers (width converters and FIFOs pass a beat a cycle
        of streams their neighbours produce at most as fast: left out of the cycles, counted in
        the resources)."""

        def layers(name: str) -> list[int]:
            return [c.estimate_cycles() for c in self.parts[name]
                    if not isinstance(c, StreamWidthConverter | StreamFifo)]  # fmt: skip

        per = {st.name: max(layers(st.name)) for st in self.hw}
        along: dict[str, int] = {}
        for st in self.hw:
            before = [along[t] for t in st.inputs if t in along]
            along[st.name] = max(before, default=0) + sum(layers(st.name))
        res = {"lut": 0, "ff": 0, "bram": 0, "dsp": 0}
        for comp in [c for cs in self.parts.values() for c in cs] + [
                g for _, _, glue in self.joints for g in glue] + [
                c for c in (self.header, self.meta_fifo) if c is not None]:  # fmt: skip
            for k, v in comp.estimate_resources().items():
                res[k] += v
        return GraphEstimate(max(per.values()), max(along.values()), per, res)

    def elaborate(self, platform) -> Module:
        m = Module()
        source: dict[str, list] = {}  # tensor -> output ports not yet taken
        ins = self.plan.graph.inputs
        source[ins[0].name] = [wiring.flipped(self.s_axis)]
        if self.header is not None:
            m.submodules.header = self.header
            wiring.connect(m, wiring.flipped(self.s_axis), self.header.s_axis)
            m.submodules.meta_fifo = self.meta_fifo
            wiring.connect(m, self.header.m_axis_1, self.meta_fifo.s_axis)
            source[ins[0].name] = [self.header.m_axis]
            source[ins[1].name] = [self.meta_fifo.m_axis]
        for st in self.hw:
            comps = self.parts[st.name]
            for k, c in enumerate(comps):
                m.submodules[f"{st.name.replace('.', '_')}_{k}"] = c
            for a, b in pairwise(comps):
                wiring.connect(m, a.m_axis, b.s_axis)
            last = comps[-1]
            outs = [_port(last, "m_axis", j) for j in range(getattr(last, "n", 1))
                    if isinstance(last, DuplicateStreamsLayer) or j == 0]  # fmt: skip
            source[st.name] = outs
        glue_of = {(name, i): glue for name, i, glue in self.joints}
        for st in self.hw:
            first = self.parts[st.name][0]
            for i, t in enumerate(st.inputs):
                src = source[t].pop(0)
                for k, g in enumerate(glue_of[(st.name, i)]):
                    m.submodules[f"{st.name.replace('.', '_')}_in{i}_{k}"] = g
                    wiring.connect(m, src, g.s_axis)
                    src = g.m_axis
                wiring.connect(m, src, _port(first, "s_axis", i))
        wiring.connect(m, source[self.plan.graph.scores].pop(0), wiring.flipped(self.m_axis))
        return m
