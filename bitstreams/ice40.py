"""iCE40 family of the build flow (:mod:`.build`): Yosys ``synth_ice40`` → nextpnr-ice40 → icepack.

Resource figures come from the tools' own machine-readable reports: Yosys ``stat -json`` after
synthesis (cells: SB_LUT4, SB_DFF*, SB_RAM40_4K, SB_MAC16) and nextpnr ``--report`` (placed logic
cells ICESTORM_LC, RAM ICESTORM_RAM, DSP ICESTORM_DSP, IO, and the achieved Fmax per clock).
"""

from __future__ import annotations

from .flow import Family

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
    prepare=ICE40_PREPARE,
)  # fmt: skip
