"""The bitstream top: a back end behind a UART, the class on LEDs.

:class:`UartTop` puts :class:`~.byte_stream.ByteStreamCore` (the hand-written core or the
dataflow pipeline) between an 8N1 receiver and transmitter (:mod:`~.uart`), so a board needs
only two IOs for the data: the host sends the int8 samples of one window (3,600 bytes for the
ECG-BNN), one UART frame each, and reads back the answer on the same link: every class score,
then the class, each ``out_width / 8`` bytes little-endian (24 bytes for 32-bit words and 5
classes; scores are two's complement). The class index is also latched onto ``leds`` (binary)
when its first byte leaves, ``done`` goes high with the first result and ``error`` (sticky)
reports a UART framing error or overrun.

Protocol: send one window, wait for its answer, then send the next. There is no flow control
(the iCEBreaker's FTDI link has only RX and TX); the back ends take a byte far faster than a
UART delivers one, but the core accepts the next window only after it has answered.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .byte_stream import ByteStreamCore, ByteStreamPlan, InnerPlan
from .uart import UartRx, UartTx, uart_divider

DEFAULT_BAUD = 115_200
"""Baud rate of the board builds (12 MHz / 104 and 25 MHz / 217 cycles a bit, under 0.2 % off)."""


def class_bits(n_classes: int) -> int:
    """Bits of a class index (at least one)."""
    return max(1, (n_classes - 1).bit_length())


class UartTop(wiring.Component):
    """:class:`~.byte_stream.ByteStreamCore` of ``plan`` behind an 8N1 UART at ``baud`` on a
    ``clk_hz`` clock (``divider`` overrides ``round(clk_hz / baud)``, e.g. 4 in simulation).

    Members
    -------
    rx : In(1)
        UART from the host (idle high).
    tx : Out(1)
        UART to the host (idle high): the scores, then the class.
    leds : Out(class_bits(n_classes))
        The last class index, binary.
    done : Out(1)
        A class has been latched since reset.
    error : Out(1)
        Sticky UART receive error (framing or overrun).

    Raises
    ------
    UartConfigError
        A clock and baud rate that give too few cycles a bit or a large rate error.
    """

    def __init__(self, plan: InnerPlan, clk_hz: float, baud: int = DEFAULT_BAUD,
                 divider: int | None = None) -> None:  # fmt: skip
        self.plan = plan
        self.clk_hz = clk_hz
        self.baud = baud
        self.divider = divider if divider is not None else uart_divider(clk_hz, baud)
        self.n_classes = plan.n_classes
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "leds": Out(class_bits(plan.n_classes)),
            "done": Out(1),
            "error": Out(1),
        })  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.uart_rx = rx = UartRx(self.divider)
        m.submodules.core = core = ByteStreamCore(self.plan)
        m.submodules.uart_tx = tx = UartTx(self.divider)
        wiring.connect(m, rx.m_axis, core.s_axis)
        wiring.connect(m, core.m_axis, tx.s_axis)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), self.error.eq(rx.error)]
        # the class word is the last of the answer: latch its first (least significant) byte
        out_bytes = ByteStreamPlan(self.plan).out_bytes
        class_byte = self.n_classes * out_bytes
        count = Signal(range(class_byte + out_bytes + 1))
        with m.If(core.m_axis.tvalid & core.m_axis.tready):
            m.d.sync += count.eq(count + 1)
            with m.If(count == class_byte):
                m.d.sync += [self.leds.eq(core.m_axis.tdata), self.done.eq(1)]
            with m.If(core.m_axis.tlast):
                m.d.sync += count.eq(0)
        return m
