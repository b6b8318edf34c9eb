"""Building and running cocotb testbenches on Verilator through cocotb's Python runner."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from .toolchain import ensure_verilator

VERILATOR_BUILD_ARGS: tuple[str, ...] = (
    "-Wno-WIDTHEXPAND",  # Amaranth's Verilog widens operands implicitly, as Verilog allows
    "-Wno-WIDTHTRUNC",
    "-O3",
)
"""Verilator options used for every build."""


class SimulationError(AssertionError):
    """A cocotb run reported failing tests (count and results file in the message)."""


def run_cocotb(
    sources: Sequence[Path],
    toplevel: str,
    test_module: str,
    build_dir: Path,
    *,
    test_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | None = None,
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

    Returns
    -------
    int
        Number of tests that ran (all passed).

    Raises
    ------
    SimulationError
        A test failed or none ran.
    """
    ensure_verilator()
    runner = get_runner("verilator")
    runner.build(
        sources=[Path(s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=list(VERILATOR_BUILD_ARGS),
    )
    old = {k: os.environ.get(k) for k in (extra_env or {})}
    os.environ.update(extra_env or {})
    try:
        results = runner.test(
            hdl_toplevel=toplevel,
            test_module=test_module,
            build_dir=build_dir,
            test_dir=test_dir or build_dir,
            testcase=testcase,
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    n_tests, n_fail = get_results(results)
    if n_fail or not n_tests:
        raise SimulationError(f"{n_fail} of {n_tests} cocotb tests failed ({results})")
    return n_tests
