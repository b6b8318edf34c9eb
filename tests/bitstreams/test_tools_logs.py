"""Reading what nextpnr logs when a design does not fit (bitstreams.tools)."""

from __future__ import annotations

from ecgaccel.bitstreams.tools import logged_utilization, overuse

LOG = """Info: Packing constants..
Info: Device utilisation:
Info: 	         ICESTORM_LC:    7021/   5280   132%
Info: 	        ICESTORM_RAM:      30/     30   100%
Info: 	               SB_IO:       8/     96     8%
ERROR: Unable to place cell 'core.th_reg_SB_DFFESR_Q_55_DFFLC', no BELs remaining to implement \
cell type 'ICESTORM_LC'
"""


def test_a_misfit_is_said_as_used_of_available(tmp_path):
    log = tmp_path / "nextpnr-ice40.log"
    log.write_text(LOG)
    util = logged_utilization(log)
    assert util["ICESTORM_LC"] == {"used": 7021, "available": 5280}
    assert util["ICESTORM_RAM"] == {"used": 30, "available": 30}
    assert overuse(util) == "ICESTORM_LC 7021 of 5280 (133 %)"  # the full RAM is not over
    assert logged_utilization(tmp_path / "missing.log") == {} and overuse({}) == ""
