"""ECP5 flow: Yosys ``synth_ecp5`` → nextpnr-ecp5 (→ ecppack in the bitstream issue).

Cells after synthesis: LUT4, TRELLIS_FF, DP16KD (18-kbit block RAM), MULT18X18D (DSP), CCU2C
(a carry cell holding two LUT4s, counted as such in ``lut``); nextpnr reports placed TRELLIS_COMB
(LUT4 + carry slices), TRELLIS_FF, DP16KD, MULT18X18D and the achieved Fmax.
"""

from __future__ import annotations

from pathlib import Path

from .flow import Family, place_route, synthesize

LFE5U_25F = {"device": "25k", "package": "CABGA256", "lut": 24288, "bram": 56, "dsp": 28}
"""ECP5 LFE5U-25F (ULX3S-class boards): LUT4s, DP16KD block RAMs, 18x18 multipliers."""

LFE5U_85F = {"device": "85k", "package": "CABGA381", "lut": 83640, "bram": 208, "dsp": 156}
"""ECP5 LFE5U-85F (ULX3S 85F), the largest ECP5 the open flow targets."""

ECP5 = Family(
    synth="synth_ecp5",
    lut=lambda c: c.get("LUT4", 0) + 2 * c.get("CCU2C", 0),
    ff=lambda c: c.get("TRELLIS_FF", 0),
    bram=lambda c: c.get("DP16KD", 0),
    dsp=lambda c: c.get("MULT18X18D", 0),
    nextpnr="nextpnr-ecp5",
    device_args=lambda part, routed: [f"--{part['device']}", "--package", part["package"],
                                      "--textcfg", routed],
    routed_suffix=".config",
)  # fmt: skip


def synthesize_ecp5(verilog_text: str, top: str, workdir: Path) -> dict:
    """Yosys ``synth_ecp5``: ``json``, ``log``, ``cells``, ``lut`` (LUT4 + 2 per CCU2C), ``ff``
    (TRELLIS_FF), ``bram`` (DP16KD), ``dsp`` (MULT18X18D). Raises ``ToolError``."""
    return synthesize(ECP5, verilog_text, top, workdir)


def place_route_ecp5(netlist: Path, workdir: Path, freq_mhz: float, seed: int = 1,
                     part: dict = LFE5U_25F) -> dict:  # fmt: skip
    """nextpnr-ecp5 on ``part`` (default LFE5U-25F): ``fmax_mhz``, ``timing_met``,
    ``utilization``, ``routed`` (.config), ``log``. Raises ``ToolError`` when it does not fit."""
    return place_route(ECP5, part, netlist, workdir, freq_mhz, seed)
