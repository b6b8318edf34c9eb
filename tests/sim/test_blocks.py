"""Popcount, threshold unit and pooling unit on Verilator (cocotb) vs their Python models,
random inputs and parameters."""

from __future__ import annotations

import pytest
from amaranth.back import verilog

from ecgaccel.hw.pool_unit import PoolUnit
from ecgaccel.hw.primitives import Popcount, ThresholdUnit
from ecgaccel.sim.runner import run_cocotb


@pytest.mark.parametrize("width", [7, 64])
def test_popcount(tmp_path, width):
    dut = Popcount(width)
    src = tmp_path / "popcount_top.v"
    src.write_text(verilog.convert(dut, name="popcount_top"))
    run_cocotb([src], "popcount_top", "ecgaccel.sim.blocks_tb", tmp_path / "b",
               testcase="popcount_random",
               extra_env={"ECGACCEL_WIDTH": str(width), "ECGACCEL_SEED": str(width)})  # fmt: skip


@pytest.mark.parametrize("width", [4, 11])
def test_threshold_unit(tmp_path, width):
    dut = ThresholdUnit(width)
    src = tmp_path / "threshold_top.v"
    src.write_text(verilog.convert(dut, name="threshold_top"))
    run_cocotb([src], "threshold_top", "ecgaccel.sim.blocks_tb", tmp_path / "b",
               testcase="threshold_random",
               extra_env={"ECGACCEL_WIDTH": str(width), "ECGACCEL_SEED": str(width)})  # fmt: skip


@pytest.mark.parametrize(("pe", "width", "n_slots", "k_max", "s_max"),
                         [(1, 5, 1, 3, 3), (4, 11, 4, 7, 2)])  # fmt: skip
def test_pool_unit(tmp_path, pe, width, n_slots, k_max, s_max):
    n_max = 9
    dut = PoolUnit(pe, width, n_slots, k_max, s_max, n_max)
    src = tmp_path / "pool_top.v"
    src.write_text(verilog.convert(dut, name="pool_top"))
    env = {"ECGACCEL_PE": pe, "ECGACCEL_WIDTH": width, "ECGACCEL_SLOTS": n_slots,
           "ECGACCEL_KMAX": k_max, "ECGACCEL_SMAX": s_max, "ECGACCEL_NMAX": n_max,
           "ECGACCEL_SEED": pe * 100 + k_max}  # fmt: skip
    run_cocotb(
        [src],
        "pool_top",
        "ecgaccel.sim.blocks_tb",
        tmp_path / "b",
        testcase="pool_random",
        extra_env={k: str(v) for k, v in env.items()},
    )


def test_mismatched_windows_compares_the_decision_word_and_every_score():
    import numpy as np

    from ecgaccel.models.reference import ReferenceOutput
    from ecgaccel.sim.core_sim import CoreSimResult, mismatched_windows

    scores = np.array([[1, 2], [3, 4], [5, 6]])
    ref = ReferenceOutput(scores, np.array([1, 1, 1]), [], word=np.array([1, 3, 1]))
    same = CoreSimResult(scores.copy(), np.array([1, 3, 1]), np.zeros(3, np.int64))
    assert mismatched_windows(same, ref).tolist() == []
    bumped = scores + np.array([[0, 0], [0, 0], [0, 1]])
    one_score = CoreSimResult(bumped, same.classes, same.cycles)
    assert mismatched_windows(one_score, ref).tolist() == [2]
    # the label-bit word, not the argmax, is what a multi-label head emits
    by_argmax = CoreSimResult(scores.copy(), np.array([1, 1, 1]), same.cycles)
    assert mismatched_windows(by_argmax, ref).tolist() == [1]
    with pytest.raises(ValueError, match=r"RTL scores \[3, 2\] against reference scores \[2, 2\]"):
        mismatched_windows(same, ref.first(2))
