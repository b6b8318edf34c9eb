"""Dataflow layers (ecgaccel.hw.layers): Python models vs the golden model (plain pytest), and the
Amaranth layers on Verilator (cocotb, sim/layers_tb.py) vs the Python models with idle input
cycles and output back-pressure; simulated cycles vs estimate_cycles() within 10% (FINN's
isclose(exp_cycles, rtlsim_cycles)); a real checkpoint's first two blocks on a real window."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from ecgaccel.hw.description import (
    ConvLayer,
    MultiThresholds,
    NetworkDescription,
    SumHead,
    Thresholds,
)
from ecgaccel.hw.layers import (
    MVAU,
    HeadLayer,
    HeadParams,
    LayerConfigError,
    MaxPoolLayer,
    MvauParams,
    PoolParams,
    SlidingWindowGenerator,
    StreamChain,
    StreamFifo,
    StreamWidthConverter,
    SwgParams,
    ThresholdLayer,
    ThresholdParams,
    conv_block_layers,
    conv_weight_matrix,
    head_model,
    head_output_words,
    mvau_model,
    pack_lanes,
    pool_model,
    swg_input_beats,
    swg_model,
    threshold_model,
    width_converter_model,
)
from ecgaccel.hw.layers.common import bram18, columns_to_beats, signed_bits, unpack_lanes
from ecgaccel.hw.layers.threshold import (
    MultiThresholdLayer,
    MultiThresholdParams,
    multithreshold_model,
    threshold_stage,
)
from ecgaccel.models import reference

CHECKPOINT = (
    Path(__file__).resolve().parents[2] / "models" / "checkpoints" / "ecgbnn5-patient.intnet.json"
)
CYCLE_RTOL = 0.10
"""Simulated vs estimated cycles (FINN's ``isclose(exp_cycles, rtlsim_cycles)``)."""


# ---------------------------------------------------------------- random configurations


def _divisor(rng: random.Random, n: int) -> int:
    return rng.choice([d for d in range(1, n + 1) if n % d == 0])


def _random_layer(rng: random.Random, binary: bool, pool: bool = True) -> ConvLayer:
    """A random ConvLayer (no pooling unless ``pool``), thresholds of every shape."""
    c_in = rng.choice([1, 2, 3, 4, 8]) if binary else 1
    c_out = rng.choice([1, 2, 4, 6, 8])
    k, s = rng.randint(1, 7), rng.randint(1, 3)
    pl, pr = rng.randint(0, 3), rng.randint(0, 3)
    length = rng.randint(max(1, k - pl - pr), 40)
    bits = None if binary else rng.choice([4, 8])
    pad = rng.choice([-1, 1]) if binary else rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    conv = (length + pl + pr - k) // s + 1
    pk = rng.randint(1, min(conv, 7)) if pool else 1
    ps = rng.randint(1, 3) if pool else 1
    nrng = np.random.default_rng(rng.getrandbits(32))
    w = nrng.choice(np.array([-1, 1], dtype=np.int8), (c_out, c_in, k))
    acc = c_in * k * (1 if binary else 1 << (bits - 1))
    lo = nrng.integers(-acc - 1, acc + 1, c_out)
    hi = lo + nrng.integers(-3, acc + 2, c_out)
    th = Thresholds(lo=lo, hi=hi, invert=nrng.integers(0, 2, c_out).astype(bool))
    return ConvLayer("rand", c_in, c_out, k, s, pl, pr, pad, bits, w, pk, ps, length, th)


def _random_multithresholds(
    nrng: np.random.Generator, c: int, acc: int, out_bits: int, steps: int
) -> MultiThresholds:
    """Random :class:`MultiThresholds` of ``c`` channels for accumulators in ``[-acc, acc]``:
    ascending thresholds (ties, some below the range, unreachable padding steps above it),
    random signs (a random walk of levels that stays in the signed ``out_bits`` range)."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    t = np.sort(nrng.integers(-acc - 3, acc + 2, (c, steps)), axis=1)
    sign = np.ones((c, steps), np.int8)
    base = nrng.integers(lo, hi + 1, c)
    for ch in range(c):
        level = int(base[ch])
        used = int(nrng.integers(0, steps + 1))  # steps after `used` are padding
        t[ch, used:] = acc + 1
        for j in range(used):
            step = int(nrng.choice([-1, 1]))
            if not lo <= level + step <= hi:
                step = -step
            sign[ch, j], level = step, level + step
    return MultiThresholds(thresholds=t, sign=sign, base=base, out_bits=out_bits)


def _random_wnan_layer(rng: random.Random) -> ConvLayer:
    """A random ConvLayer of a WnAn net: signed ``input_bits`` in {2, 4, 8}, integer weights of
    ``weight_bits`` in {2, 4}, multi-thresholds of 2-4 output bits."""
    c_in, c_out = rng.choice([1, 2, 3, 4, 8]), rng.choice([1, 2, 4, 6, 8])
    k, s = rng.randint(1, 7), rng.randint(1, 3)
    pl, pr = rng.randint(0, 3), rng.randint(0, 3)
    length = rng.randint(max(1, k - pl - pr), 40)
    bits, wbits = rng.choice([2, 4, 8]), rng.choice([2, 4])
    pad = rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    conv = (length + pl + pr - k) // s + 1
    pk, ps = rng.randint(1, min(conv, 7)), rng.randint(1, 3)
    nrng = np.random.default_rng(rng.getrandbits(32))
    wl = 1 << (wbits - 1)
    w = nrng.integers(-wl, wl, (c_out, c_in, k)).astype(np.int8)
    layer = ConvLayer("wnan", c_in, c_out, k, s, pl, pr, pad, bits, w, pk, ps, length, None,
                      wbits)  # fmt: skip
    th = _random_multithresholds(nrng, c_out, layer.acc_max, rng.choice([2, 3, 4]),
                                 rng.randint(1, 6))  # fmt: skip
    return ConvLayer("wnan", c_in, c_out, k, s, pl, pr, pad, bits, w, pk, ps, length, th, wbits)


def _random_input(rng: random.Random, layer: ConvLayer, n: int = 1) -> np.ndarray:
    nrng = np.random.default_rng(rng.getrandbits(32))
    shape = (n, layer.in_channels, layer.in_length)
    if layer.input_bits is None:
        return nrng.integers(0, 2, shape, dtype=np.uint8)
    lim = 1 << (layer.input_bits - 1)
    return nrng.integers(-lim, lim, shape).astype(np.int64)


def _swg_params(layer: ConvLayer, simd: int) -> SwgParams:
    return SwgParams(layer.in_channels, layer.in_length, layer.kernel, layer.stride,
                     layer.pad_left, layer.pad_right, layer.pad_value, simd,
                     layer.input_bits)  # fmt: skip


def _conv_via_models(layer: ConvLayer, x: np.ndarray, simd: int, pe: int) -> np.ndarray:
    """SWG model → MVAU model on one input ``[C, L]``: accumulators ``[C_out, conv_length]``."""
    sp = _swg_params(layer, simd)
    windows = swg_model(x, sp)
    mp = MvauParams(conv_weight_matrix(layer.weights), sp.conv_length, pe, simd, layer.input_bits,
                    weight_bits=layer.weight_bits)  # fmt: skip
    return mvau_model(windows, mp).reshape(sp.conv_length, layer.out_channels).T


# ---------------------------------------------------------------- models vs the golden model


@pytest.mark.parametrize("seed", range(16))
def test_swg_mvau_models_equal_conv_accumulate(seed):
    rng = random.Random(seed)
    layer = _random_layer(rng, binary=seed % 2 == 0)
    x = _random_input(rng, layer)
    simd = _divisor(rng, layer.in_channels) if seed % 4 else layer.in_channels
    pe = _divisor(rng, layer.out_channels)
    want = reference.conv_accumulate(layer, x)[0]
    np.testing.assert_array_equal(_conv_via_models(layer, x[0], simd, pe), want)


@pytest.mark.parametrize("seed", range(12))
def test_swg_mvau_models_with_int_weights_equal_conv_accumulate(seed):
    """WnAn layers: n-bit signed inputs times n-bit signed weights (the MVAU's multiplier mode)."""
    rng = random.Random(100 + seed)
    layer = _random_wnan_layer(rng)
    x = _random_input(rng, layer)
    simd = _divisor(rng, layer.in_channels)
    pe = _divisor(rng, layer.out_channels)
    want = reference.conv_accumulate(layer, x)[0]
    assert np.abs(want).max() <= layer.acc_max
    np.testing.assert_array_equal(_conv_via_models(layer, x[0], simd, pe), want)


def test_swg_model_window_layout():
    """Beat (t*K + k)*C/SIMD + f, lane i = channel f*SIMD + i of padded column t*S + k."""
    p = SwgParams(4, 5, 3, 2, pad_left=1, pad_right=1, pad_value=-1, simd=2)
    x = np.arange(20).reshape(4, 5) % 2
    out = swg_model(x, p)
    xp = np.pad(x, ((0, 0), (1, 1)), constant_values=0)  # pad -1 is the bit 0
    assert out.shape == (p.conv_length * 3 * 2, 2)
    for t in range(p.conv_length):
        for k in range(3):
            for f in range(2):
                np.testing.assert_array_equal(out[(t * 3 + k) * 2 + f],
                                              xp[f * 2 : f * 2 + 2, t * 2 + k])  # fmt: skip


@pytest.mark.parametrize("seed", range(12))
def test_pool_model_equals_max_pool(seed):
    rng = random.Random(seed)
    c = rng.choice([1, 2, 4, 6, 8])
    pe = _divisor(rng, c)
    t = rng.randint(1, 40)
    k = rng.randint(1, min(t, 8))
    p = PoolParams(c, t, k, rng.randint(1, 4), pe, 12)
    acc = np.random.default_rng(seed).integers(-2048, 2048, (c, t))
    got = pool_model(columns_to_beats(acc, pe), p).reshape(p.out_length, c).T
    np.testing.assert_array_equal(got, reference.max_pool_1d(acc, k, p.stride, p.out_length))


@pytest.mark.parametrize("seed", range(8))
def test_threshold_model_equals_thresholds_apply(seed):
    rng = random.Random(seed)
    layer = _random_layer(rng, binary=True)
    c, pe = layer.out_channels, _divisor(rng, layer.out_channels)
    m = np.random.default_rng(seed).integers(-40, 40, (c, 17))
    p = ThresholdParams(layer.thresholds, 17, pe, 8)
    got = threshold_model(columns_to_beats(m, pe), p).reshape(17, c).T
    np.testing.assert_array_equal(got, layer.thresholds.apply(m))


@pytest.mark.parametrize("seed", range(8))
def test_multithreshold_model_equals_multithresholds_apply(seed):
    rng = random.Random(seed)
    layer = _random_wnan_layer(rng)
    mt, c = layer.thresholds, layer.out_channels
    pe, acc = _divisor(rng, c), layer.acc_max
    m = np.random.default_rng(seed).integers(-acc, acc + 1, (c, 23))
    m[:, :2] = [-acc, acc]  # the range's ends
    p = MultiThresholdParams(mt, 23, pe, signed_bits(-acc, acc))
    got = multithreshold_model(columns_to_beats(m, pe), p).reshape(23, c).T
    want = mt.apply(m)
    np.testing.assert_array_equal(got, want)
    lim = 1 << (mt.out_bits - 1)
    assert want.min() >= -lim and want.max() < lim
    assert p.tw <= p.in_width + 1  # thresholds clipped to the input's range


def test_threshold_stage_picks_the_layer():
    layer = _random_wnan_layer(random.Random(5))
    cls, p = threshold_stage(layer.thresholds, 4, 1, 12)
    assert cls is MultiThresholdLayer and p.out_bits == layer.thresholds.out_bits
    th = _random_layer(random.Random(5), binary=True).thresholds
    cls, p = threshold_stage(th, 4, 1, 12)
    assert cls is ThresholdLayer and p.out_bits == 1


def _random_head(rng: random.Random, c: int, length: int) -> SumHead:
    nrng = np.random.default_rng(rng.getrandbits(32))
    return SumHead(a_pos=nrng.integers(-(1 << 15), 1 << 15, c),
                   a_neg=nrng.integers(-(1 << 15), 1 << 15, c),
                   bias=nrng.integers(-(1 << 26), 1 << 26, c), frac_bits=22, coef_bits=16,
                   length=length)  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_head_model_equals_head_scores(seed):
    rng = random.Random(seed)
    c = rng.choice([2, 5, 17])
    length = rng.randint(1, 30)
    head = _random_head(rng, c, length)
    m = np.random.default_rng(seed).integers(-900, 900, (1, c, length))
    p = HeadParams(head, length, _divisor(rng, c), 11)
    scores, cls = head_model(columns_to_beats(m[0], p.pe), p)
    want = reference.head_scores(head, m)[0]
    np.testing.assert_array_equal(scores, want)
    assert cls == int(want.argmax())


def test_head_model_ties_pick_lowest_class():
    head = SumHead(a_pos=np.zeros(4, np.int64), a_neg=np.zeros(4, np.int64),
                   bias=np.array([1, 7, 7, 3]), frac_bits=0, coef_bits=2, length=2)  # fmt: skip
    scores, cls = head_model(np.zeros((8, 1), np.int64), HeadParams(head, 2, 1, 4))
    assert scores.tolist() == [1, 7, 7, 3] and cls == 1


def test_width_converter_model_keeps_order():
    x = np.arange(24).reshape(12, 2)
    np.testing.assert_array_equal(width_converter_model(x, 6).reshape(-1), np.arange(24))
    np.testing.assert_array_equal(width_converter_model(x, 1).reshape(-1), np.arange(24))


@pytest.fixture(scope="module")
def real():
    """The bundled 5-class checkpoint, one quantized real window and its reference output."""
    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.nets import quantize_input, zscore
    from ecgaccel.models.windows import load_windows

    desc = NetworkDescription.load(CHECKPOINT)
    w = load_windows(bundled_data_dir())
    q = quantize_input(zscore(w.x[np.flatnonzero(w.record == "233")[:1]]))
    return desc, q, reference.run(desc, q, keep=True)


def _block_model(layer: ConvLayer, x: np.ndarray, simd: int, pe: int) -> np.ndarray:
    """All layer models of one block on ``x`` ``[C, L]``: thresholded bits ``[C_out, L_out]``."""
    acc = _conv_via_models(layer, x, simd, pe)
    pp = PoolParams(layer.out_channels, acc.shape[1], layer.pool_kernel, layer.pool_stride, pe,
                    32)  # fmt: skip
    pooled = pool_model(columns_to_beats(acc, pe), pp)
    tp = ThresholdParams(layer.thresholds, pp.out_length, pe, 32)
    return threshold_model(pooled, tp).reshape(pp.out_length, layer.out_channels).T


def test_real_blocks_models_equal_reference(real):
    desc, q, ref = real
    b1 = _block_model(desc.layers[0], q[0], 1, 4)
    np.testing.assert_array_equal(b1, ref.activations[0][0])
    np.testing.assert_array_equal(_block_model(desc.layers[1], b1, 4, 8), ref.activations[1][0])


# ---------------------------------------------------------------- parameters and estimates


def test_impossible_parameters_raise():
    w = np.ones((4, 6), np.int8)
    with pytest.raises(LayerConfigError, match="simd=4 does not divide channels=6"):
        SwgParams(6, 10, 3, 1, simd=4)
    with pytest.raises(LayerConfigError, match="pad_value of a bipolar input"):
        SwgParams(2, 10, 3, 1, pad_value=0)
    with pytest.raises(LayerConfigError, match="kernel=9 longer"):
        SwgParams(2, 5, 9, 1)
    with pytest.raises(LayerConfigError, match="pe=3 does not divide MH=4"):
        MvauParams(w, 5, pe=3)
    with pytest.raises(LayerConfigError, match="simd=4 does not divide MW=6"):
        MvauParams(w, 5, simd=4)
    with pytest.raises(LayerConfigError, match="out_width=3"):
        MvauParams(w, 5, out_width=3)
    with pytest.raises(LayerConfigError, match="weight_bits=2 needs integer inputs"):
        MvauParams(w, 5, weight_bits=2)
    with pytest.raises(LayerConfigError, match="outside the signed 2-bit range"):
        MvauParams(2 * w, 5, elem_bits=4, weight_bits=2)
    with pytest.raises(LayerConfigError, match="must all be -1 or \\+1"):
        MvauParams(0 * w, 5, elem_bits=4)
    with pytest.raises(LayerConfigError, match="pool pe=4 does not divide channels=6"):
        PoolParams(6, 10, 3, 2, pe=4)
    th = Thresholds(lo=np.zeros(6, np.int64), hi=np.ones(6, np.int64), invert=np.zeros(6, bool))
    with pytest.raises(LayerConfigError, match="threshold pe=4"):
        ThresholdParams(th, 3, pe=4)
    mt = MultiThresholds(np.zeros((6, 3), np.int64), np.ones((6, 3), np.int8),
                         np.zeros(6, np.int64), 2)  # fmt: skip
    with pytest.raises(LayerConfigError, match="multithreshold pe=4 does not divide channels=6"):
        MultiThresholdParams(mt, 3, pe=4)
    with pytest.raises(LayerConfigError, match="base outside the signed 2-bit range"):
        MultiThresholdParams(MultiThresholds(mt.thresholds, mt.sign, mt.base + 2, 2), 3)
    with pytest.raises(LayerConfigError, match="head pe=2 does not divide n_classes=5"):
        HeadParams(_random_head(random.Random(0), 5, 3), 3, pe=2)
    with pytest.raises(LayerConfigError, match="FIFO depth"):
        StreamFifo(8, 1)
    with pytest.raises(LayerConfigError, match="one must divide the other"):
        StreamWidthConverter(4, 6)
    assert issubclass(LayerConfigError, ValueError)


def test_popcount_accumulator_sized_from_its_range():
    """FINN's trap: MW = 1028 needs an 11-bit popcount; the signed output 2*pop - MW needs 12
    bits (a popcount of 1028 in an 11-bit signed accumulator would wrap to -1020)."""
    p = MvauParams(np.ones((2, 1028), np.int8), 1, pe=2, simd=257)
    assert p.acc_width == 12
    x = np.ones((4, 257), np.int64)
    assert mvau_model(x, p).tolist() == [[1028, 1028]]


def test_estimates_are_resource_dicts():
    layer = _random_layer(random.Random(3), binary=True)
    head = _random_head(random.Random(3), 5, 4)
    comps = [
        *conv_block_layers(layer, 1, 1, fifo_depth=8),
        HeadLayer(HeadParams(head, 4, 5, 11)),
        StreamWidthConverter(2, 4, 3),
    ]
    wnan = _random_wnan_layer(random.Random(3))
    comps += [
        MVAU(MvauParams(conv_weight_matrix(wnan.weights), 5, 1, 1, wnan.input_bits,
                        weight_bits=wnan.weight_bits)),
        MultiThresholdLayer(MultiThresholdParams(wnan.thresholds, 4, 1, 12)),
    ]  # fmt: skip
    for comp in comps:
        res = comp.estimate_resources()
        assert set(res) == {"lut", "ff", "bram", "dsp"}
        assert all(isinstance(v, int) and v >= 0 for v in res.values()), res
    big = MVAU(MvauParams(np.ones((64, 448), np.int8), 10, pe=4, simd=32))
    assert big.estimate_resources()["bram"] >= 1  # a 7 kbit weight ROM
    # integer weights: a multiplier a lane costs more LUTs than an add/subtract, 4x the ROM
    w4 = MvauParams(np.ones((64, 448), np.int8), 10, pe=4, simd=32, elem_bits=4, weight_bits=4)
    w1 = MvauParams(np.ones((64, 448), np.int8), 10, pe=4, simd=32, elem_bits=4)
    r4, r1 = MVAU(w4).estimate_resources(), MVAU(w1).estimate_resources()
    assert r4["lut"] > r1["lut"] and r4["bram"] > r1["bram"]
    assert bram18(36, 512) == 1 and bram18(8, 64) == 0
    assert HeadLayer(HeadParams(head, 4, 5, 11)).estimate_resources()["dsp"] >= 2
    assert StreamChain(comps[:5]).estimate_resources()["lut"] > 0


# ---------------------------------------------------------------- RTL (Verilator + cocotb)


def _case(dut, words_in, words_out, **kw):
    from ecgaccel.sim.layers_tb import BenchCase

    return BenchCase(dut, list(words_in), list(words_out), **kw)


def _rtl_cases(seed: int) -> dict:
    """One random configuration of every layer, with its expected output words."""
    rng = random.Random(seed)
    cases = {}
    # SWG, bipolar and integer input
    for name, binary in (("swg_bin", True), ("swg_int", False)):
        layer = _random_layer(rng, binary, pool=False)
        sp = _swg_params(layer, _divisor(rng, layer.in_channels))
        x = _random_input(rng, layer)[0]
        words_in = pack_lanes(swg_input_beats(x, sp), sp.width)
        cases[name] = _case(SlidingWindowGenerator(sp), words_in,
                            pack_lanes(swg_model(x, sp), sp.width))  # fmt: skip
    # MVAU, binary and integer; random vectors
    for name, bits in (("mvau_bin", None), ("mvau_int", rng.choice([4, 8]))):
        mh, mw = rng.choice([2, 4, 6, 8]), rng.choice([4, 6, 8, 12, 24])
        nrng = np.random.default_rng(rng.getrandbits(32))
        mp = MvauParams(nrng.choice([-1, 1], (mh, mw)), rng.randint(3, 8), _divisor(rng, mh),
                        _divisor(rng, mw), bits, out_width=rng.choice([None, 16]))  # fmt: skip
        lim = 1 if bits is None else 1 << (bits - 1)
        x = nrng.integers(0 if bits is None else -lim, 2 if bits is None else lim,
                          (mp.n_vectors * mp.sf, mp.simd))  # fmt: skip
        cases[name] = _case(MVAU(mp), pack_lanes(x, mp.in_width),
                            pack_lanes(mvau_model(x, mp), mp.width))  # fmt: skip
    # MVAU with integer weights (WnAn): n-bit inputs times n-bit weights, full signed ranges
    mh, mw = rng.choice([2, 4, 6, 8]), rng.choice([4, 6, 8, 12, 24])
    bits, wbits = rng.choice([2, 4, 8]), rng.choice([2, 4])
    nrng = np.random.default_rng(rng.getrandbits(32))
    lim, wl = 1 << (bits - 1), 1 << (wbits - 1)
    w = nrng.integers(-wl, wl, (mh, mw))
    w[0] = -wl  # with the all -lim first vector: channel 0 reaches +acc_max
    mp = MvauParams(w, rng.randint(3, 8), _divisor(rng, mh), _divisor(rng, mw), bits,
                    out_width=rng.choice([None, 20]), weight_bits=wbits)  # fmt: skip
    x = nrng.integers(-lim, lim, (mp.n_vectors * mp.sf, mp.simd))
    x[: mp.sf] = -lim
    want = mvau_model(x, mp)
    cases["mvau_intw"] = _case(MVAU(mp), pack_lanes(x, mp.in_width), pack_lanes(want, mp.width))
    # the popcount trap: MW = 1028 (257 folds of 4), all agreeing / all disagreeing / random
    trap = MvauParams(np.ones((1, 1028), np.int8), 3, pe=1, simd=4)
    x = np.concatenate(
        [
            np.ones((257, 4)),
            np.zeros((257, 4)),
            np.random.default_rng(seed).integers(0, 2, (257, 4)),
        ]
    ).astype(np.int64)
    want = mvau_model(x, trap)
    assert want[:2, 0].tolist() == [1028, -1028]
    cases["mvau_trap"] = _case(MVAU(trap), pack_lanes(x, 1), pack_lanes(want, 12))
    # max-pool
    c = rng.choice([1, 2, 4, 6, 8])
    t = rng.randint(12, 40)
    pp = PoolParams(c, t, rng.randint(1, 7), rng.randint(1, 3), _divisor(rng, c), 9)
    x = np.random.default_rng(seed).integers(-256, 256, (t * pp.nf, pp.pe))
    cases["pool"] = _case(MaxPoolLayer(pp), pack_lanes(x, 9), pack_lanes(pool_model(x, pp), 9))
    # serial max-pool (one shared slot memory); its own generator keeps the other cases as they were
    srng = random.Random(seed + 1000)
    c = srng.choice([1, 2, 4, 6, 8])
    t = srng.randint(12, 40)
    pp = PoolParams(c, t, srng.randint(1, 7), srng.randint(1, 3), _divisor(srng, c), 9, serial=True)
    x = np.random.default_rng(seed + 1000).integers(-256, 256, (t * pp.nf, pp.pe))
    cases["pool_serial"] = _case(MaxPoolLayer(pp), pack_lanes(x, 9),
                                 pack_lanes(pool_model(x, pp), 9))  # fmt: skip
    # thresholds
    layer = _random_layer(rng, binary=True)
    acc = layer.fan_in
    tp = ThresholdParams(layer.thresholds, rng.randint(10, 30), _divisor(rng, layer.out_channels),
                         max(acc, 2).bit_length() + 1)  # fmt: skip
    x = np.random.default_rng(seed).integers(-acc, acc + 1, (tp.length * tp.nf, tp.pe))
    cases["thr"] = _case(ThresholdLayer(tp), pack_lanes(x, tp.in_width),
                         pack_lanes(threshold_model(x, tp), 1))  # fmt: skip
    # multi-thresholds (n-bit activations), signs of both kinds, PE folding
    c = rng.choice([1, 2, 4, 6, 8])
    acc = rng.choice([20, 100, 3000])
    nrng = np.random.default_rng(rng.getrandbits(32))
    mt = _random_multithresholds(nrng, c, acc, rng.choice([2, 3, 4]), rng.randint(1, 7))
    pe = rng.choice([d for d in range(1, c) if c % d == 0] or [1])  # folded: PE < C
    mp_ = MultiThresholdParams(mt, rng.randint(10, 30), pe, signed_bits(-acc, acc))
    x = nrng.integers(-acc, acc + 1, (mp_.length * mp_.nf, mp_.pe))
    x[0] = -acc
    cases["mthr"] = _case(MultiThresholdLayer(mp_), pack_lanes(x, mp_.in_width),
                          pack_lanes(multithreshold_model(x, mp_), mp_.out_bits))  # fmt: skip
    # head
    n_cls = rng.choice([2, 5])
    hp = HeadParams(_random_head(rng, n_cls, 20), 20, _divisor(rng, n_cls), 10)
    x = np.random.default_rng(seed).integers(-512, 512, (20 * hp.nf, hp.pe))
    scores, cls = head_model(x, hp)
    cases["head"] = _case(
        HeadLayer(hp), pack_lanes(x, 10), head_output_words(scores, cls, hp.width)
    )
    # FIFO and width converters
    words = [rng.getrandbits(12) for _ in range(60)]
    cases["fifo"] = _case(StreamFifo(12, rng.choice([3, 4, 16])), words, words)
    lanes = np.random.default_rng(seed).integers(0, 8, (60, 2))
    for name, n_out in (("wc_up", 6), ("wc_down", 1)):
        cases[name] = _case(StreamWidthConverter(2, n_out, 3), pack_lanes(lanes, 3),
                            pack_lanes(width_converter_model(lanes, n_out), 3))  # fmt: skip
    return cases


def _expected_cycles(case) -> int:
    dut = case.dut
    if isinstance(dut, StreamFifo | StreamWidthConverter):
        return dut.estimate_cycles(len(case.words_in))
    return dut.estimate_cycles()


@pytest.mark.parametrize("seed", [1, 2])
def test_layers_rtl_match_models_and_cycle_estimates(tmp_path, seed):
    from ecgaccel.sim.layers_tb import run_layer_bench

    cases = _rtl_cases(seed)
    cycles = run_layer_bench(cases, tmp_path, seed=seed)
    for name, case in cases.items():
        est = _expected_cycles(case)
        assert cycles[name] == pytest.approx(est, rel=CYCLE_RTOL), (name, cycles[name], est)


def _bits_words(bits: np.ndarray, n: int) -> list[int]:
    """Thresholded bits ``[C, L]`` → the threshold layer's words (``n`` channels a beat)."""
    return pack_lanes(columns_to_beats(bits, n), 1)


@pytest.mark.slow
def test_real_blocks_rtl_bit_exact(tmp_path, real):
    """Blocks 1 and 2 of the bundled checkpoint on a real window: SWG → MVAU → FIFO → pool →
    threshold (→ SWG → MVAU → pool → threshold), bit-exact vs reference activations 0 and 1."""
    from ecgaccel.sim.layers_tb import run_layer_bench

    desc, q, ref = real
    l1, l2 = desc.layers[0], desc.layers[1]
    b1 = conv_block_layers(l1, simd=1, pe=4, fifo_depth=16)
    b12 = conv_block_layers(l1, simd=1, pe=4) + conv_block_layers(l2, simd=4, pe=8)
    words_in = pack_lanes(q[0, 0][:, None], 8)
    cases = {
        "b1": _case(StreamChain(b1), words_in, _bits_words(ref.activations[0][0], 4),
                    idle=0.2, pause=0.2),
        "b12": _case(StreamChain(b12), words_in, _bits_words(ref.activations[1][0], 8),
                     idle=0.2, pause=0.2),
    }  # fmt: skip
    cycles = run_layer_bench(cases, tmp_path, seed=7)
    # a pipeline runs at its slowest layer's rate: about the bottleneck's estimate (plus fill,
    # minus the conv positions the pool drops at the end)
    for name, stages in (("b1", b1), ("b12", b12)):
        bottleneck = max(st.estimate_cycles() for st in stages if not isinstance(st, StreamFifo))
        assert cycles[name] == pytest.approx(bottleneck, rel=CYCLE_RTOL), (name, cycles[name])


def test_unpack_lanes_inverts_pack_lanes():
    x = np.array([[-3, 2, 0], [1, -1, -4]])
    np.testing.assert_array_equal(unpack_lanes(pack_lanes(x, 3), 3, 3), x)


def test_weight_words_wider_than_64_bits():
    """A ROM word of PE * SIMD = 320 bits keeps every weight (numpy's int64 shifts did not)."""
    from ecgaccel.hw.layers.mvau import mvau_weight_words

    rng = np.random.default_rng(3)
    w = rng.choice([-1, 1], size=(10, 128))
    p = MvauParams(w, n_vectors=1, pe=5, simd=64)
    words = mvau_weight_words(p)
    for n in range(p.nf):
        for s in range(p.sf):
            word = words[n * p.sf + s]
            assert word >= 0
            for q in range(p.pe):
                for i in range(p.simd):
                    want = int(w[n * p.pe + q, s * p.simd + i] > 0)
                    assert (word >> (q * p.simd + i)) & 1 == want
