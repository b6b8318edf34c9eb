"""iCE40 flow: Yosys ``synth_ice40`` → nextpnr-ice40 (→ icepack in the bitstream issue).

Resource figures come from the tools' own machine-readable reports: Yosys ``stat -json`` after
synthesis (cells: SB_LUT4, SB_DFF*, SB_RAM40_4K, SB_MAC16) and nextpnr ``--report`` (placed logic
cells ICESTORM_LC, RAM ICESTORM_RAM, DSP ICESTORM_DSP, IO, and the achieved Fmax per clock).
"""

from __future__ import annotations

from pathlib import Path

from .flow import Family, place_route, synthesize

UP5K = {"device": "up5k", "package": "sg48", "lc": 5280, "bram": 30, "dsp": 8, "io": 39}
"""iCE40 UP5K in the SG48 package: logic cells, 4-kbit block RAMs, DSPs, user IOs."""

ICE40_PREPARE = 'proc; memory_collect; setattr -set ram_style "block" t:$mem_v2 r:WR_PORTS>0 %i'
"""Yosys commands before ``synth_ice40``: every RAM (a memory with a write port: line buffers,
MVAU input buffers, max-pool memories, FIFOs) goes to block RAM (``ram_style = "block"``).
Left to itself, ``memory_libmap`` maps RAMs of up to a few hundred bits to flip-flops and
multiplexers; the iCE40 has no LUT RAM, a flip-flop whose input is not its logic cell's LUT
takes a logic cell of its own, and the UP5K runs out of logic cells (30 block RAMs) long
before block RAMs: on the dataflow pipeline this saves 212 LUT4 and 141 flip-flops (5,303 →
4,959 packed logic cells) for 3 more block RAMs. ROMs (weights, thresholds) are left to Yosys."""

ICE40 = Family(
    synth="synth_ice40 -dsp",
    lut=lambda c: c.get("SB_LUT4", 0),
    ff=lambda c: sum(v for k, v in c.items() if k.startswith("SB_DFF")),
    bram=lambda c: c.get("SB_RAM40_4K", 0),
    dsp=lambda c: c.get("SB_MAC16", 0),
    nextpnr="nextpnr-ice40",
    device_args=lambda part, routed: [f"--{part['device']}", "--package", part["package"],
                                      "--asc", routed, "--pcf-allow-unconstrained"],
    routed_suffix=".asc",
    prepare=ICE40_PREPARE,
)  # fmt: skip


def synthesize_ice40(verilog_text: str, top: str, workdir: Path) -> dict:
    """Yosys ``synth_ice40 -dsp``: ``json``, ``log``, ``cells``, ``lut`` (SB_LUT4), ``ff``
    (SB_DFF*), ``bram`` (SB_RAM40_4K), ``dsp`` (SB_MAC16). Raises ``ToolError``."""
    return synthesize(ICE40, verilog_text, top, workdir)


def place_route_ice40(netlist: Path, workdir: Path, freq_mhz: float, seed: int = 1,
                      part: dict = UP5K) -> dict:  # fmt: skip
    """nextpnr-ice40 on ``part`` (default UP5K-SG48): ``fmax_mhz``, ``timing_met``,
    ``utilization`` (ICESTORM_LC, ICESTORM_RAM, ...), ``routed`` (.asc), ``log``.
    Raises ``ToolError`` when the design does not fit."""
    return place_route(ICE40, part, netlist, workdir, freq_mhz, seed)
