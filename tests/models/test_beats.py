"""Beat extraction: AAMI counts of DS1 and DS2, window geometry, provenance of every beat."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.models.beats import beat_window, load_beats
from ecgaccel.models.mitdb import DS1, DS2, bundled_data_dir
from ecgaccel.models.records import read_record

# Annotated beats per AAMI class, computed once from ../shared/data/mitdb with this loader
# (a 1-sample window keeps every beat); they equal de Chazal 2004's published totals
# (DS1 51,021 beats, DS2 49,712 beats).
DS1_ALL = {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}
DS2_ALL = {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}
# With the default 700-ms window (90 + 162 samples), beats whose window crosses a record's
# start or end are skipped: 19 in DS1, 20 in DS2.
DS1_WINDOWED = {"N": 45848, "S": 944, "V": 3788, "F": 414, "Q": 8}
DS2_WINDOWED = {"N": 44240, "S": 1837, "V": 3220, "F": 388, "Q": 7}


def test_beat_window_geometry():
    assert beat_window(360.0) == (90, 162)  # 250 ms + 450 ms = 700 ms
    assert beat_window(250.0) == (62, 112)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("split", "all_beats", "windowed"), [(DS1, DS1_ALL, DS1_WINDOWED), (DS2, DS2_ALL, DS2_WINDOWED)]
)
def test_interpatient_beat_counts(mitdb_dir, split, all_beats, windowed):
    assert load_beats(mitdb_dir, split, pre_s=0.0, post_s=1 / 360).class_counts() == all_beats
    beats = load_beats(mitdb_dir, split)
    assert beats.class_counts() == windowed
    assert beats.x.shape == (sum(windowed.values()), 1, 252)


def test_every_beat_keeps_record_and_r_peak():
    d = bundled_data_dir()
    beats = load_beats(d, ["213"])
    rec = read_record(d / "213")
    assert set(beats.record) == {"213"}
    k = 1000
    r = beats.sample[k]
    np.testing.assert_array_equal(beats.x[k, 0], rec.signal[0, r - 90 : r + 162])
    # the beat's symbol is the annotation at that R peak
    at = np.flatnonzero(rec.annotations.sample == r)
    assert beats.symbol[k] in set(rec.annotations.symbol[at])
    assert not np.isin(beats.symbol, ["+", "~", "|", "x", "!"]).any()


def test_the_record_template_is_the_median_beat_of_each_record():
    from ecgaccel.models.beats import with_record_template

    d = load_beats(bundled_data_dir(), ["232", "233"])
    t = with_record_template(d)
    assert t.x.shape == (len(d), 2, 252) and t.leads == ("MLII", "MLII median")
    np.testing.assert_array_equal(t.x[:, 0], d.x[:, 0])
    for r in ("232", "233"):
        m = d.record == r
        np.testing.assert_allclose(t.x[m, 1], np.median(d.x[m, 0], axis=0)[None].repeat(m.sum(), 0))
    assert not np.allclose(t.x[d.record == "232", 1][0], t.x[d.record == "233", 1][0])
