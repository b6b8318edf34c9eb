"""``ecgaccel run`` on the shipped model and the bundled records: report, bit-exactness, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgaccel import run as job
from ecgaccel.cli import main

KEYS = {"n_inferences", "accuracy", "agreement", "mismatches", "cycles_per_inference", "fmax_mhz",
        "throughput_inferences_per_s", "latency_us", "resources"}  # fmt: skip


def test_run_few_windows_without_synthesis(tmp_path, capsys):
    assert main(["run", "--limit", "3", "--no-synth", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) >= KEYS
    assert report["n_inferences"] == 3
    assert report["agreement"]["hardware_vs_reference"] == 1.0
    assert report["mismatches"]["hardware_vs_reference"] == 0
    assert report["cycles_per_inference"] == report["cycles_estimated"]
    assert report["windows"]["all_held_out_from_training"] is True
    assert set(report["accuracy"]) == {"software", "reference", "hardware"}
    assert (tmp_path / "report.md").read_text().startswith("# ecgaccel run")
    captured = capsys.readouterr()
    assert "hardware vs reference" in captured.out
    assert "ecgaccel: building the Verilator model" in captured.err  # a status line, not silence
    assert report["simulation"]["build_seconds"] >= 0


def test_bit_exactness_failure_exits_nonzero_and_saves_window(tmp_path, monkeypatch):
    real = job.reference.run

    def corrupted(desc, x, **kw):
        out = real(desc, x, **kw)
        out.scores[1, 0] += 1  # the reference now disagrees with the RTL on window 1
        return out

    monkeypatch.setattr(job.reference, "run", corrupted)
    assert main(["run", "--limit", "2", "--no-synth", "--out", str(tmp_path)]) == 3
    saved = np.load(tmp_path / "first_mismatch.npz")
    assert saved["input"].shape == (1, 3600)
    assert saved["expected_scores"][0] == saved["got_scores"][0] + 1


def test_unknown_record_is_one_line_error(tmp_path, capsys):
    assert main(["run", "--records", "999", "--no-synth", "--out", str(tmp_path)]) == 1
    assert "999.hea: record header not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "ecgbnn5-fp", "--protocol", "paper"], "runs quantized models"),
        (["--model", "ecgbnn17"], "streams 10-s MIT-BIH windows"),
        (["--pe", "3"], "PE must be"),
    ],
)
def test_bad_run_options_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["run", *args, "--no-synth", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_run_with_synthesis_builds_with_the_build_flow(tmp_path):
    """``run`` builds through ``bitstreams.build`` (the flow of ``ecgaccel build``): the default
    core folding (PE 2 / SIMD 64) fits the UP5K, so no other target is tried; the run's Fmax
    and resources are the build report's, and the II measured back to back equals hw.core_plan's
    exact cycles (the core takes no window while one runs)."""
    from ecgaccel.artifacts import load_description
    from ecgaccel.hw.core_plan import plan_core

    assert main(["run", "--limit", "2", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "report.json").read_text())
    res = r["resources"]
    assert (res["target"], res["status"], res["did_not_fit"]) == ("ice40-up5k", "ok", [])
    built = json.loads((tmp_path / "synth/ice40-up5k/ecgbnn5-core/report.json").read_text())
    assert res["utilization"] == built["utilization"] and built["status"] == "ok"
    assert (
        0 < res["utilization"]["lc"]["used"] <= 5280
        and res["utilization"]["lc"]["source"] == "nextpnr"
    )
    assert (tmp_path / "synth/ice40-up5k/ecgbnn5-core/ecg_top.bin").stat().st_size > 0
    assert r["fmax_mhz"] == built["fmax"]["achieved_mhz"] > 0 and r["fmax_target"] == "ice40-up5k"
    exact = plan_core(load_description("ecgbnn5", "patient"), 2, 64).cycles_per_inference()
    assert r["cycles_per_inference"] == r["latency_cycles"] == exact
    assert built["design"]["cycles_per_inference"] == exact  # the build is the simulated design
    assert (r["pe"], r["simd"]) == (2, 64)
    page = (tmp_path / "report.md").read_text()
    assert "does not fit" not in page and "built for ice40-up5k (iCEBreaker)" in page


def test_run_refuses_an_unknown_target_before_any_work(tmp_path, capsys):
    assert main(["run", "--target", "xc7a35t", "--limit", "1", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "--target: unknown target 'xc7a35t'; choose one of ice40-up5k" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "argument --limit: must be at least 1, got 0"),
        (["--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
        (["--freq", "-5"], "argument --freq: must be greater than 0, got -5"),
        (["--pe", "x"], "argument --pe: 'x' is not an integer"),
    ],
)
def test_out_of_range_options_stop_at_parsing_in_one_line(tmp_path, capsys, args, message):
    assert main(["run", *args, "--no-synth", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


def test_unwritable_out_is_one_line_error_before_any_work(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        ("/proc/ecgaccel-test/run", "cannot write here"),  # not even root may create it
        (str(afile / "sub"), "cannot write here"),  # the parent is a file
        (str(afile), "exists and is not a folder"),
    ]
    for out, message in cases:
        assert main(["run", "--no-synth", "--limit", "1", "--out", out]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ecgaccel: error: argument --out:") and message in err, err
        assert len(err.splitlines()) == 1


def test_data_dir_without_wfdb_records_is_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "edf").mkdir()
    (tmp_path / "edf" / "r1.edf").write_bytes(b"0" * 256)
    for folder, what in (("empty", "it is empty"), ("edf", "it holds .edf files")):
        code = main(["run", "--no-synth", "--data-dir", str(tmp_path / folder),
                     "--out", str(tmp_path / "o")])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and len(err.splitlines()) == 1, err
        assert f"{tmp_path / folder}: no WFDB records here ({what})" in err


def test_report_without_synthesis_says_so_instead_of_none(tmp_path):
    from ecgaccel import run as job

    assert main(["run", "--limit", "1", "--no-synth", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.md").read_text()
    assert "None" not in page and "n/a" not in page
    assert "not synthesized (`--no-synth`)" in page and "Fmax, throughput, latency: not" in page
    r = json.loads((tmp_path / "report.json").read_text())
    error = "ecgbnn5 core does not fit ice40-up5k: Yosys maps it to 5607 LUT4 > 5280"
    r["resources"] = {"target": "ice40-up5k", "status": "does-not-fit", "fmax_mhz": None,
                      "did_not_fit": [{"target": "ice40-up5k", "error": error}]}  # fmt: skip
    assert f"- does not fit ice40-up5k: {error}" in job.format_markdown(r)
    r["resources"] = {"target": None, "status": "failed", "fmax_mhz": None,
                      "error": "nextpnr-ice40 failed (see /x/nextpnr.log)"}  # fmt: skip
    assert "- synthesis failed: nextpnr-ice40 failed (see /x/nextpnr.log)" in job.format_markdown(r)
    r["resources"] = {"target": "ice40-up5k", "board": "iCEBreaker", "status": "ok",
                      "fmax_mhz": 19.1, "did_not_fit": [], "bitstream": "b.bin",
                      "cycles_per_inference": r["cycles_estimated"] + 1,
                      "utilization": {"lc": {"used": 5047, "available": 5280}}}  # fmt: skip
    page = job.format_markdown(r)
    assert "LC 5,047 / 5,280" in page and "is not the simulated one" in page


def test_report_has_per_class_table_confusion_and_predictions_split_by_training(tmp_path):
    """Records 100 (DS2, held out) and 119 (DS1, a training record of the patient protocol)."""
    import csv

    from tests.conftest import SHARED_DATA

    mitdb = SHARED_DATA / "mitdb"
    if not (mitdb / "119.hea").is_file():
        pytest.skip(f"development data copy {mitdb} is absent")
    argv = ["run", "--no-synth", "--limit", "8", "--records", "100", "119",
            "--data-dir", str(mitdb), "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    r = json.loads((tmp_path / "report.json").read_text())
    m = r["hardware_metrics"]
    assert m["held_out"]["n"] + m["training"]["n"] == m["all"]["n"] == 8
    page = (tmp_path / "report.md").read_text()
    assert "## Per class (hardware)" in page and "Confusion matrix" in page
    assert "windows of training records (seen in training)" in page
    auc = m["all"]["macro_auc"]  # one vs rest over the classes these 8 windows have
    assert auc is not None and 0.0 <= auc <= 1.0 and "macro AUC (one vs rest" in page
    for c, v in m["all"]["per_class"].items():
        if v["support"] == 0:
            assert v["se"] is None and f"| {c} | 0 | none |" in page
    rows = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    assert len(rows) == 8 and {row["record"] for row in rows} == {"100", "119"}
    assert {row["held_out"] for row in rows if row["record"] == "119"} == {"False"}
    assert all(row["hardware"] == row["reference"] for row in rows)


def test_a_resampled_record_is_said_in_the_report(tmp_path):
    """Record 233 written again at 250 Hz (signal and annotations): the run resamples it to
    360 Hz and says so."""
    import wfdb
    from scipy.signal import resample_poly

    from ecgaccel.models.mitdb import bundled_data_dir

    rec = wfdb.rdrecord(str(bundled_data_dir() / "233"))
    ann = wfdb.rdann(str(bundled_data_dir() / "233"), "atr")
    sig = resample_poly(rec.p_signal, 25, 36, axis=0)
    folder = tmp_path / "r250"
    folder.mkdir()
    wfdb.wrsamp("r250", fs=250, units=rec.units, sig_name=rec.sig_name, p_signal=sig,
                fmt=["212"] * sig.shape[1], write_dir=str(folder))  # fmt: skip
    keep = ann.sample * 250 // 360 < len(sig)
    wfdb.wrann("r250", "atr", (ann.sample[keep] * 250) // 360, np.array(ann.symbol)[keep],
               write_dir=str(folder))  # fmt: skip
    argv = ["run", "--no-synth", "--limit", "2", "--data-dir", str(folder), "--out",
            str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    r = json.loads((tmp_path / "out" / "report.json").read_text())
    assert r["windows"]["resampled_from_hz"] == {"r250": 250.0}
    page = (tmp_path / "out" / "report.md").read_text()
    assert "Resampled to 360 Hz (polyphase, anti-aliased) before windowing: r250 (250 Hz)." in page


def test_run_takes_your_own_checkpoint_through_the_hardware_flow(tmp_path, capsys):
    import shutil

    from ecgaccel.artifacts import artifact_paths

    mine = tmp_path / "mine.pt"
    shutil.copy(artifact_paths("ecgbnn5", "patient")["checkpoint"], mine)
    out = tmp_path / "out"
    argv = ["run", "--checkpoint", str(mine), "--limit", "2", "--no-synth", "--out", str(out)]
    assert main(argv) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["checkpoint"] == str(mine) and r["mismatches"]["hardware_vs_reference"] == 0
    assert (out / "model.onnx").is_file() and (out / "model.intnet.json").is_file()
    capsys.readouterr()
    argv = ["run", "--model", "ecgbnn5-w2a2", "--checkpoint", str(mine), "--no-synth", "--out",
            str(tmp_path / "o2")]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and "mine.pt" in err and len(err.splitlines()) == 1
    assert "checkpoint is for model 'ecgbnn5', not 'ecgbnn5-w2a2'" in err
