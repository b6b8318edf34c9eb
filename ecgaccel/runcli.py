"""``ecgaccel run``: argument parsing and the printed summary (the job is :mod:`ecgaccel.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgaccel.cliargs import (
    BACKENDS,
    DEFAULT_BEAT_MODEL,
    DEFAULT_BEAT_PROTOCOL,
    DEFAULT_MODEL,
    DEFAULT_PROTOCOL,
    command_help,
    out_dir,
    positive_float,
    positive_int,
)
from ecgaccel.hw import CORE_UP5K
from ecgaccel.models.registry import PEAKS

TASKS = ("windows", "beats")
"""What ``ecgaccel run`` classifies: 10-s windows or single beats."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    r = sub.add_parser("run", help=command_help("run"))
    r.add_argument(
        "--task",
        choices=TASKS,
        default="windows",
        help="windows: every 10-s window through the hand-written core (or --backend), "
        "synthesized; beats: every beat through the dataflow RTL, Se / +P against the "
        "annotations and a per-record summary (beats per class, ectopic burden, V runs), "
        "the same design synthesized",
    )
    r.add_argument(
        "--model",
        default=None,
        help=f"default {DEFAULT_MODEL} for windows, {DEFAULT_BEAT_MODEL} for beats",
    )
    r.add_argument(
        "--protocol",
        default=None,
        help=f"which shipped checkpoint (default: {DEFAULT_PROTOCOL} for windows, "
        f"{DEFAULT_BEAT_PROTOCOL} for beats: trained on DS1 only)",
    )
    r.add_argument(
        "--peaks",
        choices=PEAKS,
        default="auto",
        help="with --task beats: R peaks from the annotations (.atr), from the XQRS detector, "
        "or auto: the annotations where a record has them, else the detector",
    )
    r.add_argument(
        "--records", nargs="+", default=None, help="record names (default: all in the data dir)"
    )
    r.add_argument("--data-dir", type=Path, default=None, help="default: the bundled records")
    r.add_argument("--pe", type=positive_int, default=None,
                   help=f"core PE (default {CORE_UP5K[0]}: fits the UP5K)")  # fmt: skip
    r.add_argument("--simd", type=positive_int, default=None,
                   help=f"core SIMD (default {CORE_UP5K[1]})")  # fmt: skip
    r.add_argument("--out", type=out_dir, default=None, help="default: runs/run-<time>/")
    r.add_argument(
        "--limit", type=positive_int, default=None, help="only this many windows (spread)"
    )
    r.add_argument(
        "--freq",
        type=positive_float,
        default=None,
        help="clock target for place and route (MHz; default: the board oscillator, 12 on "
        "the UP5K, 25 on ECP5); a miss is reported, not fatal",
    )
    r.add_argument(
        "--no-synth", action="store_true", help="skip Yosys/nextpnr (no resources, no Fmax)"
    )
    r.add_argument(
        "--target",
        default=None,
        help="build target, as `ecgaccel build --target` (default: ice40-up5k for the core, "
        "ecp5-25f for the dataflow pipeline, each falling back to the next larger device, "
        "ecp5-25f / ecp5-85f, when the design does not fit)",
    )
    r.add_argument("--jobs", type=positive_int, default=2, help="parallel simulator processes")
    r.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="core (default for windows): the hand-written core; dataflow (what --task beats "
        "runs): the streaming pipeline",
    )
    r.add_argument(
        "--fold",
        type=Path,
        default=None,
        help="dataflow folding: a FINN folding config JSON (`ecgaccel compile`) or 'auto' "
        "(the folding pass); default: one column a cycle per block",
    )
    r.add_argument(
        "--lead",
        default="MLII",
        help="signal to window, by its name in the headers (default MLII, the lead the "
        "shipped models were trained on)",
    )
    r.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="your own checkpoint of --model (ecgaccel train --out) instead of the shipped "
        "one; exported and compiled into --out",
    )
    r.set_defaults(func=_run)


def _common(args: argparse.Namespace) -> dict:
    """The options both jobs take."""
    return {"records": args.records, "data_dir": args.data_dir, "out": args.out,
            "limit": args.limit, "jobs": args.jobs, "checkpoint": args.checkpoint,
            "lead": args.lead}  # fmt: skip


def _finish(page: str, out: Path, files: str, bad: int, unit: str) -> int:
    """Print the report page and where it went; 3 when ``bad`` inferences differ from the
    reference (the first one saved in ``out/first_mismatch.npz``), else 0."""
    print(page)
    print(f"wrote {files} in {out}")
    if bad:
        print(f"BIT-EXACTNESS FAILURE: {bad} {unit} differ; first one in {out}/first_mismatch.npz")
        return 3
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.task == "beats":
        return _run_beats(args)
    from ecgaccel import run as job

    report, out = job.run(
        model=args.model or DEFAULT_MODEL,
        protocol=args.protocol or DEFAULT_PROTOCOL,
        pe=args.pe,
        simd=args.simd,
        synth=not args.no_synth,
        freq=args.freq,
        backend=args.backend or "core",
        fold=args.fold,
        target=args.target,
        **_common(args),
    )
    bad = report["mismatches"]["hardware_vs_reference"]
    return _finish(job.format_markdown(report), out, "report.json and report.md", bad, "windows")


WINDOW_ONLY = ("pe", "simd", "fold")
"""Options of the window job that ``--task beats`` does not take (it runs the dataflow
pipeline at its default folding)."""


def _run_beats(args: argparse.Namespace) -> int:
    from ecgaccel import beatrun
    from ecgaccel.hw.core_plan import CoreConfigError

    given = [f"--{k}" for k in WINDOW_ONLY if getattr(args, k) is not None]
    given += ["--backend core"] if args.backend == "core" else []
    if given:
        raise CoreConfigError(
            "--task beats runs the dataflow pipeline at its default folding: "
            f"{', '.join(given)} do not apply"
        )
    report, out = beatrun.run_beats(
        model=args.model or DEFAULT_BEAT_MODEL,
        protocol=args.protocol or DEFAULT_BEAT_PROTOCOL,
        peaks=args.peaks,
        synth=not args.no_synth,
        freq=args.freq,
        target=args.target,
        **_common(args),
    )
    bad = report["mismatches"]["hardware_vs_reference"]
    page = beatrun.format_markdown(report)
    return _finish(page, out, "report.json, report.md and beats.csv", bad, "beats")
