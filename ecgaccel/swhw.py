"""``ecgaccel bench swhw``: software throughput on this CPU next to hardware throughput at the
achieved Fmax of a committed build, for the same model, measured in one run (JSON).

Software: the Brevitas model in PyTorch (eval mode, ``torch.inference_mode``) and a plain ONNX
of the same function in onnxruntime (:mod:`ecgaccel.models.runnable_onnx`: the shipped QONNX
has custom ops onnxruntime cannot run), at batch 1 and larger batches; inferences/s is the
median over repetitions, warm-up calls excluded. The ONNX's classes are checked against
PyTorch's on the bundled windows.

Hardware: the build's design (``<bitstreams>/<target>/<model>-<backend>/report.json``, written
by ``ecgaccel build``) is rebuilt as a plan and its RTL simulated on Verilator on the same
windows, one window at a time (cycles per window, latency) and back to back (initiation
interval), both checked bit-exactly against the integer reference; inferences/s is the build's
achieved Fmax over the measured interval. This is the accelerator's compute rate: the board's
UART (115,200 baud) moves far fewer windows a second (``io_note`` in the JSON).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgaccel.bench import (
    DEFAULT_BATCHES,
    DEFAULT_REP_SECONDS,
    DEFAULT_REPEATS,
    DEFAULT_THREADS,
    DEFAULT_WINDOWS,
    bundled_windows,
)
from ecgaccel.bitstreams.build import (
    BuildError,
    BuildRequest,
    out_dir,
    plan_from_report,
    read_json_object,
)
from ecgaccel.hw.core_plan import CoreConfigError
from ecgaccel.hw.dataflow import DataflowPlan
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.measure import measure_rtl, mismatched_windows, status
from ecgaccel.models import reference
from ecgaccel.models.reference import ReferenceOutput

if TYPE_CHECKING:
    from ecgaccel.hw.core_plan import CorePlan
    from ecgaccel.models.nets import EcgBnn

VERSION_PACKAGES = ("torch", "onnxruntime", "onnx", "brevitas", "numpy", "verilator")


# --------------------------------------------------------------------------- the build


def load_build_report(
    bitstreams: Path, target: str, model: str, backend: str, protocol: str
) -> tuple[dict, Path]:
    """The ``report.json`` of a committed build and its path.

    Raises
    ------
    BuildError
        No report at ``<bitstreams>/<target>/<model>-<backend>/report.json``, unreadable JSON,
        a build for another protocol, or a build without an achieved Fmax (e.g. one that did
        not fit its device); the message names the path.
    """
    req = BuildRequest(target=target, backend=backend, model=model, protocol=protocol)
    path = out_dir(bitstreams, req) / "report.json"
    if not path.is_file():
        raise BuildError(
            f"{path}: no build report; run `ecgaccel build --backend {backend} "
            f"--target {target} --model {model}`"
        )
    report = read_json_object(path)
    try:
        fmax = report["fmax"]["achieved_mhz"] if report.get("fmax") else None
        if not isinstance(report["design"]["cycles_per_inference"], int):
            raise TypeError("design.cycles_per_inference is not a whole number of cycles")
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{path}: unreadable build report ({exc})") from exc
    if report.get("protocol") != protocol:
        raise BuildError(f"{path}: built for protocol {report.get('protocol')!r}, not {protocol!r}")
    if not fmax:
        raise BuildError(
            f"{path}: build status {report.get('status')!r} has no achieved Fmax"
            + (f" ({report['error']})" if report.get("error") else "")
        )
    return report, path


def design_summary(report: dict) -> dict:
    """The report's design without its estimates: PE / SIMD, or the folding and FIFO depths."""
    d = report["design"]
    keys = ("pe", "simd", "choice") if report["backend"] == "core" else ("folding", "choice")
    return {k: d[k] for k in keys if k in d}


# --------------------------------------------------------------------------- the hardware


