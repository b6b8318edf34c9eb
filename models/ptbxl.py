"""PTB-XL (Wagner et al., Sci Data 2020; PhysioNet ``ptb-xl``) 12-lead records as a multi-label
set: the five diagnostic superclasses NORM, MI, STTC, CD, HYP per record, with age and sex.

The folder holds ``records100/`` (WFDB, 100 Hz, 10 s, 12 leads in mV) and a label table: the
staged table ``labels_staged_records100.csv`` of ``../shared/data/ptbxl`` (one row per record:
``ecg_id, patient_id, age, sex, strat_fold, scp_codes, filename_lr, superclasses`` with the
superclasses ``;``-separated). Records without a diagnostic superclass are left out, as the
PTB-XL benchmark does (Strodthoff et al. 2021). PTB-XL's own split: ``strat_fold`` 1-8 train,
9 validation, 10 test (patients never cross folds).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .ecgset import EcgSet
from .errors import CorruptRecordError, RecordNotFoundError
from .records import read_record

SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
"""PTB-XL's diagnostic superclasses: normal, myocardial infarction, ST/T change, conduction
disturbance, hypertrophy."""

LEADS_12 = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
"""The 12 standard leads as PTB-XL's headers name them."""

LABEL_TABLE = "labels_staged_records100.csv"
FS_HZ = 100.0
TEST_FOLD, VAL_FOLD = 10, 9


def load_ptbxl(root: Path | str, limit: int | None = None,
               folds: tuple[int, ...] | None = None) -> EcgSet:  # fmt: skip
    """The records of ``<root>/labels_staged_records100.csv`` that have a superclass.

    Parameters
    ----------
    root:
        The PTB-XL folder (``records100/`` and the label table).
    limit:
        Read only the first ``limit`` labelled rows (tests).
    folds:
        Read only these ``strat_fold`` values (e.g. ``(10,)``, the test fold).

    Returns
    -------
    EcgSet
        ``x`` float32 ``[N, 12, 1000]`` mV at 100 Hz, ``y`` int64 multi-hot ``[N, 5]`` over
        :data:`SUPERCLASSES`, ``record`` the ecg_id, ``patient`` the patient_id, ``sample`` 0,
        ``symbol`` the superclasses joined by ``;``, ``meta``: ``age`` float32 years (NaN where
        missing), ``sex`` int64 (0 male, 1 female, PTB-XL's coding), ``strat_fold`` int64 1-10.

    Raises
    ------
    RecordNotFoundError
        The label table or a listed record is missing.
    CorruptRecordError
        A malformed row (unknown superclass, non-numeric fold or sex), or a record that is not
        12 leads x 1000 samples at 100 Hz.
    """
    root = Path(root)
    table = root / LABEL_TABLE
    if not table.is_file():
        raise RecordNotFoundError(table, "the PTB-XL label table is missing")
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    x, y, rec, pat, sym, age, sex, fold = [], [], [], [], [], [], [], []
    for line, row in enumerate(rows, start=2):
        names = [s for s in row.get("superclasses", "").split(";") if s]
        if not names:
            continue
        if limit is not None and len(x) >= limit:
            break
        try:
            hot = np.zeros(len(SUPERCLASSES), np.int64)
            for s in names:
                hot[SUPERCLASSES.index(s)] = 1
            if folds is not None and int(row["strat_fold"]) not in folds:
                continue
            fold.append(int(row["strat_fold"]))
            sex.append(int(row["sex"]))
            age.append(float(row["age"]) if row["age"] else np.nan)
        except (ValueError, KeyError) as exc:
            raise CorruptRecordError(table, f"line {line}: {exc}") from exc
        signal = read_record(root / row["filename_lr"], leads=LEADS_12, fs=None,
                             annotation=None).signal  # fmt: skip
        if signal.shape != (12, 1000):
            problem = f"{list(signal.shape)} samples, expected [12, 1000]"
            raise CorruptRecordError(root / row["filename_lr"], problem)
        x.append(signal)
        y.append(hot)
        rec.append(row["ecg_id"])
        pat.append(row["patient_id"])
        sym.append(";".join(names))
    return EcgSet(
        x=np.stack(x).astype(np.float32),
        y=np.stack(y),
        classes=SUPERCLASSES,
        fs=FS_HZ,
        leads=LEADS_12,
        record=np.array(rec, dtype=str),
        patient=np.array(pat, dtype=str),
        sample=np.zeros(len(x), np.int64),
        symbol=np.array(sym, dtype=str),
        meta={
            "age": np.array(age, np.float32),
            "sex": np.array(sex, np.int64),
            "strat_fold": np.array(fold, np.int64),
        },
    )


