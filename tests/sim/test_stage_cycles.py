# amaranth: UnusedElaboratable=no
# (pipelines are built here only for their stages and estimates, never elaborated)
"""Every stage of the default dataflow plan of the shipped ECG-BNN simulated alone on Verilator
(sim.stage_cycles, FINN's per-node rtlsim): bit-exact against its Python model on a real window,
and its simulated cycles within 10% of its estimate (FINN's isclose(exp_cycles, rtlsim_cycles));
FIFOs and width converters against their own ``estimate_cycles(n_beats)``."""

from __future__ import annotations

import pytest

from ecgaccel.artifacts import artifact_paths
from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.layers import head_output_words
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.stage_cycles import (
    simulate_stage_cycles,
    stage_cycles_table,
    stage_streams,
    stage_summary,
)

CYCLE_RTOL = 0.10
"""Simulated vs estimated cycles per stage (FINN's ``isclose(exp_cycles, rtlsim_cycles)``)."""


@pytest.mark.slow  # one Verilator build of all 31 stages: 2.5-5 min on 2 busy cores
def test_every_stage_alone_is_bit_exact_and_meets_its_estimate(tmp_path):
    desc = NetworkDescription.load(artifact_paths("ecgbnn5", "patient")["description"])
    window = quantize_input(zscore(load_windows(bundled_data_dir(), ["233"]).x[7:8]))[0]
    plan = plan_dataflow(desc)
    streams = stage_streams(plan, window)
    ref = reference.run(desc, window[None])
    head = streams[-1]  # the chain of stage models is the golden model
    assert head.words_out == head_output_words(ref.scores[0], int(ref.pred[0]), head.stage.p.width)

    # raises SimulationError unless every stage's output words equal its model's (stalled
    # frames and the full-rate frame alike)
    rows = simulate_stage_cycles(plan, window, tmp_path, idle=0.3, pause=0.3, seed=4,
                                 streams=streams)  # fmt: skip
    print("\n" + stage_cycles_table(rows))
    assert [r["name"] for r in rows] == [s.name for s in streams]
    for r in rows:
        assert r["simulated"] == pytest.approx(r["estimated"], rel=CYCLE_RTOL), r
    summary = stage_summary(rows)
    est = DataflowPipeline(plan).estimate_cycles()
    assert summary["ii_simulated"] == pytest.approx(est["ii"], rel=CYCLE_RTOL)
    assert summary["latency_simulated"] == pytest.approx(est["latency"], rel=CYCLE_RTOL)
