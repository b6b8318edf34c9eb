"""Sliding-window generator over time, 1-D or lead x time (FINN's
``ConvolutionInputGenerator1D`` / ``ConvolutionInputGenerator``).

Turns a stream of feature-map columns into the stream of convolution windows an
:class:`~.mvau.MVAU` multiplies. A column is one time step: ``H`` rows (leads; 1 for a 1-D
map) of ``C`` channels, row-major (element ``h * C + c``). For each conv position ``t`` and
output row ``y`` the window is the ``K`` padded columns ``t * S … t * S + K - 1`` of the ``KH``
padded rows ``y * SH … y * SH + KH - 1``, flattened tap-major (element ``(k * KH + r) * C + c``,
the weight layout of :func:`~.mvau.conv_weight_matrix`), ``SIMD`` elements a beat. With
``H = KH = 1`` this is the 1-D window of :mod:`ecgaccel.hw.core_plan`. Padding columns and
rows are generated inside (they are not in the input stream).

The time-major order (FINN's 2-D generator with its image transposed: FINN's rows are our time
steps, its columns our leads) keeps only ``K + S`` columns of all leads in the line buffer,
never a whole lead. The Python model is :func:`swg_model`; it equals the window extraction of
:func:`ecgaccel.hw.semantics.conv2d`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..description import ConvLayer
from ..stream import AxiStreamSignature
from .common import bram18, check, columns_to_beats, lutram


@dataclass(frozen=True)
class SwgParams:
    """Parameters of a sliding-window generator.

    Attributes
    ----------
    channels:
        ``C``: channels of a column.
    in_length:
        ``L``: columns of one frame (without padding).
    kernel, stride:
        ``K``, ``S`` in columns.
    pad_left, pad_right:
        Padding columns before / after the input.
    pad_value:
        Value of every padded element: an integer for an integer input, -1 or +1 for a bipolar
        one (sent as the bit 0 / 1).
    simd:
        Elements a beat; must divide ``C``.
    elem_bits:
        Bits of a signed integer element, or ``None`` for a bipolar (1-bit) element.
    rows, kernel_rows, stride_rows, pad_top, pad_bottom:
        ``H`` rows (leads) of a column, ``KH`` / ``SH`` the kernel and stride over rows, and
        padding rows above / below; all 1 / 0 for a 1-D map.
    """

    channels: int
    in_length: int
    kernel: int
    stride: int
    pad_left: int = 0
    pad_right: int = 0
    pad_value: int = 1
    simd: int = 1
    elem_bits: int | None = None
    rows: int = 1
    kernel_rows: int = 1
    stride_rows: int = 1
    pad_top: int = 0
    pad_bottom: int = 0

    def __post_init__(self) -> None:
        for name in ("channels", "in_length", "kernel", "stride", "simd", "rows", "kernel_rows",
                     "stride_rows"):  # fmt: skip
            check(getattr(self, name) >= 1, f"SWG {name} must be ≥ 1, got {getattr(self, name)}")
        check(min(self.pad_left, self.pad_right, self.pad_top, self.pad_bottom) >= 0,
              f"SWG padding must be ≥ 0, got {self.pad_left}/{self.pad_right} columns, "
              f"{self.pad_top}/{self.pad_bottom} rows")  # fmt: skip
        check(self.rows + self.pad_top + self.pad_bottom >= self.kernel_rows,
              f"SWG kernel_rows={self.kernel_rows} taller than the padded "
              f"{self.rows} rows")  # fmt: skip
        check(self.channels % self.simd == 0,
              f"SWG simd={self.simd} does not divide channels={self.channels}")  # fmt: skip
        check(self.in_length + self.pad_left + self.pad_right >= self.kernel,
              f"SWG kernel={self.kernel} longer than the padded input")  # fmt: skip
        if self.elem_bits is None:
            check(self.pad_value in (-1, 1),
                  f"SWG pad_value of a bipolar input must be ±1, got {self.pad_value}")  # fmt: skip
        else:
            check(self.elem_bits >= 1, f"SWG elem_bits must be ≥ 1, got {self.elem_bits}")
            lim = 1 << (self.elem_bits - 1)
            check(-lim <= self.pad_value < lim,
                  f"SWG pad_value={self.pad_value} outside {self.elem_bits}-bit range")  # fmt: skip

    @classmethod
    def of_layer(cls, layer: ConvLayer, simd: int) -> SwgParams:
        """The SWG of ``layer``'s convolution (its padding, pad value and input type), ``simd``
        channels a beat."""
        return cls(layer.in_channels, layer.in_length, layer.kernel, layer.stride,
                   layer.pad_left, layer.pad_right, layer.pad_value, simd,
                   layer.input_bits)  # fmt: skip

    @property
    def width(self) -> int:
        """Bits of one element: 1 (bipolar) or ``elem_bits``."""
        return 1 if self.elem_bits is None else self.elem_bits

    @property
    def folds(self) -> int:
        """``C / SIMD``: beats of one row of a column."""
        return self.channels // self.simd

    @property
    def column_beats(self) -> int:
        """``H * C / SIMD``: beats of one column (all rows)."""
        return self.rows * self.folds

    @property
    def out_rows(self) -> int:
        """Output rows ``(H + pads - KH) // SH + 1``."""
        return (
            self.rows + self.pad_top + self.pad_bottom - self.kernel_rows
        ) // self.stride_rows + 1

    @property
    def window_beats(self) -> int:
        """Beats of one window: ``K * KH * C / SIMD``."""
        return self.kernel * self.kernel_rows * self.folds

    @property
    def conv_length(self) -> int:
        """Conv positions (windows) of one frame."""
        return (self.in_length + self.pad_left + self.pad_right - self.kernel) // self.stride + 1

    @property
    def pad_lane(self) -> int:
        """The pad value as a lane (bit for bipolar, two's complement otherwise)."""
        if self.elem_bits is None:
            return int(self.pad_value > 0)
        return self.pad_value & ((1 << self.elem_bits) - 1)

    @property
    def buffer_columns(self) -> int:
        """Columns of the line buffer: the smallest power of two ≥ ``K + S`` (the writer can
        then run ``S`` columns ahead of the window, so the reader never waits in steady state)."""
        return 1 << (self.kernel + self.stride - 1).bit_length()

    @property
    def in_beats(self) -> int:
        """Input beats a frame: ``L * H * C / SIMD``."""
        return self.in_length * self.column_beats

    @property
    def out_beats(self) -> int:
        """Output beats a frame: ``conv_length * out_rows`` windows of :attr:`window_beats`."""
        return self.conv_length * self.out_rows * self.window_beats


