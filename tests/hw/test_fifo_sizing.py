# amaranth: UnusedElaboratable=no
# (pipelines are built here only for their stages and estimates, never elaborated)
"""FIFO depths of the dataflow pipeline (hw.dataflow with hw.folding.fifo_depths) and the chain
of stage models behind the per-stage cycle bench (sim.stage_cycles), without a simulator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ecgaccel.artifacts import artifact_paths
from ecgaccel.hw.dataflow import (
    DataflowPipeline,
    DataflowPlan,
    layer_specs,
    plan_dataflow,
    stage_specs,
)
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.folding import SHALLOW_FIFO, fifo_depths, folding_from_arrays
from ecgaccel.hw.layers import StreamFifo, head_output_words
from ecgaccel.hw.layers.common import LayerConfigError
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.stage_cycles import stage_names, stage_streams


@pytest.fixture(scope="module")
def desc():
    return NetworkDescription.load(artifact_paths("ecgbnn5", "patient")["description"])


@pytest.fixture(scope="module")
def window():
    w = load_windows(bundled_data_dir(), ["213"])
    return quantize_input(zscore(w.x[5:6]))[0]


def test_default_plan_builds_the_folding_pass_fifos(desc):
    plan = plan_dataflow(desc)
    f = plan.folding
    cfg = folding_from_arrays(desc, [b.pe for b in f], [b.simd for b in f], [b.swg for b in f])
    specs = fifo_depths(desc, cfg)
    assert plan.joint_depths() == tuple(s.depth for s in specs)
    assert len(specs) == len(layer_specs(plan))
    fifos = [args for cls, args in stage_specs(plan) if cls is StreamFifo]
    assert fifos == [(s.width, s.depth) for s in specs if s.depth > SHALLOW_FIFO]
    assert fifos  # the default folding has MVAUs with NF > 1 and a downsizing converter
    # one set of depths: the folding table's FIFO estimate is the built pipeline's
    assert plan.estimates().resources() == DataflowPipeline(plan).estimate_resources()
    # a plan made without depths resolves to the same default
    assert DataflowPlan(desc, plan.folding).key() == plan.key()


def test_given_fifo_depths(desc):
    plan = plan_dataflow(desc)
    n = len(plan.joint_depths())
    none = plan_dataflow(desc, fifo_depths=[0] * n)
    assert not any(cls is StreamFifo for cls, _ in stage_specs(none))
    assert none.key() != plan.key()
    deep = plan_dataflow(desc, fifo_depths=[64] * n)
    assert sum(cls is StreamFifo for cls, _ in stage_specs(deep)) == n
    assert deep.estimates().resources() == DataflowPipeline(deep).estimate_resources()
    est = deep.estimates()
    assert [f.depth for f in est.fifos] == [64] * n
    assert est.table().count("depth=64") == n
    with pytest.raises(LayerConfigError, match=f"give {n} FIFO depths"):
        plan_dataflow(desc, fifo_depths=[4] * (n - 1))
    with pytest.raises(LayerConfigError, match="≥ 0"):
        plan_dataflow(desc, fifo_depths=[-1] + [0] * (n - 1))


def test_chain_of_stage_models_ends_in_the_golden_model(desc, window):
    plan = plan_dataflow(desc)
    streams = stage_streams(plan, window)
    assert [s.name for s in streams] == stage_names(plan)
    assert len(streams) == len(stage_specs(plan))
    for a, b in itertools.pairwise(streams):  # each stage feeds the next
        assert a.words_out == b.words_in, (a.name, b.name)
    ref = reference.run(desc, window[None])
    head = streams[-1]
    assert head.words_out == head_output_words(ref.scores[0], int(ref.pred[0]), head.stage.p.width)
    assert streams[0].words_in[0] == sum(
        (int(v) & 0xFF) << (8 * i) for i, v in enumerate(np.asarray(window).ravel()[:8])
    )
