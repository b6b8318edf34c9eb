"""The records bundled in data/: present, unmodified, and holding N, S, V and F beats."""

from __future__ import annotations

import hashlib

from ecgaccel.models.beats import load_beats
from ecgaccel.models.mitdb import BUNDLED_RECORDS, DS2, available_records, bundled_data_dir
from ecgaccel.models.windows import load_windows


def test_bundled_records_are_ds2_and_cover_n_s_v_f():
    d = bundled_data_dir()
    assert available_records(d) == BUNDLED_RECORDS
    assert set(BUNDLED_RECORDS) <= set(DS2)
    counts = load_beats(d, pre_s=0.0, post_s=1 / 360).class_counts()
    assert counts == {"N": 7012, "S": 1447, "V": 1877, "F": 375, "Q": 0}
    assert load_windows(d).class_counts() == {"N": 72, "S": 191, "V": 385, "F": 72, "Q": 0}


def test_bundled_files_equal_the_physionet_copy(mitdb_dir):
    d = bundled_data_dir()
    for r in BUNDLED_RECORDS:
        for ext in ("hea", "dat", "atr"):
            ours = hashlib.sha256((d / f"{r}.{ext}").read_bytes()).hexdigest()
            theirs = hashlib.sha256((mitdb_dir / f"{r}.{ext}").read_bytes()).hexdigest()
            assert ours == theirs, f"data/{r}.{ext} differs from {mitdb_dir}"
