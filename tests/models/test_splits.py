"""Splits are pure functions of (examples, seed) and keep what must stay together together."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.models import splits
from ecgaccel.models.mitdb import DS1, DS2, bundled_data_dir
from ecgaccel.models.windows import load_windows


@pytest.fixture(scope="module")
def windows():
    return load_windows(bundled_data_dir())


def test_hash_order_is_a_fixed_function_of_keys_and_seed():
    # pinned: sha256("0:a"), ... sorted; identical on every machine and numpy version
    assert splits.hash_order(["a", "b", "c", "d"], 0).tolist() == [3, 0, 2, 1]
    assert splits.hash_order(["a", "b", "c", "d"], 1).tolist() != [3, 0, 2, 1]


def test_random_split_deterministic_and_80_20(windows):
    tr, te = splits.random_split(windows, 0.2, seed=3)
    tr2, te2 = splits.random_split(windows, 0.2, seed=3)
    np.testing.assert_array_equal(te, te2)
    np.testing.assert_array_equal(tr, tr2)
    assert len(te) == round(0.2 * len(windows)) and len(tr) + len(te) == len(windows)
    assert not set(tr) & set(te)
    assert not np.array_equal(te, splits.random_split(windows, 0.2, seed=4)[1])


def test_random_split_depends_on_examples_not_their_order(windows):
    perm = np.random.default_rng(0).permutation(len(windows))
    shuffled = windows.subset(perm)
    _, te = splits.random_split(windows, 0.2, seed=5)
    _, te_s = splits.random_split(shuffled, 0.2, seed=5)
    keys = splits.example_keys(windows)
    assert set(keys[te]) == set(splits.example_keys(shuffled)[te_s])


def test_patient_split_keeps_patients_whole(windows):
    tr, te = splits.patient_split(windows, 0.25, seed=0)
    assert not set(windows.patient[tr]) & set(windows.patient[te])
    assert len(te) >= 0.25 * len(windows)
    np.testing.assert_array_equal(te, splits.patient_split(windows, 0.25, seed=0)[1])


def test_records_201_and_202_are_one_patient(mitdb_dir):
    w = load_windows(mitdb_dir, ["201", "202", "203", "205"])
    for seed in range(6):
        _, te = splits.patient_split(w, 0.3, seed)
        side = {r: ("test" if r in set(w.record[te]) else "train") for r in ("201", "202")}
        assert side["201"] == side["202"]


def test_interpatient_split(mitdb_dir):
    w = load_windows(mitdb_dir)
    ds1, ds2 = splits.interpatient_split(w)
    assert set(w.record[ds1]) == set(DS1) - {"114"}  # 114 is not among the paper's windows
    assert set(w.record[ds2]) == set(DS2)


def test_bad_fraction(windows):
    with pytest.raises(ValueError, match="test_fraction"):
        splits.random_split(windows, 1.5)


@pytest.mark.slow
def test_beat_validation_patients_leave_the_rare_classes_in_training(mitdb_dir):
    from ecgaccel.models.tasks import load_task, protocol_split

    data = load_task("beats-rr", mitdb_dir)
    split = protocol_split("beats-rr", "interpatient", data)
    train, val = set(data.record[split.train]), set(data.record[split.val])
    assert not train & val and train | val == set(DS1)  # whole DS1 patients on each side
    assert {"208", "209"} <= train  # 90% of DS1's F beats, 40% of its S beats
    counts = np.bincount(data.y[split.val], minlength=5)
    assert (counts[:4] > 0).all() and len(split.val) / (len(split.train) + len(split.val)) > 0.15
    # without the cap, the class-covering split puts 208 (and with it the F beats) in validation
    ds1 = data.subset(np.concatenate([split.train, split.val]))
    _, va = splits.patient_split(ds1, 0.2, 1, cover_classes=True)
    assert "208" in set(ds1.record[va])
