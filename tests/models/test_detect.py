"""R-peak detection (XQRS) and its EC57 score: a real record, one stripped of its .atr, the
scoring arithmetic, and bad input."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from ecgaccel.models.beats import UNLABELED, beats_from_record
from ecgaccel.models.detect import (
    annotated_r_peaks,
    detect_r_peaks,
    gross_score,
    score_detection,
)
from ecgaccel.models.errors import EcgDataError
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.records import read_record, record_path


@pytest.fixture(scope="module")
def rec232():
    return read_record(record_path(bundled_data_dir(), "232"), leads=("MLII",))


def test_xqrs_finds_the_annotated_beats_of_a_real_record(rec232):
    peaks = detect_r_peaks(rec232)
    s = score_detection(annotated_r_peaks(rec232), peaks, rec232.fs)
    assert s["tp"] + s["fn"] == len(annotated_r_peaks(rec232)) == 1780
    assert s["se"] > 0.99 and s["ppv"] > 0.99  # 232: long pauses, yet XQRS finds them


def test_scoring_counts_matches_within_150_ms():
    ref = np.array([1000, 2000, 3000, 4000])
    # 2000 found 50 ms late, 3000 found 200 ms late (a miss and a false detection), 4000 missed
    test = np.array([1000, 2018, 3072, 5000])
    s = score_detection(ref, test, 360.0)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 2, 2) and s["se"] == 0.5 and s["ppv"] == 0.5
    g = gross_score([s, {"tp": 8, "fp": 0, "fn": 0}])
    assert (g["tp"], g["fp"], g["fn"]) == (10, 2, 2) and g["se"] == 10 / 12


def test_a_record_without_its_atr_gets_beats_from_detected_peaks(tmp_path):
    for ext in ("hea", "dat"):
        shutil.copy(record_path(bundled_data_dir(), "232").with_suffix(f".{ext}"), tmp_path)
    rec = read_record(tmp_path / "232", leads=("MLII",), annotation=None)
    assert rec.annotations is None
    with pytest.raises(ValueError, match=r"annotations .* or detected R peaks"):
        beats_from_record(rec, 90, 162)
    beats, skipped = beats_from_record(rec, 90, 162, detect_r_peaks(rec))
    assert len(beats) + skipped > 1700 and (beats.y == UNLABELED).all()
    assert beats.meta["rr"].shape == (len(beats), 5) and beats.meta["rr"].any()


def test_detected_beats_take_the_matched_annotation(rec232):
    peaks = detect_r_peaks(rec232)
    det, _ = beats_from_record(rec232, 90, 162, peaks)
    ann, _ = beats_from_record(rec232, 90, 162)
    assert (det.y == UNLABELED).sum() <= 5  # the false detections
    # the class counts of the matched beats equal the annotations' up to the misses
    counts = np.bincount(det.y[det.y >= 0], minlength=5)
    assert np.abs(counts - np.bincount(ann.y, minlength=5)).sum() <= 5


@pytest.mark.parametrize(
    ("change", "match"),
    [({"fs": 40.0}, "below the QRS detector's 50 Hz"),
     ({"signal": np.zeros((1, 3000), np.float32)}, "at least 10 s"),
     ({"signal": np.zeros((1, 36000), np.float32)}, "found 0 beat")],
)  # fmt: skip
def test_bad_records_are_one_line_errors_naming_the_file(rec232, change, match):
    bad = dataclasses.replace(rec232, **change)
    with pytest.raises(EcgDataError, match=match) as err:
        detect_r_peaks(bad)
    assert "232" in str(err.value)
