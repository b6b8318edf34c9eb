# amaranth: UnusedElaboratable=no
# (a pipeline is also built only to ask its layers for their estimates, never elaborated)
"""The dataflow back end: one streaming hardware layer per network layer (FINN's architecture).

:class:`DataflowPipeline` stitches the layers of :mod:`.layers` for a whole integer network
description, block after block::

    s_axis (in_lanes int8 samples) ─▶ width converter ─▶ [ SWG ─▶ (width converter) ─▶ MVAU ─▶
    max-pool ─▶ thresholds ─▶ (width converter) ] x blocks ... ─▶ head ─▶ m_axis

with a :class:`~.layers.fifo.StreamFifo` in front of every stage whose joint needs one
(:attr:`DataflowPlan.fifo_depths`, by default :func:`~.folding.fifo_depths`' bound; for the
shipped ECG-BNN only the network input's downsizing width converter gets one).

Its streams are those of the hand-written core (:class:`~.bnn_core.BnnCore`): a window in
``in_lanes`` samples a beat, then ``n_classes`` score beats and the class beat with ``tlast``,
so one testbench verifies both back ends. The folding of block ``i`` is a
:class:`BlockFolding`: MVAU ``PE`` (output channels a cycle) and ``SIMD`` (inputs a cycle), and
the SWG's ``SIMD`` (channels a beat; a width converter packs its beats when the MVAU's ``SIMD``
is wider, as FINN does for a one-channel first layer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amaranth.lib import wiring

from .description import NetworkDescription
from .layers.chain import StreamChain
from .layers.common import LayerConfigError, check
from .layers.fifo import StreamFifo, StreamWidthConverter
from .layers.head import HeadLayer, HeadParams
from .layers.mvau import MVAU, MvauParams, conv_weight_matrix
from .layers.pool import MaxPoolLayer, PoolParams
from .layers.swg import SlidingWindowGenerator, SwgParams
from .layers.threshold import threshold_stage

if TYPE_CHECKING:
    from .folding import FoldingResult

DEFAULT_FIFO_DEPTH = 32
"""Former fixed depth of a FIFO after each MVAU (beats). Plans now size every joint's FIFO
(:attr:`DataflowPlan.fifo_depths`); kept for callers that name it."""


@dataclass(frozen=True)
class BlockFolding:
    """Folding of one block: MVAU ``pe`` and ``simd``, SWG ``swg_simd`` (default: ``simd``),
    and whether the max-pool is serial (:attr:`~.layers.pool.PoolParams.serial`)."""

    pe: int
    simd: int
    swg_simd: int | None = None
    pool_serial: bool = False

    @property
    def swg(self) -> int:
        """Channels a beat of the block's SWG."""
        return self.swg_simd or self.simd

    def key_text(self) -> str:
        """Text of this folding for :meth:`DataflowPlan.key`: the dataclass ``repr`` as it was
        before ``pool_serial`` existed, with ``pool_serial=True`` appended only when set (so the
        digests of parallel-pool plans, e.g. ``ecgaccel report``'s cache keys, stay valid)."""
        text = f"BlockFolding(pe={self.pe!r}, simd={self.simd!r}, swg_simd={self.swg_simd!r}"
        return text + (", pool_serial=True)" if self.pool_serial else ")")


@dataclass(frozen=True)
class DataflowPlan:
    """A description with its folding: everything :class:`DataflowPipeline` builds from.

    ``in_lanes``: samples a beat of the input stream (as the core's ``in_lanes``).

    ``fifo_depths``: one depth (beats) per joint in stream order, i.e. per stage of
    :func:`layer_specs` (the FIFO sits in front of that stage; the first joint is the network
    input's). A depth ≤ :data:`~.folding.SHALLOW_FIFO` builds no FIFO (FINN's
    ``RemoveShallowFIFOs``: every layer's output register slice already holds two beats).
    ``None``: :func:`~.folding.fifo_depths` of the folding (see there for the method; a straight
    pipeline cannot deadlock at any depth, FIFOs only buy cycles). :func:`plan_dataflow` always
    fills it in.
    """

    desc: NetworkDescription
    folding: tuple[BlockFolding, ...]
    in_lanes: int = 8
    fifo_depths: tuple[int, ...] | None = None

    @property
    def input_bits(self) -> int:
        """Bits of one input sample."""
        return self.desc.input_bits

    @property
    def in_beats(self) -> int:
        """Input beats of one window."""
        return self.desc.input_length // self.in_lanes

    @property
    def n_classes(self) -> int:
        """Classes (score beats before the class beat)."""
        return len(self.desc.classes)

    @property
    def out_width(self) -> int:
        """Bits of an output beat (the head's rule, the core's too)."""
        _, (params,) = stage_specs(self)[-1]
        return params.width

    def joint_depths(self) -> tuple[int, ...]:
        """:attr:`fifo_depths`, or the default of :func:`default_fifo_depths` when ``None``."""
        if self.fifo_depths is not None:
            return tuple(self.fifo_depths)
        return default_fifo_depths(self.desc, self.folding, self.in_lanes)

    def estimates(self) -> FoldingResult:
        """Per-layer cycles and resources, the FIFOs (this plan's depths), II and latency: the
        folding pass's :class:`~.folding.FoldingResult` of exactly this pipeline (its
        :meth:`~.folding.FoldingResult.resources` equal
        :meth:`DataflowPipeline.estimate_resources`)."""
        from .folding import estimate_folding

        return estimate_folding(self.desc, _folding_config(self.folding), self.in_lanes,
                                depths=self.joint_depths())  # fmt: skip

    def key(self) -> str:
        """A digest of everything the pipeline's Verilog depends on (the whole description,
        the folding, the lanes and the FIFO depths)."""
        text = json.dumps([self.desc.to_json(), [f.key_text() for f in self.folding],
                           self.in_lanes, list(self.joint_depths())], sort_keys=True)  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()

    def stages(self) -> list[wiring.Component]:
        """The pipeline's stages in stream order (fresh components)."""
        return build_stages(self)


