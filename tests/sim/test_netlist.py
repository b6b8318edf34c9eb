"""Post-synthesis equivalence: the Yosys-synthesized netlist of the byte-stream core (the design
that is built), simulated on Verilator through the same cocotb testbench as the RTL, computes
the reference's scores and classes bit for bit on real MIT-BIH windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgaccel.bitstreams.netlist import byte_core_verilog, synthesize_netlist
from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.core_sim import NetlistPlan, simulate_core

CHECKPOINT = Path(__file__).resolve().parents[2] / "models/checkpoints/ecgbnn5-patient.intnet.json"


@pytest.fixture(scope="module")
def desc():
    return NetworkDescription.load(CHECKPOINT)


@pytest.fixture(scope="module")
def windows():
    w = load_windows(bundled_data_dir())
    pick = [np.flatnonzero(w.record == r)[0] for r in ("200", "213", "233")]
    return quantize_input(zscore(w.x[pick]))


@pytest.mark.postsynth
@pytest.mark.parametrize("family", ["generic", "ice40"])
def test_synthesized_netlist_bit_exact(desc, windows, family, tmp_path):
    """``generic``: Yosys's gate cells; ``ice40``: SB_LUT4/SB_CARRY/SB_DFF*/SB_RAM40_4K,
    simulated with the iCE40 cell models shipped with Yosys."""
    plan = ByteStreamPlan(plan_core(desc, pe=16, simd=64))
    net = synthesize_netlist(byte_core_verilog(plan), tmp_path / "syn", family)
    text = net.path.read_text()
    assert "module byte_core(" in text
    assert ("SB_LUT4" in text) == (family == "ice40")
    ref = reference.run(desc, windows)
    got = simulate_core(NetlistPlan(plan, net.path, net.libraries), windows, idle=0.1,
                        pause=0.2, seed=3, build_root=tmp_path / "sim")  # fmt: skip
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
