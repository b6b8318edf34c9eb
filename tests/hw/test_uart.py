"""The 8N1 UART (:mod:`ecgaccel.hw.uart`) in Amaranth's simulator: transmitter frames, receiver
bytes, framing errors, glitches and overruns."""

from __future__ import annotations

import random

from amaranth.hdl import Module
from amaranth.sim import Simulator

from ecgaccel.hw.uart import UartRx, UartTx

DIV = 5


def _frame(value: int, stop: int = 1) -> list[int]:
    return [0, *((value >> i) & 1 for i in range(8)), stop]


def _run(dut, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_tx_sends_8n1_frames():
    tx = UartTx(DIV)
    values = [0x00, 0xFF, 0xA5, 0x3C]
    got = []

    async def bench(ctx):
        assert ctx.get(tx.tx) == 1  # idle high
        for v in values:
            ctx.set(tx.s_axis.tdata, v)
            ctx.set(tx.s_axis.tvalid, 1)
            await ctx.tick().until(tx.s_axis.tready)
            ctx.set(tx.s_axis.tvalid, 0)
            # the frame starts after the transfer edge; sample each bit in its middle
            await ctx.tick().repeat(DIV // 2)
            bits = []
            for _ in range(10):
                bits.append(ctx.get(tx.tx))
                await ctx.tick().repeat(DIV)
            got.append(bits)

    _run(tx, bench)
    assert got == [_frame(v) for v in values]


def test_rx_receives_and_flags_errors():
    rx = UartRx(DIV)
    rng = random.Random(1)
    values = [rng.getrandbits(8) for _ in range(20)]
    got = []

    async def send(ctx, bits):
        for b in bits:
            ctx.set(rx.rx, b)
            await ctx.tick().repeat(DIV)

    async def bench(ctx):
        ctx.set(rx.m_axis.tready, 1)
        await ctx.tick().repeat(3)
        for v in values:
            await send(ctx, _frame(v))
            await ctx.tick().repeat(1 + rng.randrange(3))
        await ctx.tick().repeat(2 * DIV)
        assert ctx.get(rx.error) == 0
        # a glitch shorter than half a bit is not a start bit
        ctx.set(rx.rx, 0)
        await ctx.tick()
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(3 * DIV)
        assert ctx.get(rx.error) == 0
        # a low stop bit: the byte is dropped, error is set
        await send(ctx, _frame(0x55, stop=0))
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(2 * DIV)
        assert ctx.get(rx.error) == 1

    async def collect(ctx):
        async for clk_edge, rst, valid, data in ctx.tick().sample(
            rx.m_axis.tvalid, rx.m_axis.tdata
        ):
            if rst:
                continue
            if clk_edge and valid:
                got.append(data)

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    assert got == values


def test_rx_overrun_sets_error():
    m = Module()
    m.submodules.rx = rx = UartRx(DIV)

    async def bench(ctx):
        ctx.set(rx.m_axis.tready, 0)  # nobody takes the bytes
        await ctx.tick().repeat(3)
        for v in (0x12, 0x34):
            for b in _frame(v):
                ctx.set(rx.rx, b)
                await ctx.tick().repeat(DIV)
        await ctx.tick().repeat(2 * DIV)
        assert ctx.get(rx.m_axis.tvalid) == 1
        assert ctx.get(rx.m_axis.tdata) == 0x12  # the first byte is kept
        assert ctx.get(rx.error) == 1

    _run(m, bench)
