"""``ecgaccel.bitstreams.netlist``: Yosys netlists of a tiny design for each family, reused while
the source is unchanged (the post-synthesis simulation of the core: tests/sim/test_netlist.py)."""

from __future__ import annotations

import pytest
from amaranth.back import verilog

from ecgaccel.bitstreams.netlist import ice40_cells_sim, synthesize_netlist
from ecgaccel.hw.primitives import Popcount


@pytest.mark.parametrize(("family", "cell"), [("generic", "assign"), ("ice40", "SB_LUT4")])
def test_netlist_of_a_popcount(tmp_path, family, cell):
    src = verilog.convert(Popcount(16), name="popcount")
    net = synthesize_netlist(src, tmp_path, family, top="popcount")
    text = net.path.read_text()
    assert "module popcount(" in text and cell in text
    assert net.libraries == ((ice40_cells_sim(),) if family == "ice40" else ())
    assert all(lib.is_file() for lib in net.libraries)
    stamp = net.path.stat().st_mtime_ns
    again = synthesize_netlist(src, tmp_path, family, top="popcount")
    assert again.path.stat().st_mtime_ns == stamp


def test_unknown_family(tmp_path):
    with pytest.raises(ValueError, match="unknown family"):
        synthesize_netlist("module m(); endmodule", tmp_path, "asic")
