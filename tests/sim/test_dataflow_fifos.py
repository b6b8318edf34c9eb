# amaranth: UnusedElaboratable=no
# (pipelines are built here only for their stages and estimates, never elaborated)
"""FIFO sizing of the dataflow pipeline (hw.folding.fifo_depths, built by hw.dataflow) on
Verilator: the shipped ECG-BNN on real MIT-BIH windows under heavy stalls, one window at a time
and back to back, must finish (the testbench's watchdog fails a deadlock loudly) bit-exact; at
full rate, back to back, it must reach the estimated initiation interval. The same pipeline with
no FIFO at all (every joint shallow) must too: in a straight valid/ready pipeline, shallow FIFOs
can cost cycles, never correctness (here they cost none)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
from ecgaccel.hw.layers import StreamFifo
from ecgaccel.models import reference
from ecgaccel.sim.core_sim import simulate_core
from ecgaccel.sim.runner import SimulationError
from tests.helpers import bundled_windows, shipped_description

CYCLE_RTOL = 0.10
"""Simulated vs estimated cycles (FINN's ``isclose(exp_cycles, rtlsim_cycles)``)."""
II_RTOL = 0.01
"""Back-to-back initiation interval vs the estimated II: FIFO sizing loses no throughput."""


@pytest.fixture(scope="module")
def desc():
    return shipped_description()


@pytest.fixture(scope="module")
def windows():
    """One window from each bundled record."""
    return bundled_windows(("200", "213", "232", "233"), 9)


def _check_pipeline(plan, windows, desc) -> np.ndarray:
    """Heavy stalls (several seeds, one window at a time and back to back) bit-exact; returns
    the full-rate back-to-back cycles (latency, then the intervals)."""
    ref = reference.run(desc, windows)
    runs = [
        dict(idle=0.5, pause=0.9, seed=1, jobs=2),  # two shards: seeds 1 and 2
        dict(idle=0.5, pause=0.9, seed=3, overlap=True),
        dict(idle=0.2, pause=0.98, seed=4, overlap=True),  # the head holds each result ~300 cycles
    ]
    for kw in runs:
        got = simulate_core(plan, windows, **kw)
        np.testing.assert_array_equal(got.scores, ref.scores, err_msg=str(kw))
        np.testing.assert_array_equal(got.classes, ref.pred, err_msg=str(kw))
    full = simulate_core(plan, windows, overlap=True)
    np.testing.assert_array_equal(full.scores, ref.scores)
    return full.cycles


@pytest.mark.slow  # a Verilator build of the pipeline (shared with test_dataflow.py)
def test_sized_fifos_meet_the_estimated_ii_under_heavy_backpressure(desc, windows):
    plan = plan_dataflow(desc)
    cycles = _check_pipeline(plan, windows, desc)
    est = DataflowPipeline(plan).estimate_cycles()
    print(f"\nsized FIFOs {plan.joint_depths()}: latency {cycles[0]}, II {cycles[1:].tolist()}, "
          f"estimated II {est['ii']}, latency {est['latency']}")  # fmt: skip
    assert np.all(np.abs(cycles[1:] - est["ii"]) <= II_RTOL * est["ii"])
    # one window: the slowest layer plus the others' fill; FINN's sum over the layers is a
    # (very) conservative bound
    assert cycles[0] == pytest.approx(est["ii"], rel=CYCLE_RTOL)
    assert cycles[0] < est["latency"]


@pytest.mark.slow  # the build of the test above (cached)
def test_watchdog_fails_a_stuck_run_loudly(desc, windows, tmp_path):
    """A window that takes longer than the watchdog (here: far too short for any window) fails
    the run with a message, instead of leaving the self-clocked simulator running forever."""
    with pytest.raises(SimulationError):
        simulate_core(plan_dataflow(desc), windows[:1], timeout_cycles=2000, log_dir=tmp_path)
    assert (
        "DEADLOCK? window 0 input: not done within 2000 cycles"
        in (tmp_path / "sim0.log").read_text()
    )


@pytest.mark.slow  # its own Verilator build
def test_no_fifos_cost_no_correctness(desc, windows):
    n = len(plan_dataflow(desc).joint_depths())
    plan = plan_dataflow(desc, fifo_depths=[0] * n)
    assert not any(isinstance(st, StreamFifo) for st in DataflowPipeline(plan).stages)
    cycles = _check_pipeline(plan, windows, desc)
    est = DataflowPipeline(plan).estimate_cycles()
    print(f"\nno FIFOs: latency {cycles[0]}, II {cycles[1:].tolist()}, estimated II {est['ii']}")
    # the SWGs' line buffers and the layers' register slices already hold what the sized FIFOs
    # would: no throughput lost either (measured: the same II as with the sized FIFOs)
    assert np.all(np.abs(cycles[1:] - est["ii"]) <= II_RTOL * est["ii"])
