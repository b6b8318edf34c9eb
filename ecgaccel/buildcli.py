"""``ecgaccel build``: packed bitstreams of either back end in its UART board top.

``ecgaccel build --backend core|dataflow --model NAME --target ice40-up5k|ecp5-25f|ecp5-85f
--freq MHZ`` runs Amaranth → Yosys → nextpnr → icepack / ecppack (all YoWASP) and writes
``<out-root>/<target>/<model>-<backend>/`` (:mod:`ecgaccel.bitstreams.build`); ``--all`` builds
the default model with both back ends for ``ice40-up5k`` and ``ecp5-25f``, one after another,
and goes on after a design that does not fit. A missed ``--freq`` is reported with the achieved
Fmax, never an error.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from ecgaccel.cliargs import command_help


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``build``."""
    from ecgaccel.bitstreams.boards import BOARDS
    from ecgaccel.bitstreams.build import DEFAULT_BAUD
    from ecgaccel.cliargs import DEFAULT_MODEL, DEFAULT_PROTOCOL

    c = sub.add_parser("build", help=command_help("build"))
    c.add_argument("--backend", default="core", help="core (default) or dataflow")
    c.add_argument("--model", default=DEFAULT_MODEL)
    c.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    c.add_argument("--target", default="ice40-up5k", help=f"one of {', '.join(BOARDS)}")
    c.add_argument("--freq", default=None,
                   help="nextpnr's clock target in MHz (default: the board clock; the "
                        "design runs from the board oscillator)")  # fmt: skip
    c.add_argument("--baud", default=str(DEFAULT_BAUD), help="UART baud rate (8N1)")
    c.add_argument("--pe", default=None, help="core PE (default: 2 on ice40-up5k, else 8)")
    c.add_argument("--simd", default=None, help="core SIMD (default: 64 on ice40-up5k, else 32)")
    c.add_argument(
        "--fold",
        type=Path,
        default=None,
        help="dataflow folding config (FINN JSON, `ecgaccel compile` writes one)",
    )
    c.add_argument("--seed", default="1", help="nextpnr placement seed")
    c.add_argument("--checkpoint", type=Path, default=None,
                   help="build a trained checkpoint's network (its .intnet.json beside it, from "
                        "`ecgaccel export --checkpoint`) instead of the shipped one")  # fmt: skip
    c.add_argument("--no-asic", action="store_true",
                   help="skip the generic CMOS (ASIC) estimate, a second Yosys run that takes "
                        "hours for a large design")  # fmt: skip
    c.add_argument("--out-root", type=Path, default=Path("runs") / "bitstreams",
                   help="outputs go to OUT_ROOT/<target>/<model>-<backend>/ (default "
                        "runs/bitstreams; the committed builds are in bitstreams/)")  # fmt: skip
    c.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out-root bitstreams: replace the committed builds")  # fmt: skip
    c.add_argument(
        "--all",
        action="store_true",
        help="the default model, both back ends, on ice40-up5k and ecp5-25f; and "
        "ecgbnn5-w2a2's dataflow pipeline on ecp5-85f",
    )
    c.set_defaults(func=_build)


def _number(name: str, text: str | None, kind: type) -> float | int | None:
    from ecgaccel.bitstreams.build import BuildError

    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise BuildError(f"{name} must be {'an integer' if kind is int else 'a number'}, "
                         f"got {text!r}") from None  # fmt: skip
    if not math.isfinite(value) or value <= 0:
        raise BuildError(f"{name} must be a positive number, got {text!r}")
    return value


def _requests(args: argparse.Namespace) -> list:
    from ecgaccel.bitstreams.build import ALL_EXTRA, ALL_TARGETS, BuildError, BuildRequest

    freq = _number("--freq", args.freq, float)
    common = {"freq_mhz": freq, "baud": _number("--baud", args.baud, int),
              "seed": _number("--seed", args.seed, int), "asic": not args.no_asic}  # fmt: skip
    if args.all:
        given = [o for o, v in (("--backend", args.backend != "core"), ("--pe", args.pe),
                                ("--simd", args.simd), ("--fold", args.fold),
                                ("--target", args.target != "ice40-up5k"),
                                ("--freq", args.freq)) if v]  # fmt: skip
        given += ["--checkpoint"] if args.checkpoint else []
        if given:
            raise BuildError(f"--all builds every default; it does not take {', '.join(given)}")
        reqs = [BuildRequest(target=t, backend=b, model=args.model, protocol=args.protocol,
                             **common)
                for t in ALL_TARGETS for b in ("core", "dataflow")]  # fmt: skip
        reqs += [BuildRequest(target=t, backend=b, model=m, protocol=args.protocol, **common)
                 for t, b, m in ALL_EXTRA]  # fmt: skip
    else:
        reqs = [BuildRequest(target=args.target, backend=args.backend, model=args.model,
                             protocol=args.protocol, pe=_number("--pe", args.pe, int),
                             simd=_number("--simd", args.simd, int), fold=args.fold,
                             **common)]  # fmt: skip
    from ecgaccel.models.registry import get_spec

    for r in reqs:
        r.validate()
        get_spec(r.model)  # UnknownModelError names the known models
    return reqs


def _summary(report: dict, out: Path, seconds: float) -> str:
    u = report["utilization"]
    logic = "lc" if "lc" in u else "lut4"
    parts = [f"{k.upper()} {v['used']}/{v['available']}" for k, v in u.items()
             if k in (logic, "ff", "bram", "dsp", "io")]  # fmt: skip
    f = report["fmax"]
    met = "met" if f["timing_met"] else "MISSED"
    return (f"{report['target']} {report['model']}-{report['backend']}: {', '.join(parts)}; "
            f"Fmax {f['achieved_mhz']} MHz (target {f['target_mhz']:g}: {met}); "
            f"{out}/{report['bitstream']['file']} ({seconds:.0f} s)")  # fmt: skip


def _build(args: argparse.Namespace) -> int:
    from ecgaccel.artifacts import load_network, refuse_shipped
    from ecgaccel.bitstreams.build import DoesNotFitError, build
    from ecgaccel.hw.files import ensure_output_dir

    ensure_output_dir(refuse_shipped(args.out_root, args.overwrite_shipped))
    reqs = _requests(args)
    command = ["ecgaccel", *sys.argv[1:]] if sys.argv[1:2] == ["build"] else None
    failed = []
    for req in reqs:
        t = time.time()
        print(f"building {req.model} {req.backend} for {req.target} ...", flush=True)
        try:
            desc = load_network(req.model, req.protocol, args.checkpoint)
            report, out = build(req, desc, args.out_root, command=command,
                                log=lambda s: print(f"  {s}", flush=True))  # fmt: skip
        except DoesNotFitError as exc:
            if not args.all:
                raise
            print(f"ecgaccel: error: {exc} (report in "
                  f"{args.out_root / req.target / f'{req.model}-{req.backend}'})",
                  file=sys.stderr)  # fmt: skip
            failed.append(req)
            continue
        print(_summary(report, out, time.time() - t), flush=True)
    return 1 if failed else 0
