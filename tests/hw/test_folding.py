"""Folding (FINN's SetFolding), FINN folding-config JSON and FIFO depths (hw/folding.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.folding import (
    DEFAULT_IN_LANES,
    ICE40_UP5K_BUDGET,
    RESOURCE_KEYS,
    SHALLOW_FIFO,
    BlockFold,
    FoldingConfig,
    FoldingError,
    estimate_folding,
    fifo_depths,
    finn_node_names,
    folding_from_arrays,
    mvau_output_fifo_depth,
    set_folding,
)
from ecgaccel.hw.layers import MVAU, SlidingWindowGenerator, SwgParams
from ecgaccel.hw.layers.mvau import MvauParams, conv_weight_matrix

REPO = Path(__file__).resolve().parents[2]
DESC_PATH = REPO / "models" / "checkpoints" / "ecgbnn5-patient.intnet.json"


@pytest.fixture(scope="module")
def desc() -> NetworkDescription:
    return NetworkDescription.load(DESC_PATH)


@pytest.fixture(scope="module")
def slowest(desc):
    """Everything folded to 1 (a target no layer misses)."""
    return set_folding(desc, target_cycles=10**12)


def _legal(desc: NetworkDescription, cfg: FoldingConfig) -> None:
    cfg.validate(desc)
    for lay, b in zip(desc.layers, cfg.blocks, strict=True):
        assert lay.out_channels % b.pe == 0
        assert lay.in_channels % b.swg_simd == 0
        assert lay.fan_in % b.simd == 0 and b.simd % b.swg_simd == 0


@pytest.mark.parametrize("target", [200_000, 50_000, 20_000, 13_000])
def test_target_is_met_with_a_legal_folding(desc, target):
    res = set_folding(desc, target_cycles=target)
    _legal(desc, res.config)
    assert res.ii <= target
    assert all(e.cycles <= target for e in res.layers if e.counts_for_ii)
    assert res.latency >= res.ii
    assert res.target_cycles == target


def test_cycles_decrease_as_the_target_tightens(desc, slowest):
    iis = [slowest.ii]
    for target in (10**6, 300_000, 100_000, 50_000, 30_000, 20_000, 15_000, 13_000, 1000, 1):
        iis.append(set_folding(desc, target_cycles=target).ii)
    assert iis == sorted(iis, reverse=True)
    assert iis[-1] < iis[0] / 100


def test_unreachable_target_relaxes_to_the_bottleneck(desc):
    """The one-channel first SWG cannot go below its floor; FINN's second pass then folds the
    other layers only as far as that II needs."""
    res = set_folding(desc, target_cycles=1)
    floor = SlidingWindowGenerator(_swg_params(desc, 0, 1)).estimate_cycles()
    assert res.ii == floor and res.bottleneck.name == "block1.swg"
    greedy = set_folding(desc, target_cycles=1, two_pass_relaxation=False)
    assert greedy.ii == floor
    assert res.resources()["lut"] <= greedy.resources()["lut"]


def test_slowest_folding_is_all_ones(desc, slowest):
    assert all((b.pe, b.simd, b.swg_simd) == (1, 1, 1) for b in slowest.config.blocks)


def test_estimates_are_the_layer_classes_own(desc):
    res = set_folding(desc, target_cycles=20_000)
    for i, (lay, b) in enumerate(zip(desc.layers, res.config.blocks, strict=True)):
        mv = MVAU(
            MvauParams(
                conv_weight_matrix(lay.weights), lay.conv_length, b.pe, b.simd, lay.input_bits
            )
        )
        e = next(e for e in res.layers if e.name == f"{lay.name}.mvau")
        assert e.cycles == mv.estimate_cycles() and e.resources == mv.estimate_resources()
        sw = SlidingWindowGenerator(_swg_params(desc, i, b.swg_simd))
        assert next(e for e in res.layers if e.name == f"{lay.name}.swg").cycles == (
            sw.estimate_cycles()
        )


def test_budget_is_respected_and_buys_speed(desc, slowest):
    base = slowest.resources()
    budget = {"lut": 2 * base["lut"], "bram": base["bram"] + 20, "dsp": base["dsp"] + 8}
    res = set_folding(desc, budget=budget)
    _legal(desc, res.config)
    assert res.fits(budget)
    assert all(res.resources()[k] <= v for k, v in budget.items())
    assert res.ii < slowest.ii / 10
    bigger = set_folding(desc, budget={k: 2 * v for k, v in budget.items()})
    assert bigger.fits({k: 2 * v for k, v in budget.items()}) and bigger.ii <= res.ii


def test_budget_below_the_slowest_folding_is_refused(desc, slowest):
    with pytest.raises(FoldingError, match="slowest folding"):
        set_folding(desc, budget={"lut": slowest.resources()["lut"] - 1})


def test_up5k_budget_is_named_in_estimate_units():
    assert set(ICE40_UP5K_BUDGET) <= set(RESOURCE_KEYS)
    assert ICE40_UP5K_BUDGET["lut"] == 5280 and ICE40_UP5K_BUDGET["dsp"] == 8
    assert ICE40_UP5K_BUDGET["bram"] == 30 * 4 // 18  # 30 × 4-kbit EBR in 18-kbit blocks


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"target_cycles": 5, "budget": {"lut": 1}},
        {"target_cycles": 0},
        {"budget": {"luts": 10}},
    ],
)
def test_bad_set_folding_arguments(desc, kwargs):
    with pytest.raises(FoldingError):
        set_folding(desc, **kwargs)


def test_finn_json_round_trip(desc, tmp_path):
    res = set_folding(desc, target_cycles=20_000)
    cfg = replace(
        res.config,
        blocks=(replace(res.config.blocks[0], ram_style="distributed"), *res.config.blocks[1:]),
    )
    path = cfg.save(tmp_path / "folding_config.json", desc, res.fifos)
    data = json.loads(path.read_text())
    assert data["Defaults"] == {}
    assert data["MVAU_hls_0"]["ram_style"] == "distributed"
    assert set(data["MVAU_hls_0"]) >= {"PE", "SIMD", "ram_style", "resType", "mem_mode"}
    assert FoldingConfig.load(path, desc) == cfg
    assert FoldingConfig.from_finn_json(cfg.to_finn_json(desc), desc) == cfg
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_finn_node_names_follow_give_unique_node_names(desc):
    names = [n.name for n in finn_node_names(desc)]
    assert len(names) == len(set(names))
    n = len(desc.layers)
    assert [x for x in names if x.startswith("MVAU_hls_")] == [f"MVAU_hls_{i}" for i in range(n)]
    # conv SWG and the overlapping max-pool's depthwise SWG alternate
    swgs = [x for x in names if x.startswith("ConvolutionInputGenerator_rtl_")]
    assert swgs == [f"ConvolutionInputGenerator_rtl_{i}" for i in range(2 * n)]
    assert sum(x.startswith("Thresholding_rtl_") for x in names) == n - 1


def _cfg(desc, **changes_by_block) -> FoldingConfig:
    base = list(set_folding(desc, target_cycles=20_000).config.blocks)
    for key, change in changes_by_block.items():
        i = int(key[1:])
        base[i] = replace(base[i], **change)
    return FoldingConfig(tuple(base))


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"b1": {"pe": 3}}, r"block 2 \(block2\): MVAU PE=3 does not divide C_out=16"),
        (
            {"b2": {"swg_simd": 3, "simd": 3}},
            r"block 3 \(block3\): SWG SIMD=3 does not divide C_in=16",
        ),
        ({"b3": {"simd": 5}}, r"block 4 \(block4\): MVAU SIMD=5 does not divide MW=K\*C_in=224"),
        (
            {"b3": {"swg_simd": 4, "simd": 14}},
            r"block 4 \(block4\): MVAU SIMD=14 is not a multiple",
        ),
        ({"b5": {"pe": 2}}, r"block 6 \(block6\): MVAU PE=2 does not divide C_out=5"),
        ({"b0": {"ram_style": "bram"}}, r"block 1 \(block1\): MVAU ram_style='bram'"),
        ({"b0": {"mem_mode": "decoupled"}}, r"block 1 \(block1\): MVAU mem_mode"),
        ({"b4": {"pe": 0}}, r"block 5 \(block5\): MVAU PE=0 must be an integer"),
    ],
)
def test_bad_folding_names_block_and_parameter(desc, changes, pattern):
    with pytest.raises(FoldingError, match=pattern):
        _cfg(desc, **changes).validate(desc)


def test_wrong_number_of_blocks(desc):
    cfg = _cfg(desc)
    with pytest.raises(FoldingError, match="6"):
        FoldingConfig(cfg.blocks[:-1]).validate(desc)


def test_bad_finn_json_is_refused_with_the_node_named(desc, tmp_path):
    good = _cfg(desc).to_finn_json(desc)
    cases = [
        ({**good, "MVAU_hls_99": {"PE": 1}}, r"unknown FINN node.*MVAU_hls_99"),
        (
            {**good, "MVAU_hls_1": {**good["MVAU_hls_1"], "FOO": 1}},
            r"MVAU_hls_1 \(block 2 \(block2\)\): unknown attribute.*FOO",
        ),
        ({**good, "MVAU_hls_1": {**good["MVAU_hls_1"], "PE": 3}}, r"block 2 \(block2\): MVAU PE=3"),
        (
            {**good, "Pool_hls_0": {"PE": good["MVAU_hls_0"]["PE"] * 2}},
            r"Pool_hls_0 \(block 1 \(block1\)\).*ties",
        ),
        ({k: v for k, v in good.items() if k != "MVAU_hls_2"}, r"MVAU_hls_2 .*missing"),
        ({**good, "Defaults": []}, "Defaults"),
    ]
    for data, pattern in cases:
        with pytest.raises(FoldingError, match=pattern):
            FoldingConfig.from_finn_json(data, desc)
    bad = tmp_path / "f.json"
    bad.write_text("{not json")
    with pytest.raises(FoldingError, match="invalid JSON"):
        FoldingConfig.load(bad, desc)
    with pytest.raises(FoldingError, match="not found"):
        FoldingConfig.load(tmp_path / "missing.json", desc)


def test_fifo_depths_follow_the_documented_bound(desc):
    cfg = _cfg(desc)
    fifos = fifo_depths(desc, cfg)
    assert all(f.depth >= SHALLOW_FIFO for f in fifos)
    for i, (lay, b) in enumerate(zip(desc.layers, cfg.blocks, strict=True)):
        mv = MvauParams(
            conv_weight_matrix(lay.weights), lay.conv_length, b.pe, b.simd, lay.input_bits
        )
        into_mvau = next(f for f in fifos if f.block == i and f.consumer == "mvau")
        # NF > 1: the MVAU refuses (NF - 1) * SF cycles a vector, but the SWG's spare line-buffer
        # columns already hold the next window (SF beats): no FIFO. Behind a width converter the
        # beats that arrive meanwhile (at most SF) wait in a FIFO, the converter's slice holds 2
        behind_wc = mv.nf > 1 and b.simd != b.swg_simd
        if behind_wc:  # at most one unit (SF beats) can wait, the converter's slice holds 2
            assert SHALLOW_FIFO <= into_mvau.depth <= max(mv.sf, SHALLOW_FIFO)
        else:
            assert into_mvau.depth == SHALLOW_FIFO
        assert ("spare columns hold the next window" in into_mvau.reason) == (
            mv.nf > 1 and not behind_wc
        )
        assert ("must wait in a FIFO" in into_mvau.reason) == behind_wc
        assert into_mvau.width == b.simd * mv.in_width
        assert into_mvau.finn_consumer == f"MVAU_hls_{i}"
        # max-pool never refuses a beat: no FIFO after the MVAU
        assert mvau_output_fifo_depth(fifos, i) == 0
        assert next(f for f in fifos if f.block == i and f.consumer == "swg").depth == SHALLOW_FIFO
    head = next(f for f in fifos if f.consumer == "head")
    # it refuses n_classes + 1 cycles a frame, while its input arrives at a few beats a frame
    assert head.depth == SHALLOW_FIFO and f"refuses {len(desc.classes) + 1} cycles" in head.reason
    # the network input (producer unknown: one beat a cycle, nothing held) into a converter
    # that takes a beat, then refuses: one beat of buffering, plus the FIFO's two of latency
    first = fifos[0]
    assert first.producer == "input"
    assert first.consumer == "wc_in" and cfg.blocks[0].swg_simd < DEFAULT_IN_LANES
    assert first.depth == 1 + SHALLOW_FIFO
    direct = fifo_depths(desc, cfg, in_lanes=cfg.blocks[0].swg_simd)  # no input converter:
    assert direct[0].depth == SHALLOW_FIFO  # no FIFO there; the others as before
    assert [f.depth for f in direct[1:]] == [f.depth for f in fifos[2:]]


def test_table_and_summary(desc):
    res = set_folding(desc, target_cycles=20_000)
    table = res.table()
    for lay in desc.layers:
        assert f"{lay.name}.mvau" in table and f"{lay.name}.pool" in table
    assert f"II={res.ii}" in table and f"latency={res.latency}" in table
    s = json.loads(json.dumps(res.summary()))
    assert s["ii"] == res.ii and s["resources"] == res.resources()
    assert estimate_folding(desc, res.config).resources() == res.resources()


def test_folding_from_arrays(desc):
    cfg = folding_from_arrays(desc, [8, 8, 8, 8, 8, 5], [7, 8, 16, 32, 32, 64])
    assert [b.swg_simd for b in cfg.blocks] == [1, 8, 16, 32, 32, 64]
    with pytest.raises(FoldingError):
        folding_from_arrays(desc, [8], [7])


def test_converts_to_the_dataflow_plan(desc):
    from ecgaccel.hw import dataflow  # an import error fails the test, never skips it

    cfg = set_folding(desc, target_cycles=20_000).config
    plan = dataflow.plan_dataflow(desc, cfg.to_block_foldings())
    assert [f.pe for f in plan.folding] == [b.pe for b in cfg.blocks]


def test_block_fold_defaults_are_finn_defaults():
    b = BlockFold(pe=1, simd=1, swg_simd=1)
    assert (b.ram_style, b.mem_mode, b.res_type) == ("auto", "internal_decoupled", "lut")


def _swg_params(desc, i, simd) -> SwgParams:
    return SwgParams.of_layer(desc.layers[i], simd)


def test_serial_pools_keep_the_ii_and_save_logic(desc):
    """serial_pools makes a max-pool serial only where its serial cycles stay within the II:
    the II is unchanged, the estimates drop, and no FIFO is added in front of the pools."""
    from ecgaccel.hw.folding import serial_pools

    base = set_folding(desc, budget=ICE40_UP5K_BUDGET)
    cfg = serial_pools(desc, base.config)
    res = estimate_folding(desc, cfg)
    assert res.ii == base.ii
    assert res.resources()["lut"] < base.resources()["lut"]
    pools = [e for e in res.layers if e.kind == "pool"]
    for b, e in zip(cfg.blocks, pools, strict=True):
        assert b.pool_serial == (e.cycles <= base.ii) and ("serial" in e.params) == b.pool_serial
    assert all(f.depth == SHALLOW_FIFO for f in res.fifos if f.consumer == "pool")
    # folded for speed, the max-pools of blocks 1-5 take a beat every cycle: they stay parallel
    fast = set_folding(desc, target_cycles=13000)
    flags = [b.pool_serial for b in serial_pools(desc, fast.config).blocks]
    assert flags == [False] * 5 + [True]


def test_every_fold_option_means_one_thing(desc, tmp_path):
    """``--fold`` of run, verify, compile and build (hw.folding.resolve_fold): none is the
    default folding, ``auto`` the folding pass, anything else a FINN folding config file."""
    from ecgaccel.hw.dataflow import default_folding
    from ecgaccel.hw.folding import AUTO_TARGET_CYCLES, resolve_fold, resolve_fold_config

    assert resolve_fold(desc, None) == default_folding(desc)
    auto = set_folding(desc, target_cycles=AUTO_TARGET_CYCLES).config
    assert resolve_fold_config(desc, "auto") == auto
    assert resolve_fold(desc, "auto") == auto.to_block_foldings()
    other = set_folding(desc, target_cycles=40_000)
    path = other.config.save(tmp_path / "f.json", desc, other.fifos)
    assert resolve_fold_config(desc, path) == other.config
    assert (
        resolve_fold(desc, str(path))
        == other.config.to_block_foldings()
        != auto.to_block_foldings()
    )
    with pytest.raises(FoldingError, match="not found"):
        resolve_fold(desc, tmp_path / "missing.json")
