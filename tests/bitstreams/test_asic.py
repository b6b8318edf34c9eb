"""``ecgaccel.bitstreams.asic``: Yosys's generic CMOS estimate (``synth; abc -g cmos2;
stat -tech cmos``) of a tiny design and of the small core."""

from __future__ import annotations

from pathlib import Path

import pytest
from amaranth.back import verilog

from ecgaccel.bitstreams.asic import asic_estimate
from ecgaccel.bitstreams.netlist import TOP, byte_core_verilog
from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.primitives import Popcount

CHECKPOINT = Path(__file__).resolve().parents[2] / "models/checkpoints/ecgbnn5-patient.intnet.json"


def test_asic_estimate_of_a_popcount(tmp_path):
    est = asic_estimate(verilog.convert(Popcount(16), name="popcount"), "popcount", tmp_path)
    assert est["transistors"] > 0
    assert est["cells"] > 0
    assert est["cells"] == sum(est["cells_by_type"].values())
    # abc -g cmos2 leaves only CMOS gates (and flip-flops: none here)
    assert set(est["cells_by_type"]) <= {"$_NAND_", "$_NOR_", "$_NOT_"}
    assert est["log"].is_file()


@pytest.mark.postsynth
def test_asic_estimate_of_the_small_core(tmp_path):
    desc = NetworkDescription.load(CHECKPOINT)
    plan = ByteStreamPlan(plan_core(desc, pe=16, simd=64))
    est = asic_estimate(byte_core_verilog(plan), TOP, tmp_path)
    assert est["transistors"] > est["cells"] > 0
    assert any("DFF" in cell for cell in est["cells_by_type"])  # the core has state
