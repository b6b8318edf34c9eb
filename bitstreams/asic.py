"""An ASIC size estimate from Yosys's generic CMOS gate netlist (``abc -g cmos2``;
``stat -tech cmos``).

The netlist is :mod:`~ecgaccel.bitstreams.netlist`'s ``"generic"`` family: NAND, NOR and NOT
gates and plain D flip-flops, with the memories kept as memories. ``stat -tech cmos`` counts
the transistors of a static CMOS implementation of the gates (NOT 2, NAND/NOR 4, a D flip-flop
16). Memories are counted apart, as 6-transistor SRAM bit cells (an upper bound for the
read-only weight memories, which a ROM would store in about one transistor a bit); the
decoders and sense amplifiers of a memory macro are not counted. No standard-cell library or
process is involved: the numbers compare designs with each other, they are not silicon area.
The same netlist is what tests/sim/test_netlist.py simulates against the reference.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .netlist import synthesize_netlist

SRAM_BIT_TRANSISTORS = 6
"""Transistors of one 6T SRAM bit cell."""

_ARRAY = re.compile(r"^\s*reg\s+(?:\[(\d+):(\d+)\]\s+)?(\S+)\s+\[(\d+):(\d+)\];", re.M)


def memory_bits(netlist_text: str) -> dict[str, int]:
    """Bits of each memory (``reg [W-1:0] name [D-1:0];`` arrays) of a ``write_verilog``
    netlist: {name: W * D}."""
    bits = {}
    for hi, lo, name, d_hi, d_lo in _ARRAY.findall(netlist_text):
        width = abs(int(hi) - int(lo)) + 1 if hi else 1
        bits[name] = width * (abs(int(d_hi) - int(d_lo)) + 1)
    return bits


def asic_estimate(verilog_text: str, top: str, workdir: Path) -> dict:
    """Synthesize ``verilog_text`` (top module ``top``) to the generic CMOS gate netlist in
    ``workdir`` and count its transistors.

    Returns
    -------
    dict
        ``transistors`` (logic + memory), ``logic_transistors`` (gates and flip-flops,
        ``stat -tech cmos``), ``memory_bits``, ``memory_transistors`` (6 per bit), ``cells``
        (gates and flip-flops), ``cells_by_type`` {Yosys cell type: count, memories and
        ``$scopeinfo`` excluded}, ``memories`` {name: bits}, and the paths ``netlist``, ``stat``,
        ``log``.

    Raises
    ------
    ToolError
        Yosys failed (see the log).
    """
    net = synthesize_netlist(verilog_text, workdir, "generic", top=top)
    design = json.loads(net.stat.read_text())["design"]
    cells = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()
             if k not in ("$mem_v2", "$scopeinfo")}  # fmt: skip
    logic = int(str(design["estimated_num_transistors"]).rstrip("+"))
    memories = memory_bits(net.path.read_text())
    bits = sum(memories.values())
    return {
        "transistors": logic + SRAM_BIT_TRANSISTORS * bits,
        "logic_transistors": logic,
        "memory_bits": bits,
        "memory_transistors": SRAM_BIT_TRANSISTORS * bits,
        "cells": sum(cells.values()),
        "cells_by_type": cells,
        "memories": memories,
        "netlist": net.path,
        "stat": net.stat,
        "log": net.log,
    }
