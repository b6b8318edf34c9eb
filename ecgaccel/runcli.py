"""``ecgaccel run``: argument parsing and the printed summary (the job is :mod:`ecgaccel.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgaccel.cliargs import (
    BACKENDS,
    DEFAULT_MODEL,
    DEFAULT_PROTOCOL,
    command_help,
    out_dir,
    positive_float,
    positive_int,
)
from ecgaccel.hw import CORE_UP5K


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    r = sub.add_parser("run", help=command_help("run"))
    r.add_argument("--model", default=DEFAULT_MODEL)
    r.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help="which shipped checkpoint (default: patient, trained on DS1 only)",
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
        default="core",
        help="core: the hand-written core; dataflow: the streaming pipeline",
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


def _run(args: argparse.Namespace) -> int:
    from ecgaccel import run as job

    report, out = job.run(
        model=args.model,
        protocol=args.protocol,
        records=args.records,
        data_dir=args.data_dir,
        pe=args.pe,
        simd=args.simd,
        out=args.out,
        limit=args.limit,
        synth=not args.no_synth,
        freq=args.freq,
        jobs=args.jobs,
        backend=args.backend,
        fold=args.fold,
        checkpoint=args.checkpoint,
        lead=args.lead,
        target=args.target,
    )
    print(job.format_markdown(report))
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    bad = report["mismatches"]["hardware_vs_reference"]
    if bad:
        print(f"BIT-EXACTNESS FAILURE: {bad} windows differ; first one in {out}/first_mismatch.npz")
        return 3
    return 0
