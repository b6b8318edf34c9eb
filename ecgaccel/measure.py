"""What the flow measures on the RTL, defined once for ``run``, ``report``, ``bench`` and
``verify``: the reference-vs-RTL comparison, the simulation of windows back to back and one at a
time, and the throughput.

* :func:`~ecgaccel.sim.core_sim.mismatched_windows` (re-exported here): a window is bit-exact
  when the decision word the hardware emits (the class, or a multi-label head's label bits) and
  every class score equal the integer reference's
  (:class:`~ecgaccel.models.reference.ReferenceOutput`).
* :func:`measure_rtl`: every window back to back (the next window's first beat offered as soon
  as the design takes it), then the first :data:`LATENCY_WINDOWS` windows one at a time.
* :class:`HardwareRun`: the **initiation interval** (II, cycles) is the median number of cycles
  between two results back to back; the **latency** (cycles) is the median of the windows sent
  alone, first input beat to last output beat. Throughput is the achieved Fmax over the II
  (:meth:`HardwareRun.rates`), the latency is reported beside it. As FINN's
  ``throughput_test`` and its estimate reports: throughput from the II, never from a latency.
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
    "LATENCY_WINDOWS",
    "THROUGHPUT_BASIS",
    "HardwareRun",
    "measure_rtl",
    "mismatched_windows",
    "prepare_with_status",
    "simulate_with_progress",
    "status",
]

LATENCY_WINDOWS = 3
"""Windows simulated one at a time (the first ones) for a design's latency."""

THROUGHPUT_BASIS = ("initiation interval: median cycles between two results, windows back to "
                    "back; throughput = achieved Fmax / II")  # fmt: skip
"""How every report states its throughput (:meth:`HardwareRun.rates`)."""


def status(message: str, show: bool = True) -> None:
    """One status line on stderr (``ecgaccel: <message>``) for a step that takes a while."""
    if show:
        print(f"ecgaccel: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class HardwareRun:
    """What :func:`measure_rtl` simulated: ``b2b``, every window sent back to back (scores,
    classes and, per window, the cycles since the previous result: the first is a latency),
    and ``latency``, the cycles of the first :data:`LATENCY_WINDOWS` windows sent one at a
    time (int64 ``[M]``)."""

    b2b: CoreSimResult
    latency: np.ndarray

    @property
    def interval(self) -> int:
        """The initiation interval (cycles): the median of the cycles between results back to
        back (the first result of each simulator shard, a latency, is outnumbered)."""
        c = self.b2b.cycles
        return int(np.median(c[1:] if len(c) > 1 else c))

    @property
    def latency_cycles(self) -> int:
        """Median cycles of one window alone, first input beat to last output beat."""
        return int(np.median(self.latency))

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
    plan, q: np.ndarray, jobs: int, progress: bool, overlap: bool = False, prepared: bool = False
) -> CoreSimResult:
    """:func:`~ecgaccel.sim.core_sim.simulate_core` of int8 windows ``q`` ``[N, 1, L]`` with a
    progress bar (updated per finished shard); ``overlap``: windows back to back. Unless
    ``prepared``, the Verilator model is built first (:func:`prepare_with_status`), so that the
    bar counts simulated windows only."""
    if not prepared:
        prepare_with_status(plan, progress)
    with tqdm(total=len(q), desc="RTL simulation", unit="window", disable=not progress) as bar:
        return simulate_core(plan, q, jobs=jobs, overlap=overlap, on_progress=bar.update)


def measure_rtl(plan, q: np.ndarray, jobs: int = 1, progress: bool = False,
                prepared: bool = False) -> HardwareRun:  # fmt: skip
    """The RTL of ``plan`` (a core, dataflow or graph plan) on int8 windows ``q``
    (``[N, 1, L]``, or ``[N, 1, H, W]``): all back to back (``jobs`` simulator processes, a
    progress bar when ``progress``), then the first :data:`LATENCY_WINDOWS` one at a time. One
    window is sent twice back to back so that its II is measured too (the second result is
    dropped).

    Raises
    ------
    SimulationError
        The testbench failed, or a window's answer alone differs from its answer back to back
        (a design whose result depends on the previous window).
    ToolchainError
        The Verilator build failed.
    """
    n = len(q)
    b2b = simulate_with_progress(plan, q if n > 1 else np.concatenate([q, q]), jobs, progress,
                                 overlap=True, prepared=prepared)  # fmt: skip
    if n == 1:
        b2b = CoreSimResult(b2b.scores[:1], b2b.classes[:1], b2b.cycles[1:])
    alone = simulate_core(plan, q[:LATENCY_WINDOWS])
    k = len(alone.classes)
    if (alone.classes != b2b.classes[:k]).any() or (alone.scores != b2b.scores[:k]).any():
        raise SimulationError("the RTL's answer to a window sent alone differs from its answer "
                              "back to back")  # fmt: skip
    return HardwareRun(b2b, np.asarray(alone.cycles, np.int64))
