"""The BNN paper's 7,740 ten-second windows: labelling rule, counts, every label vs the paper."""

from __future__ import annotations

import numpy as np

from ecgaccel.models.windows import load_windows, window_symbol


def test_window_symbol_rule():
    assert window_symbol(["N", "N", "+", "N"]) == "N"
    assert window_symbol(["N", "V", "V", "A", "N"]) == "V"  # most frequent non-N
    assert window_symbol(["A", "V"]) == "V"  # tie: latest first occurrence
    assert window_symbol(["V", "A", "A", "V"]) == "A"
    assert window_symbol(["!", "!", "[", "+"]) == "Q"  # no beat at all (flutter waves)
    assert window_symbol([]) == "Q"
    assert window_symbol(["N", "~", "|"]) == "N"  # non-beat symbols never label


def test_paper_5class_windows_reproduced(mitdb_dir, seed_labels):
    w = load_windows(mitdb_dir)
    assert len(w) == 7740 and w.x.shape == (7740, 1, 3600) and w.x.dtype == np.float32
    assert w.class_counts() == {"N": 5186, "S": 545, "V": 1890, "F": 100, "Q": 19}
    # every window's label symbol equals the paper's, in the paper's order (43 records x 180)
    assert len(seed_labels) == 7740
    mismatches = np.flatnonzero(w.symbol != np.array(seed_labels))
    assert mismatches.size == 0, f"windows {mismatches[:10]} differ from label_MIT_C2.txt"
    assert "114" not in set(w.record) and len(set(w.record)) == 43
    np.testing.assert_array_equal(w.sample[:3], [0, 3600, 7200])


def test_windows_are_the_record_samples(mitdb_dir):
    from ecgaccel.models.records import read_record

    w = load_windows(mitdb_dir, ["105"])
    rec = read_record(mitdb_dir / "105")
    np.testing.assert_array_equal(w.x[7, 0], rec.signal[0, 7 * 3600 : 8 * 3600])
