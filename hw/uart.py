"""A small 8N1 UART: :class:`UartRx` and :class:`UartTx`, byte streams on the fabric side.

One bit lasts ``divider`` clock cycles (``round(clk_hz / baud)``, :func:`uart_divider`); the
divider is a parameter so that a simulation can use a few cycles a bit. Both sides speak the
byte stream of :class:`~.stream.AxiStreamSignature` (``tlast`` unused: a UART frame is one
byte).

The receiver synchronizes ``rx`` (two flip-flops, idle high), starts on a falling edge, checks
the start bit half a bit later (a shorter low pulse is a glitch and ignored), samples the 8 data
bits (LSB first) in the middle of each bit and the stop bit; a low stop bit is a framing error
and the byte is dropped. A received byte waits in a one-byte register until the stream takes
it; a byte completed while the register is still full is dropped and counted as an overrun.
Both errors set the sticky ``error`` output (cleared by reset).
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .stream import AxiStreamSignature

MIN_DIVIDER = 4
"""Fewest clock cycles a bit that the receiver handles (it samples half a bit after the
synchronized start edge)."""


class UartConfigError(ValueError):
    """A clock / baud rate pair the UART cannot implement (the message gives both)."""


def uart_divider(clk_hz: float, baud: int) -> int:
    """Clock cycles a bit: ``round(clk_hz / baud)``.

    Raises
    ------
    UartConfigError
        Fewer than :data:`MIN_DIVIDER` cycles a bit, or a rate error over 2 % (8N1 tolerates
        about 4 % between both ends).
    """
    if baud <= 0 or clk_hz <= 0:
        raise UartConfigError(f"clock {clk_hz} Hz and baud {baud} must be positive")
    div = round(clk_hz / baud)
    if div < MIN_DIVIDER:
        raise UartConfigError(
            f"baud {baud} at a {clk_hz / 1e6:g} MHz clock gives {div} cycles a bit; "
            f"the UART needs at least {MIN_DIVIDER}"
        )
    err = abs(clk_hz / div - baud) / baud
    if err > 0.02:
        raise UartConfigError(
            f"baud {baud} at a {clk_hz / 1e6:g} MHz clock is off by {100 * err:.1f} % "
            f"({div} cycles a bit); choose a baud rate nearer clk / n"
        )
    return div


class UartRx(wiring.Component):
    """8N1 receiver.

    Members
    -------
    rx : In(1)
        The serial line (idle high); asynchronous, synchronized inside.
    m_axis : Out(AxiStreamSignature(8))
        Received bytes.
    error : Out(1)
        Sticky: a framing error (low stop bit) or an overrun (a byte lost because the previous
        one was not taken yet) happened.
    """

    def __init__(self, divider: int) -> None:
        if divider < MIN_DIVIDER:
            raise UartConfigError(f"divider {divider} < {MIN_DIVIDER} cycles a bit")
        self.divider = divider
        super().__init__({"rx": In(1, init=1), "m_axis": Out(AxiStreamSignature(8)),
                          "error": Out(1)})  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        div = self.divider
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(div))
        bits = Signal(range(9))
        shift = Signal(8)
        data = Signal(8)
        full = Signal()
        m.d.comb += [
            self.m_axis.tdata.eq(data),
            self.m_axis.tvalid.eq(full),
            self.m_axis.tlast.eq(0),
        ]
        with m.If(self.m_axis.tvalid & self.m_axis.tready):
            m.d.sync += full.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"), m.If(~rx):
                m.d.sync += timer.eq(div // 2 - 1)
                m.next = "START"
            with m.State("START"), m.If(timer == 0):
                with m.If(rx):  # a glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(div - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"), m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], rx)), timer.eq(div - 1),
                             bits.eq(bits + 1)]  # fmt: skip
                with m.If(bits == 7):
                    m.next = "STOP"
            with m.State("STOP"), m.If(timer == 0):
                with m.If(~rx):
                    m.d.sync += self.error.eq(1)  # framing error: drop the byte
                with m.Elif(full & ~self.m_axis.tready):
                    m.d.sync += self.error.eq(1)  # overrun: the last byte is still there
                with m.Else():
                    m.d.sync += [data.eq(shift), full.eq(1)]
                m.next = "IDLE"  # wait for the next falling edge from mid stop bit
        return m


class UartTx(wiring.Component):
    """8N1 transmitter.

    Members
    -------
    s_axis : In(AxiStreamSignature(8))
        Bytes to send (``tlast`` ignored); one is taken when the line is idle.
    tx : Out(1)
        The serial line (idle high).
    """

    def __init__(self, divider: int) -> None:
        if divider < 1:
            raise UartConfigError(f"divider {divider} < 1 cycle a bit")
        self.divider = divider
        super().__init__({"s_axis": In(AxiStreamSignature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        div = self.divider
        frame = Signal(10, init=0x3FF)  # stop, data (LSB first), start
        left = Signal(range(11))  # bits still to send
        timer = Signal(range(div))
        m.d.comb += [self.tx.eq(frame[0]), self.s_axis.tready.eq(left == 0)]
        with m.If(left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], C(1, 1))), left.eq(left - 1),
                             timer.eq(div - 1)]  # fmt: skip
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        with m.Elif(self.s_axis.tvalid):
            m.d.sync += [frame.eq(Cat(C(0, 1), self.s_axis.tdata, C(1, 1))), left.eq(10),
                         timer.eq(div - 1)]  # fmt: skip
        return m
