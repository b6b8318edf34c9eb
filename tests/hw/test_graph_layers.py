"""The graph's stream layers (``hw.layers.graph_ops``: GlobalAccPool, AddStreams,
DuplicateStreams): Python models against the semantics on feature maps, then the Amaranth layers
on Verilator (cocotb, sim/layers_tb.py) against the models, with idle input cycles and output
back-pressure, on a real window's activations and on random ones; simulated cycles of a
full-rate frame within 10 % of estimate_cycles()."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.artifacts import load_description
from ecgaccel.hw import semantics as sem
from ecgaccel.hw.layers.common import pack_lanes
from ecgaccel.hw.layers.graph_ops import (
    AddParams,
    AddStreamsLayer,
    DuplicateStreamsLayer,
    GlobalAccPoolLayer,
    GlobalPoolParams,
    add_streams_model,
    beats_to_map,
    global_pool_model,
    map_to_beats,
)
from ecgaccel.models import reference
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.run import load_selected_windows

CYCLE_RTOL = 0.10


def test_stream_order_is_position_major():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # [C, H, W]
    beats = map_to_beats(x, 1)
    assert beats[:4, 0].tolist() == [x[0, 0, 0], x[1, 0, 0], x[0, 0, 1], x[1, 0, 1]]
    np.testing.assert_array_equal(beats_to_map(map_to_beats(x, 2), x.shape), x)


def test_models_equal_the_semantics():
    rng = np.random.default_rng(0)
    x = rng.integers(-32, 32, size=(8, 1, 30))
    p = GlobalPoolParams(channels=8, positions=30, pe=4, in_width=6)
    got = global_pool_model(map_to_beats(x, 4), p).reshape(-1)
    np.testing.assert_array_equal(got, x.sum(axis=(1, 2)))
    assert p.out_width == 6 + 5  # 30 * [-32, 31] needs 11 signed bits
    a, b = rng.integers(-8, 8, size=(2, 40, 4))
    q = AddParams(beats=40, pe=4, a_width=4, b_width=4, ka=1, kb=-3)
    np.testing.assert_array_equal(add_streams_model(a, b, q), a - 3 * b)
    assert q.out_width == 6  # [-8 - 21, 7 + 24] = [-29, 31]


@pytest.fixture(scope="module")
def real_maps() -> dict:
    """Activations of one real window (bundled record): ecgbnn5's last pooled accumulators
    ``[5, L]`` and ecgbnn5-w2a2's first n-bit activation ``[8, L]``."""
    _, data, _ = load_selected_windows(None, ["200"], 1)
    q = quantize_input(zscore(data.x))
    binary = reference.run(load_description("ecgbnn5", "patient"), q, keep=True)
    w2a2 = reference.run(load_description("ecgbnn5-w2a2", "patient"), q, keep=True)
    return {"last": binary.activations[-1][0], "act1": w2a2.activations[0][0]}


def _cases(real_maps: dict) -> dict:
    from ecgaccel.sim.layers_tb import BenchCase

    rng = np.random.default_rng(5)
    cases = {}
    last = real_maps["last"]  # [5, L] int, the head's input
    width = int(max(abs(last.min()), last.max())).bit_length() + 1
    p = GlobalPoolParams(channels=5, positions=last.shape[1], pe=5, in_width=width)
    cases["gap_real"] = BenchCase(GlobalAccPoolLayer(p), pack_lanes(map_to_beats(last[:, None], 5),
                                  width), pack_lanes(global_pool_model(map_to_beats(
                                      last[:, None], 5), p), p.out_width))  # fmt: skip
    x = rng.integers(-32, 32, size=(8, 1, 40))
    p = GlobalPoolParams(channels=8, positions=40, pe=2, in_width=6)
    cases["gap_rand"] = BenchCase(GlobalAccPoolLayer(p), pack_lanes(map_to_beats(x, 2), 6),
                                  pack_lanes(global_pool_model(map_to_beats(x, 2), p),
                                             p.out_width))  # fmt: skip
    act = real_maps["act1"]  # [8, L] 2-bit levels
    a, b = map_to_beats(act[:, None], 4), map_to_beats(np.roll(act, 3, axis=1)[:, None], 4)
    q = AddParams(beats=len(a), pe=4, a_width=2, b_width=2, ka=1, kb=2)
    cases["add_real"] = BenchCase(AddStreamsLayer(q), {"s": pack_lanes(a, 2),
                                  "s1": pack_lanes(b, 2)},
                                  pack_lanes(add_streams_model(a, b, q), q.out_width))  # fmt: skip
    a, b = rng.integers(-8, 8, size=(2, 60, 3))
    q = AddParams(beats=60, pe=3, a_width=4, b_width=5, ka=1, kb=-3)
    cases["add_rand"] = BenchCase(AddStreamsLayer(q), {"s": pack_lanes(a, 4),
                                  "s1": pack_lanes(b, 5)},
                                  pack_lanes(add_streams_model(a, b, q), q.out_width))  # fmt: skip
    words = [int(w) for w in rng.integers(0, 2**16, size=50)]
    cases["fork3"] = BenchCase(DuplicateStreamsLayer(16, n=3, beats=50), words,
                               {"m": words, "m1": words, "m2": words})  # fmt: skip
    bits = pack_lanes(map_to_beats((act[:, None] > 0).astype(np.int64), 8), 1)
    cases["fork_real"] = BenchCase(DuplicateStreamsLayer(8, n=2, beats=len(bits)), bits,
                                   {"m": bits, "m1": bits}, idle=0.5, pause=0.6)  # fmt: skip
    return cases


@pytest.mark.parametrize("seed", [1, 2])
def test_graph_layers_on_verilator_with_stalls(real_maps, tmp_path, seed):
    from ecgaccel.sim.layers_tb import run_layer_bench

    cases = _cases(real_maps)
    cycles = run_layer_bench(cases, tmp_path, seed=seed)
    for name, case in cases.items():
        est = case.dut.estimate_cycles()
        assert abs(cycles[name] - est) <= CYCLE_RTOL * est, (name, cycles[name], est)
        assert all(v >= 0 for v in case.dut.estimate_resources().values())


def test_gap_sum_of_a_real_map_is_the_semantics(real_maps):
    last = real_maps["last"]
    np.testing.assert_array_equal(sem.global_acc_pool(last[None, :, None, :])[0, :, 0, 0],
                                  last.sum(axis=1))  # fmt: skip
