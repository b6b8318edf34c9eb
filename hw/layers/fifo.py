"""Stream FIFO (FINN's ``StreamingFIFO``) and data-width converter (FINN's
``StreamingDataWidthConverter``) for the joints between dataflow layers.

Python models: :func:`fifo_model` (identity) and :func:`width_converter_model`.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..stream import AxiStreamSignature
from .common import RegisterSlice, bram18, check, lutram


def fifo_model(words: list[int]) -> list[int]:
    """A FIFO's output: its input, in order."""
    return list(words)


class StreamFifo(wiring.Component):
    """AXI-Stream FIFO of ``depth`` beats (``tdata`` and ``tlast``), on
    :class:`amaranth.lib.fifo.SyncFIFOBuffered`, whose read side is a register: ``m_axis.tvalid``
    and ``s_axis.tready`` come from the FIFO's state only (no combinational path through).

    Members
    -------
    s_axis : In(AxiStreamSignature(width))
        Input beats.
    m_axis : Out(AxiStreamSignature(width))
        The same beats with their ``tlast``, in order.
    """

    def __init__(self, width: int, depth: int) -> None:
        check(width >= 1, f"FIFO width must be ≥ 1, got {width}")
        check(depth >= 2, f"FIFO depth must be ≥ 2, got {depth}")
        self.width, self.depth = width, depth
        super().__init__(
            {"s_axis": In(AxiStreamSignature(width)), "m_axis": Out(AxiStreamSignature(width))}
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.width + 1, depth=self.depth)
        s, o = self.s_axis, self.m_axis
        m.d.comb += [
            fifo.w_data.eq(Cat(s.tdata, s.tlast)),
            fifo.w_en.eq(s.tvalid),
            s.tready.eq(fifo.w_rdy),
            o.tdata.eq(fifo.r_data[: self.width]),
            o.tlast.eq(fifo.r_data[self.width]),
            o.tvalid.eq(fifo.r_rdy),
            fifo.r_en.eq(o.tready),
        ]
        return m

    def estimate_cycles(self, n_beats: int) -> int:
        """``n_beats`` beats through an empty FIFO: one a cycle plus the 2-cycle latency of the
        buffered FIFO (write, then its output register). At ``depth`` 2 the inner FIFO holds
        one beat and the FIFO passes one beat every other cycle (measured): ``2 n + 1``."""
        return 2 * n_beats + 1 if self.depth == 2 else n_beats + 2

    def estimate_resources(self) -> dict[str, int]:
        """Storage ``depth × (width + 1)`` (block RAM when over 1 kbit, else LUT-RAM), the output
        register, two pointers and a level counter (≈ 3 LUT + 1 FF per bit each)."""
        w = self.width + 1
        pbits = 3 * max(self.depth, 2).bit_length()
        return {
            "lut": lutram(w, self.depth) + 3 * pbits,
            "ff": w + pbits,
            "bram": bram18(w, self.depth),
            "dsp": 0,
        }


def width_converter_model(lanes: np.ndarray, out_lanes: int) -> np.ndarray:
    """Lanes of :class:`StreamWidthConverter`: ``[n, in_lanes]`` → ``[n * in_lanes /
    out_lanes, out_lanes]``, same elements in the same order (lane 0 first)."""
    lanes = np.asarray(lanes)
    return lanes.reshape(-1, out_lanes)


