# amaranth: UnusedElaboratable=no
# (pipelines are built here only to ask for their stages and estimates)
"""The whole dataflow pipeline (hw.dataflow) on Verilator: bit-exact scores and classes on real
MIT-BIH windows with idle input gaps and output back-pressure; cycles vs the layers' estimates.
Also a small random WnAn network (integer weights, n-bit activations)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgaccel.artifacts import artifact_paths
from ecgaccel.hw.dataflow import BlockFolding, DataflowPipeline, plan_dataflow
from ecgaccel.hw.description import (
    ConvLayer,
    MultiThresholds,
    NetworkDescription,
    SumHead,
)
from ecgaccel.hw.layers.common import LayerConfigError
from ecgaccel.hw.layers.mvau import MVAU
from ecgaccel.hw.layers.threshold import MultiThresholdLayer
from ecgaccel.models import reference
from ecgaccel.sim.core_sim import simulate_core
from tests.helpers import bundled_windows, shipped_description

CYCLE_RTOL = 0.10
"""Simulated vs estimated cycles, as FINN's isclose(exp_cycles, rtlsim_cycles) checks."""


@pytest.fixture(scope="module")
def desc():
    return shipped_description()


@pytest.fixture(scope="module")
def windows():
    return bundled_windows(("200", "213", "233"), 5)


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


def test_up5k_build_design_bit_exact_with_backpressure_and_cycles(desc, windows):
    """The design ``ecgaccel build --backend dataflow --target ice40-up5k`` builds: serial
    max-pools, one-sample input beats (no input width converter or FIFO)."""
    from ecgaccel.bitstreams.build import BuildRequest, make_plan

    plan = make_plan(BuildRequest("ice40-up5k", "ecgbnn5", "patient", "dataflow"), desc)[0]
    assert plan.in_lanes == 1 and all(f.pool_serial for f in plan.folding)
    ref = reference.run(desc, windows[:2])
    got = simulate_core(plan, windows[:2], idle=0.2, pause=0.4, seed=5)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    # windows back to back at full rate: results come the estimated II apart (one window
    # alone takes longer: six slow layers fill one after the other)
    b2b = simulate_core(plan, windows[:2], overlap=True)
    np.testing.assert_array_equal(b2b.scores, ref.scores)
    ii = DataflowPipeline(plan).estimate_cycles()["ii"]
    assert b2b.cycles[1] == pytest.approx(ii, rel=CYCLE_RTOL)


def test_dataflow_rejects_bad_folding(desc):
    with pytest.raises(LayerConfigError, match="block 2"):
        plan_dataflow(desc, [BlockFolding(8, 7, 1), BlockFolding(3, 8)] + [BlockFolding(8, 8)] * 4)
    with pytest.raises(LayerConfigError, match="folding has 2 blocks"):
        plan_dataflow(desc, [BlockFolding(8, 7, 1)] * 2)


def test_dataflow_w2a2_checkpoint_bit_exact_and_cycles(windows):
    """The shipped W2A2 checkpoint (2-bit weights and activations, 8-bit input): integer-weight
    MVAUs and multi-threshold layers, bit-exact on real windows under stalls; cycles at full
    rate within 10% of the slowest layer's estimate."""
    desc = NetworkDescription.load(artifact_paths("ecgbnn5-w2a2", "patient")["description"])
    assert {layer.weight_bits for layer in desc.layers} == {2}
    plan = plan_dataflow(desc)
    ref = reference.run(desc, windows)
    got = simulate_core(plan, windows, idle=0.2, pause=0.4, seed=3)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    full = simulate_core(plan, windows[:1])
    ii = DataflowPipeline(plan).estimate_cycles()["ii"]
    assert full.cycles[0] == pytest.approx(ii, rel=CYCLE_RTOL), (full.cycles[0], ii)
    assert np.all(got.cycles >= full.cycles[0])