def default_folding(desc: NetworkDescription) -> tuple[BlockFolding, ...]:
    """A balanced folding for the ECG-BNN shapes: each block's MVAU takes a whole column of
    its SWG a cycle (``SIMD = C_in``; the first layer ``SIMD = K`` over a one-channel SWG) and
    ``PE`` output channels so that blocks need similar cycles; the last block computes every
    class at once."""
    out = []
    for i, layer in enumerate(desc.layers):
        mw = layer.in_channels * layer.kernel
        simd = mw if layer.in_channels == 1 else layer.in_channels
        pe = layer.out_channels if i == len(desc.layers) - 1 else min(layer.out_channels, 8)
        while layer.out_channels % pe:
            pe -= 1
        out.append(BlockFolding(pe=pe, simd=simd, swg_simd=1 if layer.in_channels == 1 else None))
    return tuple(out)


def plan_dataflow(desc: NetworkDescription, folding: Sequence[BlockFolding] | None = None,
                  in_lanes: int = 8, fifo_depths: Sequence[int] | None = None
                  ) -> DataflowPlan:  # fmt: skip
    """Check ``folding`` (default :func:`default_folding`) against ``desc`` and return the plan
    with its FIFO depths (one per joint, see :attr:`DataflowPlan.fifo_depths`; default
    :func:`default_fifo_depths`).

    Raises
    ------
    LayerConfigError
        A folding that does not divide the block's channels or fan-in (the message names the
        block), the wrong number of blocks, ``in_lanes`` not dividing the input length, or
        FIFO depths that are negative or not one per joint.
    """
    folding = tuple(folding) if folding is not None else default_folding(desc)
    if len(folding) != len(desc.layers):
        raise LayerConfigError(f"folding has {len(folding)} blocks, the network "
                               f"{len(desc.layers)}")  # fmt: skip
    if in_lanes < 1 or desc.input_length % in_lanes:
        raise LayerConfigError(f"in_lanes={in_lanes} does not divide {desc.input_length} samples")
    plan = DataflowPlan(desc, folding, in_lanes)
    n_joints = len(layer_specs(plan))  # every layer's parameters check themselves
    if fifo_depths is None:
        depths = default_fifo_depths(desc, folding, in_lanes)
    else:
        depths = tuple(int(d) for d in fifo_depths)
        if len(depths) != n_joints or min(depths) < 0:
            raise LayerConfigError(f"give {n_joints} FIFO depths ≥ 0 (one per joint), got "
                                   f"{list(depths)}")  # fmt: skip
    return DataflowPlan(desc, folding, in_lanes, depths)


def _folding_config(folding: Sequence[BlockFolding]):
    from .folding import BlockFold, FoldingConfig

    return FoldingConfig(tuple(BlockFold(pe=f.pe, simd=f.simd, swg_simd=f.swg,
                                         pool_serial=f.pool_serial) for f in folding))  # fmt: skip


def default_fifo_depths(desc: NetworkDescription, folding: Sequence[BlockFolding],
                        in_lanes: int = 8) -> tuple[int, ...]:  # fmt: skip
    """One FIFO depth per joint of the pipeline (in front of each stage of
    :func:`layer_specs`): :func:`~.folding.fifo_depths`, the folding pass's documented bound, so
    that the pipeline built and the folding table's FIFO rows are the same FIFOs.

    Raises
    ------
    LayerConfigError
        A folding the folding pass refuses (the message names the block).
    """
    from .folding import FoldingError, fifo_depths

    try:
        specs = fifo_depths(desc, _folding_config(folding), in_lanes)
    except FoldingError as exc:
        raise LayerConfigError(str(exc)) from exc
    return tuple(s.depth for s in specs)


