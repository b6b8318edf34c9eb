"""The dataflow back end's fuzzer over graphs: a random residual graph
(:func:`ecgaccel.hw.random_graph.random_graph`) through the RTL of its
:class:`~ecgaccel.hw.graph_dataflow.GraphPipeline` on Verilator, with input stalls and output
back-pressure, against :meth:`~ecgaccel.hw.graph.IntGraph.run`, then back to back for the
initiation interval (``ecgaccel verify --random-graphs``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class GraphCheck:
    """One random graph's verification: ``seed``, its node ``ops`` count, windows run,
    ``mismatches`` (windows whose scores or class differ), the measured back-to-back ``ii`` and
    the estimate ``est_ii`` (cycles)."""

    seed: int
    n_nodes: int
    windows: int
    mismatches: int
    ii: int
    est_ii: int


def check_graph_rtl(seed: int, windows: int = 4, idle: float = 0.3, pause: float = 0.5,
                    build_root: Path | None = None, leads: int = 1) -> GraphCheck:  # fmt: skip
    """Simulate ``random_graph(seed, leads=leads)`` (64 samples of one lead, or 32 of
    ``leads``) on ``windows`` random int8 windows with stalls, and the same windows back to
    back; compare every score and class with the graph's reference.

    Raises
    ------
    ecgaccel.sim.runner.SimulationError
        The testbench failed (e.g. its deadlock watchdog fired).
    """
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.hw.random_graph import random_graph
    from ecgaccel.models import reference

    from .core_sim import mismatched_windows, simulate_core

    length = 64 if leads == 1 else 32
    g = random_graph(seed, length=length, leads=leads)
    plan = plan_graph(g, in_lanes=8 if leads == 1 else 4)
    x = np.random.default_rng(10_000 + seed).integers(-128, 128, size=(windows, 1, leads, length))
    ref = reference.run(g, x)
    r = simulate_core(plan, x, idle=idle, pause=pause, seed=seed, build_root=build_root)
    back = simulate_core(plan, x, overlap=True, build_root=build_root)
    bad = len(mismatched_windows(r, ref)) + len(mismatched_windows(back, ref))
    ii = int(back.cycles[1:].max()) if windows > 1 else int(back.cycles[0])
    return GraphCheck(seed, len(g.nodes), 2 * windows, bad, ii, plan.estimates().ii)
