"""``ecgaccel run --task beats``: the shipped beat model on every beat of a record, on the
dataflow RTL, with Se / +P against the annotations and a per-record summary; a record stripped
of its ``.atr`` goes through the R-peak detector."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from ecgaccel import beatrun
from ecgaccel.cli import main
from ecgaccel.models.mitdb import bundled_data_dir


@pytest.fixture(scope="module")
def stripped(tmp_path_factory):
    """Record 232 without its ``.atr``, next to record 213 with its annotations."""
    folder = tmp_path_factory.mktemp("noatr")
    for ext in ("dat", "hea"):
        shutil.copy(bundled_data_dir() / f"232.{ext}", folder)
    for ext in ("dat", "hea", "atr"):
        shutil.copy(bundled_data_dir() / f"213.{ext}", folder)
    return folder


def test_beats_of_an_unannotated_and_an_annotated_record(stripped, tmp_path, capsys):
    args = ["run", "--task", "beats", "--data-dir", str(stripped), "--limit", "40",
            "--no-synth", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    r = json.loads((tmp_path / "report.json").read_text())
    assert r["model"] == "ecgbnn-beat-rr" and r["protocol"] == "interpatient"
    assert r["n_beats"] == 80 and r["all_held_out_from_training"]
    assert r["per_record"]["232"]["r_peaks"] == "detected"
    assert r["per_record"]["232"]["annotations"] is None
    assert r["per_record"]["213"]["r_peaks"] == "annotations"
    assert r["n_labelled"] == 40  # only 213's beats have labels
    assert r["mismatches"]["hardware_vs_reference"] == 0
    assert r["cycles_per_inference"] == r["cycles_estimated"]
    hw = r["per_record"]["232"]["hardware"]
    assert sum(hw["per_class"].values()) == hw["beats"] == 40
    assert 0 <= hw["burden_pct"]["V"] <= 100
    m = r["metrics"]["hardware"]
    assert m["n"] == 40 and sum(v["support"] for v in m["per_class"].values()) == 40
    rows = (tmp_path / "beats.csv").read_text().splitlines()
    assert rows[0].startswith("record,r_peak_sample") and len(rows) == 81
    page = (tmp_path / "report.md").read_text()
    assert "| 232 | detected | 40 |" in page and "V burden %" in page
    assert r["resources"] is None and "not synthesized (`--no-synth`)" in page
    assert r["throughput"]["inferences_per_s"] is None
    # the page of the same run had it been built (the shape run.synthesize returns)
    built = {
        "target": "ecp5-85f",
        "board": "ULX3S (LFE5U-85F)",
        "status": "ok",
        "utilization": {"lut4": {"used": 29000, "available": 83640, "source": "nextpnr"}},
        "fmax_mhz": 40.0,
        "cycles_per_inference": r["cycles_estimated"],
        "bitstream": "b/ecg_top.bit",
        "did_not_fit": [{"target": "ecp5-25f", "error": "e"}],
    }
    ii = r["cycles_per_inference"]
    rates = {"fmax_mhz": 40.0, "inferences_per_s": 40e6 / ii, "latency_us": 1.0}
    page = beatrun.format_markdown({**r, "resources": built, "throughput": rates})
    assert "- does not fit ecp5-25f: e" in page and "LUT4 29,000 / 83,640" in page
    assert f"{40e6 / ii:,.0f} beats/s" in page
    assert "hardware vs reference" in capsys.readouterr().out


def test_a_beat_mismatch_exits_3_and_saves_the_beat(stripped, tmp_path, monkeypatch):
    real = beatrun.reference.run

    def corrupted(desc, x, **kw):
        out = real(desc, x, **kw)
        out.scores[1, 0] += 1
        return out

    monkeypatch.setattr(beatrun.reference, "run", corrupted)
    args = ["run", "--task", "beats", "--data-dir", str(stripped), "--records", "213",
            "--limit", "3", "--no-synth", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 3
    saved = np.load(tmp_path / "first_mismatch.npz")
    assert saved["input"].shape == (1, 2, 252) and saved["meta"].shape == (5,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "ecgbnn5"], "task beats-rr"),
        (["--pe", "2"], "--pe do not apply"),
        (["--backend", "core"], "--backend core do not apply"),
        (["--peaks", "annotations", "--records", "232"], r"232\.atr: no beat annotations"),
    ],
)
def test_bad_beat_options_are_one_line_errors(stripped, tmp_path, capsys, args, message):
    base = ["run", "--task", "beats", "--data-dir", str(stripped), "--no-synth",
            "--out", str(tmp_path)]  # fmt: skip
    assert main([*base, *args]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_evaluate_with_detected_peaks_on_the_bundled_ds2_records(capsys):
    assert main(["evaluate", "--model", "ecgbnn-beat-rr", "--protocol", "interpatient",
                 "--peaks", "detect", "--json"]) == 0  # fmt: skip
    r = json.loads(capsys.readouterr().out)
    d = r["detection"]
    assert r["test_records"] == ["200", "213", "232", "233"]
    assert d["matched"] + d["unmatched"] == d["detected"] and d["matched"] == r["n"]
    assert d["missed"] == d["annotated"] - d["matched"] >= 0
    assert d["matched"] > 0.99 * d["annotated"]  # XQRS finds nearly every beat of these
    assert 0 <= r["macro_auc"] <= 1


def test_detected_peaks_need_a_beats_rr_model(capsys):
    assert main(["evaluate", "--model", "ecgbnn5", "--protocol", "patient",
                 "--peaks", "detect"]) == 1  # fmt: skip
    assert "applies to beats-rr models" in capsys.readouterr().err
