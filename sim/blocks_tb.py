"""cocotb tests of the small BNN building blocks against their Python models, random inputs.

Run by ``tests/sim/test_blocks.py``; ``ECGACCEL_WIDTH`` gives the block's width and
``ECGACCEL_SEED`` the random seed (the pooling unit also reads ``ECGACCEL_PE``,
``ECGACCEL_SLOTS``, ``ECGACCEL_KMAX``, ``ECGACCEL_SMAX`` and ``ECGACCEL_NMAX``).
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from ecgaccel.hw.description import Thresholds
from ecgaccel.hw.pool_unit import pool_slots, pool_unit_model
from ecgaccel.hw.primitives import popcount_model

N_VECTORS = 2000


def _rng() -> random.Random:
    return random.Random(int(os.environ.get("ECGACCEL_SEED", "0")))


@cocotb.test()
async def popcount_random(dut):
    """Popcount of random vectors (and all-zeros / all-ones) equals the Python model."""
    width = int(os.environ["ECGACCEL_WIDTH"])
    rng = _rng()
    vectors = [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(N_VECTORS)]
    for v in vectors:
        dut.i.value = v
        await Timer(1, unit="ns")
        assert int(dut.o.value) == popcount_model(v, width), f"popcount({v:#x})"


@cocotb.test()
async def threshold_random(dut):
    """Two-threshold compare of random (m, lo, hi, invert) equals ``Thresholds.apply``."""
    width = int(os.environ["ECGACCEL_WIDTH"])
    rng = _rng()
    lim = 1 << (width - 1)
    mask = (1 << width) - 1
    for _ in range(N_VECTORS):
        m, lo, hi = (rng.randrange(-lim, lim) for _ in range(3))
        inv = rng.getrandbits(1)
        dut.m.value, dut.lo.value, dut.hi.value, dut.invert.value = (
            m & mask,
            lo & mask,
            hi & mask,
            inv,
        )
        await Timer(1, unit="ns")
        th = Thresholds(lo=np.array([lo]), hi=np.array([hi]), invert=np.array([bool(inv)]))
        want = int(th.apply(np.array([[m]]))[0, 0])
        assert int(dut.bit.value) == want, f"m={m} lo={lo} hi={hi} inv={inv}"


def _pack(values, width: int) -> int:
    mask = (1 << width) - 1
    return sum((int(v) & mask) << (i * width) for i, v in enumerate(values))


def _unpack(word: int, width: int, n: int) -> list[int]:
    mask = (1 << width) - 1
    lanes = [(word >> (i * width)) & mask for i in range(n)]
    return [v - (1 << width) if v >> (width - 1) else v for v in lanes]


@cocotb.test()
async def pool_random(dut):
    """Pooling unit on random sequences, kernels, strides and output counts, with idle cycles
    between inputs: every completed window (when, and its maxima) equals ``pool_unit_model``."""
    pe, width = int(os.environ["ECGACCEL_PE"]), int(os.environ["ECGACCEL_WIDTH"])
    n_slots, k_max, s_max = (int(os.environ[k]) for k in
                             ("ECGACCEL_SLOTS", "ECGACCEL_KMAX", "ECGACCEL_SMAX"))  # fmt: skip
    n_max = int(os.environ["ECGACCEL_NMAX"])
    rng = _rng()
    lim = 1 << (width - 1)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value, dut.valid.value, dut.clear.value = 1, 0, 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    for case in range(60):
        kernel = rng.randint(1, k_max)
        stride = rng.choice([s for s in range(1, s_max + 1) if pool_slots(kernel, s) <= n_slots])
        n_full = rng.randint(1, n_max)
        length = (n_full - 1) * stride + kernel + rng.randint(0, stride - 1)
        n_out = rng.randint(1, n_full)  # the core may stop early: later windows are not started
        values = np.array([[rng.randrange(-lim, lim) for _ in range(pe)] for _ in range(length)])
        want_at, want = pool_unit_model(values, kernel, stride, n_out)
        await FallingEdge(dut.clk)
        dut.kernel.value, dut.stride.value, dut.n_out.value = kernel, stride, n_out
        dut.clear.value = 1
        await FallingEdge(dut.clk)
        dut.clear.value = 0
        got_at, got = [], []
        for t, row in enumerate(values):
            while rng.random() < 0.3:  # idle cycle with garbage data
                dut.valid.value, dut.m.value = 0, rng.getrandbits(pe * width)
                await Timer(1, unit="ns")
                assert not int(dut.done.value), f"case {case}: done without a valid input"
                await FallingEdge(dut.clk)
            dut.valid.value, dut.m.value = 1, _pack(row, width)
            await Timer(1, unit="ns")
            if int(dut.done.value):
                got_at.append(t)
                got.append(_unpack(int(dut.out.value), width, pe))
            await FallingEdge(dut.clk)
        dut.valid.value = 0
        where = f"case {case} (kernel {kernel}, stride {stride}, n_out {n_out}, T {length})"
        assert got_at == want_at.tolist(), f"{where}: done at {got_at}, expected {want_at}"
        assert np.array_equal(np.array(got).reshape(-1, pe), want), f"{where}: maxima differ"
