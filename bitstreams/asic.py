"""An ASIC size estimate from Yosys's generic synthesis: ``synth; abc -g cmos2; stat -tech cmos``.

``abc -g cmos2`` maps the logic onto NAND, NOR and NOT gates (plus Yosys's flip-flop cells),
and ``stat -tech cmos`` counts the transistors of a static CMOS implementation of those cells
(NOT 2, NAND/NOR 4, a flip-flop 16, ...). No standard-cell library or process is involved: the
numbers compare designs with each other, they are not silicon area.
"""

from __future__ import annotations

import json
from pathlib import Path

from .tools import run_tool


def asic_estimate(verilog_text: str, top: str, workdir: Path, netlist: bool = False) -> dict:
    """Write ``<top>.v`` in ``workdir``, run ``synth -flatten; abc -g cmos2; stat -tech cmos``
    with Yosys and read the statistics back (``stat -json -tech cmos``, written by ``tee``).

    ``netlist``: also write the CMOS-gate netlist (``write_verilog -noattr``,
    ``<top>.cmos.v``), a generic gate-level netlist a simulator runs without a cell library.

    Returns
    -------
    dict
        ``transistors`` (estimated CMOS transistor count), ``cells`` (total), ``cells_by_type``
        {Yosys cell type: count}, ``log`` (path of Yosys's log), ``stat`` (path of the JSON
        statistics) and, with ``netlist``, ``netlist`` (path).

    Raises
    ------
    ToolError
        Yosys failed (see the log).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.v").write_text(verilog_text)
    stat, log = workdir / f"{top}.cmos.stat.json", workdir / "yosys.asic.log"
    script = (
        f"read_verilog -sv {top}.v; synth -flatten -top {top}; abc -g cmos2; "
        f"tee -o {stat.name} stat -json -tech cmos"
    )
    if netlist:
        script += f"; write_verilog -noattr {top}.cmos.v"
    run_tool("yosys", ["-p", script], workdir, log)
    design = json.loads(stat.read_text())["design"]
    out = {
        "transistors": int(design["estimated_num_transistors"]),
        "cells": int(design["num_cells"]),
        "cells_by_type": {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()},
        "log": log,
        "stat": stat,
    }
    if netlist:
        out["netlist"] = workdir / f"{top}.cmos.v"
    return out
