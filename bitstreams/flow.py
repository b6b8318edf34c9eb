"""The steps every target shares: Yosys synthesis with a JSON cell count, and nextpnr place and
route with its machine-readable report (utilization, achieved Fmax per clock)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .tools import run_tool


def yosys_synthesize(verilog_text: str, top: str, workdir: Path, synth: str,
                     prepare: str = "") -> dict:  # fmt: skip
    """Write ``<top>.v`` in ``workdir``, run ``prepare`` (Yosys commands, e.g.
    :data:`ICE40_PREPARE`) and ``synth`` (e.g. ``"synth_ice40 -dsp"``) and count cells.

    Returns
    -------
    dict
        ``json`` (netlist path), ``log`` (path), ``cells`` {cell type: count}.

    Raises
    ------
    ToolError
        Yosys failed (see the log).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.v").write_text(verilog_text)
    script = (
        f"read_verilog -sv {top}.v; {prepare + '; ' if prepare else ''}{synth} -top {top} "
        f"-json {top}.json; "
        "tee -q -o stat.json stat -json"
    )
    run_tool("yosys", ["-p", script], workdir, workdir / "yosys.log")  # the full log, kept
    stat = json.loads((workdir / "stat.json").read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    cells = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    return {"json": workdir / f"{top}.json", "log": str(workdir / "yosys.log"), "cells": cells}


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
    counts {cell type: count} giving each resource; ``nextpnr``: the tool; ``device_args``:
    function of (part, routed-output file name) giving nextpnr's device options;
    ``routed_suffix``: extension of the routed output (``.asc``, ``.config``); ``prepare``:
    Yosys commands run before ``synth`` (none by default).
    """

    synth: str
    lut: Callable[[dict], int]
    ff: Callable[[dict], int]
    bram: Callable[[dict], int]
    dsp: Callable[[dict], int]
    nextpnr: str
    device_args: Callable[[dict, str], list[str]]
    routed_suffix: str
    prepare: str = ""


def synthesize(family: Family, verilog_text: str, top: str, workdir: Path) -> dict:
    """Yosys for ``family``: :func:`yosys_synthesize`'s dict plus ``lut``, ``ff``, ``bram`` and
    ``dsp`` counted from the cells. Raises ``ToolError`` when Yosys fails."""
    syn = yosys_synthesize(verilog_text, top, workdir, family.synth, family.prepare)
    cells = syn["cells"]
    counts = {k: getattr(family, k)(cells) for k in ("lut", "ff", "bram", "dsp")}
    return {**syn, **counts}


def place_route(family: Family, part: dict, netlist: Path, workdir: Path, freq_mhz: float,
                seed: int = 1) -> dict:  # fmt: skip
    """nextpnr for ``family`` / ``part`` (no pin constraints): :func:`nextpnr_place_route`'s
    dict plus ``routed`` (path of the routed design). Raises ``ToolError`` when the design does
    not fit or nextpnr fails otherwise (a missed clock is not a failure)."""
    routed = Path(netlist).stem + family.routed_suffix
    args = family.device_args(part, routed)
    result = nextpnr_place_route(family.nextpnr, args, netlist, workdir, freq_mhz, seed)
    return {**result, "routed": str(workdir / routed)}
