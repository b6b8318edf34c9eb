"""cocotb testbench of a design that takes a window and returns class scores and the class
(the BNN core, the dataflow pipeline, the byte-stream wrapper).

Configured by environment variables (set by :func:`ecgaccel.sim.core_sim.simulate_core`):
``ECGACCEL_STIM`` (npz with ``beats`` uint64 ``[N, B]``, ``n_classes``, ``out_width`` (bits of
an output word), ``out_bytes`` (output beats a word), ``idle``, ``pause``, ``slice_cycles``
(latency the simulation top adds, subtracted from measured cycles), ``group`` and ``beat_bits``
(design beats per transfer of the top's wide input port, and their width), ``reset_after``
(window index before which a reset interrupts a half-sent window, or -1), ``overlap`` (1: send
the windows back to back while earlier results are still coming out, see
:func:`stream_back_to_back`; optional, default 0), ``timeout_cycles`` (the most cycles a window
may take before the test fails as a deadlock; optional, default :data:`DEFAULT_TIMEOUT_CYCLES`))
and
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
from cocotb.triggers import ClockCycles, FallingEdge, SimTimeoutError, with_timeout

from ecgaccel.sim.axis import StreamSink, StreamSource

CLOCK_NS = 10
"""Clock period of the simulation top (``bnn_core_tb``), which generates the clock itself."""


PROGRESS_EVERY = 5
"""Windows between updates of the progress file."""

RESET_DELAY_CYCLES = 1
"""Cycles between ``rst`` falling at the top and the core's registered reset falling."""

DEFAULT_TIMEOUT_CYCLES = 10_000_000
"""Watchdog of a window when the stimulus names none (cycles)."""


async def _watchdog(what, cycles: int, label: str):
    """Await ``what`` (a coroutine), failing loudly when it takes more than ``cycles`` clock
    cycles: a design that deadlocks (or stalls for good) must fail the test, not hang the
    simulator, whose clock runs by itself."""
    try:
        return await with_timeout(what, cycles * CLOCK_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"DEADLOCK? {label}: not done within {cycles} cycles") from None


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


async def stream_back_to_back(src: StreamSource, sink: StreamSink, words: list[list[int]],
                              n_classes: int, out_bytes: int, slice_cycles: int,
                              timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES
                              ) -> tuple[list[list[int]], list[int]]:  # fmt: skip
    """Send every window's input words as soon as the design takes them (the next window while
    the previous one is still computing) and collect the outputs. Returns the output words of
    each window and its cycles: window 0 from its first input transfer to its last output
    transfer (latency, less ``slice_cycles``), window ``i > 0`` from window ``i - 1``'s last
    output transfer to its own (the initiation interval). Each window's result must come within
    ``timeout_cycles`` of the previous one's (else the test fails: deadlock)."""
    firsts: list[float] = []

    async def send_all() -> None:
        for w in words:
            await src.send(w)
            firsts.append(src.first_accept_ns)

    sender = cocotb.start_soon(send_all())
    outs, cycles, prev = [], [], None
    for i in range(len(words)):
        beats = await _watchdog(sink.receive(), timeout_cycles, f"window {i} (back to back)")
        out = _join(beats, out_bytes)
        if len(out) != n_classes + 1:
            raise AssertionError(f"window {i}: {len(out)} output beats, expected {n_classes + 1}")
        outs.append(out)
        end = sink.last_accept_ns
        if prev is None:
            cycles.append(round((end - firsts[0]) / CLOCK_NS) + 1 - slice_cycles)
        else:
            cycles.append(round((end - prev) / CLOCK_NS))
        prev = end
    await sender
    return outs, cycles


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
    timeout = int(stim["timeout_cycles"]) if "timeout_cycles" in stim else DEFAULT_TIMEOUT_CYCLES
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
    if "overlap" in stim and int(stim["overlap"]):
        words = [_words(b, group, beat_bits) for b in beats]
        outs, spans = await stream_back_to_back(src, sink, words, n_classes, out_bytes,
                                                slice_cycles, timeout)  # fmt: skip
        for i, out in enumerate(outs):
            scores[i] = [_signed(v, width) for v in out[:n_classes]]
            classes[i] = out[-1]
        cycles[:] = spans
        if progress:
            progress.write_text(str(n))
    else:
        for i in range(n):
            if i == reset_after:
                # half a window, then a reset in the middle of the stream: must recover cleanly
                half = len(beats[i]) // group // 2 * group
                await src.send(_words(beats[i][:half], group, beat_bits))
                dut.rst.value = 1
                await ClockCycles(dut.clk, 2)
                await _release_reset(dut)
            words = _words(beats[i], group, beat_bits)
            await _watchdog(src.send(words), timeout, f"window {i} input")
            out = _join(await _watchdog(sink.receive(), timeout, f"window {i} output"), out_bytes)
            if len(out) != n_classes + 1:
                raise AssertionError(
                    f"window {i}: {len(out)} output beats, expected {n_classes + 1}"
                )
            scores[i] = [_signed(v, width) for v in out[:n_classes]]
            classes[i] = out[-1]
            span = round((sink.last_accept_ns - src.first_accept_ns) / CLOCK_NS) + 1
            cycles[i] = span - slice_cycles
            if progress and ((i + 1) % PROGRESS_EVERY == 0 or i + 1 == n):
                # one small write; the reader tolerates a partial one
                progress.write_text(str(i + 1))
    tmp = os.environ["ECGACCEL_RESULT"] + ".tmp.npz"
    np.savez(tmp, scores=scores, classes=classes, cycles=cycles)
    os.replace(tmp, os.environ["ECGACCEL_RESULT"])
