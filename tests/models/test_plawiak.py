"""Plawiak's 17-class fragments: counts, units, duplicate pairs, patient-wise splits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecgaccel.models import splits
from ecgaccel.models.errors import CorruptRecordError, RecordNotFoundError
from ecgaccel.models.plawiak import CLASSES_17, load_plawiak
from ecgaccel.models.records import read_record


@pytest.fixture(scope="module")
def plawiak(plawiak_dir):
    return load_plawiak(plawiak_dir)


def test_counts_and_shape(plawiak):
    assert plawiak.x.shape == (1000, 1, 3600) and plawiak.x.dtype == np.float32
    counts = plawiak.class_counts()
    assert list(counts) == list(CLASSES_17)
    assert counts["NSR"] == 283 and counts["PVC"] == 133 and sum(counts.values()) == 1000
    assert int(plawiak.meta["lead_v1"].sum()) == 3


def test_fragment_equals_mitdb_samples_in_mv(plawiak, mitdb_dir):
    k = int(np.flatnonzero((plawiak.record == "100") & ~plawiak.meta["lead_v1"])[0])
    rec = read_record(mitdb_dir / "100")
    s = plawiak.sample[k]
    np.testing.assert_allclose(plawiak.x[k, 0], rec.signal[0, s : s + 3600], atol=1e-6)


def test_nine_duplicate_pairs_share_a_group(plawiak):
    groups, sizes = np.unique(plawiak.meta["dup_group"], return_counts=True)
    assert (sizes == 2).sum() == 9 and (sizes > 2).sum() == 0
    for g in groups[sizes == 2]:
        a, b = np.flatnonzero(plawiak.meta["dup_group"] == g)
        np.testing.assert_array_equal(plawiak.x[a], plawiak.x[b])  # exact duplicates


def test_splits_keep_duplicates_and_patients_together(plawiak):
    tr, te = splits.random_split(plawiak, 0.2, seed=0, group_key="dup_group")
    g = plawiak.meta["dup_group"]
    assert not set(g[tr]) & set(g[te])
    assert len(te) == 200
    tr, te = splits.patient_split(plawiak, 0.2, seed=0)
    assert not set(plawiak.patient[tr]) & set(plawiak.patient[te])


def test_missing_fragment_and_bad_manifest(plawiak_dir, tmp_path):
    shutil.copy(plawiak_dir / "manifest_plawiak17.csv", tmp_path / "manifest_plawiak17.csv")
    with pytest.raises(
        RecordNotFoundError, match=r"100m \(0\)\.mat: fragment named by the manifest"
    ):
        load_plawiak(tmp_path)
    (tmp_path / "manifest_plawiak17.csv").write_text("file,class\nx.mat,1\n")
    with pytest.raises(CorruptRecordError, match="manifest lacks columns"):
        load_plawiak(tmp_path)


def test_corrupt_fragment(plawiak_dir, tmp_path):
    (tmp_path / "MLII" / "1 NSR").mkdir(parents=True)
    (tmp_path / "manifest_plawiak17.csv").write_text(
        "file,class_id,class_name,mitdb_record,lead,start_sample,duplicate_of_other_file\n"
        "1 NSR/x.mat,1,NSR,100,MLII,0,0\n"
    )
    (tmp_path / "MLII" / "1 NSR" / "x.mat").write_bytes(b"not a mat file")
    with pytest.raises(CorruptRecordError, match=r"x\.mat: unreadable MATLAB fragment"):
        load_plawiak(tmp_path)
