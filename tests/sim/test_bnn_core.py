"""The whole BNN core on Verilator: bit-exact scores and classes on real MIT-BIH windows with
idle input gaps, output back-pressure and a reset mid-stream; cycles equal the estimate."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.compile import compile_chain
from ecgaccel.hw.core_plan import CoreConfigError, estimate_cycles, plan_core
from ecgaccel.models import reference
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import BnnConfig, quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.core_sim import simulate_core
from tests.helpers import random_bnn


@pytest.fixture(scope="module")
def desc(tmp_path_factory):
    # random BatchNorm gammas and PReLU slopes of both signs: every threshold shape occurs
    path = export_qonnx(random_bnn(BnnConfig(5), seed=11), tmp_path_factory.mktemp("q") / "n.onnx")
    return compile_chain(path, "random", list("NSVFQ"))


@pytest.fixture(scope="module")
def windows():
    w = load_windows(bundled_data_dir())
    pick = np.concatenate([np.flatnonzero(w.record == r)[:2] for r in ("200", "213", "232", "233")])
    return quantize_input(zscore(w.x[pick]))


def test_core_bit_exact_with_backpressure_and_reset(desc, windows):
    plan = plan_core(desc, pe=4, simd=16)
    ref = reference.run(desc, windows)
    got = simulate_core(plan, windows, idle=0.2, pause=0.4, reset_after=3, seed=5)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    assert np.all(got.cycles >= plan.cycles_per_inference())  # stalls only add cycles


@pytest.mark.parametrize(("pe", "simd"), [(16, 64), (8, 24)])
def test_core_cycles_equal_estimate(desc, windows, pe, simd):
    ref = reference.run(desc, windows[:3])
    got = simulate_core(plan_core(desc, pe, simd), windows[:3])
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
    # no stalls: the analytical count is exact (tolerance 0 cycles)
    assert set(got.cycles.tolist()) == {estimate_cycles(desc, pe, simd)}


def test_core_rejects_bad_parameters(desc):
    with pytest.raises(CoreConfigError, match="PE must be"):
        plan_core(desc, pe=3)
    with pytest.raises(CoreConfigError, match="input lanes do not divide"):
        plan_core(desc, in_lanes=7)


def test_byte_stream_wrapper_bit_exact(desc, windows):
    """The synthesized design (the core in its byte-stream wrapper) computes the reference's
    scores and classes too, byte by byte, with idle gaps and back-pressure."""
    plan = ByteStreamPlan(plan_core(desc, pe=4, simd=16))
    ref = reference.run(desc, windows[:2])
    got = simulate_core(plan, windows[:2], idle=0.1, pause=0.3, seed=9)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.classes, ref.pred)