def _quantile_thresholds(m: np.ndarray, out_bits: int, acc_max: int) -> MultiThresholds:
    """Multi-thresholds at the quantiles of pooled accumulators ``m`` ``[N, C, L]``, so that
    every level occurs; channel ``c % 4``: 0 increasing, 1 decreasing (signs -1), 2 V-shaped
    (signs -1 then +1), 3 increasing with its last step padded (unreachable)."""
    n_steps = (1 << out_bits) - 1
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    c = m.shape[1]
    t = np.zeros((c, n_steps), np.int64)
    sign = np.ones((c, n_steps), np.int8)
    base = np.full(c, lo, np.int64)
    for ch in range(c):
        q = np.quantile(m[:, ch].ravel(), (np.arange(n_steps) + 1) / (n_steps + 1))
        t[ch] = np.ceil(q).astype(np.int64)
        kind = ch % 4
        if kind == 1:
            sign[ch], base[ch] = -1, hi
        elif kind == 2:
            down = n_steps // 2 + 1
            sign[ch, :down], base[ch] = -1, hi
        elif kind == 3:
            t[ch, -1] = acc_max + 1
    return MultiThresholds(thresholds=t, sign=sign, base=base, out_bits=out_bits)


def _wnan_net(seed: int = 0, n_windows: int = 32) -> tuple[NetworkDescription, np.ndarray]:
    """A small random WnAn network, mixed precisions (block 1: 8-bit input × 2-bit weights →
    4-bit activations; block 2: 4 × 4 → 2; block 3: 2 × 2 → head), its thresholds the quantiles
    of its own pooled accumulators on random int8 windows; and those windows."""
    rng = np.random.default_rng(seed)
    length = 512
    x = rng.integers(-128, 128, (n_windows, 1, length)).astype(np.int8)
    spec = [(1, 4, 7, 2, 8, 2, 4), (4, 8, 5, 1, 4, 4, 2), (8, 3, 3, 1, 2, 2, None)]
    layers, h, n = [], x, length
    for i, (c_in, c_out, k, stride, in_bits, w_bits, out_bits) in enumerate(spec):
        wl = 1 << (w_bits - 1)
        w = rng.integers(-wl, wl, (c_out, c_in, k)).astype(np.int8)
        layer = ConvLayer(f"block{i + 1}", c_in, c_out, k, stride, k // 2, k // 2, 0, in_bits, w,
                          2, 2, n, None, w_bits)  # fmt: skip
        m = reference.max_pool(layer, reference.conv_accumulate(layer, h))
        if out_bits is not None:
            layer = replace(layer, thresholds=_quantile_thresholds(m, out_bits, layer.acc_max))
            h = layer.thresholds.apply(m)
        layers.append(layer)
        n = layer.out_length
    head = SumHead(a_pos=rng.integers(-(1 << 11), 1 << 11, 3),
                   a_neg=rng.integers(-(1 << 11), 1 << 11, 3),
                   bias=rng.integers(-(1 << 16), 1 << 16, 3), frac_bits=12, coef_bits=12,
                   length=n)  # fmt: skip
    return NetworkDescription("wnan-test", ("a", "b", "c"), length, 8, 4, tuple(layers), head), x


def test_dataflow_wnan_bit_exact_with_backpressure_and_cycles():
    """Integer-weight MVAUs, multi-threshold layers and n-bit lanes between blocks (width
    converters of 4- and 2-bit lanes), PE-folded: bit-exact vs the golden model."""
    desc, x = _wnan_net()
    windows = x[-3:]
    ref = reference.run(desc, windows, keep=True)
    for act, layer in zip(ref.activations[:2], desc.layers, strict=False):  # not vacuous
        assert len(np.unique(act)) == 1 << layer.output_bits
    plan = plan_dataflow(desc, [BlockFolding(2, 7, 1), BlockFolding(4, 4), BlockFolding(3, 8)])
    pipeline = DataflowPipeline(plan)
    assert sum(isinstance(st, MultiThresholdLayer) for st in pipeline.stages) == 2
    assert [st.p.weight_bits for st in pipeline.stages if isinstance(st, MVAU)] == [2, 4, 2]
    got = simulate_core(plan, windows, idle=0.2, pause=0.4, seed=3)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    full = simulate_core(plan, windows[:1])
    ii = pipeline.estimate_cycles()["ii"]
    assert full.cycles[0] == pytest.approx(ii, rel=CYCLE_RTOL), (full.cycles[0], ii)
    assert np.all(got.cycles >= full.cycles[0])


def test_hand_written_core_refuses_wnan():
    """WnAn descriptions run on the dataflow back end only; the core's planner says so."""
    from ecgaccel.hw.core_plan import CoreConfigError, plan_core

    desc, _ = _wnan_net(n_windows=2)
    with pytest.raises(CoreConfigError, match="binary networks only; use --backend dataflow"):
        plan_core(desc)
