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

from ecgaccel.artifacts import load_network
from ecgaccel.cliargs import command_help, out_dir, positive_int
from ecgaccel.hw.files import write_text_atomic
from ecgaccel.hw.folding import AUTO_TARGET_CYCLES as DEFAULT_TARGET_CYCLES
from ecgaccel.hw.folding import FoldingError


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
    c.add_argument("--checkpoint", type=Path, default=None,
                   help="a trained checkpoint instead of the shipped one (its .intnet.json "
                        "beside it, from `ecgaccel export --checkpoint`)")  # fmt: skip
    c.set_defaults(func=_compile)


def _compile(args: argparse.Namespace) -> int:
    from amaranth.back import verilog

    from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
    from ecgaccel.hw.folding import estimate_folding, resolve_fold_config
    from ecgaccel.hw.graph import IntGraph

    desc = load_network(args.model, args.protocol, args.checkpoint)
    out = args.out or Path("runs") / f"compile-{args.model}-{args.protocol}"
    if isinstance(desc, IntGraph):
        return _compile_graph(args, desc, out)
    config = resolve_fold_config(desc, args.fold, args.target_cycles)
    target = args.target_cycles if args.fold == "auto" else None
    result = estimate_folding(desc, config, target_cycles=target)
    out.mkdir(parents=True, exist_ok=True)
    result.config.save(out / "folding_config.json", desc, result.fifos)
    write_text_atomic(out / "estimates.json", json.dumps(result.summary(), indent=2))
    write_text_atomic(out / "estimates.md", result.table() + "\n")
    plan = plan_dataflow(desc, result.config.to_block_foldings())
    write_text_atomic(out / "dataflow.v", verilog.convert(DataflowPipeline(plan), name="dataflow"))
    print(result.table())
    print(f"wrote {out}/folding_config.json, estimates.json, estimates.md, dataflow.v")
    return 0


def graph_estimates(graph, plan) -> dict:
    """The estimate report of a graph network's plan (:func:`~ecgaccel.hw.graph_dataflow.
    plan_graph`): per node its op, folding (PE, SIMD, SWG SIMD) and cycles, the II and
    latency (cycles) and the resources (LUT, FF, BRAM, DSP) of the layers' own formulas."""
    est = plan.estimates()
    nodes = [{"node": n.name, "op": n.op, "cycles": est.per_stage.get(n.name),
              **({k: v for k, v in plan.folding[n.name].to_json().items()
                  if k in ("PE", "SIMD", "swg_simd")} if n.name in plan.folding else {})}
             for n in graph.nodes]  # fmt: skip
    return {"model": graph.name, "graph": True, "in_lanes": plan.in_lanes,
            "ii_cycles": est.ii, "latency_cycles": est.latency,
            "resources": est.resources, "nodes": nodes}  # fmt: skip


def graph_table(r: dict) -> str:
    """:func:`graph_estimates` as a markdown table."""
    res = r["resources"]
    lines = ["| node | op | PE | SIMD | cycles |", "|---|---|---:|---:|---:|"]
    for n in r["nodes"]:
        cycles = "" if n["cycles"] is None else f"{n['cycles']:,}"
        lines.append(f"| {n['node']} | {n['op']} | {n.get('PE', '')} | {n.get('SIMD', '')} | "
                     f"{cycles} |")  # fmt: skip
    lines += ["", f"II {r['ii_cycles']:,} cycles, latency {r['latency_cycles']:,} cycles; "
                  f"LUT {res['lut']:,}, FF {res['ff']:,}, BRAM {res['bram']:,}, "
                  f"DSP {res['dsp']:,} (the layers' own estimates, default folding)"]  # fmt: skip
    return "\n".join(lines)


def _compile_graph(args: argparse.Namespace, graph, out: Path) -> int:
    """A graph network: its default-folding plan's estimates (``estimates.json`` /
    ``estimates.md``; no Verilog: ``ecgaccel verify --backend dataflow`` builds it)."""
    from ecgaccel.hw.graph_dataflow import plan_graph

    if args.fold != "auto":
        raise FoldingError(f"{args.model} is a graph network: compile takes its default "
                           "folding (--fold is for chain networks)")  # fmt: skip
    report = graph_estimates(graph, plan_graph(graph))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "estimates.json", json.dumps(report, indent=2))
    write_text_atomic(out / "estimates.md", graph_table(report) + "\n")
    print(graph_table(report))
    print(f"wrote {out}/estimates.json, estimates.md")
    return 0
