"""``ecgaccel verify``: both back ends against the integer reference on real and random windows
with stalls; a mismatch exits 1; bad options are one-line errors."""

from __future__ import annotations

import pytest

from ecgaccel.cli import main
from ecgaccel.models import reference
from ecgaccel.verifycli import spread_windows


@pytest.mark.slow  # a Verilator build each (minutes when not cached)
@pytest.mark.parametrize("backend", ["core", "dataflow"])
def test_verify_passes(capsys, backend):
    args = ["verify", "--backend", backend, "--windows", "4", "--random", "2", "--seed", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mismatches: 0 of 6 windows" in out
    assert "records 200, 213, 232, 233" in out
    assert "estimated II" in out and "initiation interval" in out
    assert out.rstrip().splitlines()[-1].startswith("PASS")


@pytest.mark.slow  # the dataflow pipeline's Verilator build (shared with the test above)
def test_verify_mismatch_exits_1(capsys, monkeypatch):
    real = reference.run

    def corrupted(desc, x, **kw):
        out = real(desc, x, **kw)
        out.scores[1, 2] += 1  # the reference now disagrees with the RTL on window 1
        return out

    monkeypatch.setattr(reference, "run", corrupted)
    assert main(["verify", "--backend", "dataflow", "--windows", "1", "--random", "1"]) == 1
    out = capsys.readouterr().out
    assert "mismatches: 1 of 2 windows" in out
    assert "first mismatch: window 1 (random window 0)" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "core", "--fold", "auto"], "--fold applies to --backend dataflow"),
        (["--windows", "0", "--random", "0"], "nothing to verify"),
        (["--pause", "1.0"], "--pause must be in [0, 1)"),
        (["--model", "ecgbnn17"], "streams MIT-BIH 10-s windows or beats"),
        (
            ["--model", "resnet-beat", "--protocol", "interpatient"],
            "no shipped resnet-beat checkpoint",
        ),
        (["--protocol", "nope"], "no shipped ecgbnn5 checkpoint for protocol 'nope'"),
        (["--backend", "dataflow", "--fold", "/nonexistent.json"], "folding config not found"),
    ],
)
def test_bad_verify_options_are_one_line_errors(capsys, args, message):
    assert main(["verify", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--windows", "-1"], "argument --windows: must be at least 0, got -1"),
        (["--random", "x"], "argument --random: 'x' is not an integer"),
        (["--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
    ],
)
def test_verify_ranges_stop_at_parsing_in_one_line(capsys, args, message):
    assert main(["verify", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


def test_spread_windows_round_robin_over_records():
    import numpy as np

    rec = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 4)
    idx = spread_windows(rec, 5)
    assert rec[idx].tolist() == ["a", "b", "c", "a", "b"]
    assert len(set(idx.tolist())) == 5
    assert spread_windows(rec, 0).size == 0
