"""``ecgaccel run --task beats``: every beat of some records through the float model, the integer
reference and the dataflow RTL on Verilator; Se / +P against the annotations and a Holter-style
summary per record (beats per class, ectopic burden, runs of V beats). A record without a
``.atr`` file works: its R peaks come from XQRS (:mod:`ecgaccel.models.detect`)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgaccel.artifacts import artifact_paths, load_network
from ecgaccel.cliargs import DEFAULT_BEAT_MODEL, DEFAULT_BEAT_PROTOCOL
from ecgaccel.hw.description import DescriptionError
from ecgaccel.hw.files import ensure_output_dir, write_text_atomic
from ecgaccel.measure import measure_rtl, mismatched_windows, prepare_with_status
from ecgaccel.models import reference
from ecgaccel.models.beat_inputs import BeatRecords, load_beat_records, records_in
from ecgaccel.models.beat_summary import record_summary
from ecgaccel.models.checkpoint import build_model, load_checkpoint
from ecgaccel.models.metrics import classification_report, rate
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.registry import get_spec
from ecgaccel.models.tasks import training_records
from ecgaccel.models.train import predict_scores
from ecgaccel.run import resource_lines, synthesize_or_fail


def check_beat_model(model: str) -> None:
    """Raise ``DescriptionError`` unless ``model`` reads ``beats-rr`` beats (what this job
    streams); ``UnknownModelError`` for an unknown name."""
    spec = get_spec(model)
    if spec.task != "beats-rr":
        raise DescriptionError(f"ecgaccel run --task beats streams beats with RR features "
                               f"(task beats-rr); {model} reads {spec.task}")  # fmt: skip


def _load(model: str, protocol: str, checkpoint: Path | None, out: Path):
    """``(description, float network, checkpoint path)``: the shipped ones, or a user's
    checkpoint exported and compiled into ``out``."""
    if checkpoint is None:
        path = artifact_paths(model, protocol)["checkpoint"]
        desc = load_network(model, protocol)
    else:
        from ecgaccel.artifacts import export_and_compile

        path = Path(checkpoint)
        _, _, desc = export_and_compile(model, protocol, path, out / "model.onnx")
    return desc, build_model(load_checkpoint(path), path, model), path


def first_beats(b: BeatRecords, limit: int | None) -> np.ndarray:
    """Indices int64 of the first ``limit`` beats of every record (all when ``None``): whole
    stretches, so that runs of consecutive beats stay runs."""
    rec = b.beats.record
    if limit is None:
        return np.arange(len(rec))
    keep = np.zeros(len(rec), bool)
    for name in dict.fromkeys(rec.tolist()):
        keep[np.flatnonzero(rec == name)[:limit]] = True
    return np.flatnonzero(keep)


def run_beats(
    model: str = DEFAULT_BEAT_MODEL,
    protocol: str = DEFAULT_BEAT_PROTOCOL,
    records: list[str] | None = None,
    data_dir: Path | None = None,
    out: Path | None = None,
    limit: int | None = None,
    peaks: str = "auto",
    jobs: int = 2,
    progress: bool = True,
    checkpoint: Path | None = None,
    lead: str = "MLII",
    synth: bool = True,
    freq: float | None = None,
    target: str | None = None,
) -> tuple[dict, Path]:
    """The beat-level job; returns ``(report, out_dir)`` and writes ``report.json``,
    ``report.md`` and ``beats.csv`` to ``out`` (default ``runs/beats-<time>/``).

    Every beat (``limit``: the first ``limit`` of each record) of ``records`` (WFDB records or
    EDF / BDF files; default: all in ``data_dir``, default the bundled DS2 records) at R peaks
    from ``peaks`` (:data:`~ecgaccel.models.registry.PEAKS`), lead ``lead``, goes through the float
    Brevitas model, the integer reference and the dataflow RTL (every beat alone with its RR
    features as the window's header, then the first few back to back for the II). With
    ``synth`` the same design is built by the flow of ``ecgaccel build``
    (:func:`~ecgaccel.run.synthesize`: ``target``, else the first ECP5 it fits; ``freq``: the
    place-and-route clock, MHz) for its LUT / FF / BRAM / DSP, Fmax and bitstream.

    Raises
    ------
    EcgDataError, CheckpointError, DescriptionError, LayerConfigError
        Bad records (no beat found, a lead missing), checkpoint, description or model.
    BuildError
        A bad ``freq`` or ``target`` (a failing tool is reported, not raised).
    CoreConfigError
        ``limit`` below 1.
    """
    from ecgaccel.hw.core_plan import CoreConfigError
    from ecgaccel.hw.graph_dataflow import plan_graph

    t0 = time.time()
    check_beat_model(model)
    if limit is not None and limit < 1:
        raise CoreConfigError(f"--limit must be at least 1 beat, got {limit}")
    out = Path(out) if out else Path("runs") / datetime.now().strftime("beats-%Y%m%d-%H%M%S")
    ensure_output_dir(out)
    desc, net, ckpt_path = _load(model, protocol, checkpoint, out)
    data_dir = Path(data_dir) if data_dir else bundled_data_dir()
    records = list(records) if records else records_in(data_dir)
    b = load_beat_records(data_dir, records, lead=lead, peaks=peaks)
    idx = first_beats(b, limit)
    beats = b.beats.subset(idx)
    x, rr = (a[idx] for a in b.network_inputs())
    xq, mq = (a[idx] for a in b.integer_inputs())

    sw = predict_scores(net, x, meta=rr).argmax(axis=1)
    meta_name = desc.inputs[1].name
    ref = reference.run(desc, {desc.inputs[0].name: xq, meta_name: mq[:, :, None, None]})
    plan = plan_graph(desc)
    est = plan.estimates()
    build_seconds = prepare_with_status(plan, progress)
    t_sim = time.time()
    measured = measure_rtl(plan, xq, jobs, progress, prepared=True, meta=mq, unit="beat")
    sim_seconds = time.time() - t_sim
    hw = measured.alone
    bad = mismatched_windows(hw, ref)
    if bad.size:
        k = int(bad[0])
        np.savez(out / "first_mismatch.npz", input=xq[k], meta=mq[k],
                 expected_scores=ref.scores[k], expected_class=ref.pred[k],
                 got_scores=hw.scores[k], got_class=hw.classes[k])  # fmt: skip

    classes = beats.classes
    labelled = beats.y >= 0
    # AUC of the integer class scores themselves (the float logits over one positive scale),
    # as evaluate ranks the float model's logits
    prob = np.asarray(hw.scores, np.float64)
    y = beats.y[labelled]
    metrics = {
        name: classification_report(y, pred[labelled], classes,
                                    prob[labelled] if name == "hardware" else None)
        for name, pred in (("software", sw), ("reference", ref.pred), ("hardware", hw.classes))
    }  # fmt: skip
    seen = training_records(get_spec(model).task, protocol) or frozenset()
    per_record = {}
    for name in dict.fromkeys(beats.record.tolist()):
        m = beats.record == name
        lab = m & labelled
        per_record[name] = {
            "r_peaks": b.peaks[name],
            "held_out": name not in seen,
            "hardware": record_summary(hw.classes[m], classes),
            "annotations": record_summary(beats.y[lab], classes) if lab.any() else None,
            "unlabelled_beats": int((m & ~labelled).sum()),
            "skipped_at_edges": b.skipped[name],
        }
    resources = None
    if synth:
        # no ASIC estimate: its generic CMOS synthesis of the graph takes over half an hour
        resources = synthesize_or_fail(desc, "dataflow", model, protocol, out / "synth",
                                       freq=freq, target=target, asic=False)  # fmt: skip
    rates = measured.rates(resources["fmax_mhz"] if resources else None)
    report = {
        "task": "beats",
        "model": model,
        "protocol": protocol,
        "checkpoint": str(ckpt_path),
        "data_dir": str(data_dir),
        "records": list(per_record),
        "lead": lead,
        "peaks": peaks,
        "n_beats": len(idx),
        "n_labelled": int(labelled.sum()),
        "selection": "every beat" if limit is None else f"the first {limit} beats of each record",
        "all_held_out_from_training": all(r["held_out"] for r in per_record.values()),
        "metrics": metrics,
        "agreement": {
            "reference_vs_software": float((ref.pred == sw).mean()),
            "hardware_vs_reference": float(1 - bad.size / len(idx)),
        },
        "mismatches": {
            "reference_vs_software": int((ref.pred != sw).sum()),
            "hardware_vs_reference": int(bad.size),
        },
        "per_record": per_record,
        "cycles_per_inference": rates["interval_cycles"],
        "latency_cycles": rates["latency_cycles"],
        "cycles_estimated": est.ii,
        "resources_estimated": est.resources,
        "resources": resources,
        "throughput": rates,
        "simulation": {
            "seconds": sim_seconds,
            "build_seconds": build_seconds,
            "beats_per_s": len(idx) / sim_seconds,
        },
        "wall_seconds": time.time() - t0,
    }
    write_text_atomic(out / "beats.csv", beats_csv(beats, sw, ref.pred, hw.classes))
    write_text_atomic(out / "report.json", json.dumps(report, indent=2))
    write_text_atomic(out / "report.md", format_markdown(report))
    return report, out


def beats_csv(beats, sw: np.ndarray, ref: np.ndarray, hw: np.ndarray) -> str:
    """One CSV row a beat: record, R-peak sample (360 Hz), annotation symbol and AAMI label
    (empty where none matches), the software's, the reference's and the hardware's class."""
    cls = beats.classes
    rows = ["record,r_peak_sample,symbol,label,software,reference,hardware"]
    for i in range(len(beats)):
        label = cls[beats.y[i]] if beats.y[i] >= 0 else ""
        rows.append(f"{beats.record[i]},{int(beats.sample[i])},{beats.symbol[i]},{label},"
                    f"{cls[sw[i]]},{cls[ref[i]]},{cls[hw[i]]}")  # fmt: skip
    return "\n".join(rows) + "\n"


def _metric_lines(r: dict) -> list[str]:
    m = r["metrics"]["hardware"]
    if not r["n_labelled"]:
        return ["No beat matches an annotation (a record without `.atr`): no Se / +P; the "
                "summary below is the hardware's own.", ""]  # fmt: skip
    acc = " | ".join(
        f"{r['metrics'][k]['accuracy']:.4f}" for k in ("software", "reference", "hardware")
    )
    lines = ["| | software | integer reference | hardware (RTL) |", "|---|---|---|---|",
             f"| accuracy ({r['n_labelled']} annotated beats) | {acc} |", "",
             "| class | beats | Se | +P | F1 | AUC |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for c, v in m["per_class"].items():
        auc = "none" if v.get("auc") is None else f"{v['auc']:.3f}"
        lines.append(f"| {c} | {v['support']} | {rate(v['se'])} | {rate(v['ppv'])} | "
                     f"{v['f1']:.3f} | {auc} |")  # fmt: skip
    auc = "none" if m.get("macro_auc") is None else f"{m['macro_auc']:.3f}"
    lines += ["", f"Hardware: macro-F1 {m['macro_f1']:.3f}, Cohen's κ {m['kappa']:.3f}, macro AUC "
              f"(one vs rest, the hardware's class scores) {auc}.", ""]  # fmt: skip
    return lines


def _summary_lines(r: dict) -> list[str]:
    lines = ["## Per record (hardware classes; annotations in parentheses)", "",
             "| record | R peaks | beats | N | S | V | F | Q | V burden % | S burden % | "
             "V couplets | V runs (≥3) | longest V run |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, p in r["per_record"].items():
        h, a = p["hardware"], p["annotations"]

        def cell(get, fmt="{}", h=h, a=a):
            return fmt.format(get(h)) + ("" if a is None else f" ({fmt.format(get(a))})")

        counts = " | ".join(cell(lambda s, c=c: s["per_class"][c]) for c in h["per_class"])
        lines.append(
            f"| {name} | {p['r_peaks']} | {h['beats']} | {counts} | "
            f"{cell(lambda s: s['burden_pct']['V'], '{:.1f}')} | "
            f"{cell(lambda s: s['burden_pct']['S'], '{:.1f}')} | "
            f"{cell(lambda s: s['V']['couplets'])} | {cell(lambda s: s['V']['runs'])} | "
            f"{cell(lambda s: s['V']['longest'])} |"
        )
    return [*lines, "", "Every beat: `beats.csv` next to this page.", ""]


def _rate_text(t: dict) -> str:
    """``; at F MHz (achieved Fmax): N beats/s, latency L µs`` or nothing without an Fmax."""
    if not t["fmax_mhz"]:
        return ""
    return (f"; at {t['fmax_mhz']:.1f} MHz (achieved Fmax): {t['inferences_per_s']:,.0f} "
            f"beats/s, latency {t['latency_us']:.1f} µs")  # fmt: skip


def format_markdown(r: dict) -> str:
    """The beat job's report as a markdown page."""
    agr, mis = r["agreement"], r["mismatches"]
    held = "all" if r["all_held_out_from_training"] else "not all"
    peaks = ", ".join(f"{k}: {v['r_peaks']}" for k, v in r["per_record"].items())
    lines = [
        f"# ecgaccel run --task beats: {r['model']} ({r['protocol']} protocol)",
        "",
        f"{r['n_beats']} beats ({r['selection']}) of records {', '.join(r['records'])}, lead "
        f"{r['lead']}; R peaks from {peaks}. Records held out from training and model "
        f"selection: {held}.",
        "",
        *_metric_lines(r),
        f"- agreement reference vs software: {agr['reference_vs_software']:.4f} "
        f"({mis['reference_vs_software']} beats differ)",
        f"- agreement hardware vs reference (class and every score): "
        f"{agr['hardware_vs_reference']:.4f} ({mis['hardware_vs_reference']} beats differ)",
        f"- dataflow pipeline (default folding): II {r['cycles_per_inference']:,} cycles "
        f"(estimated {r['cycles_estimated']:,}), latency {r['latency_cycles']:,} cycles for a "
        f"beat alone{_rate_text(r['throughput'])}",
        *resource_lines(r["resources"], r["resources_estimated"], r["cycles_estimated"]),
        f"- RTL simulation: {r['simulation']['beats_per_s']:.3g} beats/s (the Verilator build "
        f"before it: {r['simulation']['build_seconds']:.0f} s)",
        "",
        *_summary_lines(r),
    ]
    return "\n".join(lines)
