"""The boards behind each build target, their pins (from amaranth-boards) and the board top.

* ``ice40-up5k``: iCEBreaker (``ICEBreakerPlatform``), iCE40UP5K SG48, 12 MHz oscillator
  (pin 35), FTDI UART rx 6 / tx 9; class on LEDs 2-4 (the break-off PMOD), done on LED 1
  (green), error on LED 0 (red).
* ``ecp5-25f`` / ``ecp5-85f``: ULX3S (``ULX3S_25F_Platform`` / ``ULX3S_85F_Platform``),
  LFE5U-25F / 85F CABGA381, 25 MHz oscillator (G2), FTDI UART rx M1 / tx L4; class on LEDs 0-2,
  done on LED 6, error on LED 7.

The class index is shown in binary on the class LEDs (bit 0 on the first). The design runs
from the board's oscillator (no PLL): ``--freq`` is the timing target nextpnr checks, by default
the oscillator's frequency. UPduino-class boards share the UP5K SG48 and can use the same
design with their own pin file.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from ecgaccel.hw.uart_top import UartTop, class_bits


@dataclass(frozen=True)
class Board:
    """A build target.

    Attributes
    ----------
    target:
        The ``--target`` name.
    board:
        The board the pins are for.
    family:
        ``ice40`` or ``ecp5`` (the Yosys / nextpnr / pack flow).
    platform:
        ``module:Class`` of the amaranth-boards platform.
    nextpnr_device:
        nextpnr's device option (``up5k``, ``25k``, ``85k``).
    package:
        nextpnr's package name.
    speed:
        ECP5 speed grade (None on iCE40).
    clk_hz:
        The board oscillator.
    class_leds, done_led, error_led:
        LED indices (``platform.request("led", i)``).
    io_available:
        User IOs of the package (the datasheet's figure; nextpnr counts every IO site of the
        die).
    resources:
        The device's datasheet resources: logic (``lc``, iCE40 logic cells, or ``lut4``, ECP5
        LUT4s), ``ff`` (one a logic cell or LUT4), ``bram`` (iCE40 4-kbit EBR, ECP5 18-kbit
        DP16KD), ``dsp`` (SB_MAC16, MULT18X18D): the check after Yosys and the figures where
        nextpnr did not run.
    """

    target: str
    board: str
    family: str
    platform: str
    nextpnr_device: str
    package: str
    speed: int | None
    clk_hz: float
    class_leds: tuple[int, ...]
    done_led: int
    error_led: int
    io_available: int
    resources: dict[str, int]

    @property
    def logic_key(self) -> str:
        """The logic resource's key in :attr:`resources`: ``lc`` (iCE40) or ``lut4`` (ECP5)."""
        return "lc" if self.family == "ice40" else "lut4"

    def make_platform(self):
        """A fresh amaranth-boards platform of this board (iCEBreaker: with its break-off PMOD
        of five LEDs)."""
        import importlib

        module, cls = self.platform.split(":")
        platform = getattr(importlib.import_module(module), cls)()
        if self.target == "ice40-up5k":
            platform.add_resources(platform.break_off_pmod)
        return platform


BOARDS: dict[str, Board] = {
    "ice40-up5k": Board("ice40-up5k", "iCEBreaker", "ice40",
                        "amaranth_boards.icebreaker:ICEBreakerPlatform", "up5k", "sg48", None,
                        12e6, (2, 3, 4), 1, 0, 39,
                        {"lc": 5280, "ff": 5280, "bram": 30, "dsp": 8}),
    "ecp5-25f": Board("ecp5-25f", "ULX3S (LFE5U-25F)", "ecp5",
                      "amaranth_boards.ulx3s:ULX3S_25F_Platform", "25k", "CABGA381", 6,
                      25e6, (0, 1, 2), 6, 7, 197,
                      {"lut4": 24288, "ff": 24288, "bram": 56, "dsp": 28}),
    "ecp5-85f": Board("ecp5-85f", "ULX3S (LFE5U-85F)", "ecp5",
                      "amaranth_boards.ulx3s:ULX3S_85F_Platform", "85k", "CABGA381", 6,
                      25e6, (0, 1, 2), 6, 7, 205,
                      {"lut4": 83640, "ff": 83640, "bram": 208, "dsp": 156}),
}  # fmt: skip
"""Build targets by ``--target`` name: the one table of boards and devices (pins, clock, LEDs,
nextpnr part, datasheet resources)."""


class BoardTop(Elaboratable):
    """``top`` (a :class:`~ecgaccel.hw.uart_top.UartTop`) wired to ``board``'s UART and LEDs;
    the clock and power-on reset come from the platform's default clock."""

    def __init__(self, top: UartTop, board: Board) -> None:
        if len(board.class_leds) < class_bits(top.n_classes):
            raise ValueError(f"{board.board}: {len(board.class_leds)} class LEDs for "
                             f"{top.n_classes} classes")  # fmt: skip
        self.top = top
        self.board = board

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.top = top = self.top
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.d.comb += [top.rx.eq(rx.i), tx.o.eq(top.tx)]
        leds = [*zip(self.board.class_leds, top.leds, strict=False),
                (self.board.done_led, top.done), (self.board.error_led, top.error)]  # fmt: skip
        for idx, value in leds:
            m.submodules[f"led_{idx}_buf"] = buf = io.Buffer(
                "o", platform.request("led", idx, dir="-")
            )
            m.d.comb += buf.o.eq(value)
        return m
