"""The graph's stream layers (``hw.layers.graph_ops``: GlobalAccPool, AddStreams,
DuplicateStreams, Concat, fully connected, multi-label; the lead x time sliding-window
generator of ``hw.layers.swg``; the metadata header split of ``hw.layers.header``): Python
models against the semantics on feature maps, then the Amaranth layers on Verilator (cocotb,
sim/layers_tb.py) against the models, with idle input cycles and output back-pressure, on a
real window's activations and on random ones; simulated cycles of a full-rate frame within
10 % of estimate_cycles()."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.artifacts import load_description
from ecgaccel.hw import semantics as sem
from ecgaccel.hw.layers.common import pack_lanes
from ecgaccel.hw.layers.graph_ops import (
    AddParams,
    AddStreamsLayer,
    ConcatLayer,
    ConcatParams,
    DuplicateStreamsLayer,
    GlobalAccPoolLayer,
    GlobalPoolParams,
    MultiLabelLayer,
    add_streams_model,
    beats_to_map,
    concat_model,
    fully_connected,
    global_pool_model,
    map_to_beats,
    multilabel_model,
)
from ecgaccel.hw.layers.header import HeaderSplit, split_header
from ecgaccel.hw.layers.mvau import conv_weight_matrix
from ecgaccel.hw.layers.swg import SlidingWindowGenerator, SwgParams, swg_input_beats, swg_model
from ecgaccel.models import reference
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.run import load_selected_windows

CYCLE_RTOL = 0.10


def test_stream_order_is_time_major_then_row_then_channel():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # [C, H, W]
    beats = map_to_beats(x, 1)
    assert beats[:4, 0].tolist() == [x[0, 0, 0], x[1, 0, 0], x[0, 1, 0], x[1, 1, 0]]
    assert beats[6, 0] == x[0, 0, 1]
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
    import wfdb

    from ecgaccel.models.mitdb import bundled_data_dir

    two = wfdb.rdrecord(str(bundled_data_dir() / "200"), sampfrom=3000, sampto=3048).p_signal
    leads = quantize_input(zscore(two.T[None].astype(np.float32)))[0]  # [2, 48] int8, MLII + V1
    return {"last": binary.activations[-1][0], "act1": w2a2.activations[0][0], "leads": leads}


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
    cat_b = rng.integers(-8, 8, size=(4, 1, act.shape[1]))  # int4 "metadata" at every position
    q = ConcatParams((8, 4), act.shape[1], pe=4, widths=(2, 4))
    lanes = [map_to_beats(act[:, None], 4), map_to_beats(cat_b, 4)]
    cases["concat_real"] = BenchCase(ConcatLayer(q), {"s": pack_lanes(lanes[0], 2),
                                     "s1": pack_lanes(lanes[1], 4)},
                                     pack_lanes(concat_model(lanes, q), 4))  # fmt: skip
    # a 5-value metadata header in 4-lane beats (two header beats) before a 12-beat window
    meta, ecg = rng.integers(-128, 128, size=5), rng.integers(-128, 128, size=48)
    stream = np.concatenate([meta, np.zeros(3, np.int64), ecg])
    got_meta, got_ecg = split_header(stream, 5, 4)
    assert np.array_equal(got_meta, meta) and np.array_equal(got_ecg, ecg)
    cases["header2"] = BenchCase(HeaderSplit(32, 40, 2, 12), pack_lanes(stream.reshape(-1, 4), 8),
                                 {"m": pack_lanes(ecg.reshape(-1, 4), 8),
                                  "m1": pack_lanes(meta[None], 8)})  # fmt: skip
    scores = rng.integers(-500, 500, size=8)
    t = np.array([-3, 0, 5, 100, -400, 7, 0, 499])
    label = MultiLabelLayer(t, 12)
    cases["labels"] = BenchCase(label, pack_lanes(scores[:, None], 12),
                                [multilabel_model(scores, t)])  # fmt: skip
    x = rng.integers(-8, 8, size=(6, 1, 10))  # a [6, 1, 10] int4 map into 5 outputs, W4
    w = rng.integers(-8, 8, size=(5, 60))
    fc = fully_connected(w, (6, 1, 10), pe=5, simd=2, elem_bits=4, weight_bits=4)
    want = sem.matmul(x[None], w)[0, :, 0, 0]
    cases["fc_rand"] = BenchCase(fc, pack_lanes(map_to_beats(x, 2), 4),
                                 pack_lanes(want[None], fc.p.width))  # fmt: skip
    gap = sem.global_acc_pool(act[None, :, None, :])[0]  # a real activation map, pooled
    wr = rng.integers(-2, 2, size=(4, 8))
    fc = fully_connected(wr, (8, 1, 1), pe=1, simd=1, elem_bits=12, weight_bits=2)
    want = sem.matmul(gap[None], wr)[0, :, 0, 0]
    cases["fc_real"] = BenchCase(fc, pack_lanes(map_to_beats(gap, 1), 12),
                                 pack_lanes(want.reshape(4, 1), fc.p.width))  # fmt: skip
    x = rng.integers(-8, 8, size=(2, 3, 4))  # a lead x time map [2, 3, 4] into 3 outputs
    w = rng.integers(-8, 8, size=(3, 24))
    fc = fully_connected(w, (2, 3, 4), pe=3, simd=4, elem_bits=4, weight_bits=4)
    cases["fc_2d"] = BenchCase(
        fc,
        pack_lanes(map_to_beats(x, 4), 4),
        pack_lanes(sem.matmul(x[None], w)[0, :, 0, 0][None], fc.p.width),
    )
    cases.update(_swg_2d_cases(real_maps["leads"], rng))
    return cases


def _swg_2d_cases(leads: np.ndarray, rng) -> dict:
    """The lead x time sliding-window generator: a real two-lead piece (MLII and V1, int8)
    under a (2, 5) kernel across both leads, and a random 12-lead int4 map of 4 channels under
    a (3, 3) kernel with row and column padding and a row stride of 2."""
    from ecgaccel.sim.layers_tb import BenchCase

    p_real = SwgParams(1, 48, 5, 2, 2, 2, 0, simd=1, elem_bits=8, rows=2, kernel_rows=2)
    x = rng.integers(-8, 8, size=(4, 12, 20))
    p_rand = SwgParams(4, 20, 3, 1, 1, 1, -3, simd=2, elem_bits=4, rows=12, kernel_rows=3,
                       stride_rows=2, pad_top=1, pad_bottom=1)  # fmt: skip
    cases = {}
    for name, p, m in (("swg2d_real", p_real, leads[:, None]), ("swg2d_rand", p_rand, x)):
        m = m.reshape(p.channels, p.rows, p.in_length)
        cases[name] = BenchCase(SlidingWindowGenerator(p), pack_lanes(swg_input_beats(m, p),
                                p.width), pack_lanes(swg_model(m, p), p.width))  # fmt: skip
    return cases


def test_lead_by_time_windows_times_the_weights_are_the_2d_convolution():
    rng = np.random.default_rng(3)
    for kh, kw, sh, sw, pads in [(1, 5, 1, 1, (0, 0, 2, 2)), (12, 1, 1, 1, (0, 0, 0, 0)),
                                 (3, 3, 2, 2, (1, 1, 1, 0))]:  # fmt: skip
        x, w = rng.integers(-8, 8, size=(4, 12, 15)), rng.integers(-4, 4, size=(5, 4, kh, kw))
        top, bottom, left, right = pads
        p = SwgParams(4, 15, kw, sw, left, right, 0, simd=2, elem_bits=4, rows=12,
                      kernel_rows=kh, stride_rows=sh, pad_top=top, pad_bottom=bottom)  # fmt: skip
        acc = swg_model(x, p).reshape(p.conv_length * p.out_rows, -1) @ conv_weight_matrix(w).T
        want = sem.conv2d(x[None], w, (sh, sw), pads, 0)[0]  # [5, Ho, Wo]
        # the MVAU's outputs come time step major: beats_to_map undoes the stream order
        np.testing.assert_array_equal(beats_to_map(acc.reshape(-1, 5), want.shape), want)


def test_concat_and_multilabel_models_equal_the_semantics():
    a = np.arange(12).reshape(3, 1, 4)
    b = -np.arange(8).reshape(2, 1, 4)
    p = ConcatParams((3, 2), 4, pe=1, widths=(5, 5))
    got = concat_model([map_to_beats(a, 1), map_to_beats(b, 1)], p)
    np.testing.assert_array_equal(beats_to_map(got, (5, 1, 4)), np.concatenate([a, b]))
    assert multilabel_model(np.array([3, -1, 9]), np.array([3, 0, 10])) == 0b001


@pytest.mark.parametrize("seed", [1])
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


def _residual_case(skip_depth=None):
    """A residual block on a random int4 map [4, 48]: main path Conv(K 15, pad 7, W2) →
    4-bit thresholds (quantiles of its accumulators), identity shortcut x 2."""
    from ecgaccel.hw.description import ConvLayer, MultiThresholds
    from ecgaccel.hw.layers.chain import conv_block_layers
    from ecgaccel.hw.layers.residual import ResidualBlock
    from ecgaccel.sim.layers_tb import BenchCase

    rng = np.random.default_rng(9)
    c, length = 4, 48
    x = rng.integers(-8, 8, size=(1, c, length))
    layer = ConvLayer(name="res", in_channels=c, out_channels=c, kernel=15, stride=1,
                      pad_left=7, pad_right=7, pad_value=0, input_bits=4,
                      weights=rng.integers(-2, 2, size=(c, c, 15)).astype(np.int8),
                      pool_kernel=1, pool_stride=1, in_length=length, thresholds=None,
                      weight_bits=2)  # fmt: skip
    acc = reference.conv_accumulate(layer, x)[0]
    t = np.stack([np.quantile(acc[o], np.linspace(0.05, 0.95, 15)).astype(np.int64)
                  for o in range(c)])  # fmt: skip
    mt = MultiThresholds(np.sort(t, axis=1), np.ones((c, 15), np.int8), np.full(c, -8), 4)
    layer = ConvLayer(**{**layer.__dict__, "thresholds": mt})
    main = mt.apply(reference.max_pool(layer, reference.conv_accumulate(layer, x)))[0]
    y = main + 2 * x[0]
    block = ResidualBlock(conv_block_layers(layer, simd=c, pe=c), lanes=c, in_width=4,
                          main_width=4, beats=length, ka=1, kb=2,
                          skip_depth=skip_depth)  # fmt: skip
    words_in = pack_lanes(map_to_beats(x[0][:, None], c), 4)
    words_out = pack_lanes(map_to_beats(y[:, None], c), block.add.params.out_width)
    assert len(np.unique(main)) > 4  # the thresholds really spread the levels
    return block, BenchCase(block, words_in, words_out, idle=0.3, pause=0.3)


def test_residual_block_at_the_computed_skip_depth_runs_at_the_estimate(tmp_path):
    from ecgaccel.sim.layers_tb import run_layer_bench

    block, case = _residual_case()
    assert block.skip_depth >= 15 - 7  # at least the SWG's fill for the first window
    cycles = run_layer_bench({"res": case}, tmp_path, seed=3)["res"]
    est = block.estimate_cycles()
    assert abs(cycles - est) <= CYCLE_RTOL * est, (cycles, est)


def test_a_too_shallow_skip_fifo_deadlocks_and_the_watchdog_says_so(tmp_path):
    from ecgaccel.sim.layers_tb import BenchCase, run_layer_bench
    from ecgaccel.sim.runner import SimulationError

    _, case = _residual_case(skip_depth=2)
    case = BenchCase(case.dut, case.words_in, case.words_out, watchdog=5000)
    with pytest.raises(SimulationError):
        run_layer_bench({"res": case}, tmp_path, seed=3)
    assert "watchdog: no complete frame after 5000 cycles" in (tmp_path / "sim.log").read_text()
