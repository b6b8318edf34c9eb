"""Records → beat-model inputs (annotated or detected R peaks, median beat, RR features, the
hardware's integers) and the Holter-style per-record summary."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecgaccel.models.beat_inputs import load_beat_records
from ecgaccel.models.beat_summary import record_summary, runs_of
from ecgaccel.models.beats import load_beats, with_record_template
from ecgaccel.models.errors import EcgDataError
from ecgaccel.models.mitdb import bundled_data_dir


def test_runs_of_consecutive_beats():
    f = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 1], bool)
    assert runs_of(f).tolist() == [2, 1, 4]
    assert runs_of(np.zeros(3, bool)).tolist() == []


def test_record_summary_counts_burden_couplets_and_runs():
    names = ("N", "S", "V", "F", "Q")
    # N V V N V V V N S N  -> one V couplet, one V run of 3, one S beat
    c = np.array([0, 2, 2, 0, 2, 2, 2, 0, 1, 0])
    s = record_summary(c, names)
    assert s["beats"] == 10
    assert s["per_class"] == {"N": 4, "S": 1, "V": 5, "F": 0, "Q": 0}
    assert s["burden_pct"]["V"] == pytest.approx(50.0)
    assert s["burden_pct"]["S"] == pytest.approx(10.0)
    assert s["V"] == {"couplets": 1, "runs": 1, "longest": 3}
    assert s["S"] == {"couplets": 0, "runs": 0, "longest": 1}


def test_annotated_beats_equal_the_training_task():
    """What the job streams is what the model was trained on: the beats-rr task's beats of the
    same record (same windows, templates and RR features)."""
    b = load_beat_records(bundled_data_dir(), ["213"], peaks="annotations")
    ref = with_record_template(load_beats(bundled_data_dir(), ["213"], pre_s=0.25, post_s=0.45))
    assert b.peaks == {"213": "annotations"}
    np.testing.assert_array_equal(b.beats.x, ref.x)
    np.testing.assert_array_equal(b.beats.meta["rr"], ref.meta["rr"])
    x, m = b.integer_inputs()
    assert x.dtype == np.int8 and x.shape == (len(ref), 1, 2, 252)
    assert m.shape == (len(ref), 5) and m.min() >= -128 and m.max() <= 127


def test_a_record_without_atr_uses_the_detector(tmp_path):
    for ext in ("dat", "hea"):
        shutil.copy(bundled_data_dir() / f"232.{ext}", tmp_path)
    b = load_beat_records(tmp_path, ["232"])
    assert b.peaks == {"232": "detected"}
    assert len(b.beats) > 1500 and (b.beats.y == -1).all()
    with pytest.raises(EcgDataError, match=r"232\.atr"):
        load_beat_records(tmp_path, ["232"], peaks="annotations")


def test_detected_peaks_of_an_annotated_record_take_its_labels():
    b = load_beat_records(bundled_data_dir(), ["232"], peaks="detect")
    assert b.peaks == {"232": "detected"}
    assert (b.beats.y >= 0).mean() > 0.99  # XQRS finds nearly every annotated beat of 232


def test_unknown_peak_source_is_refused():
    with pytest.raises(ValueError, match="peaks must be one of"):
        load_beat_records(bundled_data_dir(), ["232"], peaks="guess")
