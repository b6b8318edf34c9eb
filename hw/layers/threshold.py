"""Thresholding layers (FINN's ``Thresholding``) on the channel-folded stream of pooled
accumulators (``PE`` channels a beat, ``C / PE`` beats a position):

* :class:`ThresholdLayer`, the two-threshold form of
  :class:`~ecgaccel.hw.description.Thresholds` (binary activations):
  ``bit = invert XOR (m >= hi OR m <= lo)``, ``PE`` bits a beat, the next layer's bipolar input;
  model :func:`threshold_model`, equal to :meth:`Thresholds.apply`;
* :class:`MultiThresholdLayer`, :class:`~ecgaccel.hw.description.MultiThresholds` (n-bit
  activations; FINN's ``Thresholding`` with an output bias, each step with its own sign):
  ``level = base + sum_j sign_j * [m >= T_j]``, ``PE`` signed ``out_bits`` lanes a beat, the
  next layer's integer input; model :func:`multithreshold_model`, equal to
  :meth:`MultiThresholds.apply`.

Both share one stream skeleton (:class:`_ThresholdStream`): the input beat is taken and its
fold's ROM word (the parameters of its ``PE`` channels) read; then the ``PE`` lane functions go
into the output :class:`~.common.RegisterSlice`, ``tlast`` on the last beat of a frame. One beat
a cycle. :func:`threshold_stage` picks the layer for a description's activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..description import Activation, MultiThresholds, Thresholds
from ..primitives import popcount_tree, threshold_bit
from ..stream import AxiStreamSignature
from .common import (
    RegisterSlice,
    bram18,
    check,
    lutram,
    output_slice,
    signed_bits,
    wrap_inc,
)


class _ChannelFolded:
    """What the two thresholding layers' parameters share: ``length`` positions a frame,
    ``pe`` channels a beat (``C / PE`` beats a position), ``in_width``-bit signed inputs."""

    length: int
    pe: int
    in_width: int

    @property
    def channels(self) -> int:
        """``C``."""
        raise NotImplementedError

    @property
    def nf(self) -> int:
        """Beats a position: ``C / PE``."""
        return self.channels // self.pe

    def _check_folding(self, what: str) -> None:
        check(self.length >= 1, f"{what} length must be ≥ 1, got {self.length}")
        check(self.pe >= 1 and self.channels % self.pe == 0,
              f"{what} pe={self.pe} does not divide channels={self.channels}")  # fmt: skip
        check(self.in_width >= 1, f"{what} in_width must be ≥ 1, got {self.in_width}")


@dataclass(frozen=True)
class ThresholdParams(_ChannelFolded):
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
        self._check_folding("threshold")

    @property
    def channels(self) -> int:
        """``C``."""
        return len(self.thresholds.lo)

    @property
    def out_bits(self) -> int:
        """Bits of an output lane: 1 (bipolar, 1 = +1)."""
        return 1

    @property
    def tw(self) -> int:
        """Compare width: the input's, widened to hold every ``lo``/``hi``."""
        th = self.thresholds
        vals = [int(v) for v in (*th.lo, *th.hi)]
        return max(self.in_width, signed_bits(min(vals), max(vals)))

    @property
    def lane_bits(self) -> int:
        """ROM bits of one channel: ``lo``, ``hi`` (``tw`` each) and ``invert``."""
        return 2 * self.tw + 1