def measure_hardware(
    plan: CorePlan | DataflowPlan, q: np.ndarray, ref: ReferenceOutput, fmax_mhz: float
) -> dict:
    """Cycles of ``plan``'s RTL on int8 windows ``q`` ``[N, 1, L]`` and inferences/s at
    ``fmax_mhz`` (MHz); ``ref``: :func:`ecgaccel.models.reference.run` of ``q``.

    :func:`~ecgaccel.measure.measure_rtl`: every window alone (``latency_cycles``;
    ``latency_each``), the first ones back to back (``interval_cycles``, the II;
    ``intervals_each``);
    ``inferences_per_s`` and ``latency_us`` by :meth:`~ecgaccel.measure.HardwareRun.rates`.
    ``bit_exact``: every score and decision equals ``ref``'s
    (:func:`~ecgaccel.measure.mismatched_windows`; those back to back equal those alone).

    Raises
    ------
    SimulationError, ToolchainError
        The testbench or the Verilator build failed.
    """
    t = time.perf_counter()
    run = measure_rtl(plan, q)
    return {
        "windows_simulated": len(q),
        **run.rates(fmax_mhz),
        "intervals_each": run.intervals.tolist(),
        "latency_each": run.alone.cycles.tolist(),
        "bit_exact": mismatched_windows(run.alone, ref).size == 0,
        "simulation_seconds": time.perf_counter() - t,
    }


# --------------------------------------------------------------------------- the software


def batch_of(x: np.ndarray, batch: int) -> np.ndarray:
    """``batch`` windows from ``x`` ``[N, ...]``, repeating them cyclically (float32)."""
    return np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])), dtype=np.float32)


def time_calls(
    call: Callable[[np.ndarray], object], x: np.ndarray, repeats: int, rep_seconds: float
) -> dict:
    """Inferences/s of ``call`` on the batch ``x``: two warm-up calls (not timed into the
    result; the second sizes the repetitions), then ``repeats`` repetitions of enough calls to
    last about ``rep_seconds`` seconds each; the median repetition's seconds per call gives
    ``inferences_per_s`` (``len(x)`` per call); ``inferences_per_s_fastest_repeat`` is the
    fastest repetition's (less disturbed by other work on the machine). Also ``ms_per_call``
    median / min / max (milliseconds)."""
    call(x)
    t = time.perf_counter()
    call(x)
    calls = max(1, math.ceil(rep_seconds / max(time.perf_counter() - t, 1e-9)))
    per_call = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            call(x)
        per_call.append((time.perf_counter() - t) / calls)
    median = statistics.median(per_call)
    return {
        "batch": len(x),
        "inferences_per_s": len(x) / median,
        "inferences_per_s_fastest_repeat": len(x) / min(per_call),
        "ms_per_call": {
            "median": median * 1e3,
            "min": min(per_call) * 1e3,
            "max": max(per_call) * 1e3,
        },
        "calls_per_repeat": calls,
        "repeats": repeats,
    }


def bench_batches(
    call: Callable[[np.ndarray], object],
    z: np.ndarray,
    batches: Sequence[int],
    repeats: int,
    rep_seconds: float,
) -> dict:
    """:func:`time_calls` at every batch size (windows of ``z`` repeated to fill a batch):
    ``batches`` (one entry each), ``batch1_inferences_per_s`` and ``best`` (the batch with the
    most inferences/s)."""
    rows = [time_calls(call, batch_of(z, b), repeats, rep_seconds) for b in batches]
    best = max(rows, key=lambda r: r["inferences_per_s"])
    batch1 = next(r["inferences_per_s"] for r in rows if r["batch"] == 1)
    return {
        "batches": rows,
        "batch1_inferences_per_s": batch1,
        "best": {"batch": best["batch"], "inferences_per_s": best["inferences_per_s"]},
    }


