"""Popcount and threshold unit on Verilator (cocotb) vs their Python models, random widths."""

from __future__ import annotations

import pytest
from amaranth.back import verilog

from ecgaccel.hw.primitives import Popcount, ThresholdUnit
from ecgaccel.sim.runner import run_cocotb


@pytest.mark.parametrize("width", [7, 32, 64])
def test_popcount(tmp_path, width):
    dut = Popcount(width)
    src = tmp_path / "popcount_top.v"
    src.write_text(verilog.convert(dut, name="popcount_top"))
    run_cocotb([src], "popcount_top", "ecgaccel.sim.blocks_tb", tmp_path / "b",
               testcase="popcount_random",
               extra_env={"ECGACCEL_WIDTH": str(width), "ECGACCEL_SEED": str(width)})  # fmt: skip


@pytest.mark.parametrize("width", [4, 11, 16])
def test_threshold_unit(tmp_path, width):
    dut = ThresholdUnit(width)
    src = tmp_path / "threshold_top.v"
    src.write_text(verilog.convert(dut, name="threshold_top"))
    run_cocotb([src], "threshold_top", "ecgaccel.sim.blocks_tb", tmp_path / "b",
               testcase="threshold_random",
               extra_env={"ECGACCEL_WIDTH": str(width), "ECGACCEL_SEED": str(width)})  # fmt: skip