@dataclass(frozen=True)
class MultiThresholdParams(_ChannelFolded):
    """Parameters of a :class:`MultiThresholdLayer`.

    Attributes
    ----------
    thresholds:
        :class:`~ecgaccel.hw.description.MultiThresholds` of ``C`` channels, ``J`` steps each.
    length:
        Positions of one frame (``tlast`` on the last output beat).
    pe:
        Channels a beat; must divide ``C``.
    in_width:
        Bits of a signed input lane.
    """

    thresholds: MultiThresholds
    length: int
    pe: int = 1
    in_width: int = 16

    def __post_init__(self) -> None:
        mt = self.thresholds
        t, sg, base = (np.asarray(a) for a in (mt.thresholds, mt.sign, mt.base))
        check(t.ndim == 2 and t.shape[0] >= 1 and t.shape[1] >= 1,
              f"multithreshold thresholds must be [C, J], got {list(t.shape)}")  # fmt: skip
        check(sg.shape == t.shape, f"multithreshold sign must be {list(t.shape)}, "
                                   f"got {list(sg.shape)}")  # fmt: skip
        check(base.shape == (t.shape[0],), f"multithreshold base must have {t.shape[0]} "
                                           f"entries, got {list(base.shape)}")  # fmt: skip
        check(bool(np.all(np.abs(sg) == 1)), "multithreshold signs must all be -1 or +1")
        check(mt.out_bits >= 1, f"multithreshold out_bits must be ≥ 1, got {mt.out_bits}")
        lim = 1 << (mt.out_bits - 1)
        check(bool(np.all((base >= -lim) & (base < lim))),
              f"multithreshold base outside the signed {mt.out_bits}-bit range")  # fmt: skip
        self._check_folding("multithreshold")

    @property
    def channels(self) -> int:
        """``C``."""
        return int(np.asarray(self.thresholds.thresholds).shape[0])

    @property
    def steps(self) -> int:
        """``J``: thresholds (compares) of a channel."""
        return int(np.asarray(self.thresholds.thresholds).shape[1])

    @property
    def out_bits(self) -> int:
        """Bits of a signed output lane."""
        return self.thresholds.out_bits

    @property
    def levels(self) -> np.ndarray:
        """The thresholds int64 ``[C, J]`` clipped to ``[-2^(in_width-1), 2^(in_width-1)]``: the
        same compares on every ``in_width``-bit input (an unreachable padding step stays
        unreachable, one below the range stays always true), in at most ``in_width + 1``
        bits."""
        lim = 1 << (self.in_width - 1)
        return np.clip(np.asarray(self.thresholds.thresholds, dtype=np.int64), -lim, lim)

    @property
    def tw(self) -> int:
        """Compare width: the input's, widened to hold every clipped threshold."""
        t = self.levels
        return max(self.in_width, signed_bits(int(t.min()), int(t.max())))

    @property
    def lane_bits(self) -> int:
        """ROM bits of one channel: ``J`` thresholds (``tw`` each), ``J`` sign bits and the
        ``out_bits`` base."""
        return self.steps * (self.tw + 1) + self.out_bits


def threshold_model(in_lanes: np.ndarray, p: ThresholdParams) -> np.ndarray:
    """Output lanes of :class:`ThresholdLayer`: int ``[length * C / PE, PE]`` → uint8 bits of the
    same shape (lane ``q`` of beat ``t * NF + n`` is channel ``n * PE + q`` at position ``t``)."""
    x = np.asarray(in_lanes, dtype=np.int64).reshape(-1, p.nf, p.pe)
    th = p.thresholds
    lo, hi, inv = (np.asarray(a).reshape(p.nf, p.pe) for a in (th.lo, th.hi, th.invert))
    return (((x >= hi) | (x <= lo)) ^ inv).astype(np.uint8).reshape(-1, p.pe)


def multithreshold_model(in_lanes: np.ndarray, p: MultiThresholdParams) -> np.ndarray:
    """Output lanes of :class:`MultiThresholdLayer`: int ``[length * C / PE, PE]`` (signed
    ``in_width``-bit values) → int64 levels of the same shape (lane ``q`` of beat ``t * NF + n``
    is channel ``n * PE + q`` at position ``t``), compared with the clipped
    :attr:`~MultiThresholdParams.levels` as the hardware does."""
    x = np.asarray(in_lanes, dtype=np.int64).reshape(-1, p.nf, p.pe, 1)
    mt = p.thresholds
    t = p.levels.reshape(p.nf, p.pe, p.steps)
    sg = np.asarray(mt.sign, dtype=np.int64).reshape(p.nf, p.pe, p.steps)
    base = np.asarray(mt.base, dtype=np.int64).reshape(p.nf, p.pe)
    return (base + (sg * (x >= t)).sum(axis=-1)).reshape(-1, p.pe)


def threshold_words(p: ThresholdParams) -> list[int]:
    """Threshold ROM image: word ``n`` holds, for lane ``q`` at bit ``q * (2 tw + 1)``,
    ``lo`` (``tw`` bits, two's complement), ``hi``, then ``invert`` of channel ``n * PE + q``
    (the lane layout of :mod:`ecgaccel.hw.core_plan`'s threshold ROM)."""
    tw, mask = p.tw, (1 << p.tw) - 1
    th = p.thresholds
    lanes = [(int(th.lo[c]) & mask) | ((int(th.hi[c]) & mask) << tw)
             | (int(bool(th.invert[c])) << 2 * tw) for c in range(p.channels)]  # fmt: skip
    return _rom_words(lanes, p)


