"""What a new user types wrong (issue 20): each case gives one ``ecgaccel: error:`` line and a
non-zero exit, and suggests only commands that work. Cases of one command live next to that
command's tests too (test_cli_run.py, test_cli_bench.py, test_cli_verify.py)."""

from __future__ import annotations

import pytest

from ecgaccel.cli import main
from ecgaccel.cliargs import COMMANDS


def _one_line(capsys, argv: list[str], code: int) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_unknown_protocol_lists_the_shipped_protocols(tmp_path, capsys):
    err = _one_line(capsys, ["run", "--protocol", "nosuch", "--no-synth", "--out",
                             str(tmp_path)], 1)  # fmt: skip
    assert "no shipped ecgbnn5 checkpoint for protocol 'nosuch'" in err
    assert "--model ecgbnn5 --protocol paper | patient" in err and "ecgaccel export" not in err


def test_unknown_model_lists_the_shipped_models(capsys):
    err = _one_line(capsys, ["compile", "--model", "nosuch"], 1)
    assert (
        "no shipped nosuch checkpoint" in err and "--model ecgbnn5-w2a2 --protocol patient" in err
    )
    assert "ecgaccel export" not in err


def test_unknown_bench_target_is_a_choice(capsys):
    err = _one_line(capsys, ["bench", "swhw", "--target", "nosuch"], 2)
    assert "argument --target: invalid choice: 'nosuch'" in err and "ice40-up5k" in err
    assert "ecgaccel build" not in err


def test_compile_out_that_is_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    err = _one_line(capsys, ["compile", "--out", str(afile)], 2)
    assert f"argument --out: {afile}: exists and is not a folder" in err


def test_evaluate_without_data_dir_says_what_the_bundled_records_lack(capsys):
    err = _one_line(capsys, ["evaluate", "--model", "ecgbnn5", "--protocol", "patient"], 1)
    assert "the bundled records (200, 213, 232, 233) are a small DS2 sample" in err
    assert "needs 43 MIT-BIH records" in err and "--data-dir" in err and "100.hea" not in err


def test_limit_above_the_windows_is_said(tmp_path, capsys):
    # the widest core folding: the 180 windows simulate in a fifth of the default's cycles
    assert main(["run", "--records", "233", "--limit", "100000", "--no-synth", "--pe", "16",
                 "--simd", "64", "--out", str(tmp_path)]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "note: --limit 100000 is more than the 180 windows of records 233" in captured.err


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--freq", "-5"]])
def test_out_of_range_numbers(tmp_path, capsys, argv):
    _one_line(capsys, ["run", *argv, "--no-synth", "--out", str(tmp_path)], 2)


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--out-root", "bitstreams"],
        ["export", "--model", "ecgbnn5", "--out", "models/checkpoints/ecgbnn5-patient.onnx"],
        ["train", "--model", "ecgbnn5", "--protocol", "patient", "--out",
         "models/checkpoints/ecgbnn5-patient.pt"],
    ],
)  # fmt: skip
def test_writing_over_shipped_files_takes_a_flag(capsys, argv, monkeypatch):
    from ecgaccel.artifacts import shipped_folders

    monkeypatch.chdir(shipped_folders()[0].parents[1])  # the source tree (editable install)
    err = _one_line(capsys, argv, 1)
    assert "inside the shipped" in err and "--overwrite-shipped" in err


def test_default_outputs_are_under_runs():
    from ecgaccel.cli import build_parser

    p = build_parser()
    assert str(p.parse_args(["build"]).out_root) == "runs/bitstreams"
    assert p.parse_args(["export", "--model", "ecgbnn5"]).out is None  # runs/export/ (see above)


def test_export_of_a_shipped_checkpoint_writes_runs_export(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--model", "ecgbnn5", "--protocol", "patient"]) == 0
    assert (tmp_path / "runs/export/ecgbnn5-patient.onnx").is_file()
    assert (tmp_path / "runs/export/ecgbnn5-patient.intnet.json").is_file()


HELP_CASES = [(["--version"], "ecgaccel 0.1.0", "[]"), (["--help"], "usage: ecgaccel", "[]"),
              (["build", "--help"], "usage: ecgaccel build", "['amaranth']")]  # fmt: skip
"""argv, the first line printed, the heavy packages imported (``build`` needs Amaranth for its
option defaults, never PyTorch)."""


@pytest.mark.parametrize(("argv", "first", "heavy_imported"), HELP_CASES)
def test_version_and_help_import_nothing_heavy(argv, first, heavy_imported):
    import subprocess
    import sys

    heavy = "('torch', 'amaranth', 'brevitas', 'qonnx')"
    code = ("import sys; from ecgaccel.cli import main; print(main(%r)); "
            f"print(sorted(m for m in {heavy} if m in sys.modules))") % (argv,)  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith(first) and lines[-2:] == ["0", heavy_imported]
    if argv == ["--help"]:  # every command listed, in the table's order
        listed = [w.split()[0] for w in lines if w[:5] == "    " + w[4:5] and w[4] != " "]
        assert listed == list(COMMANDS)


def test_lead_by_name(tmp_path, capsys):
    err = _one_line(capsys, ["run", "--lead", "V9", "--no-synth", "--out", str(tmp_path)], 1)
    assert "200.hea: no signal named V9 (signals: MLII, V1)" in err
    argv = ["run", "--lead", "V1", "--records", "232", "--limit", "1", "--no-synth", "--out",
            str(tmp_path / "v1")]  # fmt: skip
    assert main(argv) == 0
    assert "lead V1." in (tmp_path / "v1" / "report.md").read_text()