def build_stages(plan: DataflowPlan) -> list[wiring.Component]:
    """The stages of ``plan`` in stream order (see the module docstring)."""
    return [cls(*args) for cls, args in stage_specs(plan)]


def stage_specs(plan: DataflowPlan) -> list[tuple[type, tuple]]:
    """``(component class, constructor arguments)`` of every stage of ``plan`` in stream order:
    :func:`layer_specs` with a :class:`StreamFifo` in front of each stage whose joint depth
    (:meth:`DataflowPlan.joint_depths`) exceeds :data:`~.folding.SHALLOW_FIFO`."""
    from .folding import SHALLOW_FIFO

    layers = layer_specs(plan)
    depths = plan.joint_depths()
    if len(depths) != len(layers):
        raise LayerConfigError(f"{len(depths)} FIFO depths for {len(layers)} joints")
    out: list[tuple[type, tuple]] = []
    for (cls, args), depth in zip(layers, depths, strict=True):
        if depth > SHALLOW_FIFO:
            width = cls(*args).s_axis.tdata.shape().width
            out.append((StreamFifo, (width, depth)))
        out.append((cls, args))
    return out


@dataclass(frozen=True)
class LoweredStage:
    """One hardware stage of a chain pipeline as :func:`lower` lays it out: what the pipeline
    builds, the folding pass estimates, the FIFO sizing reasons about and the per-stage bench
    simulates.

    Attributes
    ----------
    block:
        Index of the network block (``desc.layers[block]``) the stage belongs to.
    kind:
        ``wc_in`` (width converter in front of the block), ``swg``, ``wc`` (SWG → MVAU width
        converter), ``mvau``, ``pool``, ``threshold`` or ``head``.
    cls, args:
        The component class and its constructor arguments (:meth:`build`).
    params:
        The folding in words (``PE=8 SIMD=16``, ``8->1 lanes``, ``PE=2 serial``).
    lanes_in, bits_in:
        The input stream: lanes a beat and bits a lane.
    beats_in:
        Input beats of one window.
    """

    block: int
    kind: str
    cls: type
    args: tuple
    params: str
    lanes_in: int
    bits_in: int
    beats_in: int

    def build(self) -> wiring.Component:
        """A fresh component of this stage."""
        return self.cls(*self.args)

    @property
    def p(self):
        """The stage's parameters (``args[0]``; a width converter's are its lanes)."""
        return self.args[0]

    def estimate_cycles(self, component: wiring.Component | None = None) -> int:
        """Cycles of one window at full rate (a width converter's for :attr:`beats_in`)."""
        comp = component if component is not None else self.build()
        if self.kind in ("wc_in", "wc"):
            return comp.estimate_cycles(self.beats_in)
        return comp.estimate_cycles()


def lower_block(layer, i: int, fold: BlockFolding, lanes: int, lane_bits: int, beats: int,
                head=None) -> list[LoweredStage]:  # fmt: skip
    """The stages of block ``i`` (network layer ``layer``, a
    :class:`~.description.ConvLayer`) at ``fold``, fed ``beats`` beats of ``lanes`` lanes of
    ``lane_bits`` bits: a width converter when ``lanes`` differs from the SWG's ``SIMD``, the
    SWG, a width converter when the MVAU's ``SIMD`` is wider, the MVAU, the max-pool, then the
    thresholds, or the head (``head``: the description's :class:`~.description.SumHead`) for a
    layer without thresholds.

    Raises
    ------
    LayerConfigError
        A folding that does not divide the block's channels or fan-in (unnamed: the caller
        names the block).
    """
    out: list[LoweredStage] = []

    def add(kind: str, cls: type, args: tuple, params: str, ln: int, bits: int, n: int) -> None:
        out.append(LoweredStage(i, kind, cls, args, params, ln, bits, n))

    if fold.simd % fold.swg:
        raise LayerConfigError(f"MVAU simd={fold.simd} is not a multiple of the SWG's "
                               f"simd={fold.swg}")  # fmt: skip
    if lanes != fold.swg:
        add("wc_in", StreamWidthConverter, (lanes, fold.swg, lane_bits),
            f"{lanes}->{fold.swg} lanes", lanes, lane_bits, beats)  # fmt: skip
    swg = SwgParams.of_layer(layer, fold.swg)
    add("swg", SlidingWindowGenerator, (swg,), f"SIMD={fold.swg}", fold.swg, lane_bits,
        swg.in_beats)  # fmt: skip
    if fold.simd != fold.swg:
        add("wc", StreamWidthConverter, (fold.swg, fold.simd, swg.width),
            f"{fold.swg}->{fold.simd} lanes", fold.swg, swg.width, swg.out_beats)  # fmt: skip
    mv = MvauParams(conv_weight_matrix(layer.weights), swg.conv_length, fold.pe, fold.simd,
                    layer.input_bits, weight_bits=layer.weight_bits)  # fmt: skip
    add("mvau", MVAU, (mv,), f"PE={fold.pe} SIMD={fold.simd}", fold.simd, mv.in_width,
        mv.n_vectors * mv.sf)  # fmt: skip
    pool = PoolParams(layer.out_channels, swg.conv_length, layer.pool_kernel, layer.pool_stride,
                      fold.pe, mv.width, fold.pool_serial)  # fmt: skip
    add("pool", MaxPoolLayer, (pool,), f"PE={fold.pe}" + (" serial" if fold.pool_serial else ""),
        fold.pe, mv.width, mv.n_vectors * mv.nf)  # fmt: skip
    n_out = pool.out_length * pool.nf
    if layer.thresholds is not None:  # binary or n-bit (WnAn) activations
        th_cls, th = threshold_stage(layer.thresholds, pool.out_length, fold.pe, mv.width)
        add("threshold", th_cls, (th,), f"PE={fold.pe}", fold.pe, mv.width, n_out)
    else:
        check(head is not None, f"{layer.name}: a layer without thresholds needs the head")
        add("head", HeadLayer, (HeadParams(head, pool.out_length, fold.pe, mv.width),),
            f"PE={fold.pe}", fold.pe, mv.width, n_out)  # fmt: skip
    return out