def multithreshold_words(p: MultiThresholdParams) -> list[int]:
    """Multi-threshold ROM image: word ``n`` holds, for lane ``q`` at bit ``q * lane_bits``
    (``lane_bits = J (tw + 1) + out_bits``), the parameters of channel ``n * PE + q``: threshold
    ``j`` (clipped, ``tw`` bits, two's complement) at bit ``j * tw``; the sign of step ``j`` at
    bit ``J * tw + j`` (1 = +1, 0 = -1, the bipolar convention); the base (``out_bits`` bits,
    two's complement) at bit ``J * (tw + 1)``."""
    tw, J, mt = p.tw, p.steps, p.thresholds
    mask = (1 << tw) - 1
    t = p.levels
    lanes = []
    for c in range(p.channels):
        lane = sum((int(t[c, j]) & mask) << (j * tw) for j in range(J))
        lane |= sum(int(mt.sign[c, j] > 0) << (J * tw + j) for j in range(J))
        lane |= (int(mt.base[c]) & ((1 << p.out_bits) - 1)) << (J * (tw + 1))
        lanes.append(lane)
    return _rom_words(lanes, p)


def _rom_words(lanes: list[int], p: ThresholdParams | MultiThresholdParams) -> list[int]:
    """ROM words from the ``C`` channel lanes: word ``n`` holds channel ``n * PE + q`` at bit
    ``q * lane_bits`` (Python ints: a word is often wider than numpy's 64 bits)."""
    lw = p.lane_bits
    return [sum(lanes[n * p.pe + q] << (q * lw) for q in range(p.pe)) for n in range(p.nf)]


class _ThresholdStream(wiring.Component):
    """The stream skeleton of the thresholding layers, ``PE`` channels a beat, the parameters of
    each fold's channels in one word of a ROM of ``C / PE`` words (``PE`` lanes of
    ``lane_bits``). Two stages: the input beat is taken and its fold's word read; then
    :meth:`_lane` of each channel goes into the output :class:`~.common.RegisterSlice`. One
    beat a cycle; ``tlast`` on the last beat of a frame (``length * C / PE`` beats).

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * in_width))
        Pooled accumulators, lane ``q`` of beat ``n`` (of a position) = channel ``n * PE + q``,
        signed. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE * out_bits))
        Lane ``q`` = the output of the same channel.
    """

    def __init__(self, params: ThresholdParams | MultiThresholdParams) -> None:
        self.p = params
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(params.pe * params.in_width)),
                "m_axis": Out(AxiStreamSignature(params.pe * params.out_bits)),
            }
        )

    def _rom_words(self) -> list[int]:
        raise NotImplementedError

    def _lane(self, x: Value, w: Value) -> Value:
        """The output lane (``out_bits`` bits) of signed input ``x`` with ROM lane ``w``."""
        raise NotImplementedError

    def _lane_luts(self) -> int:
        """Estimated LUTs of one :meth:`_lane`."""
        raise NotImplementedError

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.p
        PE, NF, iw, lw = p.pe, p.nf, p.in_width, p.lane_bits
        m.submodules.rom = rom = Memory(shape=PE * lw, depth=NF, init=self._rom_words())
        rd = rom.read_port()
        out, advance = output_slice(m, self, PE * p.out_bits)
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
        lanes = [self._lane(b_x[q * iw : (q + 1) * iw].as_signed(), w[q * lw : (q + 1) * lw])
                 for q in range(PE)]  # fmt: skip
        m.d.comb += [out.s_axis.tvalid.eq(b_valid), out.s_axis.tlast.eq(b_last),
                     out.s_axis.tdata.eq(Cat(*lanes))]  # fmt: skip
        return m

    def estimate_cycles(self) -> int:
        """One beat a cycle: ``length * C / PE`` (plus 2 pipeline cycles)."""
        return self.p.length * self.p.nf + 2

    def estimate_resources(self) -> dict[str, int]:
        """LUTs: ``PE`` lane functions (:meth:`_lane_luts`), the counters, the output slice and
        the ``C / PE × PE * lane_bits`` ROM (distributed RAM up to 1 kbit, else block RAM). FFs:
        the input register, the counters, the slice."""
        p = self.p
        rw = p.pe * p.lane_bits
        sl = RegisterSlice.estimate_resources(p.pe * p.out_bits)
        cbits = max(p.length * p.nf, 2).bit_length()
        return {
            "lut": p.pe * self._lane_luts() + 3 * cbits + sl["lut"] + lutram(rw, p.nf),
            "ff": p.pe * p.in_width + cbits + 2 + sl["ff"],
            "bram": bram18(rw, p.nf),
            "dsp": 0,
        }


