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
