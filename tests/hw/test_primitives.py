"""``shift_add_product``: every signed 8-bit × signed 2/3/4-bit product, exhaustively, in
Amaranth's simulator (the MVAU's integer-weight lanes; their RTL: tests/hw/test_layers.py)."""

from __future__ import annotations

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from ecgaccel.hw.primitives import shift_add_product


@pytest.mark.parametrize("wbits", [2, 3, 4])
def test_shift_add_product_exhaustive(wbits):
    x, w = Signal(signed(8)), Signal(signed(wbits))
    p = Signal(signed(8 + wbits))
    m = Module()
    m.d.comb += p.eq(shift_add_product(x, w))
    sim = Simulator(m)
    wrong = []

    async def bench(ctx):
        for xv in range(-128, 128):
            for wv in range(-(1 << (wbits - 1)), 1 << (wbits - 1)):
                ctx.set(x, xv)
                ctx.set(w, wv)
                if ctx.get(p) != xv * wv:
                    wrong.append((xv, wv, ctx.get(p)))

    sim.add_testbench(bench)
    sim.run()
    assert wrong == []
