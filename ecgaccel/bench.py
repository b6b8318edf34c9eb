"""``ecgaccel bench``: measured speed figures, written as JSON (targets live here, not in tests).

``bench sim``: RTL-verified windows per second of the simulator; ``bench swhw``
(:mod:`ecgaccel.swhw`): software inferences/s on this CPU next to hardware inferences/s at a
build's achieved Fmax.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ecgaccel.bitstreams.boards import BOARDS
from ecgaccel.cliargs import (
    BACKENDS,
    DEFAULT_MODEL,
    DEFAULT_PROTOCOL,
    command_help,
    out_file,
    positive_int,
)
from ecgaccel.hw import CORE_DEFAULT
from ecgaccel.hw.files import write_text_atomic

SIM_TARGET_WINDOWS_PER_S = 50.0
"""Issue target for RTL-verified windows per second of the default core on a 2-core machine."""

# ``bench swhw``'s defaults
DEFAULT_WINDOWS = 8
DEFAULT_BATCHES = (1, 64)
DEFAULT_REPEATS = 7
DEFAULT_REP_SECONDS = 0.25
DEFAULT_THREADS = 1
"""PyTorch and onnxruntime threads. One: on a machine shared with other jobs, two intra-op
threads on two cores measured 5 to 20 times fewer inferences/s at batch 1 than one thread
(the second thread waits for a core; ``docs/bench/*-threads2.json``)."""


def bench_sim(n: int, jobs: int, pe: int, simd: int, model: str, protocol: str) -> dict:
    """RTL-verified windows per second: ``n`` bundled windows through the core on Verilator
    (build excluded, verification against the integer reference included)."""
    from ecgaccel.artifacts import artifact_paths
    from ecgaccel.hw.core_plan import plan_core
    from ecgaccel.hw.description import NetworkDescription
    from ecgaccel.measure import mismatched_windows, simulate_with_progress
    from ecgaccel.models import reference
    from ecgaccel.sim.core_sim import prepare_simulator

    desc = NetworkDescription.load(artifact_paths(model, protocol)["description"])
    _, q, _ = bundled_windows(n)
    plan = plan_core(desc, pe, simd)
    prepare_simulator(plan)  # build (or check) the simulator outside the timed part
    t = time.time()
    with ThreadPoolExecutor(max_workers=1) as pool:  # the reference runs while Verilator does
        ref_future = pool.submit(reference.run, desc, q)
        hw = simulate_with_progress(plan, q, jobs, progress=True, prepared=True)
        ref = ref_future.result()
    seconds = time.time() - t
    exact = mismatched_windows(hw, ref).size == 0
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


def bundled_windows(n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` bundled windows spread evenly over the records: z-scored float32 ``[n, 1, L]``,
    their int8 hardware input ``[n, 1, L]`` and the records they come from."""
    from ecgaccel import run as job
    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.preprocess import quantize_input, zscore
    from ecgaccel.models.windows import load_windows

    w = load_windows(bundled_data_dir())
    idx = job.select_windows(len(w), n)
    z = zscore(w.x[idx])
    return z, quantize_input(z), sorted(set(w.record[idx].tolist()))


def emit(result: dict, out: Path | None, summary: str) -> None:
    """With ``out``: write ``result`` there as JSON, atomically, and print ``summary`` and the
    path; without: print the JSON, then ``summary`` (one human line, always the last)."""
    text = json.dumps(result, indent=2)
    if out:
        write_text_atomic(out, text + "\n")
        print(f"{summary}\nwrote {out}")
    else:
        print(f"{text}\n{summary}")


def sim_summary(r: dict) -> str:
    """One line of a ``bench sim`` result."""
    return (f"bench sim: {r['windows_per_s']:.1f} RTL-verified windows/s ({r['windows']} windows, "
            f"{r['jobs']} jobs, {r['cycles_per_inference']} cycles an inference), bit-exact: "
            f"{'yes' if r['bit_exact'] else 'NO'}")  # fmt: skip


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench`` with its benchmarks ``sim`` and ``swhw``."""
    b = sub.add_parser("bench", help=command_help("bench"))
    what = b.add_subparsers(dest="what", required=True, metavar="WHAT")
    s = what.add_parser("sim", help="RTL-verified windows per second")
    s.add_argument("--windows", type=positive_int, default=120)
    s.add_argument("--jobs", type=positive_int, default=2)
    s.add_argument("--pe", type=positive_int, default=CORE_DEFAULT[0])
    s.add_argument("--simd", type=positive_int, default=CORE_DEFAULT[1])
    s.add_argument("--model", default=DEFAULT_MODEL)
    s.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    s.add_argument("--out", type=out_file, default=None, help="also write the JSON here")
    s.set_defaults(func=_bench)
    _add_swhw_parser(what)


def _bench(args: argparse.Namespace) -> int:
    result = bench_sim(args.windows, args.jobs, args.pe, args.simd, args.model, args.protocol)
    emit(result, args.out, sim_summary(result))
    return 0 if result["bit_exact"] else 3


def _add_swhw_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench swhw`` under ``bench``'s sub-commands."""
    s = sub.add_parser("swhw", help="software (PyTorch, onnxruntime) vs hardware inferences/s "
                                    "of one model, measured in one run")  # fmt: skip
    s.add_argument("--model", default=DEFAULT_MODEL)
    s.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    s.add_argument("--backend", choices=BACKENDS, default="core")
    s.add_argument("--target", default="ice40-up5k", choices=sorted(BOARDS),
                   help="the build <bitstreams>/<target>/<model>-<backend>/report.json gives "
                        "the achieved Fmax and the design (default ice40-up5k)")  # fmt: skip
    s.add_argument("--bitstreams", type=Path, default=Path("bitstreams"),
                   help="root folder of the builds (default bitstreams)")  # fmt: skip
    s.add_argument("--windows", type=positive_int, default=DEFAULT_WINDOWS,
                   help=f"bundled windows, evenly spaced (default {DEFAULT_WINDOWS})")  # fmt: skip
    s.add_argument("--batch", type=positive_int, nargs="+", default=list(DEFAULT_BATCHES),
                   help="software batch sizes; 1 is always measured (default 1 64)")  # fmt: skip
    s.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                   help=f"PyTorch and onnxruntime threads (default {DEFAULT_THREADS})")  # fmt: skip
    s.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                   help=f"timed repetitions a batch size, the median counts "
                        f"(default {DEFAULT_REPEATS})")  # fmt: skip
    s.add_argument(
        "--rep-seconds",
        type=float,
        default=DEFAULT_REP_SECONDS,
        help=f"seconds a repetition lasts at least (default {DEFAULT_REP_SECONDS})",
    )
    s.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder of the runnable ONNX (default $XDG_CACHE_HOME/ecgaccel/onnx)",
    )
    s.add_argument("--out", type=out_file, default=None, help="also write the JSON here")
    s.set_defaults(func=_bench_swhw)


def _bench_swhw(args: argparse.Namespace) -> int:
    from ecgaccel.swhw import bench_swhw, swhw_summary

    result = bench_swhw(
        args.model,
        args.protocol,
        args.backend,
        args.target,
        args.bitstreams,
        args.windows,
        args.batch,
        args.threads,
        args.repeats,
        args.rep_seconds,
        args.cache,
    )
    emit(result, args.out, swhw_summary(result))
    return 0 if result["hardware"]["bit_exact"] else 3
