"""cocotb testbench of a design that takes a window and returns class scores and the class
(the BNN core, the dataflow pipeline, the byte-stream wrapper).

Configured by environment variables (set by :func:`ecgaccel.sim.core_sim.simulate_core`):
``ECGACCEL_STIM`` (npz with ``beats`` uint64 ``[N, B]``, ``n_classes``, ``out_width`` (bits of
an output word), ``out_bytes`` (output beats a word), ``idle``, ``pause``, ``slice_cycles``
(latency the simulation top adds, subtracted from measured cycles), ``group`` and ``beat_bits``
(design beats per transfer of the top's wide input port, and their width), ``reset_after``
(window index before which a reset interrupts a half-sent window, or -1)) and
``ECGACCEL_RESULT`` (npz written: ``scores`` int64 ``[N, C]``, ``classes`` int64 ``[N]``,
``cycles`` int64 ``[N]``). With ``ECGACCEL_PROGRESS`` set, the number of finished windows is
written to that file every :data:`PROGRESS_EVERY` windows (the parent process polls it for its
progress bar).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge

from ecgaccel.sim.axis import StreamSink, StreamSource

CLOCK_NS = 10
"""Clock period of the simulation top (``bnn_core_tb``), which generates the clock itself."""


PROGRESS_EVERY = 5
"""Windows between updates of the progress file."""

RESET_DELAY_CYCLES = 1
"""Cycles between ``rst`` falling at the top and the core's registered reset falling."""


def _signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


async def _release_reset(dut) -> None:
    """Deassert ``rst`` at a falling edge and wait until the core has left reset: the simulation
    top registers ``rst`` (one cycle); a beat offered while the registered reset is still high
    would look accepted (the input slice's ``tready`` is high) but be dropped by the reset."""
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    await ClockCycles(dut.clk, RESET_DELAY_CYCLES)
    await FallingEdge(dut.clk)


def _join(beats: list[int], n: int) -> list[int]:
    """Output beats → words of ``n`` beats each, least significant beat first (a byte-wide port
    sends each word as ``n`` bytes); ``n`` = 1: the beats themselves."""
    if n == 1:
        return beats
    return [sum(b << (8 * j) for j, b in enumerate(beats[i : i + n]))
            for i in range(0, len(beats), n)]  # fmt: skip


def _words(beats: np.ndarray, group: int, bits: int) -> list[int]:
    """Core beats → transfers of the top's wide input port, ``group`` beats each (first beat in
    the low bits)."""
    b = [int(v) for v in beats]
    return [sum(v << (j * bits) for j, v in enumerate(b[i : i + group]))
            for i in range(0, len(b), group)]  # fmt: skip


@cocotb.test()
async def stream_windows(dut):
    """Every window of the stimulus through the core, with idle gaps and back-pressure."""
    stim = np.load(os.environ["ECGACCEL_STIM"])
    beats = stim["beats"]
    n_classes, width = int(stim["n_classes"]), int(stim["out_width"])
    reset_after = int(stim["reset_after"])
    slice_cycles = int(stim["slice_cycles"])  # latency of the top's serializer and slices
    group, beat_bits = int(stim["group"]), int(stim["beat_bits"])
    out_bytes = int(stim["out_bytes"])  # output beats a word (a byte-wide port: > 1)
    rng = random.Random(int(stim["seed"]))
    src = StreamSource(dut, dut.clk, "s_axis", idle=float(stim["idle"]), rng=rng)
    sink = StreamSink(dut, dut.clk, "m_axis", pause=float(stim["pause"]), rng=rng)
    dut.s_axis__tvalid.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await _release_reset(dut)
    n = len(beats)
    progress = Path(os.environ["ECGACCEL_PROGRESS"]) if "ECGACCEL_PROGRESS" in os.environ else None
    scores = np.zeros((n, n_classes), dtype=np.int64)
    classes = np.zeros(n, dtype=np.int64)
    cycles = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if i == reset_after:
            # half a window, then a reset in the middle of the stream: must recover cleanly
            half = len(beats[i]) // group // 2 * group
            await src.send(_words(beats[i][:half], group, beat_bits))
            dut.rst.value = 1
            await ClockCycles(dut.clk, 2)
            await _release_reset(dut)
        await src.send(_words(beats[i], group, beat_bits))
        out = _join(await sink.receive(), out_bytes)
        if len(out) != n_classes + 1:
            raise AssertionError(f"window {i}: {len(out)} output beats, expected {n_classes + 1}")
        scores[i] = [_signed(v, width) for v in out[:n_classes]]
        classes[i] = out[-1]
        span = round((sink.last_accept_ns - src.first_accept_ns) / CLOCK_NS) + 1
        cycles[i] = span - slice_cycles
        if progress and ((i + 1) % PROGRESS_EVERY == 0 or i + 1 == n):
            progress.write_text(str(i + 1))  # one small write; the reader tolerates a partial one
    tmp = os.environ["ECGACCEL_RESULT"] + ".tmp.npz"
    np.savez(tmp, scores=scores, classes=classes, cycles=cycles)
    os.replace(tmp, os.environ["ECGACCEL_RESULT"])
