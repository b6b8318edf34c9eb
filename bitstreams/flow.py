"""What every target of the build flow (:mod:`.build`) shares: nextpnr place and route with its
machine-readable report (utilization, achieved Fmax per clock), and the :class:`Family`
description of what differs between FPGA families."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .tools import run_tool


def nextpnr_place_route(tool: str, device_args: list[str], netlist: Path, workdir: Path,
                        freq_mhz: float, seed: int = 1) -> dict:  # fmt: skip
    """Place and route ``netlist`` with ``tool`` (``nextpnr-ice40`` / ``nextpnr-ecp5``); a missed
    ``freq_mhz`` is reported, not fatal (``--timing-allow-fail``).

    ``device_args`` selects the part and names the routed output (relative to ``workdir``).

    Returns
    -------
    dict
        ``fmax_mhz`` (achieved; the slowest clock), ``target_mhz``, ``timing_met``,
        ``utilization`` {resource: {used, available}}, ``log``.

    Raises
    ------
    ToolError
        nextpnr failed for another reason than timing (e.g. the design does not fit).
    """
    # the WebAssembly tools see only their working folder: pass names relative to it
    netlist = Path(netlist)
    if netlist.parent.resolve() != workdir.resolve():
        (workdir / netlist.name).write_bytes(netlist.read_bytes())
    report = workdir / f"{tool}-report.json"
    args = [*device_args, "--json", netlist.name, "--freq", str(freq_mhz), "--seed", str(seed),
            "--timing-allow-fail", "--report", report.name]  # fmt: skip
    log = workdir / f"{tool}.log"
    run_tool(tool, args, workdir, log)
    rep = json.loads(report.read_text())
    achieved = min((float(c["achieved"]) for c in rep.get("fmax", {}).values()), default=None)
    util = {
        k: {"used": int(v["used"]), "available": int(v["available"])}
        for k, v in rep.get("utilization", {}).items()
    }
    return {
        "fmax_mhz": achieved,
        "target_mhz": freq_mhz,
        "timing_met": achieved is not None and achieved >= freq_mhz,
        "utilization": util,
        "log": str(log),
    }


@dataclass(frozen=True)
class Family:
    """What differs between FPGA families in the flow.

    ``synth``: the Yosys command; ``lut``, ``ff``, ``bram``, ``dsp``: functions of the cell
    counts {cell type: count} giving each resource; ``nextpnr``: the tool; ``prepare``: Yosys
    commands run before ``synth`` (none by default). The devices, their packages and their
    datasheet resources are in :data:`~.boards.BOARDS`.
    """

    synth: str
    lut: Callable[[dict], int]
    ff: Callable[[dict], int]
    bram: Callable[[dict], int]
    dsp: Callable[[dict], int]
    nextpnr: str
    prepare: str = ""
