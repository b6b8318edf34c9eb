"""The ``ecgaccel`` CLI: sub-commands listed, data summary, one-line errors with non-zero exit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from ecgaccel.cli import main
from ecgaccel.models.mitdb import bundled_data_dir


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecgaccel.cli", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0 and "data" in out.stdout


def test_summary_bundled(capsys):
    assert main(["data", "summary", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["records"] == 4
    assert s["beats"]["DS2"]["V"] == 1877 and s["beats"]["DS1"]["records"] == 0
    assert s["windows"]["total"] == 720


def test_detect_scores_xqrs_against_the_annotations(capsys, tmp_path):
    assert main(["data", "detect", "--records", "232", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    r = s["records"]["232"]
    assert s["match_window_ms"] == 150 and r["tp"] + r["fn"] == 1780 and r["se"] > 0.99
    assert s["gross"] == r  # one record: the gross statistic is its own
    # a record without annotations cannot be scored: one line naming it
    for ext in ("hea", "dat"):
        shutil.copy(bundled_data_dir() / f"232.{ext}", tmp_path)
    assert main(["data", "detect", "--data-dir", str(tmp_path), "--records", "232"]) == 1
    assert "232.atr: annotation file not found" in capsys.readouterr().err


def test_summary_full_copy(mitdb_dir, capsys):
    assert main(["data", "summary", "--data-dir", str(mitdb_dir)]) == 0
    out = capsys.readouterr().out
    assert "beats DS1                   22   45866     944    3788     415       8   51021" in out
    assert "beats DS2                   22   44259    1837    3221     388       7   49712" in out
    assert "10-s windows (paper)        43    5186     545    1890     100      19    7740" in out


def test_bad_data_dir_is_one_line_error(tmp_path):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(bundled_data_dir() / f"200.{ext}", tmp_path / f"200.{ext}")
    (tmp_path / "200.dat").chmod(0o644)
    with (tmp_path / "200.dat").open("r+b") as f:
        f.truncate(10_000)
    out = run_cli("data", "summary", "--data-dir", str(tmp_path))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("ecgaccel: error: ") and "200.dat: truncated" in out.stderr


def test_download_unknown_database_fails_clearly(tmp_path):
    out = run_cli("data", "download", "no-such-database-xyz", str(tmp_path / "dl"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "could not download PhysioNet database 'no-such-database-xyz'" in out.stderr
