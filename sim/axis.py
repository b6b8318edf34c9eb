"""Minimal AXI-Stream source and sink for cocotb that run Python once per *transfer*, not per clock.

cocotbext-axi's drivers wake Python on every clock edge for the whole simulation; a BNN core
computes for tens of thousands of cycles between transfers, so these drivers sleep on the
``tvalid`` edge instead and only step clock by clock while beats move. Signals are driven and
sampled at the falling clock edge (mid-cycle, everything settled); a transfer happens at the next
rising edge when ``tvalid`` and ``tready`` are both high, as AXI4-Stream defines it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time


class StreamSource:
    """Drives ``<prefix>__tdata/tvalid/tlast`` of ``dut`` and watches ``<prefix>__tready``.

    ``idle``: probability of inserting an idle cycle (tvalid low) before a beat.
    ``sample_at_edge``: read ``tready`` at the rising edge, where the transfer happens, instead
    of at the falling edge where ``tvalid`` is set. A join's ``tready`` depends on its other
    input's ``tvalid``, which another source may set later in the same half cycle; read at the
    falling edge it is stale and the beat is sent twice (the layer bench samples at the edge).
    The core's bench keeps the falling edge: its cycle counts, which ``hw.core_plan`` predicts
    exactly, were measured so (at the edge they come out 14 cycles shorter for the UP5K core;
    not yet explained).
    """

    def __init__(self, dut, clk, prefix: str, idle: float = 0.0, rng: random.Random | None = None,
                 sample_at_edge: bool = False):  # fmt: skip
        self.clk = clk
        self.tdata = getattr(dut, f"{prefix}__tdata")
        self.tvalid = getattr(dut, f"{prefix}__tvalid")
        self.tready = getattr(dut, f"{prefix}__tready")
        self.tlast = getattr(dut, f"{prefix}__tlast")
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.sample_at_edge = sample_at_edge
        self.first_accept_ns: float | None = None

    async def send(self, words: Sequence[int]) -> None:
        """Send ``words`` as one packet (``tlast`` on the last); returns after the last transfer."""
        self.first_accept_ns = None
        for i, word in enumerate(words):
            while self.idle and self.rng.random() < self.idle:
                self.tvalid.value = 0
                await FallingEdge(self.clk)
            self.tdata.value = word
            self.tlast.value = int(i == len(words) - 1)
            self.tvalid.value = 1
            while True:
                now = get_sim_time("ns")
                if self.sample_at_edge:
                    await RisingEdge(self.clk)
                ready = int(self.tready.value)
                if ready and self.first_accept_ns is None:
                    self.first_accept_ns = now
                await FallingEdge(self.clk)
                if ready:
                    break
        self.tvalid.value = 0
        self.tlast.value = 0


class StreamSink:
    """Accepts beats from ``<prefix>__*`` with random back-pressure (``pause``: probability that
    ``tready`` is low in a cycle while a beat is offered)."""

    def __init__(self, dut, clk, prefix: str, pause: float = 0.0, rng: random.Random | None = None):
        self.clk = clk
        self.tdata = getattr(dut, f"{prefix}__tdata")
        self.tvalid = getattr(dut, f"{prefix}__tvalid")
        self.tready = getattr(dut, f"{prefix}__tready")
        self.tlast = getattr(dut, f"{prefix}__tlast")
        self.pause = pause
        self.rng = rng or random.Random(1)
        self.tready.value = 0
        self.last_accept_ns: float | None = None

    async def receive(self) -> list[int]:
        """Beats of one packet (up to and including ``tlast``)."""
        beats: list[int] = []
        self.tready.value = 0
        while True:
            if not int(self.tvalid.value):
                await RisingEdge(self.tvalid)  # sleep through the computation
                await FallingEdge(self.clk)
                continue
            ready = int(not (self.pause and self.rng.random() < self.pause))
            self.tready.value = ready
            if ready:
                beats.append(int(self.tdata.value))
                last = int(self.tlast.value)
                self.last_accept_ns = get_sim_time("ns")
            await FallingEdge(self.clk)
            if ready:
                self.tready.value = 0
                if last:
                    return beats
