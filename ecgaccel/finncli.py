"""``ecgaccel finn-export`` and ``ecgaccel finn-build``: hand a shipped model to the real FINN
(:mod:`ecgaccel.hw.finn_export`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgaccel.cliargs import (
    DEFAULT_PROTOCOL,
    command_help,
    nonnegative_int,
    out_dir,
    positive_float,
    positive_int,
)
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.files import write_text_atomic
from ecgaccel.hw.finn_export import (
    DEFAULT_CLK_NS,
    DEFAULT_TARGET_CYCLES,
    FINN_PYTHON_ENV,
    FinnExportError,
    comparison_table,
    format_estimate,
    read_finn_report,
    run_finn_build,
    write_finn_build_dir,
)
from ecgaccel.hw.folding import FoldingError, set_folding
from ecgaccel.hw.graph import FORMAT as GRAPH_FORMAT
from ecgaccel.hw.graph import load_network
from ecgaccel.models.shipped import checkpoints_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``finn-export`` and ``finn-build``."""
    x = sub.add_parser("finn-export", help=command_help("finn-export"))
    x.add_argument("out", type=out_dir, metavar="OUT", help="build folder to write")
    x.add_argument("--model", required=True, help="e.g. ecgbnn5")
    x.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help=f"which shipped checkpoint (default: {DEFAULT_PROTOCOL})",
    )
    x.add_argument(
        "--target-cycles",
        type=positive_int,
        default=DEFAULT_TARGET_CYCLES,
        help="cycles a window each layer should meet (FINN's SetFolding target; "
        f"default {DEFAULT_TARGET_CYCLES})",
    )
    x.add_argument(
        "--clk-ns",
        type=positive_float,
        default=DEFAULT_CLK_NS,
        help=f"synthesis clock period in ns (default {DEFAULT_CLK_NS})",
    )
    x.add_argument("--fpga-part", default=None, help="Xilinx part (default xc7z020clg400-1)")
    x.add_argument(
        "--board",
        default=None,
        help="FINN board name (e.g. Pynq-Z1): adds bitfile, driver, deployment",
    )
    x.add_argument(
        "--fixed-fifos",
        action="store_true",
        help="auto_fifo_depths off (FINN then needs FIFO depths in the folding config)",
    )
    x.add_argument(
        "--windows",
        type=nonnegative_int,
        default=None,
        metavar="N",
        help="bundled windows for verify/ (FINN's execution against the reference; "
        "default: all 720; 0: none)",
    )
    x.set_defaults(func=_export)
    b = sub.add_parser("finn-build", help=command_help("finn-build"))
    b.add_argument("out", type=Path, metavar="OUT", help="folder written by finn-export")
    b.add_argument(
        "--finn-python",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"FINN's Python interpreter (default ${FINN_PYTHON_ENV})",
    )
    b.add_argument(
        "--steps",
        choices=("estimate", "codegen"),
        default="estimate",
        help="FINN's estimate-only steps (default) or + step_hw_codegen",
    )
    b.add_argument(
        "--verify",
        action="store_true",
        help="then run FINN's execute_onnx of every step's model against verify/",
    )
    b.add_argument("--limit", type=positive_int, default=None, metavar="N", help="verify N windows")
    b.set_defaults(func=_build)


def checkpoint_paths(model: str, protocol: str) -> tuple[Path, Path]:
    """``(qonnx, description)`` of the shipped ``models/checkpoints/<model>-<protocol>``.

    Raises
    ------
    FinnExportError
        No such shipped QONNX / description (the message lists what is shipped).
    """
    folder = checkpoints_dir()
    stem = f"{model}-{protocol}"
    qonnx, desc = folder / f"{stem}.onnx", folder / f"{stem}.intnet.json"
    if not qonnx.is_file() or not desc.is_file():
        have = sorted(
            p.name[: -len(".onnx")]
            for p in folder.glob("*.onnx")
            if p.with_name(p.name[: -len(".onnx")] + ".intnet.json").is_file()
        )
        raise FinnExportError(
            f"no shipped QONNX + description for {stem} in {folder}; "
            f"shipped: {', '.join(have) or 'none'}"
        )
    return qonnx, desc