class ThresholdLayer(_ThresholdStream):
    """Streaming two-threshold compares (:class:`~ecgaccel.hw.description.Thresholds`), ``PE``
    channels a beat, ROM layout :func:`threshold_words`.

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * in_width))
        Pooled accumulators, lane ``q`` of beat ``n`` (of a position) = channel ``n * PE + q``,
        signed. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE))
        Bit ``q`` = output bit of the same channel (1 = +1); ``tlast`` on the last beat of a
        frame (``length * C / PE`` beats).
    """

    p: ThresholdParams

    def _rom_words(self) -> list[int]:
        return threshold_words(self.p)

    def _lane(self, x: Value, w: Value) -> Value:
        tw = self.p.tw
        return threshold_bit(x, w[:tw].as_signed(), w[tw : 2 * tw].as_signed(), w[2 * tw])

    def _lane_luts(self) -> int:
        """Two ``tw``-bit comparators (≈ ``tw`` LUTs each) and the XOR."""
        return 2 * self.p.tw + 1


class MultiThresholdLayer(_ThresholdStream):
    """Streaming multi-thresholds (:class:`~ecgaccel.hw.description.MultiThresholds`, FINN's
    ``Thresholding`` with ``out_bias`` and per-step signs), ``PE`` channels a beat, ROM layout
    :func:`multithreshold_words`. Per lane, ``J`` parallel compares ``x >= T_j``; the level is
    ``base + #(passed steps of sign +1) - #(passed steps of sign -1)``, computed modulo
    ``2^out_bits`` (exact: every level lies in the signed ``out_bits`` range).

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * in_width))
        Pooled accumulators, lane ``q`` of beat ``n`` (of a position) = channel ``n * PE + q``,
        signed. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE * out_bits))
        Lane ``q`` = the signed ``out_bits``-bit level of the same channel; ``tlast`` on the last
        beat of a frame (``length * C / PE`` beats).
    """

    p: MultiThresholdParams

    def _rom_words(self) -> list[int]:
        return multithreshold_words(self.p)

    def _lane(self, x: Value, w: Value) -> Value:
        p = self.p
        tw, J, ob = p.tw, p.steps, p.out_bits
        passed = Cat(*(x >= w[j * tw : (j + 1) * tw].as_signed() for j in range(J)))
        sign = w[J * tw : J * (tw + 1)]
        base = w[J * (tw + 1) : J * (tw + 1) + ob].as_signed()
        level = base + popcount_tree(passed & sign) - popcount_tree(passed & ~sign)
        return level[:ob]

    def _lane_luts(self) -> int:
        """``J`` ``tw``-bit comparators (≈ ``tw`` LUTs each; FINN's ``comp_luts`` with ``J``
        steps for ``2^B - 1``), two ``J``-input popcounts (≈ ``J`` LUTs together) and the
        three-input ``out_bits`` adder (≈ ``2 out_bits``)."""
        p = self.p
        return p.steps * (p.tw + 1) + 2 * p.out_bits


def threshold_stage(
    act: Activation, length: int, pe: int, in_width: int
) -> tuple[type[_ThresholdStream], ThresholdParams | MultiThresholdParams]:
    """The thresholding layer of a description's activation: ``(ThresholdLayer,
    ThresholdParams)`` for :class:`Thresholds`, ``(MultiThresholdLayer, MultiThresholdParams)``
    for :class:`MultiThresholds` (building the parameters checks them). The output lanes are
    ``params.out_bits`` bits wide."""
    if isinstance(act, MultiThresholds):
        return MultiThresholdLayer, MultiThresholdParams(act, length, pe, in_width)
    return ThresholdLayer, ThresholdParams(act, length, pe, in_width)
