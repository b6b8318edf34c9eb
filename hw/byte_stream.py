"""A byte-wide stream wrapper around either back end, for packages with few IOs.

iCE40 UP5K-SG48 has 39 user IOs; the core's 64-bit input and 32-bit output streams do not fit.
:class:`ByteStreamCore` wraps the hand-written core (:class:`~.bnn_core.BnnCore`, a
:class:`~.core_plan.CorePlan`) or the dataflow pipeline
(:class:`~.dataflow.DataflowPipeline`, a :class:`~.dataflow.DataflowPlan`): both have the same
streams. It takes the window as a byte stream (``in_lanes`` bytes per core beat,
little-endian: byte ``b`` of a beat is sample ``b``) and returns each output word as
``out_width / 8`` bytes, little-endian, with ``tlast`` on the last byte of the class word. It is
what placement and routing see (23 IOs with clock and reset) and the base of a UART/SPI top.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bnn_core import BnnCore
from .core_plan import CorePlan
from .dataflow import DataflowPipeline, DataflowPlan
from .graph_dataflow import GraphPipeline, GraphPlan
from .stream import AxiStreamSignature

InnerPlan = CorePlan | DataflowPlan | GraphPlan
"""The plan of a wrapped back end."""


def inner_design(plan: InnerPlan) -> wiring.Component:
    """The back end's component of ``plan``: the core, the chain's dataflow pipeline or a
    graph's (:class:`~.graph_dataflow.GraphPipeline`: its metadata header comes first in the
    byte stream, padded to ``in_lanes`` bytes)."""
    if isinstance(plan, GraphPlan):
        return GraphPipeline(plan)
    return DataflowPipeline(plan) if isinstance(plan, DataflowPlan) else BnnCore(plan)


class ByteStreamCore(wiring.Component):
    """A back end (:func:`inner_design` of ``plan``) with 8-bit AXI-Stream ports.

    Members
    -------
    s_axis : In(AxiStreamSignature(8))
        Samples, one int8 per byte, in order.
    m_axis : Out(AxiStreamSignature(8))
        Scores then class, each ``ceil(out_width / 8)`` bytes little-endian (zero-extended).
    """

    def __init__(self, plan: InnerPlan) -> None:
        if plan.input_bits != 8:
            raise ValueError("the byte wrapper needs 8-bit samples")
        self.plan = plan
        super().__init__({"s_axis": In(AxiStreamSignature(8)),
                          "m_axis": Out(AxiStreamSignature(8))})  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.plan
        m.submodules.core = core = inner_design(p)
        # input: gather in_lanes bytes, then offer one core beat
        gather = Signal(8 * p.in_lanes)
        count = Signal(range(p.in_lanes + 1))
        full = Signal()
        m.d.comb += [
            self.s_axis.tready.eq(~full),
            core.s_axis.tdata.eq(gather),
            core.s_axis.tvalid.eq(full),
        ]
        with m.If(self.s_axis.tvalid & ~full):
            m.d.sync += gather.eq((gather >> 8) | (self.s_axis.tdata << (8 * (p.in_lanes - 1))))
            m.d.sync += count.eq(count + 1)
            with m.If(count == p.in_lanes - 1):
                m.d.sync += [full.eq(1), count.eq(0)]
        with m.If(full & core.s_axis.tready):
            m.d.sync += full.eq(0)
        # output: split each core word into bytes
        n_bytes = ByteStreamPlan(p).out_bytes
        word = Signal(8 * n_bytes)  # zero-extended: the host reads the low out_width bits
        last = Signal()
        left = Signal(range(n_bytes + 1))
        m.d.comb += [
            core.m_axis.tready.eq(left == 0),
            self.m_axis.tdata.eq(word[:8]),
            self.m_axis.tvalid.eq(left != 0),
            self.m_axis.tlast.eq(last & (left == 1)),
        ]
        with m.If(core.m_axis.tvalid & (left == 0)):
            m.d.sync += [word.eq(core.m_axis.tdata), last.eq(core.m_axis.tlast), left.eq(n_bytes)]
        with m.If(self.m_axis.tvalid & self.m_axis.tready):
            m.d.sync += [word.eq(word >> 8), left.eq(left - 1)]
        return m


@dataclass(frozen=True)
class ByteStreamPlan:
    """The stream shape of :class:`ByteStreamCore` for ``core``, in the terms the simulation
    flow reads (``ecgaccel.sim.core_sim``): one int8 sample a beat in; ``out_bytes`` bytes a
    ``word_width``-bit output word out (scores, then the class)."""

    core: InnerPlan

    in_lanes = 1
    input_bits = 8

    @property
    def in_beats(self) -> int:
        """Input beats of one window: one a sample."""
        return self.core.in_beats * self.core.in_lanes

    @property
    def out_width(self) -> int:
        """Bits of an output beat: a byte."""
        return 8

    @property
    def word_width(self) -> int:
        """Bits of an output word (a score or the class), sent as :attr:`out_bytes` bytes."""
        return self.core.out_width

    @property
    def out_bytes(self) -> int:
        """Bytes of an output word, least significant first (a word that is not a whole number
        of bytes, e.g. a 17-bit score, is zero-extended to the next byte)."""
        return -(-self.core.out_width // 8)

    @property
    def n_classes(self) -> int:
        """Classes (score words before the class word)."""
        return self.core.n_classes
