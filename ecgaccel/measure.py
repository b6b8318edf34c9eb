"""What the flow measures on the RTL, defined once for ``run``, ``report``, ``bench`` and
``verify``: the reference-vs-RTL comparison, the simulation of windows back to back and one at a
time, and the throughput.

* :func:`~ecgaccel.sim.core_sim.mismatched_windows` (re-exported here): a window is bit-exact
  when the decision word the hardware emits (the class, or a multi-label head's label bits) and
  every class score equal the integer reference's
  (:class:`~ecgaccel.models.reference.ReferenceOutput`).
* :func:`measure_rtl`: every window one at a time, then the first :data:`II_WINDOWS` back to
  back (the next window's first beat offered as soon as the design takes it).
* :class:`HardwareRun`: the **initiation interval** (II, cycles) is the median number of cycles
  between two results back to back; the **latency** (cycles) is the median over the windows
  sent alone, first input beat to last output beat. Throughput is the achieved Fmax over the II
  (:meth:`HardwareRun.rates`), the latency is reported beside it. As FINN's
  estimate reports (clock over the slowest node's cycles): throughput from the II, never from a
  latency.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ecgaccel.sim.core_sim import (
    CoreSimResult,
    mismatched_windows,
    prepare_simulator,
    simulate_core,
)
from ecgaccel.sim.runner import SimulationError

__all__ = [
    "II_WINDOWS",
    "THROUGHPUT_BASIS",
    "HardwareRun",
    "measure_rtl",
    "mismatched_windows",
    "prepare_with_status",
    "simulate_with_progress",
    "status",
]

II_WINDOWS = 8
"""Windows sent back to back (the first ones) for a design's initiation interval: the
testbench's back-to-back mode simulates about 6 times slower than windows one at a time
(measured on the UP5K core, 12 windows: 10.8-14.0 s against 1.7-2.3 s), so every window runs
alone and only these run back to back."""

THROUGHPUT_BASIS = ("initiation interval: median cycles between two results, the first windows "
                    "back to back; throughput = achieved Fmax / II")  # fmt: skip
"""How every report states its throughput (:meth:`HardwareRun.rates`)."""


def status(message: str, show: bool = True) -> None:
    """One status line on stderr (``ecgaccel: <message>``) for a step that takes a while."""
    if show:
        print(f"ecgaccel: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class HardwareRun:
    """What :func:`measure_rtl` simulated: ``alone``, every window sent one at a time (scores,
    classes, and per window its latency: cycles from the first input beat to the last output
    beat), and ``intervals``, the cycles between consecutive results of the first
    :data:`II_WINDOWS` windows sent back to back (int64 ``[K - 1]``, K ≥ 2)."""

    alone: CoreSimResult
    intervals: np.ndarray

    @property
    def interval(self) -> int:
        """The initiation interval (cycles): the median of :attr:`intervals`."""
        return int(np.median(self.intervals))

    @property
    def latency_cycles(self) -> int:
        """Median cycles of one window alone, first input beat to last output beat."""
        return int(np.median(self.alone.cycles))

    def rates(self, fmax_mhz: float | None) -> dict:
        """``inferences_per_s`` (Fmax / II) and ``latency_us`` (latency / Fmax) at the achieved
        ``fmax_mhz`` (MHz), beside ``interval_cycles``, ``latency_cycles`` and ``basis``
        (:data:`THROUGHPUT_BASIS`); the two rates are None without an Fmax."""
        return {
            "interval_cycles": self.interval,
            "latency_cycles": self.latency_cycles,
            "fmax_mhz": fmax_mhz,
            "inferences_per_s": fmax_mhz * 1e6 / self.interval if fmax_mhz else None,
            "latency_us": self.latency_cycles / fmax_mhz if fmax_mhz else None,
            "basis": THROUGHPUT_BASIS,
        }


def prepare_with_status(plan, show: bool = True) -> float:
    """Build the Verilator model of ``plan`` (or find it up to date) with a status line;
    returns the seconds it took."""
    t = time.time()
    status("building the Verilator model (cached after the first run; its log is in the "
           "build folder) ...", show)  # fmt: skip
    prepare_simulator(plan)
    return time.time() - t


def simulate_with_progress(
    plan,
    q: np.ndarray,
    jobs: int,
    progress: bool,
    overlap: bool = False,
    prepared: bool = False,
    meta: np.ndarray | None = None,
    unit: str = "window",
) -> CoreSimResult:
    """:func:`~ecgaccel.sim.core_sim.simulate_core` of int8 windows ``q`` ``[N, 1, L]`` (and,
    for a graph with a metadata input, ``meta`` int ``[N, M]``) with a progress bar (updated
    per finished shard); ``overlap``: windows back to back. Unless ``prepared``, the Verilator
    model is built first (:func:`prepare_with_status`), so that the bar counts simulated
    windows only; ``unit`` names an inference on the bar."""
    if not prepared:
        prepare_with_status(plan, progress)
    with tqdm(total=len(q), desc="RTL simulation", unit=unit, disable=not progress) as bar:
        return simulate_core(plan, q, meta=meta, jobs=jobs, overlap=overlap,
                             on_progress=bar.update)  # fmt: skip


def measure_rtl(plan, q: np.ndarray, jobs: int = 1, progress: bool = False,
                prepared: bool = False, meta: np.ndarray | None = None,
                unit: str = "window") -> HardwareRun:  # fmt: skip
    """The RTL of ``plan`` (a core, dataflow or graph plan) on int8 windows ``q``
    (``[N, 1, L]``, or ``[N, 1, H, W]``; a graph with a metadata input also takes ``meta`` int
    ``[N, M]``): every window one at a time (``jobs`` simulator processes, a progress bar when
    ``progress``), then the first :data:`II_WINDOWS` back to back in one process (one window is
    sent twice, so that its II is measured too). ``unit``: an inference's name on the bar.

    Raises
    ------
    SimulationError
        The testbench failed, or a window's answer back to back differs from its answer alone
        (a design whose result depends on the previous window).
    ToolchainError
        The Verilator build failed.
    """
    alone = simulate_with_progress(plan, q, jobs, progress, prepared=prepared, meta=meta, unit=unit)
    first = q[:II_WINDOWS] if len(q) > 1 else np.concatenate([q, q])
    first_meta = None
    if meta is not None:
        first_meta = meta[:II_WINDOWS] if len(q) > 1 else np.concatenate([meta, meta])
    b2b = simulate_core(plan, first, overlap=True, meta=first_meta)
    k = min(len(q), len(first))
    if (alone.classes[:k] != b2b.classes[:k]).any() or (alone.scores[:k] != b2b.scores[:k]).any():
        raise SimulationError("the RTL's answer to a window sent back to back differs from its "
                              "answer alone")  # fmt: skip
    return HardwareRun(alone, np.asarray(b2b.cycles[1:], np.int64))
