"""``ecgaccel finn-export`` and ``ecgaccel finn-build``: hand a shipped model to the real FINN
(:mod:`ecgaccel.hw.finn_export`)."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.finn_export import (
    DEFAULT_CLK_NS,
    DEFAULT_TARGET_CYCLES,
    FinnExportError,
    run_finn_build,
    write_finn_build_dir,
)
from ecgaccel.hw.folding import FoldingError, set_folding

DEFAULT_PROTOCOL = "patient"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``finn-export`` and ``finn-build``."""
    x = sub.add_parser(
        "finn-export",
        help="write a FINN build folder (model.onnx, folding_config.json, "
        "dataflow_build_config.json, README.md) for a shipped model",
    )
    x.add_argument("out", type=Path, metavar="OUT", help="build folder to write")
    x.add_argument("--model", required=True, help="e.g. ecgbnn5")
    x.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help=f"which shipped checkpoint (default: {DEFAULT_PROTOCOL})",
    )
    x.add_argument(
        "--target-cycles",
        type=int,
        default=DEFAULT_TARGET_CYCLES,
        help="cycles a window each layer should meet (FINN's SetFolding target; "
        f"default {DEFAULT_TARGET_CYCLES})",
    )
    x.add_argument(
        "--clk-ns",
        type=float,
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
        help="auto_fifo_depths off: FINN takes ecgaccel's FIFO depths",
    )
    x.set_defaults(func=_export)
    b = sub.add_parser(
        "finn-build",
        help="run FINN's build_dataflow on a finn-export folder (needs FINN, which is not on PyPI)",
    )
    b.add_argument("out", type=Path, metavar="OUT", help="folder written by finn-export")
    b.set_defaults(func=_build)


def checkpoint_paths(model: str, protocol: str) -> tuple[Path, Path]:
    """``(qonnx, description)`` of the shipped ``models/checkpoints/<model>-<protocol>``.

    Raises
    ------
    FinnExportError
        No such shipped QONNX / description (the message lists what is shipped).
    """
    folder = Path(str(resources.files("ecgaccel.models"))) / "checkpoints"
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
        desc = NetworkDescription.load(desc_path)
        result = set_folding(desc, target_cycles=args.target_cycles)
        paths = write_finn_build_dir(
            args.out,
            qonnx,
            desc,
            result,
            synth_clk_period_ns=args.clk_ns,
            fpga_part=args.fpga_part,
            board=args.board,
            auto_fifo_depths=not args.fixed_fifos,
        )
    except (FinnExportError, FoldingError) as exc:
        return _user_error(exc)
    print(
        f"II {result.ii} cycles (bottleneck {result.bottleneck.name}), latency estimate "
        f"{result.latency} cycles, resources {result.resources()}"
    )
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"run with FINN: python -m finn.builder.build_dataflow {args.out}")
    return 0


def _build(args: argparse.Namespace) -> int:
    try:
        status = run_finn_build(args.out)
    except FinnExportError as exc:
        return _user_error(exc)
    if status != 0:
        print(
            f"ecgaccel: error: FINN build failed (status {status}); see "
            f"{args.out}/output*/build_dataflow.log",
            file=sys.stderr,
        )
        return 4
    return 0


def _user_error(exc: Exception) -> int:
    """One line on stderr, exit status 1 (the CLI's convention for bad input)."""
    print(f"ecgaccel: error: {exc}", file=sys.stderr)
    return 1
