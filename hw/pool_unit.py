"""Streaming 1-D max-pool of ``PE`` lanes: the pooling stage of the hand-written BNN core.

Conv outputs arrive one position at a time (``valid``); a pooled output is complete when the
last position of its window arrives. A window starts every ``stride`` positions, so
``ceil(kernel / stride)`` windows are open at once: the unit keeps that many running-maximum
slots per lane, used round robin. Kernel, stride and the number of outputs are run-time inputs
(the core changes them layer by layer); ``clear`` starts a new sequence. The Python model is
:func:`pool_unit_model` (values from :func:`~.description.max_pool_1d`).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .description import max_pool_1d


def pool_slots(kernel: int, stride: int) -> int:
    """Windows open at once (running-maximum slots per lane) for a ``kernel``-position window
    started every ``stride`` positions: ``ceil(kernel / stride)``."""
    return -(-kernel // stride)


def pool_unit_model(values: np.ndarray, kernel: int, stride: int, n_out: int
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What :class:`PoolUnit` emits for a sequence of conv outputs.

    Parameters
    ----------
    values:
        int ``[T, PE]``: the ``T`` valid inputs in order (idle cycles left out).
    kernel, stride, n_out:
        The run-time configuration (``n_out`` ≤ ``(T - kernel) // stride + 1``).

    Returns
    -------
    done_at, outputs:
        int64 ``[n_out]``: index of the input with which output ``u`` completes
        (``u * stride + kernel - 1``); int64 ``[n_out, PE]``: the pooled values.
    """
    values = np.asarray(values, dtype=np.int64)
    outputs = max_pool_1d(values.T, kernel, stride, n_out).T
    done_at = np.arange(n_out, dtype=np.int64) * stride + kernel - 1
    return done_at, outputs


class PoolUnit(wiring.Component):
    """Max-pool of ``pe`` signed lanes with run-time kernel and stride.

    Parameters
    ----------
    pe, width:
        Lanes and their signed width in bits.
    n_slots:
        Running-maximum slots per lane: at least :func:`pool_slots` of every configuration used.
    kernel_max, stride_max, n_out_max:
        Ranges of the run-time configuration (size the counters).

    Members
    -------
    clear : In(1)
        Start a new sequence (synchronous; no input may be valid in the same cycle).
    kernel, stride, n_out : In(unsigned)
        Configuration, held while a sequence runs. Outputs past ``n_out`` are not started.
    valid : In(1)
        ``m`` holds the next conv position.
    m : In(ArrayLayout(signed(width), pe))
        Conv outputs of the ``pe`` lanes.
    done : Out(1)
        Combinational: with this input, a window completes; ``out`` holds its maxima.
    out : Out(ArrayLayout(signed(width), pe))
        The completed window's maxima (valid while ``done``).
    """

    def __init__(self, pe: int, width: int, n_slots: int, kernel_max: int, stride_max: int,
                 n_out_max: int) -> None:  # fmt: skip
        self.pe, self.width, self.n_slots = pe, width, n_slots
        self.kernel_max, self.stride_max, self.n_out_max = kernel_max, stride_max, n_out_max
        lanes = data.ArrayLayout(signed(width), pe)
        super().__init__(
            {
                "clear": In(1),
                "kernel": In(range(kernel_max + 1)),
                "stride": In(range(stride_max + 1)),
                "n_out": In(range(n_out_max + 1)),
                "valid": In(1),
                "m": In(lanes),
                "done": Out(1),
                "out": Out(lanes),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        pe, n_slots = self.pe, self.n_slots
        slot = [[Signal(signed(self.width), name=f"slot{p}_{k}") for k in range(n_slots)]
                for p in range(pe)]  # fmt: skip
        rem = [Signal(range(self.kernel_max + 1), name=f"rem{k}") for k in range(n_slots)]
        s_next = Signal(range(n_slots))  # the slot the next window starts in
        phase = Signal(range(self.stride_max + 1))  # positions since the last window start
        started = Signal(range(self.n_out_max + 2))  # windows started so far
        start = self.valid & (phase == 0) & (started < self.n_out)
        for k in range(n_slots):
            with m.If(self.valid & start & (s_next == k)):
                m.d.sync += rem[k].eq(self.kernel - 1)
                m.d.sync += [slot[p][k].eq(self.m[p]) for p in range(pe)]
                with m.If(self.kernel == 1):
                    m.d.comb += self.done.eq(1)
                    m.d.comb += [self.out[p].eq(self.m[p]) for p in range(pe)]
            with m.Elif(self.valid & (rem[k] != 0)):
                m.d.sync += rem[k].eq(rem[k] - 1)
                for p in range(pe):
                    mx = Mux(self.m[p] > slot[p][k], self.m[p], slot[p][k])
                    m.d.sync += slot[p][k].eq(mx)
                    with m.If(rem[k] == 1):
                        m.d.comb += self.out[p].eq(mx)
                with m.If(rem[k] == 1):
                    m.d.comb += self.done.eq(1)
        with m.If(start):
            m.d.sync += [s_next.eq(Mux(s_next == n_slots - 1, 0, s_next + 1)),
                         started.eq(started + 1)]  # fmt: skip
        with m.If(self.valid):
            m.d.sync += phase.eq(Mux(phase == self.stride - 1, 0, phase + 1))
        with m.If(self.clear):
            m.d.sync += [s_next.eq(0), phase.eq(0), started.eq(0), *[r.eq(0) for r in rem]]
        return m
