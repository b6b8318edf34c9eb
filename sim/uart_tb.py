"""cocotb bench of :class:`ecgaccel.hw.uart_top.UartTop`: windows in as UART frames, the answer
out as UART frames, the LEDs.

:func:`run_uart_top` builds the top (ports public, :class:`~.runner.PortsOnlyVerilator`) and runs
:func:`uart_windows`, which sends each window's int8 samples as 8N1 frames of ``divider`` cycles
a bit (with a random idle gap of up to a bit between frames), receives the answer by sampling
``tx`` in the middle of every bit (start bit low and stop bit high checked), and reads ``leds``,
``done`` and ``error`` after each answer. Decoding and comparing with the reference is the
caller's job.

Configured by ``ECGACCEL_STIM`` (JSON: ``divider``, ``answer_bytes`` a window, ``timeout_cycles``
a window, ``seed``, ``windows``: lists of bytes) and ``ECGACCEL_RESULT`` (JSON written: per
window ``bytes``, ``leds``, ``done``, ``error``).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, with_timeout

CLOCK_NS = 10
"""Clock period of the bench."""


@dataclass(frozen=True)
class UartAnswer:
    """What the top sent back for one window: the ``answer`` bytes, and its outputs after the
    answer: ``leds`` (the latched class), ``done``, ``error``."""

    answer: bytes
    leds: int
    done: int
    error: int


def run_uart_top(top, windows: np.ndarray, build_dir: Path, seed: int = 0,
                 timeout_cycles: int | None = None) -> list[UartAnswer]:  # fmt: skip
    """Simulate ``top`` (a :class:`~ecgaccel.hw.uart_top.UartTop`) on int8 ``windows``
    ``[N, L]`` (or ``[N, 1, L]``) sent one after another over its UART.

    ``timeout_cycles``: cycles a window's answer may take after its last byte was sent
    (default: the UART time of the answer plus a million cycles).

    Raises
    ------
    ecgaccel.sim.runner.SimulationError
        A frame was malformed or an answer did not come in time (see the cocotb log).
    """
    from amaranth.back import verilog

    from .layers_tb import mark_ports_public
    from .runner import run_cocotb

    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / "uart_top.v"
    src.write_text(mark_ports_public(verilog.convert(top, name="uart_top")))
    answer_bytes = (top.n_classes + 1) * (top.plan.out_width // 8)
    if timeout_cycles is None:
        timeout_cycles = 1_000_000 + 12 * answer_bytes * top.divider
    q = np.asarray(windows).reshape(len(windows), -1)
    stim = {
        "divider": top.divider,
        "answer_bytes": answer_bytes,
        "timeout_cycles": int(timeout_cycles),
        "seed": seed,
        "windows": [[int(v) & 0xFF for v in w] for w in q],
    }
    stim_path, result_path = build_dir / "stim.json", build_dir / "result.json"
    stim_path.write_text(json.dumps(stim))
    run_cocotb([src], "uart_top", "ecgaccel.sim.uart_tb", build_dir / "sim",
               testcase="uart_windows", ports_only=True,
               extra_env={"ECGACCEL_STIM": str(stim_path),
                          "ECGACCEL_RESULT": str(result_path)})  # fmt: skip
    return [UartAnswer(bytes(r["bytes"]), r["leds"], r["done"], r["error"])
            for r in json.loads(result_path.read_text())]  # fmt: skip


async def send_byte(dut, value: int, divider: int) -> None:
    """One 8N1 frame on ``dut.rx``: start bit, 8 data bits LSB first, stop bit."""
    for bit in [0, *((value >> i) & 1 for i in range(8)), 1]:
        dut.rx.value = bit
        await ClockCycles(dut.clk, divider)


async def receive_byte(dut, divider: int) -> int:
    """The next 8N1 frame on ``dut.tx``, sampled in the middle of each bit."""
    await FallingEdge(dut.tx)
    await ClockCycles(dut.clk, divider // 2)
    assert int(dut.tx.value) == 0, "tx: start bit not low in its middle"
    value = 0
    for i in range(8):
        await ClockCycles(dut.clk, divider)
        value |= int(dut.tx.value) << i
    await ClockCycles(dut.clk, divider)
    assert int(dut.tx.value) == 1, f"tx: stop bit low after byte {value:#04x}"
    return value


async def receive_answer(dut, divider: int, n: int) -> list[int]:
    """``n`` frames from ``dut.tx``."""
    return [await receive_byte(dut, divider) for _ in range(n)]


@cocotb.test()
async def uart_windows(dut):
    """Every window of the stimulus over the UART; the answers and LEDs go to the result file."""
    stim = json.loads(Path(os.environ["ECGACCEL_STIM"]).read_text())
    div, n_ans = int(stim["divider"]), int(stim["answer_bytes"])
    rng = random.Random(int(stim["seed"]))
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2 * div)
    results = []
    for k, window in enumerate(stim["windows"]):
        receiver = cocotb.start_soon(receive_answer(dut, div, n_ans))
        for value in window:
            await send_byte(dut, value, div)
            gap = rng.randrange(div + 1)
            if gap:
                await ClockCycles(dut.clk, gap)
        assert not receiver.done(), f"window {k}: an answer before the last sample"
        answer = await with_timeout(receiver, int(stim["timeout_cycles"]) * CLOCK_NS, "ns")
        await ClockCycles(dut.clk, 2)
        results.append({"bytes": answer, "leds": int(dut.leds.value),
                        "done": int(dut.done.value), "error": int(dut.error.value)})  # fmt: skip
    Path(os.environ["ECGACCEL_RESULT"]).write_text(json.dumps(results))
