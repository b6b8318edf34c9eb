"""Pieces every dataflow layer shares: the configuration error, the output register slice,
lane packing of stream words, and the resource-estimate helpers.

Stream word layout used by every layer (FINN's convention): a beat holds ``n`` lanes of ``w``
bits, lane ``i`` in bits ``[i * w, (i + 1) * w)`` (lane 0 in the low bits); signed values are
two's complement, bipolar values are one bit with ``1`` = +1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..stream import AxiStreamSignature


class LayerConfigError(ValueError):
    """Parameters a dataflow layer cannot implement; the message names the parameter."""


def check(cond: bool, message: str) -> None:
    """Raise :class:`LayerConfigError` with ``message`` unless ``cond``."""
    if not cond:
        raise LayerConfigError(message)


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's-complement register holding every integer in ``[lo, hi]``."""
    return max(int(hi).bit_length(), (-int(lo) - 1).bit_length() if lo < 0 else 0) + 1


def pack_lanes(lanes: np.ndarray, width: int) -> list[int]:
    """Stream words from lane values: int ``[n_beats, n]`` → ``n_beats`` Python ints, lane ``i``
    in bits ``[i * width, (i + 1) * width)`` (two's complement)."""
    mask = (1 << width) - 1
    rows = np.asarray(lanes, dtype=np.int64)
    return [sum((int(v) & mask) << (i * width) for i, v in enumerate(row)) for row in rows]


def unpack_lanes(words: Iterable[int], width: int, n: int, signed: bool = True) -> np.ndarray:
    """Inverse of :func:`pack_lanes`: int64 ``[n_beats, n]``."""
    mask, half = (1 << width) - 1, 1 << (width - 1)
    out = [[(int(w) >> (i * width)) & mask for i in range(n)] for w in words]
    arr = np.array(out, dtype=np.int64).reshape(-1, n)
    if signed:
        arr = np.where(arr >= half, arr - (1 << width), arr)
    return arr


BRAM18_SHAPES: tuple[tuple[int, int], ...] = (
    (16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36),
)  # fmt: skip
"""(depth, width) aspect ratios of one 18-kbit block RAM (Xilinx RAMB18E1 / FINN's count)."""

LUTRAM_BITS = 1024
"""Memories up to this many bits are assumed to map to LUTs/registers, not block RAM."""


def bram18(width: int, depth: int) -> int:
    """Block RAMs (18 kbit) for a ``width`` × ``depth`` memory: 0 up to :data:`LUTRAM_BITS`
    bits, else the cheapest tiling over :data:`BRAM18_SHAPES` (FINN's ``bram_estimation``
    idea, without the 36-kbit pairing)."""
    if width * depth <= LUTRAM_BITS:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_SHAPES)


def lutram(width: int, depth: int) -> int:
    """LUTs of a memory small enough for distributed RAM: one 64-bit LUT-RAM per 64 bits."""
    return 0 if width * depth > LUTRAM_BITS else math.ceil(width * depth / 64)


class RegisterSlice(wiring.Component):
    """Two-entry AXI-Stream register slice (skid buffer): full throughput, one cycle latency.

    ``s_axis.tready`` is a register (no path from ``m_axis.tready``) and ``m_axis.tvalid`` /
    ``tdata`` / ``tlast`` come from registers. Every layer ends with one, so that its pipeline
    can advance on ``s_axis.tready`` alone and its output is held while the sink stalls.

    Members
    -------
    s_axis : In(AxiStreamSignature(width))
        Input beats.
    m_axis : Out(AxiStreamSignature(width))
        The same beats, in order, one cycle later at the earliest.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        super().__init__(
            {"s_axis": In(AxiStreamSignature(width)), "m_axis": Out(AxiStreamSignature(width))}
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        s, o = self.s_axis, self.m_axis
        skid_data = Signal(self.width)
        skid_last = Signal()
        skid_valid = Signal()
        m.d.comb += s.tready.eq(~skid_valid)
        with m.If(~o.tvalid | o.tready):
            with m.If(skid_valid):
                m.d.sync += [o.tdata.eq(skid_data), o.tlast.eq(skid_last), o.tvalid.eq(1),
                             skid_valid.eq(0)]  # fmt: skip
            with m.Else():
                m.d.sync += [o.tdata.eq(s.tdata), o.tlast.eq(s.tlast), o.tvalid.eq(s.tvalid)]
        with m.Elif(s.tvalid & ~skid_valid):
            m.d.sync += [skid_data.eq(s.tdata), skid_last.eq(s.tlast), skid_valid.eq(1)]
        return m

    @staticmethod
    def estimate_resources(width: int) -> dict[str, int]:
        """Two data registers and a 2:1 multiplexer per bit."""
        return {"lut": width + 2, "ff": 2 * width + 4, "bram": 0, "dsp": 0}


def output_slice(m: Module, layer: wiring.Component, width: int,
                 accept: Value | None = None) -> tuple[RegisterSlice, Value]:  # fmt: skip
    """Give ``layer`` its output :class:`RegisterSlice` (``width`` bits, driving
    ``layer.m_axis``) and tie ``layer.s_axis.tready`` to the slice's ``s_axis.tready`` (and to
    ``accept``, when given: a layer that takes a beat only on some cycles).

    Returns ``(out, advance)``: the slice, whose ``s_axis`` the layer drives, and the signal on
    which the layer's pipeline may advance (a register: no path from the sink's ``tready``)."""
    m.submodules.out = out = RegisterSlice(width)
    wiring.connect(m, out.m_axis, wiring.flipped(layer.m_axis))
    advance = out.s_axis.tready
    m.d.comb += layer.s_axis.tready.eq(advance if accept is None else advance & accept)
    return out, advance


def columns_to_beats(x: np.ndarray, n: int) -> np.ndarray:
    """Stream order of a feature map: int ``[C, L]`` → ``[L * C / n, n]``: column by column
    (time step ``t``), channels ``f * n … f * n + n - 1`` in beat ``t * C / n + f``. A lead x
    time map ``[C, H, L]`` → ``[L * H * C / n, n]``: time step, then row (lead), then channel
    (element ``(t * H + h) * C + c``)."""
    x = np.asarray(x)
    return np.ascontiguousarray(x.T if x.ndim == 2 else x.transpose(2, 1, 0)).reshape(-1, n)


def beats_to_columns(beats: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of :func:`columns_to_beats`: ``[L * C / n, n]`` → ``[C, L]``."""
    return np.asarray(beats).reshape(-1, channels).T


def wrap_inc(counter: Value, n: int) -> Value:
    """``counter + 1`` modulo ``n`` (an expression for a counter over ``range(n)``)."""
    return Mux(counter == n - 1, 0, counter + 1)
