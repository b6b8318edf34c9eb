"""Streaming 1-D max-pool of a channel-folded stream (FINN's ``StreamingMaxPool``, 1-D, with
overlapping windows allowed).

The input is an :class:`~.mvau.MVAU`'s output: per conv position ``C / PE`` beats of ``PE``
signed channels. Like :class:`~ecgaccel.hw.pool_unit.PoolUnit`, a window starts every ``stride``
positions, so ``ceil(kernel / stride)`` windows are open at once; here each open window (slot)
keeps its running maxima of all ``C`` channels, updated read-modify-write one fold a beat:

* parallel (default): one memory of ``C / PE`` words per slot, all slots updated in the cycle
  the beat arrives (one beat a cycle);
* serial (``PoolParams.serial``): the slots share one memory of ``slots * C / PE`` words and are
  updated one a cycle (a beat every ``slots`` cycles). It costs no throughput behind an MVAU
  that sends a beat every ``SF ≥ slots`` cycles, and it needs one block RAM where the parallel
  form needs ``slots`` on the iCE40 (no LUT RAM: a shallow memory takes a whole block RAM),
  and one comparator per lane instead of ``slots``.

The Python model is :func:`pool_model`; it equals
:func:`~ecgaccel.hw.description.max_pool_1d` (``models.reference.max_pool``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..pool_unit import pool_slots
from ..stream import AxiStreamSignature
from .common import RegisterSlice, bram18, check, lutram, output_slice, wrap_inc


@dataclass(frozen=True)
class PoolParams:
    """Parameters of a :class:`MaxPoolLayer`.

    Attributes
    ----------
    channels:
        ``C``.
    in_length:
        ``T``: positions of one input frame (positions after the last window are consumed and
        dropped).
    kernel, stride:
        Pool window and step in positions (no padding, as PyTorch's ``MaxPool1d``).
    pe:
        Channels a beat; must divide ``C``.
    width:
        Bits of a signed lane (input and output).
    serial:
        Update the open windows one a cycle from one shared memory (a beat every ``slots``
        cycles) instead of all at once from one memory each (a beat every cycle).
    """

    channels: int
    in_length: int
    kernel: int
    stride: int
    pe: int = 1
    width: int = 16
    serial: bool = False

    def __post_init__(self) -> None:
        for name in ("channels", "in_length", "kernel", "stride", "pe", "width"):
            check(getattr(self, name) >= 1, f"pool {name} must be ≥ 1, got {getattr(self, name)}")
        check(self.channels % self.pe == 0,
              f"pool pe={self.pe} does not divide channels={self.channels}")  # fmt: skip
        check(self.kernel <= self.in_length,
              f"pool kernel={self.kernel} longer than in_length={self.in_length}")  # fmt: skip

    @property
    def nf(self) -> int:
        """Beats a position: ``C / PE``."""
        return self.channels // self.pe

    @property
    def out_length(self) -> int:
        """``U``: pooled positions of a frame."""
        return (self.in_length - self.kernel) // self.stride + 1

    @property
    def slots(self) -> int:
        """Windows open at once: ``ceil(kernel / stride)``."""
        return pool_slots(self.kernel, self.stride)

    @property
    def last_end(self) -> int:
        """Input position with which the last window completes."""
        return (self.out_length - 1) * self.stride + self.kernel - 1

    @property
    def beat_cycles(self) -> int:
        """Cycles a beat: 1, or ``slots`` when :attr:`serial`."""
        return self.slots if self.serial else 1


def pool_model(in_lanes: np.ndarray, p: PoolParams) -> np.ndarray:
    """Output lanes of :class:`MaxPoolLayer`: int ``[T * C / PE, PE]`` → int64
    ``[U * C / PE, PE]``, beat ``u * NF + n`` lane ``q`` = max over the window ``u`` of
    channel ``n * PE + q``. Computed like the hardware: running maxima per open window."""
    x = np.asarray(in_lanes, dtype=np.int64).reshape(p.in_length, p.channels)
    out = np.empty((p.out_length, p.channels), dtype=np.int64)
    running: dict[int, np.ndarray] = {}  # window index -> running maxima [C]
    for t in range(p.in_length):
        if t % p.stride == 0 and t // p.stride < p.out_length:
            running[t // p.stride] = np.full(p.channels, np.iinfo(np.int64).min)
        for u in list(running):
            running[u] = np.maximum(running[u], x[t])
            if t == u * p.stride + p.kernel - 1:
                out[u] = running.pop(u)
    return out.reshape(-1, p.pe)


class MaxPoolLayer(wiring.Component):
    """Streaming max-pool of ``PE`` channels a beat with a running-max memory per open window
    (one memory in all when ``serial``).

    Parallel: two stages: a beat is taken and every slot memory reads its word for the beat's
    fold; then each slot whose window contains the position writes back ``max(running, x)`` (or
    ``x`` when its window starts here), and the slot whose window ends here sends that value to
    the output :class:`~.common.RegisterSlice`. One beat a cycle.

    Serial: the beat taken is swept over the slots, one a cycle: slot ``j``'s word (address
    ``nf * slots + j``) is read, and the cycle after it is written back (and sent, when its
    window ends here) as above. A new beat is taken on the sweep's last cycle, so a beat
    every ``slots`` cycles.

    Read ports are transparent to their write port, so a word written in the cycle it is read
    again (``C = PE``) is seen.

    Members
    -------
    s_axis : In(AxiStreamSignature(PE * width))
        Conv values, ``C / PE`` beats a position, lane ``q`` of beat ``n`` = channel
        ``n * PE + q`` (signed). ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE * width))
        Pooled values in the same layout, ``C / PE`` beats per window; ``tlast`` on the last
        beat of a frame.
    """

    def __init__(self, params: PoolParams) -> None:
        self.p = params
        w = params.pe * params.width
        super().__init__(
            {"s_axis": In(AxiStreamSignature(w)), "m_axis": Out(AxiStreamSignature(w))}
        )

    def _windows(self, m: Module, take: Value) -> tuple[Value, Value, Value, Value, Value]:
        """Window bookkeeping of the beat on ``s_axis``, advanced on ``take``: ``(nf, start,
        cont, end, last)``: its fold, per slot whether its window starts here, continues here
        or ends here (``n_slots``-bit vectors), and whether it is the frame's last useful
        beat."""
        p = self.p
        NF, K, S, U, n_slots = p.nf, p.kernel, p.stride, p.out_length, p.slots
        nf = Signal(range(NF))
        t = Signal(range(p.in_length))
        phase = Signal(range(S))
        s_next = Signal(range(n_slots))
        started = Signal(range(U + 1))
        rem = [Signal(range(K), name=f"rem{j}") for j in range(n_slots)]
        start = [(phase == 0) & (started < U) & (s_next == j) for j in range(n_slots)]
        cont = [r != 0 for r in rem]
        end = [(st & (K == 1)) | (c & (r == 1)) for st, c, r in zip(start, cont, rem, strict=True)]
        with m.If(take):
            m.d.sync += nf.eq(wrap_inc(nf, NF))
            with m.If(nf == NF - 1):  # end of a position: update the windows
                for j in range(n_slots):
                    with m.If(start[j]):
                        m.d.sync += rem[j].eq(K - 1)
                    with m.Elif(cont[j]):
                        m.d.sync += rem[j].eq(rem[j] - 1)
                m.d.sync += [phase.eq(wrap_inc(phase, S)), t.eq(wrap_inc(t, p.in_length))]
                with m.If(Cat(*start).any()):
                    m.d.sync += [s_next.eq(wrap_inc(s_next, n_slots)), started.eq(started + 1)]
                with m.If(t == p.in_length - 1):  # next frame
                    m.d.sync += [phase.eq(0), s_next.eq(0), started.eq(0)]
        last = (t == p.last_end) & (nf == NF - 1)
        return nf, Cat(*start), Cat(*cont), Cat(*end), last

    def _update(self, m: Module, x: Value, run: Value, first: Value, name: str) -> list[Signal]:
        """Per lane ``x`` when ``first``, else ``max(run, x)`` (``PE`` signed lanes)."""
        W = self.p.width
        new = []
        for q in range(self.p.pe):
            xq, rq = x[q * W : (q + 1) * W].as_signed(), run[q * W : (q + 1) * W].as_signed()
            v = Signal(signed(W), name=f"new{name}_{q}")
            m.d.comb += v.eq(Mux(first | (xq > rq), xq, rq))
            new.append(v)
        return new

    def elaborate(self, platform) -> Module:
        m = Module()
        if self.p.serial:
            self._elaborate_serial(m)
        else:
            self._elaborate_parallel(m)
        return m

    def _elaborate_parallel(self, m: Module) -> None:
        p = self.p
        PE, NF, W, n_slots = p.pe, p.nf, p.width, p.slots
        out, advance = output_slice(m, self, PE * W)
        s = self.s_axis
        nf, start, cont, end, last = self._windows(m, advance & s.tvalid)

        b_valid, b_last = Signal(), Signal()
        b_nf = Signal(range(NF))
        b_x = Signal(PE * W)
        b_start, b_cont, b_end = Signal(n_slots), Signal(n_slots), Signal(n_slots)
        with m.If(advance):
            m.d.sync += [
                b_valid.eq(s.tvalid), b_nf.eq(nf), b_x.eq(s.tdata),
                b_start.eq(start), b_cont.eq(cont), b_end.eq(end), b_last.eq(last),
            ]  # fmt: skip

        out_lanes = [Signal(signed(W), name=f"o{q}") for q in range(PE)]
        for j in range(n_slots):
            mem = Memory(shape=PE * W, depth=NF, init=[])
            m.submodules[f"slot{j}"] = mem
            wr = mem.write_port()
            rd = mem.read_port(transparent_for=(wr,))
            m.d.comb += [rd.addr.eq(nf), rd.en.eq(advance)]
            new = self._update(m, b_x, rd.data, b_start[j], str(j))
            m.d.comb += [
                wr.addr.eq(b_nf),
                wr.data.eq(Cat(*new)),
                wr.en.eq(advance & b_valid & (b_start[j] | b_cont[j])),
            ]
            with m.If(b_end[j]):
                m.d.comb += [o.eq(v) for o, v in zip(out_lanes, new, strict=True)]
        m.d.comb += [
            out.s_axis.tvalid.eq(b_valid & b_end.any()),
            out.s_axis.tlast.eq(b_last),
            out.s_axis.tdata.eq(Cat(*out_lanes)),
        ]

    def _elaborate_serial(self, m: Module) -> None:
        p = self.p
        PE, NF, W, n_slots = p.pe, p.nf, p.width, p.slots
        # stage A: the beat being swept (slot j read this cycle)
        a_busy, a_last = Signal(), Signal()
        a_nf = Signal(range(NF))
        a_x = Signal(PE * W)
        a_start, a_cont, a_end = Signal(n_slots), Signal(n_slots), Signal(n_slots)
        j = Signal(range(n_slots))
        accept = ~a_busy | (j == n_slots - 1)
        out, advance = output_slice(m, self, PE * W, accept)
        s = self.s_axis
        nf, start, cont, end, last = self._windows(m, advance & accept & s.tvalid)
        with m.If(advance):
            with m.If(accept):
                m.d.sync += [
                    a_busy.eq(s.tvalid), j.eq(0), a_nf.eq(nf), a_x.eq(s.tdata),
                    a_start.eq(start), a_cont.eq(cont), a_end.eq(end), a_last.eq(last),
                ]  # fmt: skip
            with m.Else():
                m.d.sync += j.eq(j + 1)

        # stage B: slot b_j's running maxima arrive from the memory; write back, maybe send
        m.submodules.slots = mem = Memory(shape=PE * W, depth=n_slots * NF, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))
        names = ("valid", "first", "cont", "end", "last")
        b_valid, b_first, b_cont, b_end, b_last = (Signal(name=f"b_{n}") for n in names)
        b_addr = Signal(range(n_slots * NF))
        b_x = Signal(PE * W)
        a_addr = a_nf * n_slots + j
        m.d.comb += [rd.addr.eq(a_addr), rd.en.eq(advance)]
        with m.If(advance):
            m.d.sync += [
                b_valid.eq(a_busy), b_addr.eq(a_addr), b_x.eq(a_x),
                b_first.eq(a_start.bit_select(j, 1)), b_cont.eq(a_cont.bit_select(j, 1)),
                b_end.eq(a_end.bit_select(j, 1)), b_last.eq(a_last),
            ]  # fmt: skip
        new = self._update(m, b_x, rd.data, b_first, "")
        m.d.comb += [
            wr.addr.eq(b_addr),
            wr.data.eq(Cat(*new)),
            wr.en.eq(advance & b_valid & (b_first | b_cont)),
            out.s_axis.tvalid.eq(b_valid & b_end),
            out.s_axis.tlast.eq(b_last),
            out.s_axis.tdata.eq(Cat(*new)),
        ]

    def estimate_cycles(self) -> int:
        """``beat_cycles`` a beat; the last window completes after ``(last_end + 1) * C / PE``
        input beats (plus 2 pipeline cycles). A whole frame takes ``T * C / PE`` beats."""
        return (self.p.last_end + 1) * self.p.nf * self.p.beat_cycles + 2

    def estimate_resources(self) -> dict[str, int]:
        """Per comparator lane (one per slot, or one when ``serial``) a ``width``-bit comparator
        and 2:1 multiplexer (≈ 2 LUTs per bit); ``slots`` memories of ``C / PE × PE * width``
        bits (one of ``slots * C / PE`` words when ``serial``); counters; input register and
        output slice."""
        p = self.p
        w = p.pe * p.width
        sl = RegisterSlice.estimate_resources(w)
        cbits = 4 * max(p.in_length, 2).bit_length()
        if p.serial:
            return {
                "lut": 2 * w + lutram(w, p.slots * p.nf) + w + 3 * cbits + sl["lut"],
                "ff": 2 * w + 3 * p.slots + cbits + sl["ff"],
                "bram": bram18(w, p.slots * p.nf),
                "dsp": 0,
            }
        return {
            "lut": p.slots * (2 * w + lutram(w, p.nf)) + w + 3 * cbits + sl["lut"],
            "ff": w + 3 * p.slots + cbits + sl["ff"],
            "bram": p.slots * bram18(w, p.nf),
            "dsp": 0,
        }
