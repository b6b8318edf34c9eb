"""Classification metrics, computed by scikit-learn: accuracy, per-class sensitivity (Se) and
positive predictivity (+P), macro-F1, Cohen's kappa, one-vs-rest ROC AUC, confusion matrix.

Definitions follow AAMI EC57 / de Chazal 2004 (Se = TP / (TP + FN), +P = TP / (TP + FP)) and
Cohen 1960 (kappa = (p_o - p_e) / (1 - p_e)). A class with no support or no predictions has
Se or +P ``None`` (undefined, reported with its support so it can be read correctly).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

# re-exported for the training side: the multi-label head's semantics live in hw.semantics
from ecgaccel.hw.semantics import logit  # noqa: F401


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 ``[n_classes, n_classes]``: rows true class, columns predicted class
    (``sklearn.metrics.confusion_matrix`` over the labels ``0 .. n_classes - 1``)."""
    from sklearn.metrics import confusion_matrix

    if not len(y_true):  # sklearn refuses empty arrays
        return np.zeros((n_classes, n_classes), np.int64)
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).astype(np.int64)


def _auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of ``score`` for the bool labels ``positive`` (``None`` with one class only)."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, score))


def macro_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Macro one-vs-rest ROC AUC of class scores ``scores`` float ``[N, K]`` for labels ``y``
    int ``[N]``: the mean of ``roc_auc_score(y == c, scores[:, c])`` over the classes ``c``
    with both positives and negatives in ``y`` (ties count one half); ``None`` when none has."""
    y, scores = np.asarray(y), np.asarray(scores)
    aucs = [_auc(y == c, scores[:, c]) for c in range(scores.shape[1])]
    defined = [a for a in aucs if a is not None]
    return float(np.mean(defined)) if defined else None


def classification_report(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: tuple[str, ...] | list[str],
    scores: np.ndarray | None = None,
) -> dict:
    """Metrics of predictions ``y_pred`` against labels ``y_true`` (int ``[N]`` each), and with
    the class ``scores`` float ``[N, K]`` behind them also the one-vs-rest ROC AUC.

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``macro_f1`` (mean over classes with support), ``kappa``,
        ``per_class`` {class: {``se``, ``ppv``, ``f1``, ``support``, with ``scores`` ``auc``}}
        (``se`` is ``None`` for a class with no example, ``ppv`` for one never predicted,
        ``auc`` for a class without examples or with nothing else: undefined, not 0),
        ``confusion`` (list of rows: true class, predicted class in columns), with ``scores``
        ``macro_auc`` (:func:`macro_auc`; ``None`` if no class's AUC is defined).
    """
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    k = len(classes)
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    cm = confusion(y_true, y_pred, k)
    n = int(cm.sum())
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    if n:
        ppv, se, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=np.arange(k), zero_division=0
        )
        kappa = float(cohen_kappa_score(y_true, y_pred, labels=np.arange(k)))
    else:  # no example: every rate undefined (sklearn refuses empty arrays)
        ppv = se = f1 = np.zeros(k)
        kappa = 0.0
    has = support > 0
    out = {
        "n": n,
        "accuracy": float(np.trace(cm) / n) if n else 0.0,
        "macro_f1": float(f1[has].mean()) if has.any() else 0.0,
        "kappa": 0.0 if np.isnan(kappa) else kappa,
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
    if scores is not None:
        aucs = [_auc(y_true == i, np.asarray(scores)[:, i]) for i in range(k)]
        for c, auc in zip(classes, aucs, strict=True):
            out["per_class"][c]["auc"] = auc
        out["macro_auc"] = macro_auc(y_true, scores)
    return out


def multilabel_report(y_true: np.ndarray, scores: np.ndarray,
                      classes: tuple[str, ...] | list[str], thresholds: np.ndarray | float = 0.0
                      ) -> dict:  # fmt: skip
    """Metrics of multi-label scores (logits) ``scores`` float ``[N, K]`` against multi-hot
    ``y_true`` int ``[N, K]``; a label is predicted where ``scores >= thresholds`` (``[K]`` or
    one value; 0 on logits is ``sigmoid >= 0.5``).

    Returns
    -------
    dict
        ``n``, ``macro_auc`` (mean over labels with both classes present of the ROC AUC,
        ``sklearn.metrics.roc_auc_score``, ties counted half: the PTB-XL benchmark's main
        metric), ``macro_f1`` (mean per-label F1 at the thresholds), ``exact`` (share of
        examples whose whole label set is right), ``per_class`` {label: {``auc``, ``f1``,
        ``se``, ``ppv``, ``support``}} (``None`` where undefined).
    """
    from sklearn.metrics import precision_recall_fscore_support

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, np.float64)
    pred = s >= np.asarray(thresholds, np.float64)
    per, aucs, f1s = {}, [], []
    for k, name in enumerate(classes):
        auc = _auc(y[:, k], s[:, k])
        if auc is not None:
            aucs.append(auc)
        ppv, se, f1, _ = precision_recall_fscore_support(
            y[:, k], pred[:, k], average="binary", zero_division=0
        )
        npos = int(y[:, k].sum())
        f1 = float(f1) if npos else None
        if f1 is not None:
            f1s.append(f1)
        per[name] = {"auc": auc, "f1": f1, "se": float(se) if npos else None,
                     "ppv": float(ppv) if pred[:, k].any() else None, "support": npos}  # fmt: skip
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


def class_probabilities(scores: np.ndarray, frac_bits: int) -> np.ndarray:
    """Softmax float64 ``[N, K]`` of a head's fixed-point class scores ``scores`` int
    ``[N, K]`` (real value ``scores * 2^-frac_bits``: the float model's logits up to the
    head's rounding): what the one-vs-rest AUC of a hardware run ranks."""
    from scipy.special import softmax

    return softmax(np.asarray(scores, np.float64) * 2.0**-frac_bits, axis=1)


def rate(value: float | None) -> str:
    """A sensitivity or positive predictivity for a table: ``0.842``, or ``none`` where it is
    undefined (a class without examples, or never predicted)."""
    return "none" if value is None else f"{value:.3f}"