def swg_model(x: np.ndarray, p: SwgParams) -> np.ndarray:
    """Output lanes of :class:`SlidingWindowGenerator` for one frame.

    Parameters
    ----------
    x:
        Lane values int ``[C, L]``, or ``[C, H, L]`` (bits 0/1 for a bipolar input).

    Returns
    -------
    np.ndarray
        int64 ``[conv_length * out_rows * K * KH * C / SIMD, SIMD]``: window ``(t, y)`` (``t``
        outer), then tap ``k``, row tap ``r``, channels ``c = f * SIMD + i`` of padded column
        ``t * S + k``, padded row ``y * SH + r``.
    """
    x = np.asarray(x, dtype=np.int64)
    if x.ndim == 2:
        x = x[:, None]
    if x.shape != (p.channels, p.rows, p.in_length):
        raise ValueError(f"SWG input must be [{p.channels}, {p.rows}, {p.in_length}], got "
                         f"{list(x.shape)}")  # fmt: skip
    pad = p.pad_value if p.elem_bits is not None else p.pad_lane
    xp = np.pad(x, ((0, 0), (p.pad_top, p.pad_bottom), (p.pad_left, p.pad_right)),
                constant_values=pad)  # fmt: skip
    kh, sh = p.kernel_rows, p.stride_rows
    out = np.empty((p.conv_length, p.out_rows, p.kernel, kh, p.channels), dtype=np.int64)
    for t in range(p.conv_length):
        for y in range(p.out_rows):
            win = xp[:, y * sh : y * sh + kh, t * p.stride : t * p.stride + p.kernel]
            out[t, y] = win.transpose(2, 1, 0)
    return out.reshape(-1, p.simd)


