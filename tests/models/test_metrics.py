"""Classification metrics (models.metrics): undefined rates are None, not 0."""

from __future__ import annotations

import numpy as np

from ecgaccel.models.metrics import classification_report, rate


def test_a_class_without_examples_or_predictions_has_no_rate():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    r = classification_report(y, pred, ("N", "S", "V"))
    n, s, v = (r["per_class"][c] for c in "NSV")
    assert n["se"] == 0.5 and n["ppv"] == 1.0 and s["se"] == 1.0 and s["ppv"] == 2 / 3
    assert v == {"se": None, "ppv": None, "f1": 0.0, "support": 0}
    assert r["macro_f1"] == (n["f1"] + s["f1"]) / 2  # over classes with examples
    assert rate(None) == "none" and rate(0.0) == "0.000" and rate(0.8421) == "0.842"
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    empty = classification_report(np.zeros(0, int), np.zeros(0, int), ("N", "S"))
    assert empty["n"] == 0 and empty["accuracy"] == 0.0 and empty["per_class"]["N"]["se"] is None


def test_kappa_and_one_vs_rest_auc_against_hand_counts():
    # 10 beats, 3 classes; agreement p_o = 7/10, chance p_e = (5*5 + 3*3 + 2*2) / 100 = 0.38
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 0, 1, 1, 1, 0, 2, 0])
    r = classification_report(y, pred, ("N", "S", "V"))
    assert r["accuracy"] == 0.7
    p_e = (5 * 6 + 3 * 3 + 2 * 1) / 100  # true x predicted counts per class
    assert abs(r["kappa"] - (0.7 - p_e) / (1 - p_e)) < 1e-12
    assert "macro_auc" not in r  # no scores, no AUC
    scores = np.zeros((10, 3))
    scores[:, 1] = [0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.7, 0.2, 0.0, 0.5]  # S: 3 positives, 7 not
    scores[:, 0] = -scores[:, 1]
    r = classification_report(y, pred, ("N", "S", "V"), scores)
    # Mann-Whitney by hand: positive above negative counts 1, a tie half
    pos, neg = scores[5:8, 1], np.r_[scores[:5, 1], scores[8:, 1]]
    pairs = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
    assert abs(r["per_class"]["S"]["auc"] - pairs) < 1e-12
    assert r["per_class"]["V"]["auc"] is not None  # constant score: 0.5
    assert abs(r["macro_auc"] - np.mean([r["per_class"][c]["auc"] for c in "NSV"])) < 1e-12
