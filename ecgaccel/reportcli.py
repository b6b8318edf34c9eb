"""``ecgaccel report``'s command line (the job, :mod:`ecgaccel.report`, is imported when it
runs: it needs PyTorch and the simulator)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgaccel.cliargs import command_help, out_file, positive_int

DEFAULTS = {"bitstreams": Path("bitstreams"), "out": Path("runs/report/results.md"),
            "figures": Path("runs/report/figures"), "work": Path("runs/report")}  # fmt: skip
"""Outputs under ``runs/``; the committed page is regenerated with ``--out docs/results.md
--figures docs/figures``."""


class ReportError(ValueError):
    """Bad input of ``ecgaccel report``: no bitstreams folder, a malformed build report or
    ASIC estimate (the message names the file), a bad option; one line."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``report``."""
    p = sub.add_parser("report", help=command_help("report"))
    p.add_argument("--bitstreams", type=Path, default=DEFAULTS["bitstreams"],
                   help="the builds: BITSTREAMS/<target>/<design>/report.json")  # fmt: skip
    p.add_argument("--out", type=out_file, default=DEFAULTS["out"], help="the markdown page")
    p.add_argument("--figures", type=Path, default=DEFAULTS["figures"], help="PNG folder")
    p.add_argument("--windows", type=positive_int, default=None,
                   help="only this many windows, spread evenly (default: all)")  # fmt: skip
    p.add_argument("--jobs", type=positive_int, default=2, help="parallel simulator processes")
    p.add_argument("--work", type=Path, default=DEFAULTS["work"],
                   help="simulation results cache (keyed by plan, windows, sources)")  # fmt: skip
    p.add_argument("--data-dir", type=Path, default=None, help="default: the bundled records")
    p.set_defaults(func=_report)


def regenerate_command(args: argparse.Namespace) -> str:
    """The ``ecgaccel report`` command line of ``args``: the options that change the page
    (not ``--jobs``, ``--work``) where they differ from the defaults."""
    parts = ["ecgaccel report"]
    for opt in ("bitstreams", "out", "figures", "windows", "data_dir"):
        value = getattr(args, opt)
        if value is not None and value != DEFAULTS.get(opt):
            parts.append(f"--{opt.replace('_', '-')} {value}")
    return " ".join(parts)


def _report(args: argparse.Namespace) -> int:
    from ecgaccel.report import make_report

    results = make_report(args.bitstreams, args.out, args.figures, args.windows, args.jobs,
                          args.work, args.data_dir, command=regenerate_command(args))  # fmt: skip
    print(f"wrote {args.out} and 3 figures in {args.figures}")
    bad = [r.build.name for r in results if r.hw_ref_bad.size]
    if bad:
        print(f"ecgaccel: RTL differs from the reference in {', '.join(bad)}", file=sys.stderr)
        return 3
    return 0
