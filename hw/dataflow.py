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
from .layers.common import LayerConfigError
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


def layer_specs(plan: DataflowPlan) -> list[tuple[type, tuple]]:
    """``(component class, constructor arguments)`` of every layer and width converter of
    ``plan`` in stream order, without FIFOs (one joint in front of each); building the
    parameters checks them (:class:`LayerConfigError` naming the block)."""
    desc = plan.desc
    stages: list[tuple[type, tuple]] = []
    lanes, lane_bits = plan.in_lanes, desc.input_bits  # what the previous stage emits a beat
    for i, (layer, fold) in enumerate(zip(desc.layers, plan.folding, strict=True)):
        where = f"block {i + 1} ({layer.name})"
        try:
            if fold.simd % fold.swg:
                raise LayerConfigError(f"MVAU simd={fold.simd} is not a multiple of the SWG's "
                                       f"simd={fold.swg}")  # fmt: skip
            if lanes != fold.swg:
                stages.append((StreamWidthConverter, (lanes, fold.swg, lane_bits)))
            swg = SwgParams.of_layer(layer, fold.swg)
            stages.append((SlidingWindowGenerator, (swg,)))
            if fold.simd != fold.swg:
                stages.append((StreamWidthConverter, (fold.swg, fold.simd, swg.width)))
            mv = MvauParams(conv_weight_matrix(layer.weights), swg.conv_length, fold.pe,
                            fold.simd, layer.input_bits, weight_bits=layer.weight_bits)  # fmt: skip
            stages.append((MVAU, (mv,)))
            pool = PoolParams(layer.out_channels, swg.conv_length, layer.pool_kernel,
                              layer.pool_stride, fold.pe, mv.width, fold.pool_serial)  # fmt: skip
            stages.append((MaxPoolLayer, (pool,)))
            if layer.thresholds is not None:  # binary or n-bit (WnAn) activations
                th_cls, th = threshold_stage(layer.thresholds, pool.out_length, fold.pe, mv.width)
                stages.append((th_cls, (th,)))
                lanes, lane_bits = fold.pe, th.out_bits
            else:
                head = HeadParams(desc.head, pool.out_length, fold.pe, mv.width)
                stages.append((HeadLayer, (head,)))
        except LayerConfigError as exc:
            raise LayerConfigError(f"{where}: {exc}") from exc
    return stages


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
