"""The ``ecgaccel`` command line: one entry point, one sub-command per job of the flow."""

from __future__ import annotations

import argparse
import sys

from ecgaccel import __version__
from ecgaccel.cliargs import COMMANDS


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
    from ecgaccel.reportcli import ReportError

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


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. The sub-commands in ``commands`` (default: all) are registered by
    their own modules (:data:`~ecgaccel.cliargs.COMMANDS`), which import PyTorch, Amaranth and
    the rest; every other sub-command gets a placeholder with its one-line help, so
    ``ecgaccel --help`` imports nothing heavy."""
    import importlib

    parser = OneLineParser(
        prog="ecgaccel",
        description="ECG classification accelerators: data, models, hardware, verification.",
    )
    parser.add_argument("--version", action="version", version=f"ecgaccel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = list(COMMANDS) if commands is None else commands
    for module in dict.fromkeys(COMMANDS[c][0] for c in wanted if c in COMMANDS):
        mod = importlib.import_module(f"ecgaccel.{module}")
        (getattr(mod, "add_parsers", None) or mod.add_parser)(sub)
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=text)
    # argparse lists sub-commands in registration order: keep the table's order
    sub._choices_actions.sort(key=lambda a: list(COMMANDS).index(a.dest))
    return parser


def _command(argv: list[str]) -> list[str]:
    """The sub-command named on the command line (the first word that is one), or none."""
    return [a for a in argv if a in COMMANDS][:1]


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
        argv = sys.argv[1:] if argv is None else argv
        args = build_parser(_command(argv)).parse_args(argv)
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