def pytorch_call(net: EcgBnn) -> Callable[[np.ndarray], np.ndarray]:
    """One batch of z-scored windows through ``net`` in ``torch.inference_mode``: scores."""
    import torch

    def call(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()

    return call


def onnxruntime_call(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """One batch of z-scored windows through an onnxruntime CPU session of ``path`` with
    ``threads`` intra-op threads: scores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


SOFTWARE = {
    "pytorch": "the Brevitas model, eval mode, torch.inference_mode",
    "pytorch_folded": "the same function in plain PyTorch (quantizers folded: quantized weights "
    "as float constants, activation quantizers in standard ops), torch.inference_mode",
    "onnxruntime": "that plain PyTorch module exported to ONNX (standard ops only), "
    "onnxruntime CPU provider",
}
"""The software measured, by JSON key."""


def bench_software(
    net: EcgBnn,
    z: np.ndarray,
    onnx_path: Path,
    batches: Sequence[int],
    threads: int,
    repeats: int,
    rep_seconds: float,
) -> tuple[dict, np.ndarray]:
    """Inferences/s of each :data:`SOFTWARE` run of ``net`` (:func:`bench_batches`) with
    ``threads`` threads, and how each one's scores on the windows ``z`` agree with the Brevitas
    model's (``agreement_with_pytorch``); also returns the Brevitas model's scores
    ``[N, n_classes]``."""
    import torch

    from ecgaccel.models.runnable_onnx import fold_quantizers, onnx_ops, scores_agreement

    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        calls = {
            "pytorch": pytorch_call(net),
            "pytorch_folded": pytorch_call(fold_quantizers(net)),
            "onnxruntime": onnxruntime_call(onnx_path, threads),
        }
        scores = {name: call(z) for name, call in calls.items()}
        out = {
            name: {"what": SOFTWARE[name], **bench_batches(call, z, batches, repeats, rep_seconds)}
            for name, call in calls.items()
        }
    finally:
        torch.set_num_threads(saved)
    out["onnxruntime"].update(onnx=str(onnx_path), ops=onnx_ops(onnx_path))
    agreement = {
        name: scores_agreement(scores["pytorch"], s)
        for name, s in scores.items()
        if name != "pytorch"
    }
    return {"threads": threads, **out, "agreement_with_pytorch": agreement}, scores["pytorch"]


# --------------------------------------------------------------------------- the run


def ratios(hw_per_s: float, software: dict) -> dict:
    """Hardware inferences/s over each software figure (batch 1 and best batch)."""
    out = {}
    for name in SOFTWARE:
        sw = software[name]
        out[f"hardware_over_{name}_batch1"] = hw_per_s / sw["batch1_inferences_per_s"]
        out[f"hardware_over_{name}_best_batch"] = hw_per_s / sw["best"]["inferences_per_s"]
    return out


def machine_info(threads: int) -> dict:
    """CPU model (``/proc/cpuinfo``), logical CPUs, CPUs this process may use, threads used."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None
            )
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor() or None,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "threads_used": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    """Versions of the packages the figures depend on (None: not installed)."""
    installed = {d.metadata["Name"].lower(): d.version for d in metadata.distributions()}
    return {pkg: installed.get(pkg) for pkg in VERSION_PACKAGES}


def bench_swhw(
    model: str,
    protocol: str,
    backend: str,
    target: str,
    bitstreams: Path = Path("bitstreams"),
    windows: int = DEFAULT_WINDOWS,
    batches: Sequence[int] = DEFAULT_BATCHES,
    threads: int = DEFAULT_THREADS,
    repeats: int = DEFAULT_REPEATS,
    rep_seconds: float = DEFAULT_REP_SECONDS,
    cache: Path | None = None,
) -> dict:
    """Software (PyTorch, onnxruntime; inferences/s on this CPU) and hardware (inferences/s at
    the build's achieved Fmax in MHz, from simulated cycles) throughput of ``model`` on
    ``windows`` bundled windows, and their ratios; see the module docstring. Batch 1 is always
    measured; ``threads`` are PyTorch's and onnxruntime's intra-op threads; ``cache`` holds the
    runnable ONNX (default ``$XDG_CACHE_HOME/ecgaccel/onnx``).

    Raises
    ------
    BuildError
        No usable build report (see :func:`load_build_report`), or a design that no longer
        matches it.
    CoreConfigError
        ``windows``, ``batches``, ``threads``, ``repeats`` or ``rep_seconds`` not positive.
    DescriptionError, CheckpointError, UnknownModelError
        A model without an integer description or checkpoint, an unknown model, or one that
        does not read 10-s windows.
    SimulationError, ToolchainError
        The RTL simulation failed.
    """
    t0 = time.perf_counter()
    _check_counts(
        windows=windows,
        threads=threads,
        repeats=repeats,
        rep_seconds=rep_seconds,
        batch=min(batches, default=0),
    )
    batches = sorted({1, *batches})
    report, report_path = load_build_report(bitstreams, target, model, backend, protocol)
    status(f"loading {model}-{protocol} and its runnable ONNX (exported once, cached) ...")
    net, desc, onnx_path = _load_model(model, protocol, cache)
    plan = plan_from_report(report, desc, report_path)
    z, q, records = bundled_windows(windows)
    load_before = os.getloadavg()
    status(f"timing PyTorch and onnxruntime at batch {', '.join(map(str, batches))} "
               f"({repeats} repetitions each) ...")  # fmt: skip
    software, torch_scores = bench_software(
        net, z, onnx_path, batches, threads, repeats, rep_seconds
    )
    load_after = os.getloadavg()
    ref = reference.run(desc, q)
    status(f"simulating the build's RTL on {len(q)} windows (Verilator) ...")
    hardware = hardware_figures(report, report_path, plan, q, ref)
    return {
        "bench": "swhw",
        "model": model,
        "protocol": protocol,
        "backend": backend,
        "target": target,
        "windows": {
            "n": len(z),
            "records": records,
            "selection": f"{len(z)} evenly spaced bundled windows",
        },
        "software": software,
        "hardware": hardware,
        "reference_classes_vs_pytorch": float((ref.pred == torch_scores.argmax(axis=1)).mean()),
        "ratios": ratios(hardware["inferences_per_s"], software),
        "machine": {
            **machine_info(threads),
            "load_average_1min": {"software_start": load_before[0], "software_end": load_after[0]},
        },
        "versions": versions(),
        "seconds": time.perf_counter() - t0,
    }


def hardware_figures(
    report: dict,
    report_path: Path,
    plan: CorePlan | DataflowPlan,
    q: np.ndarray,
    ref: ReferenceOutput,
) -> dict:
    """The hardware part of the JSON: the build's design and Fmax (MHz) with
    :func:`measure_hardware` of ``plan`` on ``q``."""
    fmax = float(report["fmax"]["achieved_mhz"])
    return {
        "build_report": str(report_path),
        "board": report.get("board"),
        "design": design_summary(report),
        "fmax_mhz": fmax,
        "fmax_is": "fmax.achieved_mhz of the build report (nextpnr, slowest clock)",
        "timing_met": report["fmax"].get("timing_met"),
        "estimated_cycles": report["design"]["cycles_per_inference"],
        "estimated_cycles_are": report["design"]["cycles_are"],
        **measure_hardware(plan, q, ref, fmax),
        "rtl": "regenerated from the current sources with the build's folding (Verilator)",
        "io_note": _io_note(report),
    }


def _check_counts(**values: float) -> None:
    """Raises :class:`CoreConfigError` for a value that is not positive."""
    for name, value in values.items():
        if not value > 0:
            flag = "--rep-seconds" if name == "rep_seconds" else f"--{name}"
            raise CoreConfigError(f"{flag} must be positive, got {value}")


def _load_model(
    model: str, protocol: str, cache: Path | None
) -> tuple[EcgBnn, NetworkDescription, Path]:
    """The Brevitas network (eval mode), the integer description and the runnable ONNX
    (exported into ``cache`` unless already there) of ``model`` / ``protocol``."""
    from ecgaccel.artifacts import artifact_paths
    from ecgaccel.hw.description import DescriptionError
    from ecgaccel.models.checkpoint import build_model, load_checkpoint
    from ecgaccel.models.registry import get_spec
    from ecgaccel.models.runnable_onnx import export_runnable_onnx, onnx_cache_path
    from ecgaccel.sim.core_sim import cache_dir

    if get_spec(model).task != "windows5":
        raise DescriptionError(
            f"ecgaccel bench swhw streams 10-s MIT-BIH windows; {model} "
            f"reads {get_spec(model).task}"
        )
    paths = artifact_paths(model, protocol)
    desc = NetworkDescription.load(paths["description"])
    net = build_model(load_checkpoint(paths["checkpoint"]), paths["checkpoint"], model)
    cache = Path(cache) if cache else cache_dir().parent / "onnx"
    onnx_path = export_runnable_onnx(net, onnx_cache_path(net, f"{model}-{protocol}", cache))
    return net, desc, onnx_path


def _io_note(report: dict) -> str:
    """What the UART of the built board top allows, next to the compute rate."""
    uart = (report.get("inference") or {}).get("uart_seconds_a_window")
    baud = (report.get("uart") or {}).get("baud")
    if not uart:
        return "hardware inferences/s is the accelerator's compute rate (I/O excluded)"
    return (
        f"hardware inferences/s is the accelerator's compute rate; the built board top "
        f"receives windows over a {baud}-baud UART, {uart} s a window "
        f"({1 / uart:.1f} windows/s), which the figures here leave out"
    )


def swhw_summary(r: dict) -> str:
    """One line of a ``bench swhw`` result: hardware and software inferences/s, the ratio."""
    hw, sw = r["hardware"], r["software"]
    ort, pt = sw["onnxruntime"]["batch1_inferences_per_s"], sw["pytorch"]["batch1_inferences_per_s"]
    ratio = r["ratios"]["hardware_over_onnxruntime_batch1"]
    return (f"bench swhw: hardware {hw['inferences_per_s']:.0f} inferences/s "
            f"({hw['fmax_mhz']} MHz, {hw['interval_cycles']} cycles a window (II), bit-exact: "
            f"{'yes' if hw['bit_exact'] else 'NO'}); onnxruntime {ort:.0f}/s and PyTorch "
            f"{pt:.0f}/s at batch 1, {sw['threads']} thread(s): hardware / onnxruntime "
            f"{ratio:.2f}")  # fmt: skip
