"""``ecgaccel bench``: measured speed figures, written as JSON (targets live here, not in tests)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ecgaccel import run as job
from ecgaccel.artifacts import artifact_paths
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.files import write_text_atomic
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.core_sim import prepare_simulator

SIM_TARGET_WINDOWS_PER_S = 50.0
"""Issue target for RTL-verified windows per second of the default core on a 2-core machine."""


def bench_sim(n: int, jobs: int, pe: int, simd: int, model: str, protocol: str) -> dict:
    """RTL-verified windows per second: ``n`` bundled windows through the core on Verilator
    (build excluded, verification against the integer reference included)."""
    desc = NetworkDescription.load(artifact_paths(model, protocol)["description"])
    w = load_windows(bundled_data_dir())
    q = quantize_input(zscore(w.x[job.select_windows(len(w), n)]))
    plan = plan_core(desc, pe, simd)
    prepare_simulator(plan)  # build (or check) the simulator outside the timed part
    t = time.time()
    with ThreadPoolExecutor(max_workers=1) as pool:  # the reference runs while Verilator does
        ref_future = pool.submit(reference.run, desc, q)
        hw = job.simulate_with_progress(plan, q, jobs, progress=True)
        ref = ref_future.result()
    seconds = time.time() - t
    exact = bool((hw.scores == ref.scores).all() and (hw.classes == ref.pred).all())
    rate = len(q) / seconds
    return {
        "bench": "sim",
        "model": model,
        "protocol": protocol,
        "pe": pe,
        "simd": simd,
        "windows": len(q),
        "jobs": jobs,
        "seconds": seconds,
        "windows_per_s": rate,
        "cycles_per_inference": int(np.median(hw.cycles)),
        "simulated_cycles_per_s": float(hw.cycles.sum() / seconds),
        "bit_exact": exact,
        "target_windows_per_s": SIM_TARGET_WINDOWS_PER_S,
        "meets_target": rate >= SIM_TARGET_WINDOWS_PER_S,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench``."""
    b = sub.add_parser("bench", help="speed benchmarks (JSON)")
    b.add_argument("what", choices=["sim"], help="sim: RTL-verified windows per second")
    b.add_argument("--windows", type=int, default=120)
    b.add_argument("--jobs", type=int, default=2)
    b.add_argument("--pe", type=int, default=job.DEFAULT_PE)
    b.add_argument("--simd", type=int, default=job.DEFAULT_SIMD)
    b.add_argument("--model", default=job.DEFAULT_MODEL)
    b.add_argument("--protocol", default=job.DEFAULT_PROTOCOL)
    b.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    b.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    result = bench_sim(args.windows, args.jobs, args.pe, args.simd, args.model, args.protocol)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        write_text_atomic(args.out, text)
    return 0 if result["bit_exact"] else 3
