"""Classification metrics: accuracy, per-class sensitivity (Se) and positive predictivity (+P),
macro-F1, Cohen's kappa, confusion matrix.

Definitions follow AAMI EC57 / de Chazal 2004 (Se = TP / (TP + FN), +P = TP / (TP + FP)) and
Cohen 1960 (kappa = (p_o - p_e) / (1 - p_e)). A class with no support or no predictions has
Se or +P 0 (reported with its support so it can be read correctly).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

# re-exported for the training side: the multi-label head's semantics live in hw.semantics
from ecgaccel.hw.semantics import logit  # noqa: F401


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 ``[n_classes, n_classes]``: rows true class, columns predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] | list[str]
) -> dict:
    """Metrics of predictions ``y_pred`` against labels ``y_true`` (int ``[N]`` each).

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``macro_f1`` (mean over classes with support), ``kappa``,
        ``per_class`` {class: {``se``, ``ppv``, ``f1``, ``support``}} (``se`` is ``None`` for a
        class with no example, ``ppv`` for one never predicted: undefined, not 0),
        ``confusion`` (list of rows: true class, predicted class in columns).
    """
    k = len(classes)
    cm = confusion(y_true, y_pred, k)
    n = int(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    se = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    ppv = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * se * ppv, se + ppv, out=np.zeros(k), where=(se + ppv) > 0)
    p_o = tp.sum() / n if n else 0.0
    p_e = float((support * predicted).sum()) / n**2 if n else 0.0
    kappa = (p_o - p_e) / (1 - p_e) if p_e < 1 else 0.0
    has = support > 0
    return {
        "n": n,
        "accuracy": float(p_o),
        "macro_f1": float(f1[has].mean()) if has.any() else 0.0,
        "kappa": float(kappa),
        "per_class": {
            c: {
                "se": float(se[i]) if support[i] else None,
                "ppv": float(ppv[i]) if predicted[i] else None,
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion": cm.tolist(),
    }


def multilabel_report(y_true: np.ndarray, scores: np.ndarray,
                      classes: tuple[str, ...] | list[str], thresholds: np.ndarray | float = 0.0
                      ) -> dict:  # fmt: skip
    """Metrics of multi-label scores (logits) ``scores`` float ``[N, K]`` against multi-hot
    ``y_true`` int ``[N, K]``; a label is predicted where ``scores >= thresholds`` (``[K]`` or
    one value; 0 on logits is ``sigmoid >= 0.5``).

    Returns
    -------
    dict
        ``n``, ``macro_auc`` (mean over labels with both classes present of the ROC AUC, the
        Mann-Whitney U statistic over ``n_pos * n_neg``, ties counted half: the PTB-XL
        benchmark's main metric), ``macro_f1`` (mean per-label F1 at the thresholds),
        ``exact`` (share of examples whose whole label set is right), ``per_class``
        {label: {``auc``, ``f1``, ``se``, ``ppv``, ``support``}} (``None`` where undefined).
    """
    from scipy.stats import mannwhitneyu

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, np.float64)
    pred = s >= np.asarray(thresholds, np.float64)
    per, aucs, f1s = {}, [], []
    for k, name in enumerate(classes):
        pos, neg = s[y[:, k], k], s[~y[:, k], k]
        auc = None
        if len(pos) and len(neg):
            auc = float(mannwhitneyu(pos, neg).statistic) / (len(pos) * len(neg))
            aucs.append(auc)
        tp = int((pred[:, k] & y[:, k]).sum())
        se = tp / len(pos) if len(pos) else None
        ppv = tp / int(pred[:, k].sum()) if pred[:, k].any() else None
        f1 = 2 * tp / (len(pos) + int(pred[:, k].sum())) if len(pos) else None
        if f1 is not None:
            f1s.append(f1)
        per[name] = {"auc": auc, "f1": f1, "se": se, "ppv": ppv, "support": len(pos)}
    return {
        "n": len(y),
        "macro_auc": float(np.mean(aucs)) if aucs else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "exact": float((pred == y).all(axis=1).mean()) if len(y) else 0.0,
        "per_class": per,
    }


def choose_tau(y: np.ndarray, scores: np.ndarray) -> list[float]:
    """Per label the decision level ``tau`` (``sigmoid(logit) >= tau``) that maximizes the F1 of
    the validation labels ``y`` int ``[N, K]`` over their logits ``scores`` ``[N, K]``: the
    best cut between two adjacent distinct logits, ``sigmoid`` of their midpoint (0.5 for a
    label without a positive). Validation only: the test part is never looked at."""
    taus = []
    for k in range(y.shape[1]):
        s, pos = np.asarray(scores[:, k], np.float64), np.asarray(y[:, k]).astype(bool)
        best, cut = -1.0, 0.0
        levels = np.unique(s)
        for a, b in pairwise(levels):
            pred = s >= (a + b) / 2
            f1 = 2 * (pred & pos).sum() / max(pred.sum() + pos.sum(), 1)
            if f1 > best:
                best, cut = f1, (a + b) / 2
        taus.append(float(1.0 / (1.0 + np.exp(-cut))) if pos.any() and len(levels) > 1 else 0.5)
    return taus


def rate(value: float | None) -> str:
    """A sensitivity or positive predictivity for a table: ``0.842``, or ``none`` where it is
    undefined (a class without examples, or never predicted)."""
    return "none" if value is None else f"{value:.3f}"
