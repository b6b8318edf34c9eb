"""``ecgaccel compile``: a shipped model's integer description → folded dataflow pipeline.

Writes, to ``--out`` (default ``runs/compile-<model>-<protocol>/``): ``folding_config.json``
(FINN format, :mod:`ecgaccel.hw.folding`), ``estimates.json`` and ``estimates.md`` (per layer:
folding, cycles, LUT/FF/BRAM/DSP estimates; II and latency) and ``dataflow.v`` (the Verilog of
:class:`ecgaccel.hw.dataflow.DataflowPipeline`). ``ecgaccel run --backend dataflow --fold
OUT/folding_config.json`` then verifies that pipeline on real windows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgaccel.artifacts import load_description
from ecgaccel.cliargs import command_help, out_dir, positive_int
from ecgaccel.hw.files import write_text_atomic
from ecgaccel.hw.folding import AUTO_TARGET_CYCLES as DEFAULT_TARGET_CYCLES


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compile``."""
    c = sub.add_parser("compile", help=command_help("compile"))
    c.add_argument("--model", default="ecgbnn5")
    c.add_argument("--protocol", default="patient")
    c.add_argument("--fold", default="auto",
                   help="'auto' (the folding pass) or a FINN folding config JSON")  # fmt: skip
    c.add_argument("--target-cycles", type=positive_int, default=DEFAULT_TARGET_CYCLES,
                   help="cycle target per layer for --fold auto")  # fmt: skip
    c.add_argument("--out", type=out_dir, default=None)
    c.set_defaults(func=_compile)


def _compile(args: argparse.Namespace) -> int:
    from amaranth.back import verilog

    from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
    from ecgaccel.hw.folding import estimate_folding, resolve_fold_config

    desc = load_description(args.model, args.protocol)
    config = resolve_fold_config(desc, args.fold, args.target_cycles)
    target = args.target_cycles if args.fold == "auto" else None
    result = estimate_folding(desc, config, target_cycles=target)
    out = args.out or Path("runs") / f"compile-{args.model}-{args.protocol}"
    out.mkdir(parents=True, exist_ok=True)
    result.config.save(out / "folding_config.json", desc, result.fifos)
    write_text_atomic(out / "estimates.json", json.dumps(result.summary(), indent=2))
    write_text_atomic(out / "estimates.md", result.table() + "\n")
    plan = plan_dataflow(desc, result.config.to_block_foldings())
    write_text_atomic(out / "dataflow.v", verilog.convert(DataflowPipeline(plan), name="dataflow"))
    print(result.table())
    print(f"wrote {out}/folding_config.json, estimates.json, estimates.md, dataflow.v")
    return 0
