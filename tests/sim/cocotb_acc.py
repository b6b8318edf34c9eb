"""cocotb test of the toolchain smoke design: the accumulator sums its inputs."""

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


@cocotb.test()
async def accumulates(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    expected = 0
    for _ in range(50):
        v = random.randrange(256)
        dut.en.value = 1
        dut.din.value = v
        await RisingEdge(dut.clk)
        expected = (expected + v) & 0xFFFF
    dut.en.value = 0
    await RisingEdge(dut.clk)
    assert int(dut.acc.value) == expected
