"""Metadata header: a graph with a second input (e.g. age and sex, late-fused before the head)
takes it on the one input stream, as the first beats of each window, and this layer splits them
off onto the metadata input's own stream.

Stream format (one window): ``header_beats`` beats whose lanes hold the metadata channels,
channel ``j`` in lane ``j`` (lane 0 in the low bits of the first beat; the lanes after the last
channel are zeros), then the ``window_beats`` beats of the ECG. Python model: :func:`split_header`.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..stream import AxiStreamSignature
from .common import RegisterSlice, check


def header_beats(channels: int, lanes: int) -> int:
    """Beats of ``lanes`` lanes that carry ``channels`` metadata values: ``ceil(channels /
    lanes)``."""
    return -(-channels // lanes)


def split_header(samples: np.ndarray, channels: int, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Python model: a window's stream values int ``[header_beats * lanes + window]`` →
    ``(metadata [channels], ECG values [window])``."""
    h = header_beats(channels, lanes) * lanes
    return samples[:channels], samples[h:]


class HeaderSplit(wiring.Component):
    """Routes each window's first ``header_beats`` beats (collected into one word) to
    ``m_axis_1`` and its next ``window_beats`` beats to ``m_axis``, one beat a cycle.

    The metadata word waits in a register for its consumer (late in the graph, at a Concat) while
    the window's beats go on; the next window's header is taken once it has left.

    Members
    -------
    s_axis : In(AxiStreamSignature(width))
        Header beats, then window beats.
    m_axis : Out(AxiStreamSignature(width))
        The window beats, ``tlast`` on the last (the layer counts beats; the input's ``tlast``
        is not used).
    m_axis_1 : Out(AxiStreamSignature(meta_width))
        One beat a window: the low ``meta_width`` bits of the header.
    """

    def __init__(self, width: int, meta_width: int, header_beats: int, window_beats: int) -> None:
        check(header_beats >= 1 and window_beats >= 1, "header and window need a beat each")
        check(meta_width <= header_beats * width, "the metadata does not fit its header beats")
        self.width, self.meta_width = width, meta_width
        self.header_beats, self.window_beats = header_beats, window_beats
        super().__init__({"s_axis": In(AxiStreamSignature(width)),
                          "m_axis": Out(AxiStreamSignature(width)),
                          "m_axis_1": Out(AxiStreamSignature(meta_width))})  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        h, n, w = self.header_beats, self.window_beats, self.width
        m.submodules.out = out = RegisterSlice(w)  # registered window beats
        wiring.connect(m, out.m_axis, wiring.flipped(self.m_axis))
        s, o, meta = self.s_axis, out.s_axis, self.m_axis_1
        count = Signal(range(h + n))
        word = Signal(h * w)
        full = Signal()  # the metadata word is waiting for its consumer
        m.d.comb += [meta.tdata.eq(word[: self.meta_width]), meta.tvalid.eq(full),
                     meta.tlast.eq(1), o.tdata.eq(s.tdata),
                     o.tlast.eq(count == h + n - 1)]  # fmt: skip
        with m.If(meta.tvalid & meta.tready):
            m.d.sync += full.eq(0)
        with m.If(count < h):
            m.d.comb += s.tready.eq(~full)
            with m.If(s.tvalid & ~full):
                m.d.sync += [word.eq(Cat(word[w:], s.tdata)), count.eq(count + 1)]
                with m.If(count == h - 1):
                    m.d.sync += full.eq(1)
        with m.Else():
            m.d.comb += [o.tvalid.eq(s.tvalid), s.tready.eq(o.tready)]
            with m.If(s.tvalid & o.tready):
                m.d.sync += count.eq(Mux(count == h + n - 1, 0, count + 1))
        return m

    def estimate_cycles(self, n_beats: int | None = None) -> int:
        """One beat a cycle: ``header_beats + window_beats`` a window (the output slice adds a
        cycle of latency, not of interval)."""
        return self.header_beats + self.window_beats if n_beats is None else n_beats

    def estimate_resources(self) -> dict[str, int]:
        """The header word's register, a beat counter and its compare, the ready/valid logic,
        the output register slice."""
        cbits = (self.header_beats + self.window_beats).bit_length()
        sl = RegisterSlice.estimate_resources(self.width)
        return {"lut": 2 * cbits + 4 + sl["lut"],
                "ff": self.header_beats * self.width + cbits + 1 + sl["ff"],
                "bram": 0, "dsp": 0}  # fmt: skip
