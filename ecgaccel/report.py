"""``ecgaccel report``: one comparison of every built design (``docs/results.md`` + figures).

Every ``<bitstreams>/<target>/<design>/report.json`` that ``ecgaccel build`` wrote is one
design. Its plan is rebuilt from the folding the build recorded (so the simulated RTL is the
built design's), simulated on Verilator on the 10-s windows of the bundled records (results
cached under ``--work``) next to the float Brevitas model and the numpy integer reference; the
build's measured resources and achieved Fmax turn the simulated cycles into latency and
throughput. Output: a markdown page with one table of every design, the Efficiency Score
(defined in :func:`efficiency_scores`) with its inputs, per-design notes and three figures
(accuracy vs logic with the Pareto front, throughput vs logic, confusion matrices).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from ecgaccel import __version__
from ecgaccel.figures import (
    by_family,
    plot_accuracy_vs_logic,
    plot_confusions,
    plot_throughput_vs_logic,
)
from ecgaccel.hw.core_plan import CorePlan
from ecgaccel.hw.dataflow import DataflowPlan
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.files import write_bytes_atomic, write_text_atomic
from ecgaccel.measure import II_WINDOWS, HardwareRun, measure_rtl, mismatched_windows
from ecgaccel.models import reference
from ecgaccel.models.metrics import class_probabilities, confusion, macro_auc
from ecgaccel.models.preprocess import quantize_input, zscore
from ecgaccel.models.reference import ReferenceOutput
from ecgaccel.models.registry import get_spec
from ecgaccel.models.tasks import training_records
from ecgaccel.models.train import predict_scores
from ecgaccel.reportcli import DEFAULTS, ReportError
from ecgaccel.run import check_window_model, load_selected_windows, load_shipped
from ecgaccel.sim.core_sim import CoreSimResult, build_core
from ecgaccel.sim.runner import SimulationError
from ecgaccel.sim.toolchain import verilator_description

BLOCK_BITS = {"ice40": 4096, "ecp5": 18432}
"""Bits of one block RAM: iCE40 EBR (``SB_RAM40_4K``) 4 kbit, ECP5 ``DP16KD`` 18 kbit."""

LOGIC_UNITS = {"lc": "LC", "lut4": "LUT4"}
"""The logic resource of a build's ``utilization`` and its unit: iCE40 logic cells, ECP5 LUT4s."""

REQUIRED_KEYS = ("status", "target", "model", "protocol", "backend", "device", "design",
                 "utilization")  # fmt: skip
"""Keys every build report must have."""

CACHE_FORMAT = 2
"""Version of the simulation cache files (part of their key)."""

TESTBENCH = ("core_tb.py", "axis.py")
"""The cocotb testbench of :func:`~ecgaccel.sim.core_sim.simulate_core` and its stream
drivers (in ``ecgaccel.sim``): part of the simulation cache key."""

SRC_ATTRIBUTE = re.compile(r'\(\*\s*src\s*=\s*"[^"]*"\s*\*\)')
"""Amaranth's source-location attribute in Verilog (file and line of the generator)."""

# --------------------------------------------------------------------------- builds


@dataclass(frozen=True)
class Build:
    """One build folder: ``name`` (``<target>/<model>-<backend>``), the path and content of
    its ``report.json``, and the transistor count of its optional ``asic.json`` (None without
    one)."""

    name: str
    path: Path
    report: dict
    transistors: int | None

    @property
    def fits(self) -> bool:
        """Placed and routed (a ``does-not-fit`` build has no Fmax)."""
        return self.report["status"] == "ok"

    @property
    def fmax_mhz(self) -> float | None:
        """Achieved Fmax (MHz, the slowest clock), None where the design was not placed."""
        return (self.report.get("fmax") or {}).get("achieved_mhz")

    @property
    def logic_key(self) -> str:
        """``lc`` (iCE40 logic cells) or ``lut4`` (ECP5)."""
        return next(k for k in LOGIC_UNITS if k in self.report["utilization"])

    def used(self, key: str) -> int:
        """Used count of resource ``key`` (``lc``/``lut4``, ``ff``, ``bram``, ``dsp``)."""
        return int(self.report["utilization"][key]["used"])

    def available(self, key: str) -> int:
        """The device's count of resource ``key``."""
        return int(self.report["utilization"][key]["available"])

    @property
    def logic(self) -> int:
        """Logic used: placed logic cells / LUT4s, or Yosys's LUT4s where nextpnr did not run."""
        return self.used(self.logic_key)

    @property
    def memory_bits(self) -> int:
        """On-chip memory bits: block RAMs x block bits (:data:`BLOCK_BITS`) + flip-flops."""
        return memory_bits(self.report["device"]["family"], self.used("bram"), self.used("ff"))


