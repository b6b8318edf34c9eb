"""PTB-XL's 12-lead records as a multi-label set (models/ptbxl.py), the multi-label metrics, and
one epoch of multi-label training of the registered 12-lead network."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from ecgaccel.models.errors import CorruptRecordError, RecordNotFoundError
from ecgaccel.models.metrics import multilabel_report
from ecgaccel.models.ptbxl import (
    LABEL_TABLE,
    LEADS_12,
    SUPERCLASSES,
    age_sex_features,
    fold_split,
    load_ptbxl,
)


@pytest.fixture(scope="module")
def few(ptbxl_dir):
    return load_ptbxl(ptbxl_dir, limit=40)


def test_records_are_12_leads_of_10_s_with_superclasses_age_and_sex(few, ptbxl_dir):
    assert few.x.shape == (40, 12, 1000) and few.fs == 100.0 and few.leads == LEADS_12
    assert few.y.shape == (40, 5) and set(np.unique(few.y)) <= {0, 1}
    assert (few.y.sum(axis=1) >= 1).all()  # records without a superclass are left out
    # ecg_id 1: NORM, a 56-year-old woman (PTB-XL's sex 1), fold 3 (the label table's first row)
    assert few.record[0] == "1" and few.symbol[0] == "NORM"
    assert few.y[0].tolist() == [1, 0, 0, 0, 0]
    assert few.meta["age"][0] == 56.0 and few.meta["sex"][0] == 1
    assert few.meta["strat_fold"][0] == 3
    assert np.isfinite(few.x).all()
    assert 0.05 < float(few.x.std()) < 2.0
    test = load_ptbxl(ptbxl_dir, limit=5, folds=(10,))
    assert (test.meta["strat_fold"] == 10).all()
    train, val, tst = fold_split(few)
    assert len(train) + len(val) + len(tst) == len(few)
    assert set(few.meta["strat_fold"][train]) <= set(range(1, 9))


def test_a_broken_table_or_record_names_the_file(ptbxl_dir, tmp_path):
    with pytest.raises(RecordNotFoundError, match="label table"):
        load_ptbxl(tmp_path)
    lines = (ptbxl_dir / LABEL_TABLE).read_text().splitlines()
    (tmp_path / LABEL_TABLE).write_text("\n".join([lines[0], lines[1].replace("NORM", "XYZ")]))
    with pytest.raises(CorruptRecordError, match=rf"{LABEL_TABLE}.*line 2"):
        load_ptbxl(tmp_path)
    (tmp_path / LABEL_TABLE).write_text("\n".join(lines[:2]))
    with pytest.raises(RecordNotFoundError, match="00001_lr"):
        load_ptbxl(tmp_path)  # the table names a record the folder lacks
    rec = tmp_path / "records100" / "00000"
    rec.mkdir(parents=True)
    shutil.copy(ptbxl_dir / "records100" / "00000" / "00001_lr.hea", rec)
    (rec / "00001_lr.dat").write_bytes(b"\0" * 100)  # truncated signal file
    with pytest.raises(CorruptRecordError, match="00001_lr"):
        load_ptbxl(tmp_path)


def test_multilabel_report_auc_f1_and_exact_match():
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    s = np.array([[2.0, -1.0], [0.5, 0.2], [-1.0, 3.0], [1.0, -2.0]])
    r = multilabel_report(y, s, ("a", "b"))
    # label a: positives 2.0, 0.5 vs negatives -1.0, 1.0 -> 3 of 4 pairs ordered right
    assert r["per_class"]["a"]["auc"] == 0.75 and r["per_class"]["b"]["auc"] == 1.0
    assert r["macro_auc"] == 0.875
    # at logit 0: a predicted on rows 0, 1, 3 (tp 2, F1 = 4 / 5), b on rows 1, 2 (F1 = 1)
    assert r["per_class"]["a"]["f1"] == pytest.approx(0.8) and r["per_class"]["b"]["f1"] == 1.0
    assert r["exact"] == 0.75 and r["n"] == 4


@pytest.mark.parametrize("model", ["leadnet-ptbxl", "leadnet-ptbxl-meta"])
def test_one_epoch_of_multilabel_training_on_real_records(few, tmp_path, model):
    from ecgaccel.models.evaluate import evaluate_model
    from ecgaccel.models.registry import get_spec
    from ecgaccel.models.tasks import ProtocolSplit
    from ecgaccel.models.train import train

    spec = dataclasses.replace(get_spec(model), batch_size=16, epochs=1)
    idx = np.arange(len(few))
    split = ProtocolSplit(idx[:30], idx[30:], idx[30:], "folds", seed=1)
    result = train(spec, few, split, tmp_path, progress=False)
    assert set(result.val) >= {"macro_auc", "macro_f1", "exact", "per_class"}
    assert 0.0 <= result.val["macro_auc"] <= 1.0
    assert result.checkpoint["config"]["arch"] == "leadnet"
    assert set(result.checkpoint["val"]) == {"macro_auc", "macro_f1", "exact", "n"}
    assert len(result.val["per_class"]) == len(SUPERCLASSES)
    tau = result.checkpoint["tau"]  # chosen on the validation part
    assert len(tau) == len(SUPERCLASSES) and all(0.0 < t < 1.0 for t in tau)
    again = evaluate_model(result.model, few, idx[30:], tau)  # the metadata goes in here too
    assert again["macro_f1"] == pytest.approx(result.val["macro_f1"])


def test_age_and_sex_become_metadata_features(few):
    feats = age_sex_features(few)
    assert feats.shape == (40, 3) and feats.dtype == np.float32
    assert feats[0].tolist() == pytest.approx([0.56, 0.0, 1.0])  # 56 years, female
    odd = dataclasses.replace(few, meta={**few.meta, "age": few.meta["age"].copy()})
    odd.meta["age"][:2] = [300.0, np.nan]  # PTB-XL's code for over 89, and a missing age
    assert odd.meta["age"][2] == few.meta["age"][2]
    f = age_sex_features(odd)
    assert f[0].tolist()[:2] == pytest.approx([0.9, 0.0]) and f[1].tolist()[:2] == [0.0, 1.0]
    odd.meta["age"][0] = 150.0
    with pytest.raises(ValueError, match=r"record 1: implausible age 150 years"):
        age_sex_features(odd)
    with pytest.raises(ValueError, match="age and sex are not in this data set"):
        age_sex_features(dataclasses.replace(few, meta={}))


def test_decision_levels_maximize_the_validation_f1():
    from ecgaccel.models.metrics import choose_tau

    y = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    s = np.array([[3.0, 0.0], [1.0, 0.0], [-2.0, 0.0], [2.0, 0.0]])
    tau = choose_tau(y, s)
    # label 0 (positives at 3.0 and 1.0, negatives -2.0 and 2.0): the cut at -0.5 gives F1 0.8,
    # at 1.5 0.5, at 2.5 2/3; label 1: no positive, all logits equal
    assert tau[0] == pytest.approx(1 / (1 + np.exp(0.5)))
    assert tau[1] == 0.5
