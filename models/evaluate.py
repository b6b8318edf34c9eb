"""Evaluating a trained network on a protocol's test part."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import reference
from .checkpoint import build_model, load_checkpoint
from .ecgset import EcgSet
from .metrics import classification_report, logit, multilabel_report
from .nets import EcgBnn, quantize_input, storage_bits_paper, zscore
from .registry import get_spec
from .shipped import shipped_checkpoint
from .tasks import load_task, protocol_split
from .train import metadata_inputs, predict_scores


def evaluate_model(model: EcgBnn, data: EcgSet, index: np.ndarray,
                   tau: list[float] | None = None) -> dict:  # fmt: skip
    """Metrics of ``model`` on ``data[index]`` (z-scored on the host), see
    :func:`~.metrics.classification_report` (a multi-label task: :func:`~.metrics.
    multilabel_report` at ``sigmoid >= tau``, 0.5 by default); adds ``storage_bytes`` (paper
    formula)."""
    meta = metadata_inputs(model.config, data)
    meta = None if meta is None else meta[index]
    scores = predict_scores(model, zscore(data.x[index]), meta=meta)
    if data.y.ndim == 2:
        cut = 0.0 if tau is None else logit(np.asarray(tau, np.float64))
        report = multilabel_report(data.y[index], scores, data.classes, cut)
    else:
        report = classification_report(data.y[index], scores.argmax(axis=1), data.classes, scores)
    report["storage_bytes"] = storage_bits_paper(model.config) // 8
    return report


def evaluate(
    model_name: str,
    protocol: str,
    data_dir: Path | str | None = None,
    checkpoint: Path | str | None = None,
) -> dict:
    """Evaluate a checkpoint (default: the shipped one) on ``protocol``'s test part.

    Returns
    -------
    dict
        :func:`evaluate_model`'s metrics plus ``model``, ``protocol``, ``seed``, ``checkpoint``,
        ``test_records`` (sorted record names of the test part).

    Raises
    ------
    CheckpointError, EcgDataError
        Bad checkpoint or data.
    """
    spec = get_spec(model_name)
    path = Path(checkpoint) if checkpoint else shipped_checkpoint(model_name, protocol)
    ckpt = load_checkpoint(path)
    model = build_model(ckpt, path, expect_model=model_name)
    data = load_task(spec.task, data_dir)
    split = protocol_split(spec.task, protocol, data, int(ckpt.get("seed", 0)))
    report = evaluate_model(model, data, split.test, ckpt.get("tau"))
    report.update(
        model=model_name,
        protocol=protocol,
        seed=int(ckpt.get("seed", 0)),
        checkpoint=str(path),
        test_records=sorted({str(r) for r in data.record[split.test]}),
    )
    return report


def evaluate_detected(model_name: str, protocol: str, data_dir: Path | str | None = None,
                      checkpoint: Path | str | None = None) -> dict:  # fmt: skip
    """A ``beats-rr`` model on its test records (the DS2 records in ``data_dir``, default the
    bundled ones) with R peaks from the XQRS detector
    instead of the annotations: beats, median beats and RR features all from the detected
    peaks (:func:`~.beat_inputs.load_beat_records` ``peaks="detect"``), each detected beat
    labelled by the annotated beat within 150 ms (EC57).

    Returns
    -------
    dict
        :func:`~.metrics.classification_report` (with AUCs) of the matched beats, and
        ``detection``: ``detected`` beats, ``matched`` (labelled) ones, ``unmatched`` (false
        detections, not scored), ``annotated`` beats of the same records and ``missed`` (the
        annotated ones no detection matched: beats the classifier never sees); ``model``,
        ``protocol``, ``checkpoint``, ``test_records``.

    Raises
    ------
    ValueError
        The model does not read ``beats-rr``.
    CheckpointError, EcgDataError
        Bad checkpoint or data.
    """
    from .beat_inputs import load_beat_records
    from .errors import RecordNotFoundError
    from .mitdb import DS2, available_records, bundled_data_dir

    spec = get_spec(model_name)
    if spec.task != "beats-rr":
        raise ValueError(f"detected R peaks apply to beats-rr models; {model_name} reads "
                         f"{spec.task}")  # fmt: skip
    path = Path(checkpoint) if checkpoint else shipped_checkpoint(model_name, protocol)
    model = build_model(load_checkpoint(path), path, expect_model=model_name)
    folder = Path(data_dir) if data_dir else bundled_data_dir()
    records = [r for r in DS2 if r in set(available_records(folder))]
    if not records:
        raise RecordNotFoundError(folder, "no DS2 record here (the test records of beats-rr)")
    detected = load_beat_records(folder, records, peaks="detect")
    annotated = load_beat_records(folder, records, peaks="annotations")
    x, rr = detected.network_inputs()
    scores = predict_scores(model, x, meta=rr)
    y = detected.beats.y
    m = y >= 0
    report = classification_report(y[m], scores[m].argmax(axis=1), detected.beats.classes,
                                   scores[m])  # fmt: skip
    report["detection"] = {"detected": len(y), "matched": int(m.sum()),
                           "unmatched": int((~m).sum()), "annotated": len(annotated.beats),
                           "missed": len(annotated.beats) - int(m.sum())}  # fmt: skip
    report["storage_bytes"] = storage_bits_paper(model.config) // 8
    report.update(model=model_name, protocol=protocol, checkpoint=str(path),
                  test_records=records, peaks="detected (XQRS)")  # fmt: skip
    return report


def compare_integer(model: EcgBnn, desc, data: EcgSet, index: np.ndarray) -> dict:
    """Agreement of the integer reference with the float Brevitas model on ``data[index]``
    (single-label tasks). ``desc``: a chain :class:`~ecgaccel.hw.description.
    NetworkDescription` or an :class:`~ecgaccel.hw.graph.IntGraph`, its metadata input fed the
    data's RR features or age / sex (:func:`~.train.metadata_inputs`).

    Returns
    -------
    dict
        ``n``; ``agreement`` (share of equal predicted classes); ``mismatches`` (count) and
        ``mismatch_index`` (indices into ``data``); ``accuracy_float``, ``accuracy_integer``;
        ``max_score_error`` (largest |float score - integer score x 2^-frac_bits|, the head's
        fixed-point rounding; ``None`` for a graph, whose head does not state its scale);
        ``min_float_margin_at_mismatch`` (the float model's top-2 score
        gap at mismatches: tiny gaps mean rounding ties, not a semantic difference).
    """
    from ecgaccel.hw.graph import IntGraph

    from .preprocess import quantize_metadata

    z = zscore(data.x[index])
    meta = metadata_inputs(model.config, data)
    meta = None if meta is None else meta[index]
    f = predict_scores(model, z, meta=meta)
    q = quantize_input(z)
    if isinstance(desc, IntGraph):
        inputs = {desc.inputs[0].name: q.reshape(len(q), *desc.inputs[0].type.shape)}
        if meta is not None:
            inputs[desc.inputs[1].name] = quantize_metadata(meta)[:, :, None, None]
        r = reference.run(desc, inputs)
        frac_bits = None  # a graph's head scores are the logits over a scale it does not state
    else:
        r = reference.run(desc, q)
        frac_bits = desc.head.frac_bits
    fp, ip = f.argmax(axis=1), r.pred
    bad = np.flatnonzero(fp != ip)
    top2 = np.sort(f, axis=1)[:, -2:]
    y = data.y[index]
    return {
        "n": len(index),
        "agreement": float((fp == ip).mean()) if len(index) else 1.0,
        "mismatches": int(bad.size),
        "mismatch_index": [int(i) for i in np.asarray(index)[bad]],
        "accuracy_float": float((fp == y).mean()) if len(index) else 0.0,
        "accuracy_integer": float((ip == y).mean()) if len(index) else 0.0,
        "max_score_error": None
        if frac_bits is None
        else float(np.abs(f - r.scores * 2.0**-frac_bits).max(initial=0)),
        "min_float_margin_at_mismatch": float((top2[bad, 1] - top2[bad, 0]).min(initial=np.inf))
        if bad.size
        else None,
    }
