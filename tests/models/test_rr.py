"""RR-interval features: the ratios on a known rhythm, edge beats, bad input, and a real record's
premature beats."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.models.beats import beats_from_record
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.records import read_record, record_path
from ecgaccel.models.rr import LOCAL_BEATS, RR_FEATURES, RR_GAIN, RR_MAX, rr_features


def test_steady_rhythm_gives_zeros():
    f = rr_features(np.arange(0, 360 * 60, 360), 360.0)  # 60 beats/min, exactly
    assert f.shape == (60, len(RR_FEATURES)) and f.dtype == np.float32
    np.testing.assert_allclose(f, 0.0, atol=1e-6)


def test_one_premature_beat():
    # 1-s rhythm, beat 30 comes 400 ms early and is followed by a compensatory pause
    r = np.arange(0, 360 * 60, 360).astype(np.int64)
    r[30] -= 144
    f = rr_features(r, 360.0) / RR_GAIN
    avg = 1.0  # the record's mean RR: (r[-1] - r[0]) / 59 intervals = 1 s
    assert f[30, 0] == pytest.approx(0.6 / avg - 1, abs=1e-6)  # pre: 0.6 s
    assert f[30, 1] == pytest.approx(1.4 / avg - 1, abs=1e-6)  # post: 1.4 s
    local = np.mean([1.0] * (2 * LOCAL_BEATS - 1) + [0.6, 1.4])  # the 21 pre-RRs around it
    assert f[30, 2] == pytest.approx(local - 1, abs=1e-6)
    assert f[30, 3] == pytest.approx(0.6 / local - 1, abs=1e-6)
    assert f[30, 4] == pytest.approx(RR_MAX / RR_GAIN)  # 1.4 / 0.6 - 1 = 1.33: saturated
    assert f[31, 0] == pytest.approx(0.4, abs=1e-6)  # the next beat's pre is the pause


def test_edge_beats_borrow_the_neighbouring_interval():
    f = rr_features(np.array([0, 300, 700]), 100.0) / RR_GAIN
    # intervals 3 s and 4 s, mean 3.5 s: the first beat's pre is its post (3 s)
    assert f[0, 0] == pytest.approx(3 / 3.5 - 1) and f[0, 1] == pytest.approx(3 / 3.5 - 1)
    assert f[2, 1] == pytest.approx(4 / 3.5 - 1) and f[2, 0] == pytest.approx(4 / 3.5 - 1)


@pytest.mark.parametrize(("peaks", "match"), [([5], "at least two"), ([5, 5, 9], "increasing")])
def test_bad_peaks(peaks, match):
    with pytest.raises(ValueError, match=match):
        rr_features(np.array(peaks), 360.0)


def test_real_record_s_beats_come_early():
    # record 232 (bundled, DS2): ~1,380 S beats in sinus bradycardia with long pauses
    rec = read_record(record_path(bundled_data_dir(), "232"), leads=("MLII",))
    beats, _ = beats_from_record(rec, 90, 162)
    rr = beats.meta["rr"]
    assert rr.shape == (len(beats), len(RR_FEATURES))
    s, n = beats.y == 1, beats.y == 0
    assert s.sum() > 1000 and n.sum() > 300
    # an S beat's interval before it is shorter than its local rhythm's, an N beat's is not
    assert np.median(rr[s, 3]) < -0.1 * RR_GAIN < np.median(rr[n, 3])
