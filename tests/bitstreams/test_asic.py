"""``ecgaccel.bitstreams.asic``: Yosys's generic CMOS estimate of a tiny design and of the
core built for the UP5K (the same netlist tests/sim/test_netlist.py simulates)."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from ecgaccel.bitstreams.asic import asic_estimate, memory_bits
from ecgaccel.bitstreams.netlist import TOP, byte_core_verilog
from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.primitives import Popcount

CHECKPOINT = Path(__file__).resolve().parents[2] / "models/checkpoints/ecgbnn5-patient.intnet.json"


def test_asic_estimate_of_a_popcount(tmp_path):
    est = asic_estimate(verilog.convert(Popcount(16), name="popcount"), "popcount", tmp_path)
    assert est["cells"] > 0
    assert est["cells"] == sum(est["cells_by_type"].values())
    # abc -g cmos2 leaves only CMOS gates, no flip-flops or memories here
    assert set(est["cells_by_type"]) <= {"$_NAND_", "$_NOR_", "$_NOT_"}
    by = est["cells_by_type"]
    assert (
        est["transistors"]
        == est["logic_transistors"]
        == (2 * by.get("$_NOT_", 0) + 4 * by.get("$_NAND_", 0) + 4 * by.get("$_NOR_", 0))
    )
    assert est["memory_bits"] == 0
    assert est["log"].is_file()


def test_memory_bits_of_written_arrays():
    text = "  reg [63:0] \\core.in_mem  [449:0];\n  reg \\flag [3:0];\n  reg [7:0] plain;\n"
    assert memory_bits(text) == {"\\core.in_mem": 64 * 450, "\\flag": 4}


def test_asic_estimate_of_the_up5k_core(tmp_path):
    """PE 2 / SIMD 64, the core ``ecgaccel build --target ice40-up5k`` builds: flip-flops and
    memories are counted, and the memories hold at least the packed weights."""
    desc = NetworkDescription.load(CHECKPOINT)
    plan = ByteStreamPlan(plan_core(desc, pe=2, simd=64))
    est = asic_estimate(byte_core_verilog(plan), TOP, tmp_path)
    assert est["cells_by_type"].get("$_DFF_P_", 0) > 100  # the core has state
    assert set(est["cells_by_type"]) <= {"$_NAND_", "$_NOR_", "$_NOT_", "$_DFF_P_"}
    assert est["memory_bits"] >= desc.storage_bits()["weights"]
    # a 6T SRAM cell per memory bit (the standard cell, not the module's constant)
    assert est["transistors"] - est["logic_transistors"] == 6 * est["memory_bits"] > 0