def _export(args: argparse.Namespace) -> int:
    try:
        qonnx, desc_path = checkpoint_paths(args.model, args.protocol)
        desc = load_network(desc_path)
        if not isinstance(desc, NetworkDescription):
            raise FinnExportError(
                f"{desc_path}: {args.model} is a graph network (format {GRAPH_FORMAT}: "
                "metadata input, fusion); the FINN hand-off lowers chain networks only "
                "(its own RTL: `ecgaccel run --task beats`)"
            )
        pipeline = set_folding(desc, target_cycles=args.target_cycles)
        verify = _verify_windows(desc, args.windows)
        paths = write_finn_build_dir(
            args.out,
            desc,
            qonnx,
            target_cycles=pipeline.ii,
            pipeline=pipeline,
            verify=verify,
            synth_clk_period_ns=args.clk_ns,
            fpga_part=args.fpga_part,
            board=args.board,
            auto_fifo_depths=not args.fixed_fifos,
        )
    except (FinnExportError, FoldingError) as exc:
        return _user_error(exc)
    est = json.loads(paths["ecgaccel_estimates.json"].read_text())
    print(
        f"FINN graph: {len(est['cycles'])} hardware nodes, predicted II {est['ii']} cycles "
        f"(bottleneck {est['bottleneck']}); ecgaccel's own pipeline II {pipeline.ii}"
    )
    print(f"wrote {args.out}/ ({', '.join(sorted(paths))})")
    print(f"run with FINN: ecgaccel finn-build --finn-python PATH {args.out}  "
          f"(or, in FINN's environment: python {args.out}/finn_steps.py)")  # fmt: skip
    return 0


def _verify_windows(desc: NetworkDescription, n: int | None):
    """``(windows, pooled)`` of the first ``n`` bundled windows (all when ``None``), or
    ``None`` for ``n == 0``."""
    if n == 0:
        return None
    from ecgaccel.models import reference
    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.preprocess import quantize_input, zscore
    from ecgaccel.models.windows import load_windows

    q = quantize_input(zscore(load_windows(bundled_data_dir()).x))[:n]
    return q, reference.run(desc, q, keep=True).activations[-1]


def _build(args: argparse.Namespace) -> int:
    try:
        status = run_finn_build(args.out, args.finn_python, args.steps, args.verify, args.limit)
        if status != 0:
            print(
                f"ecgaccel: error: FINN build failed (status {status}); see "
                f"{args.out}/output/build_dataflow.log",
                file=sys.stderr,
            )
            return 4
        rep = read_finn_report(args.out)
    except FinnExportError as exc:
        return _user_error(exc)
    perf, ours = rep["finn"]["performance"], rep["ecgaccel"]
    total = rep["finn"]["resources"].get("total", {})
    print(
        f"FINN: max_cycles {perf['max_cycles']} ({perf['max_cycles_node_name']}), "
        f"ecgaccel's prediction {ours['ii']}; "
        + ", ".join(f"{k} {format_estimate(total.get(k))}" for k in ("LUT", "BRAM_18K", "DSP"))
        + " (FINN's estimates)"
    )
    table = write_text_atomic(args.out / "comparison.md", comparison_table(rep))
    print(f"per-node and per-layer table: {table}")
    if rep["verify"] is not None:
        bad = {k: v for k, v in rep["verify"].items()
               if v["mismatches"] or v["values_outside_datatype"]}  # fmt: skip
        n = max(v["windows"] for v in rep["verify"].values())
        verdict = "all equal to the reference" if not bad else f"MISMATCH in {sorted(bad)}"
        print(f"FINN execute_onnx: {len(rep['verify'])} models x {n} windows, {verdict}")
        if bad:
            return 3
    return 0


def _user_error(exc: Exception) -> int:
    """One line on stderr, exit status 1 (the CLI's convention for bad input)."""
    print(f"ecgaccel: error: {exc}", file=sys.stderr)
    return 1
