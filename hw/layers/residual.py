"""A residual block as a fork and a join: ``DuplicateStreams`` → main path (SWG → MVAU → pool →
thresholds, :func:`~.chain.conv_block_layers`) and skip path (a FIFO) → ``AddStreams``.

The fork hands a beat to both paths at once, so it stops as soon as either path cannot take
one. Until the main path emits its first beat, every beat the fork has passed waits on the skip
path: if the skip path holds fewer than that, the fork stops, the main path never gets the
input its first window needs, and the block deadlocks. :func:`skip_fifo_depth` computes the
depth that avoids it (the main path's fill, in beats, plus what its stages' register slices
hold); the test runs the block at that depth at the estimated initiation interval and shows
that a shallower FIFO deadlocks and is caught by the bench's watchdog.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..stream import AxiStreamSignature
from .chain import StreamChain
from .common import check
from .fifo import StreamFifo
from .graph_ops import AddParams, AddStreamsLayer, DuplicateStreamsLayer
from .mvau import MVAU
from .swg import SlidingWindowGenerator

SLICE_BEATS = 2
"""Beats one stage's output register slice holds (:class:`~.common.RegisterSlice`)."""


def main_path_fill(stages: Sequence[wiring.Component]) -> int:
    """Beats a main path takes before its first output beat, at most: its SWG's beats for the
    first window (``(K - pad_left) * C / SIMD``) plus :data:`SLICE_BEATS` per stage and an MVAU
    fold's input beats (``SF``) per stage that accumulates."""
    beats = 0
    for st in stages:
        if isinstance(st, SlidingWindowGenerator):
            p = st.p
            beats += max(p.kernel - p.pad_left, 1) * (p.channels // p.simd)
        if isinstance(st, MVAU):
            beats += st.p.sf
        beats += SLICE_BEATS
    return beats


def skip_fifo_depth(stages: Sequence[wiring.Component]) -> int:
    """The skip path's FIFO depth for a main path of ``stages``: :func:`main_path_fill` less
    what the fork's own output slice holds, at least 2."""
    return max(main_path_fill(stages) - SLICE_BEATS, 2)


class ResidualBlock(wiring.Component):
    """``y = ka * main(x) + kb * x`` on streams: fork, main path ``stages``, skip FIFO of
    ``skip_depth`` beats (default :func:`skip_fifo_depth`), join.

    The main path's output and the input must have one beat layout (``PE`` lanes a beat, one
    position a beat when ``SIMD = PE = C``).

    Members
    -------
    s_axis : In(AxiStreamSignature(lanes * in_width))
    m_axis : Out(AxiStreamSignature(lanes * out_width))
    """

    def __init__(self, stages: Sequence[wiring.Component], lanes: int, in_width: int,
                 main_width: int, beats: int, ka: int = 1, kb: int = 1,
                 skip_depth: int | None = None) -> None:  # fmt: skip
        width = lanes * in_width
        check(stages[0].s_axis.tdata.shape().width == width,
              f"main path takes {stages[0].s_axis.tdata.shape().width}-bit beats, the block "
              f"{width}")  # fmt: skip
        check(stages[-1].m_axis.tdata.shape().width == lanes * main_width,
              "main path output is not lanes x main_width bits")  # fmt: skip
        self.main = StreamChain(stages)
        self.skip_depth = skip_fifo_depth(stages) if skip_depth is None else skip_depth
        self.fork = DuplicateStreamsLayer(width, 2, beats)
        self.skip = StreamFifo(width, self.skip_depth)
        self.add = AddStreamsLayer(AddParams(beats, lanes, main_width, in_width, ka, kb))
        out_width = lanes * self.add.params.out_width
        super().__init__({"s_axis": In(AxiStreamSignature(width)),
                          "m_axis": Out(AxiStreamSignature(out_width))})  # fmt: skip

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate: the slowest stage's (the fork and the join take a
        beat a cycle)."""
        return max([st.estimate_cycles() for st in self.main.stages]
                   + [self.fork.estimate_cycles(), self.add.estimate_cycles()])  # fmt: skip

    def estimate_resources(self) -> dict[str, int]:
        """Sum of the main path, the fork, the skip FIFO and the join."""
        total = dict(self.main.estimate_resources())
        for part in (self.fork, self.skip, self.add):
            for k, v in part.estimate_resources().items():
                total[k] += v
        return total

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.fork, m.submodules.main = self.fork, self.main
        m.submodules.skip, m.submodules.add = self.skip, self.add
        wiring.connect(m, wiring.flipped(self.s_axis), self.fork.s_axis)
        wiring.connect(m, self.fork.m_axis, self.main.s_axis)
        wiring.connect(m, self.fork.m_axis_1, self.skip.s_axis)
        wiring.connect(m, self.main.m_axis, self.add.s_axis)
        wiring.connect(m, self.skip.m_axis, self.add.s_axis_1)
        wiring.connect(m, self.add.m_axis, wiring.flipped(self.m_axis))
        return m