def fold_split(data: EcgSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PTB-XL's recommended split by ``strat_fold``: indices (int64) of folds 1-8 (train), 9
    (validation), 10 (test)."""
    f = data.meta["strat_fold"]
    return (np.flatnonzero(f < VAL_FOLD), np.flatnonzero(f == VAL_FOLD),
            np.flatnonzero(f == TEST_FOLD))  # fmt: skip


AGE_SEX_FEATURES = ("age", "age_missing", "sex")
"""The metadata features of :func:`age_sex_features`, in order."""

AGE_CODED_OVER_89 = 300.0
"""PTB-XL (v1.0.2 and later) stores the age of patients over 89 as 300 (HIPAA)."""


def age_sex_features(data: EcgSet) -> np.ndarray:
    """Age and sex as float32 ``[N, 3]`` network inputs (:data:`AGE_SEX_FEATURES`): the age in
    years / 100 (an age coded :data:`AGE_CODED_OVER_89` taken as 90 years; 0 where missing), 1
    where the age is missing else 0, the sex (0 male, 1 female, PTB-XL's coding). All lie in
    ``[0, 1.25]``, inside the metadata input's int8 range at 2^-6 (below 2) after
    ``models.leadnet.quantize_metadata``.

    Raises
    ------
    ValueError
        ``data.meta`` has no ``age`` or ``sex`` (not a PTB-XL set), a negative or implausible age
        (over 125 years and not the code), or a sex other than 0 / 1.
    """
    if "age" not in data.meta or "sex" not in data.meta:
        raise ValueError("age and sex are not in this data set's metadata (PTB-XL has them)")
    age = np.asarray(data.meta["age"], np.float64)
    sex = np.asarray(data.meta["sex"])
    missing = np.isnan(age)
    age = np.where(age == AGE_CODED_OVER_89, 90.0, age)
    bad = ~missing & ((age < 0) | (age > 125))
    if bad.any():
        raise ValueError(f"record {data.record[np.flatnonzero(bad)[0]]}: implausible age "
                         f"{age[bad][0]:g} years")  # fmt: skip
    if not np.isin(sex, (0, 1)).all():
        raise ValueError(f"record {data.record[np.flatnonzero(~np.isin(sex, (0, 1)))[0]]}: "
                         "sex is not 0 (male) or 1 (female)")  # fmt: skip
    feats = np.stack([np.where(missing, 0.0, age / 100), missing.astype(np.float64), sex], 1)
    return feats.astype(np.float32)


BINARY_CLASSES = ("NORM", "ABNORMAL")
"""Classes of the binary task: NORM as the record's only superclass, against any of MI, STTC,
CD, HYP (with or without NORM beside it)."""


def as_binary(data: EcgSet) -> EcgSet:
    """The multi-label set of :func:`load_ptbxl` as the binary task (:data:`BINARY_CLASSES`):
    ``y`` int64 ``[N]``, 1 where any superclass but NORM is present. Every record is kept."""
    from dataclasses import replace

    abnormal = data.y[:, 1:].any(axis=1).astype(np.int64)
    return replace(data, y=abnormal, classes=BINARY_CLASSES)


def as_multiclass(data: EcgSet) -> EcgSet:
    """The multi-label set of :func:`load_ptbxl` as the multiclass task: only the records with
    exactly one superclass (as the efficient-architectures paper's multiclass task; ``y`` int64
    ``[N]`` into :data:`SUPERCLASSES`)."""
    from dataclasses import replace

    single = np.flatnonzero(data.y.sum(axis=1) == 1)
    sub = data.subset(single)
    return replace(sub, y=sub.y.argmax(axis=1).astype(np.int64))
