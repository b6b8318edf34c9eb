"""Simulating the BNN core with Verilator through cocotb: build once, stream many windows."""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ecgaccel.hw.bnn_core import BnnCore
from ecgaccel.hw.core_plan import CorePlan, pack_input

from .runner import run_cocotb

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
        _write_atomic(sources[0], verilog.convert(BnnCore(plan), name=CORE))
    if not sources[1].is_file() or sources[1].read_text() != top:
        _write_atomic(sources[1], top)
    return sources, build_dir


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def simulate_core(
    plan: CorePlan,
    x: np.ndarray,
    *,
    idle: float = 0.0,
    pause: float = 0.0,
    reset_after: int = -1,
    seed: int = 0,
    jobs: int = 1,
    progress: bool = False,
    build_root: Path | None = None,
    log_dir: Path | None = None,
) -> CoreSimResult:
    """Run windows ``x`` int8 ``[N, 1, L]`` through the RTL core on Verilator.

    Parameters
    ----------
    idle, pause:
        Probabilities of an idle input cycle before a beat, and of a back-pressure cycle on the
        output.
    reset_after:
        Window index before which half a window is sent and the core is reset (-1: never).
    jobs:
        Parallel simulator processes (windows are split into contiguous shards).

    Raises
    ------
    SimulationError
        The testbench failed (protocol error, wrong number of output beats).
    """
    sources, build_dir = build_core(plan, build_root)
    x = np.asarray(x)
    beats = np.array([pack_input(w.reshape(-1), plan.in_lanes, plan.input_bits) for w in x],
                     dtype=np.uint64)  # fmt: skip
    shards = [s for s in np.array_split(np.arange(len(x)), max(1, min(jobs, len(x)))) if len(s)]
    work = Path(tempfile.mkdtemp(prefix="coresim-", dir=build_dir))

    def run_shard(k: int) -> CoreSimResult:
        idx = shards[k]
        stim = work / f"stim{k}.npz"
        result = work / f"result{k}.npz"
        np.savez(
            stim, beats=beats[idx], n_classes=plan.n_classes, out_width=plan.out_width,
            idle=idle, pause=pause, seed=seed + k, slice_cycles=SLICE_CYCLES,
            progress=int(progress and k == 0),
            reset_after=(reset_after - idx[0]) if idx[0] <= reset_after <= idx[-1] else -1,
        )  # fmt: skip
        test_dir = work / f"shard{k}"
        test_dir.mkdir()
        log = (log_dir / f"sim{k}.log") if log_dir else test_dir / "sim.log"
        run_cocotb(sources, TOPLEVEL, "ecgaccel.sim.core_tb", build_dir, test_dir=test_dir,
                   extra_env={"ECGACCEL_STIM": str(stim), "ECGACCEL_RESULT": str(result)},
                   log_file=log, timing=True, build_log=build_dir / "build.log",
                   ports_only=True)  # fmt: skip
        r = np.load(result)
        return CoreSimResult(r["scores"], r["classes"], r["cycles"])

    # build once before fanning out, so shards do not race on the Verilator build
    first = run_shard(0)
    rest = []
    if len(shards) > 1:
        with ThreadPoolExecutor(max_workers=len(shards) - 1) as pool:
            rest = list(pool.map(run_shard, range(1, len(shards))))
    parts = [first, *rest]
    return CoreSimResult(
        scores=np.concatenate([p.scores for p in parts]),
        classes=np.concatenate([p.classes for p in parts]),
        cycles=np.concatenate([p.cycles for p in parts]),
    )
