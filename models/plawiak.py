"""Plawiak's 17-class set: 1,000 ten-second MLII fragments of MIT-BIH, 17 rhythm classes.

Source: P. Plawiak, "ECG signals (1000 fragments)", Mendeley Data 10.17632/7dybx7wyfn.3
(CC BY 4.0); used as the 17-class task of Zhang et al. 2024. Files are MATLAB ``.mat`` with key
``val``: int16 ``[1, 3600]`` raw ADC at 360 Hz, baseline 1024, 200 adu/mV (MIT-BIH's ADC).

The manifest (``manifest_plawiak17.csv``) maps each file to its MIT-BIH record (the patient) and
start sample, and flags 9 exact duplicate pairs (two files holding the same fragment). The pairs
are kept (the paper used all 1,000) but each pair shares one ``dup_group`` (and one split key) so
that every split keeps both copies on the same side; 3 fragments are lead V1
(``meta['lead_v1']``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import scipy.io

from .ecgset import EcgSet
from .errors import CorruptRecordError, RecordNotFoundError
from .mitdb import FS_HZ, patient_of

CLASSES_17: tuple[str, ...] = (
    "NSR", "APB", "AFL", "AFIB", "SVTA", "WPW", "PVC", "Bigeminy", "Trigeminy", "VT", "IVR", "VFL",
    "Fusion", "LBBBB", "RBBBB", "SDHB", "PR",
)  # fmt: skip
"""The 17 class names in class-id order (class id 1 is index 0)."""

FRAGMENT_SAMPLES = 3600
ADC_BASELINE = 1024
ADC_GAIN = 200.0  # adu/mV
MANIFEST = "manifest_plawiak17.csv"
_COLUMNS = ("file", "class_id", "class_name", "mitdb_record", "lead", "start_sample",
            "duplicate_of_other_file")  # fmt: skip


def _read_manifest(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise RecordNotFoundError(path, "Plawiak manifest not found")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CorruptRecordError(path, f"manifest lacks columns {', '.join(missing)}")
        return list(reader)


def _read_fragment(path: Path) -> np.ndarray:
    if not path.is_file():
        raise RecordNotFoundError(path, "fragment named by the manifest not found")
    try:
        val = scipy.io.loadmat(path)["val"]
    except Exception as exc:
        raise CorruptRecordError(path, f"unreadable MATLAB fragment ({exc})") from exc
    if val.shape != (1, FRAGMENT_SAMPLES):
        raise CorruptRecordError(path, f"expected val of shape (1, 3600), got {val.shape}")
    return (val[0].astype(np.float32) - ADC_BASELINE) / ADC_GAIN


def load_plawiak(root: Path | str) -> EcgSet:
    """All fragments listed in ``<root>/manifest_plawiak17.csv`` (files under ``<root>/MLII``).

    Returns
    -------
    EcgSet
        ``x`` float32 ``[1000, 1, 3600]`` mV at 360 Hz, ``y`` class index 0..16 (int64),
        ``record``/``patient`` the MIT-BIH source record, ``sample`` the start sample in it,
        ``meta['dup_group']`` int64 (equal for the two copies of a duplicate pair, unique
        otherwise), ``meta['lead_v1']`` bool (fragment is lead V1, not MLII).

    Raises
    ------
    RecordNotFoundError
        The manifest or a fragment is missing.
    CorruptRecordError
        A malformed manifest row, or a fragment that is unreadable or not ``[1, 3600]``.
    """
    root = Path(root)
    manifest = root / MANIFEST
    rows = _read_manifest(manifest)
    x, y, rec, start, sym, v1, dup_key = [], [], [], [], [], [], []
    for line, row in enumerate(rows, start=2):
        try:
            cid = int(row["class_id"])
            sample = int(row["start_sample"])
            is_dup = row["duplicate_of_other_file"].strip() == "1"
        except ValueError as exc:
            raise CorruptRecordError(manifest, f"line {line}: {exc}") from exc
        if not 1 <= cid <= len(CLASSES_17):
            raise CorruptRecordError(manifest, f"line {line}: class_id {cid} outside 1..17")
        x.append(_read_fragment(root / "MLII" / row["file"]))
        y.append(cid - 1)
        rec.append(row["mitdb_record"].strip())
        start.append(sample)
        sym.append(CLASSES_17[cid - 1])
        v1.append(row["lead"].strip() == "V1")
        dup_key.append((rec[-1], sample) if is_dup else ("#", line))
    groups = {key: i for i, key in enumerate(dict.fromkeys(dup_key))}
    return EcgSet(
        x=np.stack(x)[:, None, :],
        y=np.array(y, dtype=np.int64),
        classes=CLASSES_17,
        fs=FS_HZ,
        leads=("MLII",),
        record=np.array(rec, dtype=str),
        patient=np.array([patient_of(r) for r in rec], dtype=str),
        sample=np.array(start, dtype=np.int64),
        symbol=np.array(sym, dtype=str),
        meta={
            "dup_group": np.array([groups[k] for k in dup_key], dtype=np.int64),
            "lead_v1": np.array(v1, dtype=bool),
        },
    )