def swg_input_beats(x: np.ndarray, p: SwgParams) -> np.ndarray:
    """Input lanes ``[L * H * C / SIMD, SIMD]`` of a feature map ``[C, L]`` or ``[C, H, L]``
    (column order: time step, then row, then channel)."""
    return columns_to_beats(np.asarray(x, dtype=np.int64), p.simd)


class SlidingWindowGenerator(wiring.Component):
    """Streaming sliding-window generator (1-D, or lead x time) with a line buffer in one
    memory.

    The writer stores input column ``r`` in line-buffer slot ``r mod B`` (``B`` =
    :attr:`SwgParams.buffer_columns`) and may run until it would overwrite a column the current
    window still needs. The reader walks positions ``t``, taps ``k`` and folds ``f``, reading
    real columns from the buffer (one memory read a beat) and substituting the pad value for
    padded columns. The memory's read register is the output register (read enable =
    ``~tvalid | tready``), so data are held while the sink stalls and ``tvalid`` is a register.
    Frames follow one another; a frame's writer and reader both finish before the next starts.

    Members
    -------
    s_axis : In(AxiStreamSignature(SIMD * width))
        Input columns, ``H * C / SIMD`` beats each; lane ``i`` of beat ``h * C / SIMD + f`` is
        row ``h``, channel ``f * SIMD + i``. ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(SIMD * width))
        Windows, ``K * KH * C / SIMD`` beats each (tap-major, see :func:`swg_model`); ``tlast`` on
        the last beat of a frame.
    """

    def __init__(self, params: SwgParams) -> None:
        self.p = params
        w = params.simd * params.width
        super().__init__(
            {"s_axis": In(AxiStreamSignature(w)), "m_axis": Out(AxiStreamSignature(w))}
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.p
        FC, K, S, L, B = p.folds, p.kernel, p.stride, p.in_length, p.buffer_columns
        H, KH, SH, HO = p.rows, p.kernel_rows, p.stride_rows, p.out_rows
        F = p.column_beats  # beats of one column, all rows
        lb = B.bit_length() - 1
        w = p.simd * p.width
        m.submodules.mem = mem = Memory(shape=w, depth=B * F, init=[])
        wr = mem.write_port()
        rd = mem.read_port()
        s, o = self.s_axis, self.m_axis

        span = L + K + S + B + p.pad_left + 2  # magnitude of every column index used
        cw = signed(span.bit_length() + 1)
        rw = signed((H + KH + SH + p.pad_top + 2).bit_length() + 1)
        wr_col = Signal(range(L + 1))
        wr_f = Signal(range(F))
        low = Signal(cw, init=-p.pad_left)  # real column of tap 0 of the current position
        row_base = Signal(rw, init=-p.pad_top)  # real row of row tap 0 of the current window
        t = Signal(range(p.conv_length))
        y = Signal(range(HO))
        k = Signal(range(K))
        r = Signal(range(KH))
        f = Signal(range(FC))
        rd_done = Signal()
        cur = Signal(cw)  # real column the reader wants now
        row = Signal(rw)  # real row the reader wants now
        m.d.comb += [cur.eq(low + k), row.eq(row_base + r)]

        # ---- writer
        wr_col_s = Signal(cw)
        m.d.comb += wr_col_s.eq(wr_col)
        can_write = (wr_col < L) & (rd_done | (wr_col_s < low + B))
        m.d.comb += s.tready.eq(can_write)
        m.d.comb += [
            wr.addr.eq(wr_col[:lb] * F + wr_f if lb else wr_f),
            wr.data.eq(s.tdata),
            wr.en.eq(s.tvalid & can_write),
        ]
        with m.If(s.tvalid & can_write):
            with m.If(wr_f == F - 1):
                m.d.sync += [wr_f.eq(0), wr_col.eq(wr_col + 1)]
            with m.Else():
                m.d.sync += wr_f.eq(wr_f + 1)

        # ---- reader: the memory's read register is the output register
        is_pad = (cur < 0) | (cur >= L)
        if H > 1 or KH > 1 or p.pad_top or p.pad_bottom:
            is_pad = is_pad | (row < 0) | (row >= H)
        avail = ~rd_done & (is_pad | (wr_col_s > cur))
        advance = ~o.tvalid | o.tready
        issue = advance & avail
        o_pad = Signal()
        frame_end = ((t == p.conv_length - 1) & (y == HO - 1) & (k == K - 1) & (r == KH - 1)
                     & (f == FC - 1))  # fmt: skip
        row_u = row[: max((H - 1).bit_length(), 1)]
        in_col = row_u * FC + f if H > 1 else f
        m.d.comb += [rd.en.eq(advance), rd.addr.eq(cur[:lb] * F + in_col if lb else in_col)]
        m.d.comb += o.tdata.eq(Mux(o_pad, Const(_replicate(p.pad_lane, p.width, p.simd), w),
                                   rd.data))  # fmt: skip
        with m.If(advance):
            m.d.sync += [o.tvalid.eq(avail), o_pad.eq(is_pad), o.tlast.eq(frame_end)]
        with m.If(issue):
            with m.If(f == FC - 1):
                m.d.sync += f.eq(0)
                with m.If(r == KH - 1):
                    m.d.sync += r.eq(0)
                    with m.If(k == K - 1):
                        m.d.sync += k.eq(0)
                        with m.If(y == HO - 1):
                            m.d.sync += [y.eq(0), row_base.eq(-p.pad_top), low.eq(low + S),
                                         t.eq(t + 1)]  # fmt: skip
                            with m.If(t == p.conv_length - 1):
                                m.d.sync += rd_done.eq(1)
                        with m.Else():
                            m.d.sync += [y.eq(y + 1), row_base.eq(row_base + SH)]
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                with m.Else():
                    m.d.sync += r.eq(r + 1)
            with m.Else():
                m.d.sync += f.eq(f + 1)

        # ---- next frame: both sides finished (no write and no read happens in this cycle)
        with m.If(rd_done & (wr_col == L)):
            m.d.sync += [wr_col.eq(0), wr_f.eq(0), low.eq(-p.pad_left), t.eq(0),
                         rd_done.eq(0)]  # fmt: skip
        return m

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate, first input beat to last output beat.

        The reader sends one beat a cycle (:attr:`~SwgParams.window_beats` a window) unless the
        column it needs has not fully arrived: real column ``c`` is complete after ``(c + 1) *
        H * C / SIMD`` input beats, while the reader wants it for tap ``k`` of position ``t``
        after ``(t * out_rows * K + k) * KH * C / SIMD`` output beats. The largest such lag
        over the taps on real columns is the total stall (for a 1-D map ``k`` cancels:
        ``(t * (S - K) - pad_left + 1) * C / SIMD``, which is ``C / SIMD`` without left padding
        when ``S ≤ K`` and grows with ``t`` when ``S > K``: input-bound). Plus one cycle of
        read latency.
        """
        p = self.p
        per_tap = p.kernel_rows * p.folds
        lag = 0
        for t in range(p.conv_length):
            for k in range(p.kernel):
                c = t * p.stride - p.pad_left + k
                if 0 <= c < p.in_length:
                    need = (c + 1) * p.column_beats
                    lag = max(lag, need - (t * p.out_rows * p.kernel + k) * per_tap)
        return p.out_beats + lag + 1

    def estimate_resources(self) -> dict[str, int]:
        """Line buffer ``B * H * C / SIMD`` words of ``SIMD * width`` bits (block RAM when large,
        else LUT-RAM), counters and comparators (~6 LUT + 4 FF per counter bit, 4 counters),
        the pad multiplexer (one LUT per output bit)."""
        p = self.p
        w, depth = p.simd * p.width, p.buffer_columns * p.column_beats
        cbits = 4 * max(p.in_length + p.kernel + p.stride, 2).bit_length()
        if p.rows > 1 or p.kernel_rows > 1:  # the row counters
            cbits += 3 * max(p.rows + p.kernel_rows + p.stride_rows, 2).bit_length()
        return {
            "lut": 6 * cbits + w + lutram(w, depth),
            "ff": 4 * cbits + w + 3,
            "bram": bram18(w, depth),
            "dsp": 0,
        }


def _replicate(lane: int, width: int, n: int) -> int:
    return sum(lane << (i * width) for i in range(n))
