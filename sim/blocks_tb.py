"""cocotb tests of the small BNN building blocks against their Python models, random inputs.

Run by ``tests/sim/test_blocks.py``; ``ECGACCEL_WIDTH`` gives the block's width and
``ECGACCEL_SEED`` the random seed.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np
from cocotb.triggers import Timer

from ecgaccel.hw.description import Thresholds
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
