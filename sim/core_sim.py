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

_TB_TOP = """`timescale 1ns/1ps
// Simulation top: the core plus a free-running clock generated inside the simulator, so the
// simulator runs the clock without waking Python or the VPI layer on every edge.
module {top} (
  input  wire rst,
  input  wire [{iw}:0] s_axis__tdata,
  input  wire s_axis__tvalid,
  input  wire s_axis__tlast,
  output wire s_axis__tready,
  output wire [{ow}:0] m_axis__tdata,
  output wire m_axis__tvalid,
  output wire m_axis__tlast,
  input  wire m_axis__tready
);
  reg clk = 1'b0;
  always #{half} clk = ~clk;
  {core} core (
    .clk(clk), .rst(rst),
    .s_axis__tdata(s_axis__tdata), .s_axis__tvalid(s_axis__tvalid),
    .s_axis__tlast(s_axis__tlast), .s_axis__tready(s_axis__tready),
    .m_axis__tdata(m_axis__tdata), .m_axis__tvalid(m_axis__tvalid),
    .m_axis__tlast(m_axis__tlast), .m_axis__tready(m_axis__tready)
  );
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


def build_core(plan: CorePlan, build_root: Path | None = None) -> tuple[list[Path], Path]:
    """Verilog sources (core + clocked simulation top) and a Verilator build folder for
    ``plan``, reused when the Verilog is unchanged.

    Returns ``(sources, build_dir)``.
    """
    core = verilog.convert(BnnCore(plan), name=CORE)
    top = _TB_TOP.format(top=TOPLEVEL, core=CORE, half=CLOCK_HALF_PERIOD_NS,
                         iw=plan.in_lanes * plan.input_bits - 1, ow=plan.out_width - 1)  # fmt: skip
    digest = hashlib.sha256((core + top).encode()).hexdigest()[:16]
    build_dir = (build_root or cache_dir()) / f"{CORE}-{digest}"
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = [build_dir / f"{CORE}.v", build_dir / f"{TOPLEVEL}.v"]
    for path, text in zip(sources, (core, top), strict=True):
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
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
            idle=idle, pause=pause, seed=seed + k, progress=int(progress and k == 0),
            reset_after=(reset_after - idx[0]) if idx[0] <= reset_after <= idx[-1] else -1,
        )  # fmt: skip
        test_dir = work / f"shard{k}"
        test_dir.mkdir()
        log = (log_dir / f"sim{k}.log") if log_dir else test_dir / "sim.log"
        run_cocotb(sources, TOPLEVEL, "ecgaccel.sim.core_tb", build_dir, test_dir=test_dir,
                   extra_env={"ECGACCEL_STIM": str(stim), "ECGACCEL_RESULT": str(result)},
                   log_file=log, timing=True)  # fmt: skip
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