class StreamWidthConverter(wiring.Component):
    """Re-packs a stream of ``in_lanes`` lanes a beat into ``out_lanes`` lanes a beat (one lane
    is ``lane_width`` bits); one of the two must divide the other. Upsizing collects
    ``out / in`` beats (the first in the low lanes); downsizing sends a wide beat in
    ``in / out`` pieces (low lanes first). ``tlast`` goes with the last piece of a frame, which
    must end on a whole output beat. The output goes through a :class:`~.common.RegisterSlice`,
    so ``s_axis.tready`` has no combinational path from ``m_axis.tready``; one beat a cycle on
    the wider side.

    Members
    -------
    s_axis : In(AxiStreamSignature(in_lanes * lane_width))
        Input beats.
    m_axis : Out(AxiStreamSignature(out_lanes * lane_width))
        Re-packed beats.
    """

    def __init__(self, in_lanes: int, out_lanes: int, lane_width: int = 1) -> None:
        check(in_lanes >= 1 and out_lanes >= 1 and lane_width >= 1,
              "width converter lanes and lane_width must be ≥ 1")  # fmt: skip
        check(in_lanes % out_lanes == 0 or out_lanes % in_lanes == 0,
              f"width converter in_lanes={in_lanes} and out_lanes={out_lanes}: "
              "one must divide the other")  # fmt: skip
        self.in_lanes, self.out_lanes, self.lane_width = in_lanes, out_lanes, lane_width
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(in_lanes * lane_width)),
                "m_axis": Out(AxiStreamSignature(out_lanes * lane_width)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        s = self.s_axis
        wi, wo = self.in_lanes * self.lane_width, self.out_lanes * self.lane_width
        m.submodules.out = out = RegisterSlice(wo)
        wiring.connect(m, out.m_axis, wiring.flipped(self.m_axis))
        o = out.s_axis  # pushes into the output slice; its tready is a register
        if wi == wo:
            m.d.comb += [s.tready.eq(o.tready), o.tvalid.eq(s.tvalid), o.tdata.eq(s.tdata),
                         o.tlast.eq(s.tlast)]  # fmt: skip
        elif wo > wi:  # upsize: collect ratio - 1 beats, push them with the last one
            ratio = wo // wi
            idx = Signal(range(ratio))
            held = Signal(wi * (ratio - 1))
            at_last = idx == ratio - 1
            m.d.comb += [
                s.tready.eq(~at_last | o.tready),
                o.tvalid.eq(s.tvalid & at_last),
                o.tdata.eq(Cat(held, s.tdata)),
                o.tlast.eq(s.tlast),
            ]
            with m.If(s.tvalid & s.tready):
                for j in range(ratio - 1):
                    with m.If(idx == j):
                        m.d.sync += held[j * wi : (j + 1) * wi].eq(s.tdata)
                m.d.sync += idx.eq(Mux(at_last, 0, idx + 1))
        else:  # downsize: hold a wide word, push its pieces
            ratio = wi // wo
            word = Signal(wi)
            last = Signal()
            left = Signal(range(ratio + 1))  # pieces of word still to push
            push = o.tvalid & o.tready
            m.d.comb += [o.tvalid.eq(left != 0), o.tdata.eq(word[:wo]),
                         o.tlast.eq(last & (left == 1))]  # fmt: skip
            m.d.comb += s.tready.eq((left == 0) | ((left == 1) & o.tready))
            with m.If(s.tvalid & s.tready):
                m.d.sync += [word.eq(s.tdata), last.eq(s.tlast), left.eq(ratio)]
            with m.Elif(push):
                m.d.sync += [word.eq(word >> wo), left.eq(left - 1)]
        return m

    def estimate_cycles(self, n_in_beats: int) -> int:
        """Beats on the busier side (one a cycle) plus the output slice's cycle of latency (and
        the held word's, downsizing)."""
        n_out = n_in_beats * self.in_lanes // self.out_lanes
        return max(n_in_beats, n_out) + (2 if self.out_lanes < self.in_lanes else 1)

    def estimate_resources(self) -> dict[str, int]:
        """The wider word's register and a multiplexer per output bit, a small counter, the
        output slice."""
        w = max(self.in_lanes, self.out_lanes) * self.lane_width
        sl = RegisterSlice.estimate_resources(self.out_lanes * self.lane_width)
        return {"lut": w + 4 + sl["lut"], "ff": w + 6 + sl["ff"], "bram": 0, "dsp": 0}
