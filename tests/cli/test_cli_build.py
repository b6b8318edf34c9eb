"""``ecgaccel build``: bad options are one-line errors (exit 1) before any tool runs."""

from __future__ import annotations

import pytest

from ecgaccel.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "ice40-hx8k"], "--target: unknown target 'ice40-hx8k'; choose one of"),
        (["--freq", "abc"], "--freq must be a number, got 'abc'"),
        (["--freq", "0"], "--freq must be a positive number"),
        (["--freq", "-12"], "--freq must be a positive number"),
        (["--freq", "nan"], "--freq must be a positive number"),
        (["--freq", "12000"], "--freq is in MHz"),
        (["--backend", "fpga"], "--backend must be one of core, dataflow"),
        (["--baud", "6000000"], "--baud: baud 6000000 at a 12 MHz clock gives 2 cycles a bit"),
        (["--baud", "fast"], "--baud must be an integer"),
        (["--pe", "2.5"], "--pe must be an integer"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--backend", "dataflow", "--simd", "8"], "the dataflow back end takes --fold"),
        (["--all", "--target", "ecp5-85f"], "--all builds every default; it does not take"),
        (["--protocol", "nope"], "no shipped ecgbnn5 checkpoint for protocol 'nope'"),
        (["--pe", "3"], "PE must be"),
    ],
)
def test_build_bad_options_are_one_line_errors(capsys, tmp_path, args, message):
    assert main(["build", *args, "--out-root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.rglob("*.bin"))
