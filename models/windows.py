"""Non-overlapping 10-s windows of MIT-BIH, labelled as the BNN paper's 5-class set.

Source: Zhang et al., "Compact and Accurate Binary Neural Network for Real-Time ECG Classification
on AIoT Devices" (2024): 43 records x 180 non-overlapping 3,600-sample MLII windows = 7,740 windows;
label = the most frequent non-``N`` beat symbol of the window, mapped to AAMI.

The labelling rule below reproduces the paper's published per-window labels
(``label_MIT_C2.txt``) for all 7,740 windows; two details were recovered from that file:

* ties between equally frequent symbols go to the symbol whose first occurrence in the window is
  latest;
* a window without any beat annotation (record 207's ventricular flutter, ``!`` waves only) is
  labelled ``Q``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .aami import AAMI_CLASSES, BEAT_SYMBOLS, aami_index
from .ecgset import EcgSet, concat
from .mitdb import FS_HZ, PAPER_5CLASS_RECORDS, patient_of, resolve_records
from .records import EcgRecord, read_record, record_path

WINDOW_SAMPLES = 3600
"""Window length in samples (10 s at 360 Hz)."""
WINDOWS_PER_RECORD = 180
"""Windows per 30-min record: ``650000 // 3600``."""


def window_symbol(symbols: list[str]) -> str:
    """Label symbol of one window from its annotation symbols in time order (paper's rule).

    Returns the most frequent beat symbol other than ``N`` (ties: the one whose first occurrence
    is latest); ``"N"`` if every beat is ``N``; ``"Q"`` if the window holds no beat at all.
    """
    beats = [s for s in symbols if s in BEAT_SYMBOLS]
    if not beats:
        return "Q"
    counts = Counter(s for s in beats if s != "N")  # insertion order = first occurrence
    if not counts:
        return "N"
    return max(reversed(counts.items()), key=lambda kv: kv[1])[0]


def windows_from_record(
    rec: EcgRecord, length: int = WINDOW_SAMPLES, count: int | None = None
) -> EcgSet:
    """Non-overlapping windows ``[k * length, (k + 1) * length)`` of ``rec``, labelled by
    :func:`window_symbol`.

    Parameters
    ----------
    length:
        Window length in samples at ``rec.fs``.
    count:
        Number of windows; ``None`` takes every whole window (``rec.n_samples // length``).

    Returns
    -------
    EcgSet
        ``x`` float32 ``[count, C, length]`` mV (not normalized), AAMI labels, ``sample`` the
        first sample of each window.

    Raises
    ------
    ValueError
        No annotations, or ``count`` windows do not fit in the record.
    """
    if rec.annotations is None:
        raise ValueError(f"{rec.path}: window labels need annotations")
    n = rec.n_samples // length if count is None else count
    if n * length > rec.n_samples:
        raise ValueError(f"{rec.path}: {n} windows of {length} samples exceed {rec.n_samples}")
    starts = np.arange(n, dtype=np.int64) * length
    which = np.searchsorted(starts, rec.annotations.sample, side="right") - 1
    labels = []
    for k in range(n):
        in_window = (which == k) & (rec.annotations.sample < starts[k] + length)
        labels.append(window_symbol(list(rec.annotations.symbol[in_window])))
    x = rec.signal[:, : n * length].reshape(len(rec.leads), n, length).transpose(1, 0, 2)
    return EcgSet(
        x=np.ascontiguousarray(x, dtype=np.float32),
        y=np.array([aami_index(s) for s in labels], dtype=np.int64),
        classes=AAMI_CLASSES,
        fs=rec.fs,
        leads=rec.leads,
        record=np.full(n, rec.name),
        patient=np.full(n, patient_of(rec.name)),
        sample=starts,
        symbol=np.array(labels, dtype=str),
    )


def load_windows(
    data_dir: Path | str,
    records: tuple[str, ...] | list[str] | None = None,
    lead: str = "MLII",
) -> EcgSet:
    """The BNN paper's 10-s windows of MIT-BIH records in ``data_dir``.

    Parameters
    ----------
    records:
        Record names; ``None`` means every record of the paper's 43 present in ``data_dir``
        (all 43 give the 7,740 windows: N 5186, S 545, V 1890, F 100, Q 19).
    lead:
        Signal name (MLII), selected by name.

    Returns
    -------
    EcgSet
        ``x`` float32 ``[180 * len(records), 1, 3600]`` mV at 360 Hz, records in the given order.

    Raises
    ------
    EcgDataError
        A record is missing or broken.
    """
    parts = []
    for name in resolve_records(data_dir, records, PAPER_5CLASS_RECORDS):
        rec = read_record(record_path(data_dir, name), leads=(lead,), fs=FS_HZ)
        parts.append(windows_from_record(rec, WINDOW_SAMPLES, WINDOWS_PER_RECORD))
    return concat(parts)
