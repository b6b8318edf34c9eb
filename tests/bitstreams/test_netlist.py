"""Post-synthesis equivalence: the Yosys-synthesized netlist of the byte-stream core (the design
``ecgaccel build --target ice40-up5k`` builds: PE 2, SIMD 64), simulated on Verilator through
the same cocotb testbench as the RTL, with input stalls and output back-pressure, computes the
reference's scores and classes bit for bit on real MIT-BIH windows.

Measured (2 cores): iCE40 netlist 44 s of Yosys + 71 s of Verilator for one window; the generic
CMOS gate netlist 26 s + 54 s (Verilator's C++ at ``-O0``: ``sim.core_sim.NETLIST_BUILD_ARGS``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgaccel.bitstreams.netlist import byte_core_verilog, synthesize_netlist
from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.models import reference
from ecgaccel.sim.core_sim import NetlistPlan, simulate_core
from tests.helpers import bundled_windows, shipped_description

CHECKPOINT = Path(__file__).resolve().parents[2] / "models/checkpoints/ecgbnn5-patient.intnet.json"


@pytest.fixture(scope="module")
def desc():
    return shipped_description()


@pytest.fixture(scope="module")
def windows():
    """Two windows: the second starts from the state the first left (no reset between)."""
    return bundled_windows(("213", "233"), 0)


@pytest.mark.parametrize(
    "family",
    # the CMOS gate netlist (the ASIC estimate's) is the slower twin of the iCE40 check: run it
    # with ``pytest -m postsynth`` (114 s in CI's last run, where the iCE40 one took 190 s)
    [pytest.param("generic", marks=pytest.mark.postsynth), "ice40"],
)
def test_synthesized_netlist_bit_exact(desc, windows, family, tmp_path):
    """``generic``: the CMOS gate netlist the ASIC estimate counts (NAND/NOR/NOT, D flip-flops,
    memories as arrays); ``ice40``: SB_LUT4/SB_CARRY/SB_DFF*/SB_RAM40_4K, simulated with the
    iCE40 cell models shipped with Yosys."""
    plan = ByteStreamPlan(plan_core(desc, pe=2, simd=64))
    net = synthesize_netlist(byte_core_verilog(plan), tmp_path / "syn", family)
    text = net.path.read_text()
    assert "module byte_core(" in text
    assert ("SB_LUT4" in text) == (family == "ice40")
    assert text.count("\nmodule ") == 1  # flat: gates or library cells only, no RTL modules
    ref = reference.run(desc, windows)
    got = simulate_core(NetlistPlan(plan, net.path, net.libraries), windows, idle=0.1,
                        pause=0.2, seed=3, build_root=tmp_path / "sim")  # fmt: skip
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
