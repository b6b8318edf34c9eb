"""The whole dataflow pipeline (hw.dataflow) on Verilator: bit-exact scores and classes on real
MIT-BIH windows with idle input gaps and output back-pressure; cycles vs the layers' estimates."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.artifacts import artifact_paths
from ecgaccel.hw.dataflow import BlockFolding, DataflowPipeline, plan_dataflow
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.layers.common import LayerConfigError
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.core_sim import simulate_core

CYCLE_RTOL = 0.10
"""Simulated vs estimated cycles, as FINN's isclose(exp_cycles, rtlsim_cycles) checks."""


@pytest.fixture(scope="module")
def desc():
    return NetworkDescription.load(artifact_paths("ecgbnn5", "patient")["description"])


@pytest.fixture(scope="module")
def windows():
    w = load_windows(bundled_data_dir())
    pick = [int(np.flatnonzero(w.record == r)[5]) for r in ("200", "213", "233")]
    return quantize_input(zscore(w.x[pick]))


def test_dataflow_bit_exact_with_backpressure_and_cycles(desc, windows):
    plan = plan_dataflow(desc)  # default folding: converters on the input and in block 1
    ref = reference.run(desc, windows)
    got = simulate_core(plan, windows, idle=0.2, pause=0.4, seed=3)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    # full rate: one window's cycles are the slowest layer's plus the fill of the others
    full = simulate_core(plan, windows[:1])
    ii = DataflowPipeline(plan).estimate_cycles()["ii"]
    assert full.cycles[0] == pytest.approx(ii, rel=CYCLE_RTOL)
    assert np.all(got.cycles >= full.cycles[0])  # stalls only add cycles


def test_dataflow_rejects_bad_folding(desc):
    with pytest.raises(LayerConfigError, match="block 2"):
        plan_dataflow(desc, [BlockFolding(8, 7, 1), BlockFolding(3, 8)] + [BlockFolding(8, 8)] * 4)
    with pytest.raises(LayerConfigError, match="folding has 2 blocks"):
        plan_dataflow(desc, [BlockFolding(8, 7, 1)] * 2)
