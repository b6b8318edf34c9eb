"""Thresholding layer (FINN's ``Thresholding``, here the two-threshold form of
:class:`~ecgaccel.hw.description.Thresholds`): ``bit = invert XOR (m >= hi OR m <= lo)``.

Takes the channel-folded stream of pooled accumulators (``PE`` channels a beat, ``C / PE``
beats a position) and emits ``PE`` bits a beat, the next layer's bipolar input. The Python
model is :func:`threshold_model`; it equals :meth:`Thresholds.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..description import Thresholds
from ..primitives import threshold_bit
from ..stream import AxiStreamSignature
from .common import RegisterSlice, bram18, check, lutram, output_slice, signed_bits, wrap_inc


@dataclass(frozen=True)
class ThresholdParams:
    """Parameters of a :class:`ThresholdLayer`.

    Attributes
    ----------
    thresholds:
        ``lo``, ``hi``, ``invert`` of ``C`` channels.
    length:
        Positions of one frame (``tlast`` on the last output beat).
    pe:
        Channels a beat; must divide ``C``.
    in_width:
        Bits of a signed input lane.
    """

    thresholds: Thresholds
    length: int
    pe: int = 1
    in_width: int = 16

    def __post_init__(self) -> None:
        th = self.thresholds
        n = len(th.lo)
        check(n >= 1 and len(th.hi) == n and len(th.invert) == n,
              "threshold lo/hi/invert must have one entry per channel")  # fmt: skip
        check(self.length >= 1, f"threshold length must be ≥ 1, got {self.length}")
        check(self.pe >= 1 and n % self.pe == 0,
              f"threshold pe={self.pe} does not divide channels={n}")  # fmt: skip
        check(self.in_width >= 1, f"threshold in_width must be ≥ 1, got {self.in_width}")

    @property
    def channels(self) -> int:
        """``C``."""
        return len(self.thresholds.lo)

    @property
    def nf(self) -> int:
        """Beats a position: ``C / PE``."""
        return self.channels // self.pe

    @property
    def tw(self) -> int:
        """Compare width: the input's, widened to hold every ``lo``/``hi``."""
        th = self.thresholds
        vals = [int(v) for v in (*th.lo, *th.hi)]
        return max(self.in_width, signed_bits(min(vals), max(vals)))


def threshold_model(in_lanes: np.ndarray, p: ThresholdParams) -> np.ndarray:
    """Output lanes of :class:`ThresholdLayer`: int ``[length * C / PE, PE]`` → uint8 bits of the
    same shape (lane ``q`` of beat ``t * NF + n`` is channel ``n * PE + q`` at position ``t``)."""
    x = np.asarray(in_lanes, dtype=np.int64).reshape(-1, p.nf, p.pe)
    th = p.thresholds
    lo, hi, inv = (np.asarray(a).reshape(p.nf, p.pe) for a in (th.lo, th.hi, th.invert))
    return (((x >= hi) | (x <= lo)) ^ inv).astype(np.uint8).reshape(-1, p.pe)


def threshold_words(p: ThresholdParams) -> list[int]:
    """Threshold ROM image: word ``n`` holds, for lane ``q`` at bit ``q * (2 tw + 1)``,
    ``lo`` (``tw`` bits, two's complement), ``hi``, then ``invert`` of channel ``n * PE + q``
    (the lane layout of :mod:`ecgaccel.hw.core_plan`'s threshold ROM)."""
    tw, mask = p.tw, (1 << p.tw) - 1
    th = p.thresholds
    words = []
    for n in range(p.nf):
        word = 0
        for q in range(p.pe):
            c = n * p.pe + q
            lane = (int(th.lo[c]) & mask) | ((int(th.hi[c]) & mask) << tw)
            word |= (lane | (int(bool(th.invert[c])) << (2 * tw))) << (q * (2 * tw + 1))
        words.append(word)
    return words


class ThresholdLayer(wiring.Component):
    """Streaming thresholds of ``PE`` channels a beat, thresholds in a ROM of ``C / PE`` words.

    Two stages: the input beat is taken and its fold's threshold word read; then the ``PE``
    compares go into the output :class:`~.common.RegisterSlice`. One beat a cycle.

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * in_width))
        Pooled accumulators, lane ``q`` of beat ``n`` (of a position) = channel ``n * PE + q``,
        signed. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE))
        Bit ``q`` = output bit of the same channel (1 = +1); ``tlast`` on the last beat of a
        frame (``length * C / PE`` beats).
    """

    def __init__(self, params: ThresholdParams) -> None:
        self.p = params
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(params.pe * params.in_width)),
                "m_axis": Out(AxiStreamSignature(params.pe)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.p
        PE, NF, tw, iw = p.pe, p.nf, p.tw, p.in_width
        lw = 2 * tw + 1
        m.submodules.rom = rom = Memory(shape=PE * lw, depth=NF, init=threshold_words(p))
        rd = rom.read_port()
        out, advance = output_slice(m, self, PE)
        s = self.s_axis
        take = advance & s.tvalid

        nf = Signal(range(NF))
        pos = Signal(range(p.length))
        m.d.comb += [rd.addr.eq(nf), rd.en.eq(advance)]
        b_valid, b_last = Signal(), Signal()
        b_x = Signal(PE * iw)
        with m.If(advance):
            m.d.sync += [b_valid.eq(s.tvalid), b_x.eq(s.tdata),
                         b_last.eq((pos == p.length - 1) & (nf == NF - 1))]  # fmt: skip
        with m.If(take):
            with m.If(nf == NF - 1):
                m.d.sync += [nf.eq(0), pos.eq(wrap_inc(pos, p.length))]
            with m.Else():
                m.d.sync += nf.eq(nf + 1)
        w = rd.data
        bits = [
            threshold_bit(b_x[q * iw : (q + 1) * iw].as_signed(),
                          w[q * lw : q * lw + tw].as_signed(),
                          w[q * lw + tw : q * lw + 2 * tw].as_signed(),
                          w[q * lw + 2 * tw])
            for q in range(PE)
        ]  # fmt: skip
        m.d.comb += [out.s_axis.tvalid.eq(b_valid), out.s_axis.tlast.eq(b_last),
                     out.s_axis.tdata.eq(Cat(*bits))]  # fmt: skip
        return m

    def estimate_cycles(self) -> int:
        """One beat a cycle: ``length * C / PE`` (plus 2 pipeline cycles)."""
        return self.p.length * self.p.nf + 2

    def estimate_resources(self) -> dict[str, int]:
        """Per lane two ``tw``-bit comparators (≈ ``tw`` LUTs each) and the XOR; the
        ``C / PE × PE (2 tw + 1)`` threshold ROM; the input register and the output slice."""
        p = self.p
        rw = p.pe * (2 * p.tw + 1)
        sl = RegisterSlice.estimate_resources(p.pe)
        cbits = max(p.length * p.nf, 2).bit_length()
        return {
            "lut": p.pe * (2 * p.tw + 1) + 3 * cbits + sl["lut"] + lutram(rw, p.nf),
            "ff": p.pe * p.in_width + cbits + 2 + sl["ff"],
            "bram": bram18(rw, p.nf),
            "dsp": 0,
        }