def lower(desc: NetworkDescription, folding: Sequence[BlockFolding],
          in_lanes: int) -> list[LoweredStage]:  # fmt: skip
    """The one lowering of a chain description to hardware stages, in stream order, without
    FIFOs (one joint in front of each stage): :func:`lower_block` of every block, each fed
    what the previous one emits (``in_lanes`` int8 samples a beat at the network input). The
    pipeline (:func:`layer_specs`), the folding pass's estimates and FIFO sizing
    (:mod:`.folding`) and the per-stage bench (:mod:`ecgaccel.sim.stage_cycles`) all walk it.

    Raises
    ------
    LayerConfigError
        A folding that does not fit a block (the message names the block).
    """
    stages: list[LoweredStage] = []
    lanes, lane_bits = in_lanes, desc.input_bits  # what the previous stage emits a beat
    beats = desc.input_length // in_lanes
    for i, (layer, fold) in enumerate(zip(desc.layers, folding, strict=True)):
        try:
            block = lower_block(layer, i, fold, lanes, lane_bits, beats, desc.head)
        except LayerConfigError as exc:
            raise LayerConfigError(f"block {i + 1} ({layer.name}): {exc}") from exc
        stages += block
        last = block[-1]
        if last.kind == "threshold":
            lanes, lane_bits, beats = fold.pe, last.p.out_bits, last.beats_in
    return stages


def layer_specs(plan: DataflowPlan) -> list[tuple[type, tuple]]:
    """``(component class, constructor arguments)`` of every layer and width converter of
    ``plan`` in stream order (:func:`lower`), without FIFOs; building the parameters checks
    them (:class:`LayerConfigError` naming the block)."""
    return [(s.cls, s.args) for s in lower(plan.desc, plan.folding, plan.in_lanes)]


class DataflowPipeline(StreamChain):
    """The whole network as one streaming pipeline (:func:`build_stages` of ``plan``).

    Members
    -------
    s_axis : In(AxiStreamSignature(in_lanes * input_bits))
        One window, ``in_lanes`` int8 samples a beat (sample ``p`` in lane ``p % in_lanes``,
        lane 0 in the low bits); ``tlast`` ignored.
    m_axis : Out(AxiStreamSignature(out_width))
        ``n_classes`` score beats (two's complement), then the class index with ``tlast``.
    """

    def __init__(self, plan: DataflowPlan) -> None:
        self.plan = plan
        super().__init__(build_stages(plan))

    def estimate_cycles(self) -> dict[str, int]:
        """FINN's figures from the layers' own estimates (cycles of one window at full rate):
        ``ii`` (initiation interval: the slowest layer) and ``latency`` (the sum over the
        layers, FINN's conservative critical-path estimate). FIFOs and width converters pass one
        beat a cycle of a stream their neighbours produce or consume at most as fast, so they
        are left out of both."""
        per = [st.estimate_cycles() for st in self.stages
               if not isinstance(st, StreamFifo | StreamWidthConverter)]  # fmt: skip
        return {"ii": max(per), "latency": sum(per)}