def find_builds(root: Path) -> list[Build]:
    """Every ``<root>/<target>/<design>/report.json``, sorted by name; hidden folders (a build
    in progress works in ``.<design>.work-*``) are left out.

    Raises
    ------
    ReportError
        ``root`` is not a folder, holds no build report, or a report (or ``asic.json``) is
        malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: no such bitstreams folder (run `ecgaccel build --all`)")
    paths = sorted(root.glob("[!.]*/[!.]*/report.json"))
    if not paths:
        raise ReportError(f"{root}: no <target>/<design>/report.json (run `ecgaccel build`)")
    return [read_build(p) for p in paths]


def read_build(path: Path) -> Build:
    """The build whose ``report.json`` is ``path`` (and its ``asic.json`` next to it).

    Raises
    ------
    ReportError
        Unreadable JSON, a missing key, a utilization without a logic, FF, BRAM or DSP count,
        or an ``asic.json`` without an integer ``transistors``.
    """
    report = _read_json(path)
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise ReportError(f"{path}: not a build report: missing {', '.join(missing)}")
    util = report["utilization"]
    logic = [k for k in LOGIC_UNITS if isinstance(util, dict) and k in util]
    if not logic:
        raise ReportError(f"{path}: utilization has no logic count (lc or lut4)")
    try:
        for key in (logic[0], "ff", "bram", "dsp"):
            int(util[key]["used"]), int(util[key]["available"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: utilization: bad or missing {exc}") from None
    return Build(f"{path.parent.parent.name}/{path.parent.name}", path, report,
                 _read_transistors(path.parent / "asic.json"))  # fmt: skip


def _read_json(path: Path) -> dict:
    from ecgaccel.bitstreams.build import BuildError, read_json_object

    try:
        return read_json_object(path)
    except BuildError as exc:
        raise ReportError(str(exc)) from None


def _read_transistors(path: Path) -> int | None:
    if not path.is_file():
        return None
    value = _read_json(path).get("transistors")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReportError(f"{path}: 'transistors' must be a non-negative integer")
    return value


def design_plan(build: Build, desc: NetworkDescription) -> CorePlan | DataflowPlan:
    """The plan the build was made from
    (:func:`~ecgaccel.bitstreams.build.plan_from_report`: the core at the recorded PE / SIMD,
    or the dataflow pipeline at the recorded per-block folding and FIFO depths).

    Raises
    ------
    ReportError
        The recorded design is malformed, does not fit ``desc``, or is stale (built from another
        description, or its cycles differ from the rebuilt plan's); names the report.
    """
    from ecgaccel.bitstreams.build import BuildError, plan_from_report
    from ecgaccel.hw.core_plan import CoreConfigError
    from ecgaccel.hw.layers.common import LayerConfigError

    try:
        return plan_from_report(build.report, desc, build.path)
    except BuildError as exc:
        raise ReportError(str(exc)) from None
    except (CoreConfigError, LayerConfigError) as exc:
        raise ReportError(f"{build.path}: design: {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- metrics


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """bool ``[N]``: the points not dominated by another (one with no more ``cost`` and no
    less ``value``, and strictly better in one of them), of ``cost`` and ``value`` ``[N]``.
    Equal points are all on the front."""
    cost, value = np.asarray(cost, np.float64), np.asarray(value, np.float64)
    no_worse = (cost[None, :] <= cost[:, None]) & (value[None, :] >= value[:, None])
    better = (cost[None, :] < cost[:, None]) | (value[None, :] > value[:, None])
    return ~(no_worse & better).any(axis=1)  # [i, j]: j dominates i


def memory_bits(family: str, bram: int, ff: int) -> int:
    """On-chip memory bits of a design: ``bram`` blocks x :data:`BLOCK_BITS` of ``family``
    (``ice40`` or ``ecp5``) + ``ff`` flip-flops. Distributed (LUT) RAM is not counted: it is
    part of the logic count.

    Raises
    ------
    ReportError
        Unknown family.
    """
    if family not in BLOCK_BITS:
        raise ReportError(f"unknown FPGA family {family!r} (known: {', '.join(BLOCK_BITS)})")
    return bram * BLOCK_BITS[family] + ff


def efficiency_scores(auc: np.ndarray, storage_bits: np.ndarray, inferences_per_s: np.ndarray,
                      memory: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Our Efficiency Score of ``N`` compared designs (the efficient-architectures paper's
    formula is unpublished; this one is ours).

    Four terms in (0, 1], each normalized over the compared designs:

    - ``auc``: macro one-vs-rest AUC (metrics.macro_auc) of the hardware's class
      probabilities (:func:`~ecgaccel.models.metrics.class_probabilities` of its integer scores);
    - ``size`` = min(storage) / storage: the model's stored bits (weights, thresholds, head);
    - ``speed`` = inferences_per_s / max(inferences_per_s) at the achieved Fmax;
    - ``memory`` = min(memory) / memory: on-chip memory bits (:func:`memory_bits`);

    and ``es`` = (auc * size * speed * memory) ** (1/4), their geometric mean: 1 for a design
    best in every term with AUC 1, and a factor of 2 in one term costs the same anywhere.

    Parameters
    ----------
    auc, storage_bits, inferences_per_s, memory:
        float ``[N]`` each, all positive (AUC in (0, 1]).

    Returns
    -------
    dict
        float ``[N]`` each: ``auc``, ``size``, ``speed``, ``memory``, ``es``.

    Raises
    ------
    ValueError
        An input that is not positive, or arrays of different lengths.
    """
    cols = [np.asarray(a, np.float64) for a in (auc, storage_bits, inferences_per_s, memory)]
    if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
        raise ValueError("efficiency_scores: give four arrays [N] of one length")
    if any((c <= 0).any() or not np.isfinite(c).all() for c in cols):
        raise ValueError("efficiency_scores: every input must be positive and finite")
    a, s, t, m = cols
    terms = {"auc": a, "size": s.min() / s, "speed": t / t.max(), "memory": m.min() / m}
    terms["es"] = (terms["auc"] * terms["size"] * terms["speed"] * terms["memory"]) ** 0.25
    return terms


def precision_label(desc: NetworkDescription) -> str:
    """``W1A1 (binary)`` or ``W<n>A<m>``: the widest weights and activations of the layers
    (a bipolar activation counts 1 bit; the int8 input and the head are not counted)."""
    w = max(layer.weight_bits for layer in desc.layers)
    a = max((layer.output_bits or 1) for layer in desc.layers if layer.thresholds is not None)
    return "W1A1 (binary)" if (w, a) == (1, 1) else f"W{w}A{a}"


# --------------------------------------------------------------------------- simulation


def sim_key(plan: CorePlan | DataflowPlan, q: np.ndarray) -> str:
    """A digest of everything a simulation result depends on: the plan, its Verilog and the
    simulation top (without Amaranth's ``src`` attributes, so an edit of the generators
    that leaves the RTL alone keeps the cache), the testbench that drives it and counts the
    cycles (:data:`TESTBENCH`) and the int8 windows ``q`` ``[N, 1, L]`` (so their selection
    and data folder). The Verilog is generated (:func:`~ecgaccel.sim.core_sim.build_core`,
    kept in the Verilator cache) where missing; nothing is compiled."""
    import ecgaccel.sim as sim

    plan_text = plan.key() if isinstance(plan, DataflowPlan) else repr(plan)
    h = hashlib.sha256(f"{CACHE_FORMAT} {type(plan).__name__} {plan_text}".encode())
    for path in build_core(plan)[0]:
        h.update(SRC_ATTRIBUTE.sub("", path.read_text()).encode())
    for name in TESTBENCH:
        h.update((Path(sim.__file__).parent / name).read_bytes())
    q = np.ascontiguousarray(q)
    h.update(f"{q.dtype} {q.shape}".encode())
    h.update(q.tobytes())
    return h.hexdigest()[:20]


def simulate_cached(plan: CorePlan | DataflowPlan, q: np.ndarray, work: Path, jobs: int,
                    progress: bool) -> tuple[HardwareRun, bool]:  # fmt: skip
    """:func:`~ecgaccel.measure.measure_rtl` of ``plan`` on int8 windows ``q`` ``[N, 1, L]``
    (every window alone, the first ones back to back: :class:`HardwareRun`), from
    ``work/sim-<key>.npz`` (:func:`sim_key`) when there, else simulated and saved there.
    Returns ``(run, from_cache)``; an unreadable cache file is simulated again.

    Raises
    ------
    SimulationError, ToolchainError
        The testbench or the Verilator build failed.
    """
    path = Path(work) / f"sim-{sim_key(plan, q)}.npz"
    try:
        with np.load(path) as f:
            hit = HardwareRun(CoreSimResult(f["scores"], f["classes"], f["cycles"]),
                              f["intervals"])  # fmt: skip
        if len(hit.alone.classes) == len(q):
            return hit, True
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # missing or unreadable: simulate
    try:
        run = measure_rtl(plan, q, jobs, progress)
    except SimulationError as exc:
        raise SimulationError(f"{path.name}: {exc}") from None
    buf = io.BytesIO()
    a = run.alone
    np.savez(buf, scores=a.scores, classes=a.classes, cycles=a.cycles, intervals=run.intervals)
    write_bytes_atomic(path, buf.getvalue())
    return run, False


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelAnswers:
    """One model's answers on the windows: ``desc``, the float model's classes ``sw`` int64
    ``[N]``, the integer reference's output ``ref`` (scores int64 ``[N, K]``, classes
    ``ref.pred`` int64 ``[N]``), and the records it never saw in training (``held_out``)."""

    desc: NetworkDescription
    sw: np.ndarray
    ref: ReferenceOutput
    held_out: tuple[str, ...]


def model_answers(model: str, protocol: str, records: np.ndarray, z: np.ndarray,
                  q: np.ndarray) -> ModelAnswers:  # fmt: skip
    """The float Brevitas model on z-scored windows ``z`` float32 ``[N, 1, L]`` and the integer
    reference on their int8 quantization ``q`` ``[N, 1, L]``; ``records`` str ``[N]``.

    Raises
    ------
    DescriptionError, CheckpointError, UnknownModelError
        Not a quantized window model, or its shipped artifacts are missing or bad.
    """
    check_window_model(model)
    desc, net = load_shipped(model, protocol)
    ref = reference.run(desc, q)
    seen = training_records(get_spec(model).task, protocol) or frozenset()
    return ModelAnswers(desc, predict_scores(net, z).argmax(axis=1), ref,
                        tuple(sorted(set(records.tolist()) - seen)))  # fmt: skip


@dataclass(frozen=True)
class DesignResult:
    """A build with what its RTL computed on the windows.

    ``acc``: accuracy of the float model (``sw``), the reference (``ref``) and the RTL (``hw``);
    ``hw_ref_bad``: windows where the RTL's class or any class score differs from the
    reference's (int64 ``[M]``, indices among the windows); ``hw_sw_bad``: the count of
    windows where the RTL's class differs from the float model's; ``auc``: metrics.macro_auc
    of the RTL's class probabilities (:func:`~ecgaccel.models.metrics.class_probabilities`);
    ``confusion``: int64
    ``[K, K]`` (rows true, columns RTL class); ``run``: the simulation
    (:class:`~ecgaccel.measure.HardwareRun`: initiation interval, latency); ``cached``: it
    came from the cache.
    """

    build: Build
    precision: str
    storage_bits: int
    n: int
    acc: dict[str, float]
    hw_ref_bad: np.ndarray
    hw_sw_bad: int
    auc: float | None
    confusion: np.ndarray
    classes: tuple[str, ...]
    run: HardwareRun
    cached: bool

    @property
    def cycles(self) -> int:
        """The measured initiation interval (:attr:`HardwareRun.interval`)."""
        return self.run.interval

    @property
    def latency_cycles(self) -> int:
        """Median cycles of one window alone (:attr:`HardwareRun.latency_cycles`)."""
        return self.run.latency_cycles

    @property
    def latency_us(self) -> float | None:
        """One window alone at the achieved Fmax (µs); None without one."""
        return self.run.rates(self.build.fmax_mhz)["latency_us"]

    @property
    def inferences_per_s(self) -> float | None:
        """Fmax over the II (:meth:`HardwareRun.rates`); None without an Fmax."""
        return self.run.rates(self.build.fmax_mhz)["inferences_per_s"]


def evaluate_design(build: Build, answers: ModelAnswers, run: HardwareRun, y: np.ndarray,
                    cached: bool) -> DesignResult:  # fmt: skip
    """Compare the RTL's answers (``run``) of a build with the model's and the labels ``y``
    int64 ``[N]``."""
    desc, hw = answers.desc, run.alone
    bad = mismatched_windows(hw, answers.ref)
    return DesignResult(
        build=build,
        precision=precision_label(desc),
        storage_bits=desc.storage_bits()["total"],
        n=len(y),
        acc={
            "sw": float((answers.sw == y).mean()),
            "ref": float((answers.ref.pred == y).mean()),
            "hw": float((hw.classes == y).mean()),
        },
        hw_ref_bad=bad,
        hw_sw_bad=int((hw.classes != answers.sw).sum()),
        auc=macro_auc(y, class_probabilities(hw.scores, desc.head.frac_bits)),
        confusion=confusion(y, hw.classes, len(desc.classes)),
        classes=tuple(desc.classes),
        run=run,
        cached=cached,
    )


def pareto_designs(results: list[DesignResult]) -> list[DesignResult]:
    """The placed designs on the Pareto front of fewer logic and higher RTL accuracy
    (:func:`pareto_front`) within their device family (logic cells and LUT4s are not
    compared: :func:`ecgaccel.figures.by_family`); a design that does not fit is never on it."""
    front = []
    for group in by_family(results).values():
        placed = [r for r in group if r.build.fits]
        if placed:
            on = pareto_front([r.build.logic for r in placed], [r.acc["hw"] for r in placed])
            front += [r for r, o in zip(placed, on, strict=True) if o]
    return front


def score_designs(results: list[DesignResult]) -> dict[str, dict[str, float]]:
    """:func:`efficiency_scores` over the designs that have every input (placed, so an Fmax;
    an AUC): ``{design name: {"auc", "size", "speed", "memory", "es"}}``."""
    scored = [r for r in results if r.inferences_per_s and r.auc]
    if not scored:
        return {}
    terms = efficiency_scores([r.auc for r in scored], [r.storage_bits for r in scored],
                              [r.inferences_per_s for r in scored],
                              [r.build.memory_bits for r in scored])  # fmt: skip
    return {r.build.name: {k: float(v[i]) for k, v in terms.items()} for i, r in enumerate(scored)}


# --------------------------------------------------------------------------- figures


# --------------------------------------------------------------------------- markdown


def _n(v: float | int | None, fmt: str = ",") -> str:
    return "—" if v is None else format(v, fmt)


def _resource(b: Build, key: str) -> str:
    unit = f" {LOGIC_UNITS[key]}" if key in LOGIC_UNITS else ""
    return f"{b.used(key):,} / {b.available(key):,}{unit}"


def main_table(results: list[DesignResult]) -> list[str]:
    """The markdown table of every design, one row each."""
    head = (
        "design | model | back end | precision | acc. SW | acc. HW | AUC HW | HW = ref "
        "(mismatches) | HW = SW (mismatches) | storage KiB | logic | FF | BRAM | DSP | "
        "Fmax MHz | cycles / inference | latency µs | inferences / s | ASIC transistors"
    )
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    for r in results:
        b, rep = r.build, r.build.report
        bad = len(r.hw_ref_bad)
        fmax = f"{b.fmax_mhz:.2f}" if b.fmax_mhz else "— (does not fit)"
        cells = [b.name, f"{rep['model']} ({rep['protocol']})", rep["backend"], r.precision,
                 f"{r.acc['sw']:.4f}", f"{r.acc['hw']:.4f}", _n(r.auc, ".4f"),
                 f"{1 - bad / r.n:.4f} ({bad})", f"{1 - r.hw_sw_bad / r.n:.4f} ({r.hw_sw_bad})",
                 f"{r.storage_bits / 8 / 1024:.2f}", _resource(b, b.logic_key),
                 _resource(b, "ff"), _resource(b, "bram"), _resource(b, "dsp"), fmax,
                 f"{r.cycles:,}", _n(r.latency_us, ",.1f"), _n(r.inferences_per_s, ",.0f"),
                 _n(b.transistors)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def es_table(results: list[DesignResult], es: dict[str, dict[str, float]]) -> list[str]:
    """The Efficiency Score with its inputs, one row per design (— where it has none)."""
    lines = ["| design | AUC | storage bits | size term | inferences / s | speed term | "
             "BRAM bits + FF = memory bits | memory term | **ES** |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        b, e = r.build, es.get(r.build.name, {})
        fam = b.report["device"]["family"]
        mem = (f"{b.used('bram')} x {BLOCK_BITS[fam]:,} + {b.used('ff'):,} = "
               f"{b.memory_bits:,}")  # fmt: skip
        lines.append(
            f"| {b.name} | {_n(r.auc, '.4f')} | {r.storage_bits:,} | {_n(e.get('size'), '.3f')} "
            f"| {_n(r.inferences_per_s, ',.0f')} | {_n(e.get('speed'), '.3f')} | {mem} "
            f"| {_n(e.get('memory'), '.3f')} | **{_n(e.get('es'), '.3f')}** |"
        )
    return lines


ES_DEFINITION = """\
"Efficient Neural Architectures for Real-Time ECG Interpretation on Limited Hardware" (arXiv
2605.09848) scores designs by model size, inference speed, memory use and AUC, but its formula
is unpublished. **This Efficiency Score is ours, not the paper's.** Over the
compared designs (those placed and routed, so with an Fmax), each of four terms lies in (0, 1]:

- AUC: the macro one-vs-rest AUC (Mann-Whitney U, over the classes present in the windows) of
  the RTL's class probabilities, the softmax of its integer class scores x 2^-frac_bits;
- size = smallest storage / storage, storage being the bits the hardware stores for the model
  (weights, integer thresholds, fixed-point head: `NetworkDescription.storage_bits`);
- speed = inferences/s / largest inferences/s, at the achieved Fmax, windows back to back;
- memory = smallest memory bits / memory bits, memory bits = block RAMs x block bits (iCE40 EBR
  4,096, ECP5 DP16KD 18,432) + flip-flops; LUT RAM counts as logic, not here.

**ES = (AUC · size · speed · memory)^(1/4)**, their geometric mean
(`ecgaccel.report.efficiency_scores`). It is relative: adding a design can change every other
design's score."""


def folding_text(design: dict) -> str:
    """``PE p / SIMD s`` (core) or ``PE/SIMD per block p/s, ...`` (dataflow) of a build's
    ``design`` record."""
    if "pe" in design:
        return f"PE {design['pe']} / SIMD {design['simd']}"
    return "PE/SIMD per block " + ", ".join(f"{f['pe']}/{f['simd']}" for f in design["folding"])


def _clock_text(rep: dict) -> str:
    f = rep.get("fmax") or {}
    if not f.get("achieved_mhz"):
        return ""
    met = "met" if f.get("timing_met") else "missed"
    return f"; Fmax {f['achieved_mhz']:.2f} MHz (target {f.get('target_mhz')} MHz {met})"


def notes(results: list[DesignResult]) -> list[str]:
    """Per-design notes: status, board, folding, cycles, clock, mismatches, Pareto front."""
    lines = []
    front = {r.build.name for r in pareto_designs(results)}
    for r in results:
        b, rep = r.build, r.build.report
        d = rep["design"]
        status = "placed and routed" if b.fits else f"**does not fit** ({rep.get('error')})"
        bad = r.hw_ref_bad
        mism = "RTL = reference in every class score of every window"
        if bad.size:
            mism = (f"**the RTL differs from the reference in {bad.size} of {r.n} windows** "
                    f"(first: window {bad[0]} of the selection)")  # fmt: skip
        lines.append(
            f"- `{b.name}` ({rep.get('board', '?')}): {status}; {folding_text(d)} "
            f"({d.get('choice', '')}); "
            f"{r.cycles:,} simulated cycles between windows back to back, {r.latency_cycles:,} "
            f"for one window alone (build: {_n(d.get('cycles_per_inference'))}, "
            f"{d.get('cycles_are', '')}){_clock_text(rep)}; {mism}; on its family's "
            f"accuracy/logic Pareto front: {'yes' if b.name in front else 'no'}."
        )
    return lines


def tool_line() -> str:
    """Versions of Python and the packages behind the numbers and figures."""
    pkgs = ("numpy", "torch", "brevitas", "amaranth", "cocotb", "matplotlib")
    vers = []
    for p in pkgs:
        try:
            vers.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            vers.append(f"{p} (absent)")
    vers.append(verilator_description())
    return f"ecgaccel {__version__}, Python {sys.version.split()[0]}, " + ", ".join(vers)


def format_markdown(results: list[DesignResult], es: dict[str, dict[str, float]],
                    figures: dict[str, str], meta: dict) -> str:  # fmt: skip
    """The whole results page: ``es`` from :func:`score_designs`; ``figures``: {``accuracy``,
    ``throughput``, ``confusion``: path relative to the page}; ``meta``: ``command``,
    ``windows`` (a sentence), ``bitstreams``, ``work``."""
    fig = figures
    return "\n".join([
        "# Results: every built design",
        "",
        f"Regenerate with `{meta['command']}` (simulation results are cached in "
        f"`{meta['work']}`).",
        f"Generated {datetime.now():%Y-%m-%d %H:%M} with {tool_line()}; synthesis tool "
        f"versions are in each `{meta['bitstreams']}/<target>/<design>/report.json`.",
        "",
        f"{meta['windows']} Every design's RTL (the plan its build recorded) is simulated on "
        "Verilator; HW = ref counts windows whose class and every class score equal the numpy "
        "integer reference's; SW is the float Brevitas model. Resources and Fmax are the "
        "build's (placed counts from nextpnr; Yosys's where nextpnr did not run). Every window "
        f"is simulated alone, and the first {II_WINDOWS} back to back: cycles / inference is the "
        "median number of cycles between two results back to back (the measured initiation "
        "interval) and inferences/s the achieved Fmax over it; latency is the median over the "
        "windows alone (first input beat to last output beat), at the achieved Fmax.",
        "",
        *main_table(results),
        "",
        "## Efficiency Score (ours)",
        "",
        ES_DEFINITION,
        "",
        *es_table(results, es),
        "",
        "## Figures",
        "",
        f"![accuracy vs logic]({fig['accuracy']})",
        "",
        f"![throughput vs logic]({fig['throughput']})",
        "",
        f"![confusion matrices]({fig['confusion']})",
        "",
        "## Designs",
        "",
        *notes(results),
        "",
    ])  # fmt: skip


# --------------------------------------------------------------------------- the job


def _windows_sentence(given_dir: Path | None, records: np.ndarray, limit: int | None,
                      answers: dict[tuple[str, str], ModelAnswers]) -> str:  # fmt: skip
    """Which windows: how many, of which records, from where, and which of them each model
    never saw in training."""
    sel = "all windows" if limit is None else f"spread evenly over all, `--windows {limit}`"
    recs = sorted(set(records.tolist()))
    where = f"`{given_dir}`" if given_dir else "the bundled records"
    held = [f"{m} ({p}): " + ("all" if list(a.held_out) == recs else ", ".join(a.held_out)
                              or "none") for (m, p), a in answers.items()]  # fmt: skip
    return (f"{len(records)} 10-s windows ({sel}) of records {', '.join(recs)} ({where}); "
            f"records held out from training: {'; '.join(held)}.")  # fmt: skip


def make_report(bitstreams: Path = DEFAULTS["bitstreams"], out: Path = DEFAULTS["out"],
                figures: Path = DEFAULTS["figures"], windows: int | None = None, jobs: int = 2,
                work: Path = DEFAULTS["work"], data_dir: Path | None = None,
                progress: bool = True, command: str = "ecgaccel report",
                say=print) -> list[DesignResult]:  # fmt: skip
    """Evaluate every build under ``bitstreams`` and write the page ``out`` and its figures
    into ``figures``; returns the results (sorted by design name).

    Raises
    ------
    ReportError
        No builds, a malformed build report, ``windows`` < 1.
    EcgDataError, DescriptionError, CheckpointError
        Bad records or shipped model artifacts.
    SimulationError, ToolchainError
        The simulator failed.
    """
    if windows is not None and windows < 1:
        raise ReportError(f"--windows must be at least 1, got {windows}")
    builds = find_builds(bitstreams)
    figures = Path(figures)
    _, data, _ = load_selected_windows(data_dir, None, windows)
    z = zscore(data.x)
    q = quantize_input(z)
    answers: dict[tuple[str, str], ModelAnswers] = {}
    results = []
    for b in builds:
        key = (b.report["model"], b.report["protocol"])
        if key not in answers:
            answers[key] = model_answers(*key, data.record, z, q)
        t = time.time()
        hw, cached = simulate_cached(design_plan(b, answers[key].desc), q, work, jobs, progress)
        r = evaluate_design(b, answers[key], hw, data.y, cached)
        how = "cached" if cached else f"simulated in {time.time() - t:.0f} s"
        say(f"{b.name}: accuracy {r.acc['hw']:.4f}, {len(r.hw_ref_bad)} HW/ref mismatches, "
            f"{r.cycles} cycles ({how})")  # fmt: skip
        results.append(r)
    es = score_designs(results)
    front = {r.build.name for r in pareto_designs(results)}
    figs = {"accuracy": plot_accuracy_vs_logic(results, figures / "accuracy_vs_logic.png",
                                               front),
            "throughput": plot_throughput_vs_logic(results, figures / "throughput_vs_logic.png"),
            "confusion": plot_confusions(results, figures / "confusion.png")}  # fmt: skip
    rel = {k: Path(os.path.relpath(p, Path(out).parent)).as_posix() for k, p in figs.items()}
    meta = {"command": command, "bitstreams": bitstreams, "work": work,
            "windows": _windows_sentence(data_dir, data.record, windows, answers)}  # fmt: skip
    write_text_atomic(out, format_markdown(results, es, rel, meta))
    return results
