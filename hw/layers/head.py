"""Global sum pooling, the fixed-point classifier head and label select (FINN's
``GlobalAccPool`` + ``LabelSelect``, with the head of :class:`~ecgaccel.hw.description.SumHead`).

Per class ``c`` (one channel of the last layer's pooled accumulators ``m``)::

    score[c] = a_pos[c] * sum_t max(m[c, t], 0) + a_neg[c] * sum_t min(m[c, t], 0) + bias[c]

then the predicted class ``argmax(score)`` (lowest index on ties). The output stream is the
hand-written core's (:mod:`ecgaccel.hw.bnn_core`): ``n_classes`` beats of scores (two's
complement, sign-extended to ``tdata``), then one beat with the class index and ``tlast``. The
Python model is :func:`head_model`; it equals ``models.reference.head_scores``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..description import SumHead
from ..stream import AxiStreamSignature
from .common import RegisterSlice, check, wrap_inc


@dataclass(frozen=True)
class HeadParams:
    """Parameters of a :class:`HeadLayer`.

    Attributes
    ----------
    head:
        Coefficients ``a_pos``, ``a_neg``, ``bias`` (one per class).
    length:
        Positions of one frame (the head's sum length).
    pe:
        Classes a beat; must divide ``n_classes``.
    in_width:
        Bits of a signed input lane.
    out_width:
        Bits of an output beat; default :attr:`default_out_width` (the core's rule).
    """

    head: SumHead
    length: int
    pe: int = 1
    in_width: int = 16
    out_width: int | None = None

    def __post_init__(self) -> None:
        n = len(self.head.a_pos)
        check(n >= 1 and len(self.head.a_neg) == n and len(self.head.bias) == n,
              "head a_pos/a_neg/bias must have one entry per class")  # fmt: skip
        check(self.length >= 1, f"head length must be ≥ 1, got {self.length}")
        check(self.pe >= 1 and n % self.pe == 0,
              f"head pe={self.pe} does not divide n_classes={n}")  # fmt: skip
        check(self.in_width >= 2, f"head in_width must be ≥ 2, got {self.in_width}")
        check(
            self.out_width is None or self.out_width >= self.default_out_width,
            f"head out_width={self.out_width} below the {self.default_out_width} bits needed",
        )

    @property
    def n_classes(self) -> int:
        """Classes (input channels)."""
        return len(self.head.a_pos)

    @property
    def nf(self) -> int:
        """Beats a position: ``n_classes / PE``."""
        return self.n_classes // self.pe

    @property
    def sum_width(self) -> int:
        """Bits of the unsigned positive sum (``length * 2^(in_width - 1)`` at most)."""
        return (self.length << (self.in_width - 1)).bit_length()

    @property
    def score_width(self) -> int:
        """Signed bits of a score: ``(max|a_pos| + max|a_neg|) * max sum + max|bias|``."""
        h = self.head
        amax = int(np.abs(h.a_pos).max()) + int(np.abs(h.a_neg).max())
        bound = amax * (self.length << (self.in_width - 1)) + int(np.abs(h.bias).max())
        return bound.bit_length() + 1

    @property
    def default_out_width(self) -> int:
        """``max(32, score_width rounded up to bytes, bits of the class index)``."""
        return max(32, -(-self.score_width // 8) * 8, self.n_classes.bit_length())

    @property
    def width(self) -> int:
        """Bits of an output beat."""
        return self.out_width or self.default_out_width


def head_model(in_lanes: np.ndarray, p: HeadParams) -> tuple[np.ndarray, int]:
    """Scores int64 ``[n_classes]`` and the class of one frame of input lanes
    int ``[length * n_classes / PE, PE]`` (lane ``q`` of beat ``t * NF + n`` = class
    ``n * PE + q`` at position ``t``), summed beat by beat as the hardware does."""
    x = np.asarray(in_lanes, dtype=np.int64).reshape(p.length, p.n_classes)
    pos = np.zeros(p.n_classes, dtype=np.int64)
    neg = np.zeros(p.n_classes, dtype=np.int64)
    for row in x:
        pos += np.maximum(row, 0)
        neg += np.minimum(row, 0)
    h = p.head
    scores = h.a_pos * pos + h.a_neg * neg + h.bias
    best = 0
    for c in range(1, p.n_classes):
        if scores[c] > scores[best]:
            best = c
    return scores.astype(np.int64), best


def head_output_words(scores: np.ndarray, cls: int, width: int) -> list[int]:
    """Output beats of one frame: the scores (two's complement in ``width`` bits), the class."""
    mask = (1 << width) - 1
    return [int(s) & mask for s in scores] + [int(cls)]


class HeadLayer(wiring.Component):
    """Sum pooling into per-class registers, then the scores one class a cycle and the class.

    While receiving, each beat adds ``max(m, 0)`` and ``min(m, 0)`` of its ``PE`` classes to
    their sums (one cycle a beat). After the frame's last beat, ``s_axis.tready`` goes low and
    class ``c``'s score (two constant-coefficient multiplies and adds) goes to the output
    :class:`~.common.RegisterSlice` in cycle ``c``; the running best (strictly greater wins, so
    the lowest index wins ties) follows, then the class beat; then the sums clear.

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * in_width))
        The last layer's pooled values, lane ``q`` of beat ``n`` (of a position) = class
        ``n * PE + q``, signed. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(width))
        ``n_classes`` score beats (signed, sign-extended), then the class index with ``tlast``.
    """

    def __init__(self, params: HeadParams) -> None:
        self.p = params
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(params.pe * params.in_width)),
                "m_axis": Out(AxiStreamSignature(params.width)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.p
        PE, NF, C, iw, sw, W = p.pe, p.nf, p.n_classes, p.in_width, p.sum_width, p.width
        h = p.head
        m.submodules.out = out = RegisterSlice(W)
        wiring.connect(m, out.m_axis, wiring.flipped(self.m_axis))
        s = self.s_axis

        pos = [Signal(unsigned(sw), name=f"pos{c}") for c in range(C)]
        neg = [Signal(signed(sw + 1), name=f"neg{c}") for c in range(C)]
        nf = Signal(range(NF))
        t = Signal(range(p.length))
        c_idx = Signal(range(C))
        score = Signal(signed(p.score_width))
        best = Signal(signed(p.score_width))
        best_c = Signal(range(C))
        cw = max(int(np.abs(h.a_pos).max()), int(np.abs(h.a_neg).max())).bit_length() + 1
        a_pos = Array(Const(int(v), signed(cw)) for v in h.a_pos)
        a_neg = Array(Const(int(v), signed(cw)) for v in h.a_neg)
        bias = Array(Const(int(v), signed(p.score_width)) for v in h.bias)
        m.d.comb += score.eq(a_pos[c_idx] * Array(pos)[c_idx] + a_neg[c_idx] * Array(neg)[c_idx]
                             + bias[c_idx])  # fmt: skip
        push = out.s_axis.tready

        with m.FSM(init="ACC"):
            with m.State("ACC"):
                m.d.comb += s.tready.eq(1)
                with m.If(s.tvalid):
                    for q in range(PE):
                        x = s.tdata[q * iw : (q + 1) * iw].as_signed()
                        for n in range(NF):
                            c = n * PE + q
                            with m.If(nf == n):
                                m.d.sync += [pos[c].eq(pos[c] + Mux(x > 0, x, 0)),
                                             neg[c].eq(neg[c] + Mux(x < 0, x, 0))]  # fmt: skip
                    m.d.sync += nf.eq(wrap_inc(nf, NF))
                    with m.If(nf == NF - 1):
                        m.d.sync += t.eq(wrap_inc(t, p.length))
                        with m.If(t == p.length - 1):
                            m.next = "SCORE"
            with m.State("SCORE"):
                m.d.comb += [out.s_axis.tvalid.eq(1), out.s_axis.tdata.eq(score)]
                with m.If(push):
                    with m.If((c_idx == 0) | (score > best)):
                        m.d.sync += [best.eq(score), best_c.eq(c_idx)]
                    m.d.sync += c_idx.eq(wrap_inc(c_idx, C))
                    with m.If(c_idx == C - 1):
                        m.next = "CLASS"
            with m.State("CLASS"):
                m.d.comb += [out.s_axis.tvalid.eq(1), out.s_axis.tdata.eq(best_c),
                             out.s_axis.tlast.eq(1)]  # fmt: skip
                with m.If(push):
                    m.d.sync += [*(v.eq(0) for v in pos), *(v.eq(0) for v in neg)]
                    m.next = "ACC"
        return m

    def estimate_cycles(self) -> int:
        """``length * n_classes / PE`` input beats, ``n_classes + 1`` output beats, one cycle of
        output-slice latency."""
        p = self.p
        return p.length * p.nf + p.n_classes + 2

    def estimate_resources(self) -> dict[str, int]:
        """Two sum registers per class (``sum_width`` bits each) with their adders and clamps
        (≈ 2 LUTs per bit); the score datapath: two ``cw × sum_width`` multipliers (one DSP per
        started 18 × 25 tile each), an adder, the best-score compare; the output slice."""
        p = self.p
        sw, W = p.sum_width, p.width
        h = p.head
        cw = max(int(np.abs(h.a_pos).max()), int(np.abs(h.a_neg).max())).bit_length() + 1
        dsp_each = -(-cw // 18) * -(-(sw + 1) // 25)
        sl = RegisterSlice.estimate_resources(W)
        return {
            "lut": p.n_classes * 2 * 2 * (sw + 1) + 3 * p.score_width + sl["lut"],
            "ff": p.n_classes * (2 * sw + 1) + p.score_width + 16 + sl["ff"],
            "bram": 0,
            "dsp": 2 * dsp_each,
        }
