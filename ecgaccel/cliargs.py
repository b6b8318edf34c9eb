"""Argument types shared by the sub-commands: ranges and output paths checked when the command
line is parsed, so bad input stops with argparse's one-line error before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgaccel.hw import BACKENDS
from ecgaccel.hw.files import OutputPathError, check_output_file, ensure_output_dir

__all__ = [
    "BACKENDS",
    "DEFAULT_BEAT_MODEL",
    "DEFAULT_BEAT_PROTOCOL",
    "DEFAULT_MODEL",
    "DEFAULT_PROTOCOL",
]

DEFAULT_MODEL = "ecgbnn5"
"""The model ``run``, ``verify``, ``bench`` and ``report`` take without ``--model``."""
DEFAULT_PROTOCOL = "patient"
"""Its checkpoint: trained on DS1 only, so the bundled DS2 records are held out."""
DEFAULT_BEAT_MODEL = "ecgbnn-beat-rr"
"""The model of ``run --task beats``: W2A2, the beat and its record's median beat as two leads,
fused with RR features."""
DEFAULT_BEAT_PROTOCOL = "interpatient"
"""Its checkpoint: trained and selected on DS1 patients only (de Chazal 2004), so DS2 records
(the bundled ones among them) are unseen."""


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1 (``--jobs``, ``--windows``, ``--limit``, ``--pe``, ...).

    Raises
    ------
    argparse.ArgumentTypeError
        Not an integer, or < 1.
    """
    return _int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """An integer ≥ 0 (``verify --windows`` / ``--random``, ``finn-export --windows``).

    Raises
    ------
    argparse.ArgumentTypeError
        Not an integer, or < 0.
    """
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """A number > 0 (``--freq`` in MHz, ``--clk-ns``).

    Raises
    ------
    argparse.ArgumentTypeError
        Not a number, or ≤ 0.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value:g}")
    return value


def out_dir(text: str) -> Path:
    """An output folder, created and checked for writing now
    (:func:`~ecgaccel.hw.files.ensure_output_dir`).

    Raises
    ------
    argparse.ArgumentTypeError
        It cannot be created or written (names the path and the reason).
    """
    try:
        return ensure_output_dir(text)
    except OutputPathError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def out_file(text: str) -> Path:
    """An output file whose folder is created and checked for writing now
    (:func:`~ecgaccel.hw.files.check_output_file`).

    Raises
    ------
    argparse.ArgumentTypeError
        It is a folder, or its folder cannot be created or written.
    """
    try:
        return check_output_file(text)
    except OutputPathError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("datacli", "inspect or download ECG data"),
    "train": ("modelcli", "train a registered model (CPU, deterministic, resumable)"),
    "evaluate": ("modelcli", "evaluate a checkpoint on a protocol's test part"),
    "export": ("modelcli", "export a checkpoint to QONNX and compile its integer description "
                           "(.intnet.json next to the .onnx)"),
    "run": ("runcli", "main job: shipped model on real records through software, integer "
                      "reference and the RTL core (Verilator); report"),
    "bench": ("bench", "speed benchmarks (JSON)"),
    "compile": ("compilecli", "fold a shipped model into a dataflow pipeline (Verilog)"),
    "finn-export": ("finncli", "write a FINN build folder (model.onnx, folding_config.json, "
                               "dataflow_build_config.json, README.md) for a shipped model"),
    "finn-build": ("finncli", "run FINN's builder on a finn-export folder in FINN's own Python "
                              "(FINN is not on PyPI)"),
    "verify": ("verifycli", "simulate a hardware back end on real and random windows with "
                            "stalls; compare every score with the integer reference"),
    "build": ("buildcli", "Yosys + nextpnr + pack: a bitstream with a UART top"),
    "report": ("reportcli", "compare every built design: a results page + figures (runs/report/; "
                         "docs/results.md with --out)"),
}  # fmt: skip
"""Every sub-command: the ``ecgaccel`` module that registers it (its ``add_parser`` /
``add_parsers``) and its one-line help. The CLI imports a module only for its own commands."""


def command_help(name: str) -> str:
    """The one-line help of sub-command ``name`` (:data:`COMMANDS`)."""
    return COMMANDS[name][1]


def model_name(text: str) -> str:
    """A registered model or a zoo variant (``attianet-binary-int4-agesex``,
    :func:`~ecgaccel.models.registry.zoo_spec`).

    Raises
    ------
    argparse.ArgumentTypeError
        Neither: the message names the registered models and the zoo's suffixes.
    """
    from ecgaccel.models.registry import UnknownModelError, get_spec

    try:
        get_spec(text)
    except UnknownModelError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc} (zoo variants: <arch>[-binary|-multiclass][-fp|-int8|-int4|-w2a2][-agesex])"
        ) from None
    return text
