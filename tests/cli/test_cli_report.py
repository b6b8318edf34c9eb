"""``ecgaccel report``: the metrics with hand-computed values, then the command on copies of the
committed build reports (a few bundled windows, two core foldings): table, figures, cache,
errors."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgaccel import report as rep
from ecgaccel.artifacts import load_description
from ecgaccel.cli import main
from ecgaccel.models.metrics import class_probabilities

REPO = Path(__file__).resolve().parents[2]
BUILDS = REPO / "bitstreams"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- metrics


def test_macro_auc_averages_over_the_classes_present():
    y = np.array([0, 0, 1, 1])
    scores = np.array([[4, 0, 9], [2, 6, 9], [3, 5, 9], [1, 1, 9]])
    # class 0: pos {4, 2} vs neg {3, 1}: 3 of 4 pairs -> 0.75; class 1: pos {5, 1} vs neg
    # {0, 6}: 2 of 4 -> 0.5; class 2 has no positive: left out
    assert rep.macro_auc(y, scores) == pytest.approx((0.75 + 0.5) / 2)
    assert rep.macro_auc(np.zeros(3, int), np.ones((3, 2))) is None


def test_class_probabilities_are_the_softmax_of_the_real_scores():
    p = class_probabilities(np.array([[0, 4], [8, 8]]), frac_bits=2)  # logits [0, 1], [2, 2]
    assert p[0].tolist() == pytest.approx([1 / (1 + np.e), np.e / (1 + np.e)])
    assert p[1].tolist() == [0.5, 0.5]


def test_pareto_front_keeps_the_non_dominated_points():
    cost = [100, 200, 150, 300, 100]
    value = [0.5, 0.9, 0.5, 0.9, 0.6]
    # 0 and 2 are dominated by 4 (no more LUTs, more accuracy), 3 by 1 (fewer LUTs)
    assert rep.pareto_front(cost, value).tolist() == [False, True, False, False, True]
    assert rep.pareto_front([1, 1], [0.5, 0.5]).tolist() == [True, True]


def test_efficiency_score_is_the_geometric_mean_of_normalized_terms():
    es = rep.efficiency_scores([1.0, 0.5], [100, 200], [1000, 500], [10, 40])
    assert es["size"].tolist() == [1.0, 0.5]
    assert es["speed"].tolist() == [1.0, 0.5]
    assert es["memory"].tolist() == [1.0, 0.25]
    assert es["es"][0] == pytest.approx(1.0)
    assert es["es"][1] == pytest.approx((0.5 * 0.5 * 0.5 * 0.25) ** 0.25)  # 0.4204
    with pytest.raises(ValueError, match="positive"):
        rep.efficiency_scores([1.0], [0], [1], [1])


def test_memory_bits_and_precision():
    assert rep.memory_bits("ice40", 22, 1736) == 22 * 4096 + 1736
    assert rep.memory_bits("ecp5", 12, 2247) == 12 * 18432 + 2247
    with pytest.raises(rep.ReportError, match="unknown FPGA family"):
        rep.memory_bits("xc7", 1, 1)
    assert rep.precision_label(load_description("ecgbnn5", "patient")) == "W1A1 (binary)"
    assert rep.precision_label(load_description("ecgbnn5-w2a2", "patient")) == "W2A2"


# --------------------------------------------------------------------------- the command


def _copy_build(src: Path, dst_root: Path, name: str, edit=None) -> dict:
    data = json.loads((src / "report.json").read_text())
    if edit:
        data = edit(copy.deepcopy(data))
    (dst_root / name).mkdir(parents=True)
    (dst_root / name / "report.json").write_text(json.dumps(data))
    return data


def _unfit_pe8(data: dict) -> dict:
    """The UP5K core at PE 8 / SIMD 32 (the ECP5 build's folding): Yosys's 5,607 LUT4 do not
    place; its RTL is the ECP5 core's, so the simulation is shared."""
    data["design"].update(pe=8, simd=32, cycles_per_inference=28869)
    data["status"] = "does-not-fit"
    data["error"] = "ERROR: Unable to place cell (test copy)"
    data["utilization"]["lc"] = {"used": 5607, "available": 5280, "source": "yosys (LUT4)"}
    for key in ("fmax", "inference", "bitstream", "nextpnr_utilization"):
        data.pop(key, None)
    return data


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict:
    """Three builds (two placed cores, one that does not fit), one with an ``asic.json``;
    ``ecgaccel report`` run once on 4 windows."""
    root = tmp_path_factory.mktemp("report")
    bits = root / "bitstreams"
    reports = {
        "ice40-up5k/ecgbnn5-core": _copy_build(BUILDS / "ice40-up5k/ecgbnn5-core", bits,
                                               "ice40-up5k/ecgbnn5-core"),
        "ecp5-25f/ecgbnn5-core": _copy_build(BUILDS / "ecp5-25f/ecgbnn5-core", bits,
                                             "ecp5-25f/ecgbnn5-core"),
        "ice40-up5k/ecgbnn5-core-pe8": _copy_build(BUILDS / "ice40-up5k/ecgbnn5-core", bits,
                                                   "ice40-up5k/ecgbnn5-core-pe8", _unfit_pe8),
    }  # fmt: skip
    (bits / "ecp5-25f/ecgbnn5-core/asic.json").write_text('{"transistors": 123456}')
    in_progress = bits / "ecp5-25f/.ecgbnn5-dataflow.work-x/report.json"  # a build running
    in_progress.parent.mkdir()
    in_progress.write_text("{")
    args = ["report", "--bitstreams", str(bits), "--windows", "4", "--out",
            str(root / "docs/results.md"), "--figures", str(root / "docs/figures"), "--work",
            str(root / "work"), "--jobs", "2"]  # fmt: skip
    assert main(args) == 0
    return {"root": root, "args": args, "reports": reports}


def _row(page: str, name: str, table: int = 0) -> list[str]:
    """The cells of ``name``'s row in the page's ``table``-th table (0 main, 1 ES)."""
    lines = [x for x in page.splitlines() if x.startswith(f"| {name} |")]
    return [c.strip() for c in lines[table].strip("|").split("|")]


def _header(page: str) -> list[str]:
    line = next(x for x in page.splitlines() if x.startswith("| design | model |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_table_rows_equal_the_build_reports(tree):
    page = (tree["root"] / "docs/results.md").read_text()
    head = _header(page)
    for name, r in tree["reports"].items():
        row = dict(zip(head, _row(page, name), strict=True))
        util = r["utilization"]
        logic = "lc" if "lc" in util else "lut4"
        unit = "LC" if logic == "lc" else "LUT4"
        assert row["logic"] == f"{util[logic]['used']:,} / {util[logic]['available']:,} {unit}"
        for key, col in (("ff", "FF"), ("bram", "BRAM"), ("dsp", "DSP")):
            assert row[col] == f"{util[key]['used']:,} / {util[key]['available']:,}"
        assert row["HW = ref (mismatches)"] == "1.0000 (0)"
        assert row["precision"] == "W1A1 (binary)"
        assert row["storage KiB"] == f"{31392 / 8 / 1024:.2f}"
        assert row["cycles / inference"] == f"{r['design']['cycles_per_inference']:,}"
        if r["status"] == "ok":
            fmax = r["fmax"]["achieved_mhz"]
            assert row["Fmax MHz"] == f"{fmax:.2f}"
            cycles = r["design"]["cycles_per_inference"]
            assert row["inferences / s"] == f"{fmax * 1e6 / cycles:,.0f}"
        else:
            assert row["Fmax MHz"] == "— (does not fit)" and row["latency µs"] == "—"
    assert _row(page, "ecp5-25f/ecgbnn5-core")[-1] == "123,456"
    assert _row(page, "ice40-up5k/ecgbnn5-core")[-1] == "—"


def test_efficiency_score_pareto_and_notes(tree):
    page = (tree["root"] / "docs/results.md").read_text()
    assert "ours, not the" in page and "unpublished" in page
    es = {n: _row(page, n, table=1)[-1] for n in tree["reports"]}
    assert es["ice40-up5k/ecgbnn5-core-pe8"] == "**—**"
    assert all(float(es[n].strip("*")) > 0 for n in ("ice40-up5k/ecgbnn5-core",
                                                       "ecp5-25f/ecgbnn5-core"))  # fmt: skip
    notes = {n: next(x for x in page.splitlines() if x.startswith(f"- `{n}`"))
             for n in tree["reports"]}  # fmt: skip
    # a front per family: the only placed iCE40 and the only ECP5 design are both on theirs
    assert "Pareto front: yes" in notes["ice40-up5k/ecgbnn5-core"]
    assert "Pareto front: yes" in notes["ecp5-25f/ecgbnn5-core"]
    assert "Pareto front: no" in notes["ice40-up5k/ecgbnn5-core-pe8"]
    assert "**does not fit**" in notes["ice40-up5k/ecgbnn5-core-pe8"]
    assert "--windows 4" in page.splitlines()[2]


def test_figures_are_png_and_linked(tree):
    root = tree["root"]
    page = (root / "docs/results.md").read_text()
    for name in ("accuracy_vs_logic", "throughput_vs_logic", "confusion"):
        png = root / "docs/figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert f"](figures/{name}.png)" in page


def test_second_run_reuses_the_cached_simulations(tree, monkeypatch, capsys):
    work = tree["root"] / "work"
    cached = {p: p.stat().st_mtime_ns for p in work.glob("sim-*.npz")}
    assert len(cached) == 2  # the two core foldings; the unfit copy shares the PE 8 one

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again")

    monkeypatch.setattr(rep, "measure_rtl", no_simulation)
    capsys.readouterr()
    assert main(tree["args"]) == 0
    assert {p: p.stat().st_mtime_ns for p in work.glob("sim-*.npz")} == cached
    assert capsys.readouterr().out.count("(cached)") == 3


def test_cache_key_follows_the_windows_and_the_plan():
    desc = load_description("ecgbnn5", "patient")
    from ecgaccel.hw.core_plan import plan_core

    q = np.zeros((2, 1, desc.input_length), np.int8)
    a, b = plan_core(desc, 2, 64), plan_core(desc, 8, 32)
    assert rep.sim_key(a, q) == rep.sim_key(plan_core(desc, 2, 64), q.copy())
    assert rep.sim_key(a, q) != rep.sim_key(b, q)
    q2 = q.copy()
    q2[1, 0, 7] = 1
    assert rep.sim_key(a, q) != rep.sim_key(a, q2)


# --------------------------------------------------------------------------- errors


def _one_line_error(capsys, args: list[str]) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and len(err.splitlines()) == 1
    return err


def test_malformed_report_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bits/ice40-up5k/x-core/report.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    err = _one_line_error(capsys, ["report", "--bitstreams", str(tmp_path / "bits"),
                                   "--out", str(tmp_path / "r.md")])  # fmt: skip
    assert f"{bad}: unreadable JSON" in err
    assert not (tmp_path / "r.md").exists()


def test_missing_key_and_missing_folder_are_one_line_errors(tmp_path, capsys):
    src = BUILDS / "ice40-up5k/ecgbnn5-core"
    data = _copy_build(src, tmp_path / "bits", "ice40-up5k/ecgbnn5-core",
                       lambda d: {k: v for k, v in d.items() if k != "utilization"})  # fmt: skip
    assert "utilization" not in data
    out = ["--out", str(tmp_path / "r.md")]
    err = _one_line_error(capsys, ["report", "--bitstreams", str(tmp_path / "bits"), *out])
    assert "ecgbnn5-core/report.json: not a build report: missing utilization" in err
    err = _one_line_error(capsys, ["report", "--bitstreams", str(tmp_path / "nothing"), *out])
    assert f"{tmp_path / 'nothing'}: no such bitstreams folder" in err
    shutil.rmtree(tmp_path / "bits")
    (tmp_path / "bits").mkdir()
    err = _one_line_error(capsys, ["report", "--bitstreams", str(tmp_path / "bits"), *out])
    assert "no <target>/<design>/report.json" in err


def test_bad_asic_estimate_and_windows(tmp_path, capsys):
    _copy_build(BUILDS / "ice40-up5k/ecgbnn5-core", tmp_path / "bits", "ice40-up5k/c")
    (tmp_path / "bits/ice40-up5k/c/asic.json").write_text('{"transistors": "many"}')
    out = ["--out", str(tmp_path / "r.md")]
    err = _one_line_error(capsys, ["report", "--bitstreams", str(tmp_path / "bits"), *out])
    assert "c/asic.json: 'transistors' must be a non-negative integer" in err
    assert main(["report", "--windows", "0", *out]) == 2
    err = capsys.readouterr().err
    assert "argument --windows: must be at least 1, got 0" in err and len(err.splitlines()) == 1


def test_a_reference_mismatch_is_reported_and_exits_3(tree, tmp_path, monkeypatch, capsys):
    real = rep.reference.run

    def corrupted(desc, x, **kw):
        out = real(desc, x, **kw)
        out.scores[1, 0] += 1  # the reference now disagrees with the (cached) RTL on window 1
        return out

    monkeypatch.setattr(rep.reference, "run", corrupted)
    args = [*tree["args"], "--out", str(tmp_path / "r.md"), "--figures", str(tmp_path / "f")]
    assert main(args) == 3
    assert "RTL differs from the reference" in capsys.readouterr().err
    page = (tmp_path / "r.md").read_text()
    assert _row(page, "ice40-up5k/ecgbnn5-core")[7] == "0.7500 (1)"
    assert "differs from the reference in 1 of 4 windows** (first: window 1" in page


def test_an_unreadable_cache_file_is_simulated_again(tmp_path, monkeypatch):
    from ecgaccel.hw.core_plan import plan_core
    from ecgaccel.measure import HardwareRun
    from ecgaccel.sim.core_sim import CoreSimResult

    desc = load_description("ecgbnn5", "patient")
    plan, q = plan_core(desc, 2, 64), np.zeros((2, 1, desc.input_length), np.int8)
    fake = CoreSimResult(np.ones((2, 5), np.int64), np.zeros(2, np.int64), np.full(2, 7))
    monkeypatch.setattr(rep, "measure_rtl", lambda *a, **k: HardwareRun(fake, np.full(2, 7)))
    (tmp_path / f"sim-{rep.sim_key(plan, q)}.npz").write_bytes(b"PK\x03\x04 truncated")
    res, cached = rep.simulate_cached(plan, q, tmp_path, jobs=1, progress=False)
    assert not cached and res.alone.cycles.tolist() == [7, 7] and res.intervals.tolist() == [7, 7]
    res, cached = rep.simulate_cached(plan, q, tmp_path, jobs=1, progress=False)
    assert cached and res.alone.scores.tolist() == fake.scores.tolist() and res.interval == 7
