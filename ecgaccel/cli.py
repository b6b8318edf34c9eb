"""The ``ecgaccel`` command line: one entry point, one sub-command per job of the flow."""

from __future__ import annotations

import argparse
import sys

from ecgaccel import __version__


def user_errors() -> tuple[type[Exception], ...]:
    """Errors caused by the user's input: reported in one line, exit status 1."""
    from ecgaccel.bitstreams.build import BuildError
    from ecgaccel.hw.compile import CompileError
    from ecgaccel.hw.core_plan import CoreConfigError
    from ecgaccel.hw.description import DescriptionError
    from ecgaccel.hw.files import OutputPathError
    from ecgaccel.hw.folding import FoldingError
    from ecgaccel.hw.layers.common import LayerConfigError
    from ecgaccel.models.errors import EcgDataError
    from ecgaccel.models.registry import UnknownModelError
    from ecgaccel.report import ReportError

    return (EcgDataError, CompileError, DescriptionError, UnknownModelError, CoreConfigError,
            LayerConfigError, FoldingError, BuildError, ReportError, OutputPathError)  # fmt: skip


def tool_errors() -> tuple[type[Exception], ...]:
    """A synthesis tool, the simulator toolchain or a testbench failed: one line naming the log,
    exit status 4."""
    from ecgaccel.bitstreams.tools import ToolError
    from ecgaccel.sim.runner import SimulationError
    from ecgaccel.sim.toolchain import ToolchainError

    return (ToolError, ToolchainError, SimulationError)


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors in the CLI's one-line form: ``ecgaccel: error: <problem>``
    (e.g. ``argument --jobs: must be at least 1, got 0``), exit status 2; sub-command parsers
    inherit it."""

    def error(self, message: str):
        """Print one line and exit 2 (argparse's usage-error status)."""
        self.exit(2, f"ecgaccel: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered (their modules import PyTorch,
    Amaranth and the rest, so this takes seconds; ``--version`` does not need it)."""
    from ecgaccel import (
        bench,
        buildcli,
        compilecli,
        datacli,
        finncli,
        modelcli,
        report,
        runcli,
        verifycli,
    )

    parser = OneLineParser(
        prog="ecgaccel",
        description="ECG classification accelerators: data, models, hardware, verification.",
    )
    parser.add_argument("--version", action="version", version=f"ecgaccel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    datacli.add_parser(sub)
    modelcli.add_parsers(sub)
    runcli.add_parser(sub)
    bench.add_parser(sub)
    compilecli.add_parser(sub)
    finncli.add_parser(sub)
    verifycli.add_parser(sub)
    buildcli.add_parser(sub)
    report.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 bad input, 2 usage error (an unknown
    option, a value out of its range: one line, :class:`OneLineParser`), 3 a hardware /
    reference mismatch in ``run`` or ``bench`` (``verify``: 1), 4 a tool or testbench failure).

    Bad input (:func:`user_errors`: bad data, checkpoints, descriptions, graphs, model names) is
    reported as one line on stderr, ``ecgaccel: error: <file>: <problem>``, never as a
    traceback.
    """
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:  # fast: no heavy imports
        print(f"ecgaccel {__version__}")
        return 0
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return int(exc.code or 0)
    user, tool = user_errors(), tool_errors()
    try:
        return int(args.func(args) or 0)
    except user as exc:
        print(f"ecgaccel: error: {exc}", file=sys.stderr)
        return 1
    except tool as exc:
        print(f"ecgaccel: tool failure: {exc}", file=sys.stderr)
        return 4
    except OSError as exc:  # a file the user named cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ecgaccel: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
