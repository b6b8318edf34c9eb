"""ECP5 family of the build flow (:mod:`.build`): Yosys ``synth_ecp5`` → nextpnr-ecp5 → ecppack.

Cells after synthesis: LUT4, TRELLIS_FF, DP16KD (18-kbit block RAM), MULT18X18D (DSP), CCU2C
(a carry cell holding two LUT4s, counted as such in ``lut``); nextpnr reports placed TRELLIS_COMB
(LUT4 + carry slices), TRELLIS_FF, DP16KD, MULT18X18D and the achieved Fmax.
"""

from __future__ import annotations

from .flow import Family

ECP5 = Family(
    synth="synth_ecp5",
    lut=lambda c: c.get("LUT4", 0) + 2 * c.get("CCU2C", 0),
    ff=lambda c: c.get("TRELLIS_FF", 0),
    bram=lambda c: c.get("DP16KD", 0),
    dsp=lambda c: c.get("MULT18X18D", 0),
    nextpnr="nextpnr-ecp5",
)  # fmt: skip
