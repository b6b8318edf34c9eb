"""Beat extraction: a fixed window around each annotated R peak, AAMI EC57 class labels.

Source: AAMI EC57 class mapping as used by de Chazal et al. 2004 (see :mod:`.aami`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .aami import AAMI_CLASSES, BEAT_SYMBOLS, aami_index
from .ecgset import EcgSet, concat
from .mitdb import ALL_RECORDS, FS_HZ, PACED, patient_of, resolve_records
from .records import EcgRecord, read_record, record_path
from .rr import RR_FEATURES, rr_features

DEFAULT_PRE_S = 0.25
"""Seconds before the R peak in a beat window (90 samples = 250 ms at 360 Hz)."""
DEFAULT_POST_S = 0.45
"""Seconds from the R peak to the window end (162 samples = 450 ms at 360 Hz)."""


def beat_window(
    fs: float, pre_s: float = DEFAULT_PRE_S, post_s: float = DEFAULT_POST_S
) -> tuple[int, int]:
    """``(pre, post)`` in samples at ``fs`` Hz; a beat window is ``[r - pre, r + post)``, so its
    length is ``pre + post`` samples (``1000 * (pre + post) / fs`` ms)."""
    return round(pre_s * fs), round(post_s * fs)


def beats_from_record(rec: EcgRecord, pre: int, post: int) -> tuple[EcgSet, int]:
    """Every annotated beat of ``rec`` as a window ``[r - pre, r + post)`` samples.

    Non-beat annotations (rhythm, noise, flutter waves, ...) are dropped; beats whose window
    crosses the record's start or end are skipped and counted.

    Returns
    -------
    (EcgSet, int)
        ``x`` float32 ``[N, C, pre + post]`` mV, ``y`` AAMI class index int64 ``[N]``,
        ``sample`` the R-peak positions, ``meta["rr"]`` float32 ``[N, 5]`` the beats' RR
        features (:func:`~.rr.rr_features`, computed over all the record's beats, zeros for a
        record of one beat); and the number of beats skipped at the edges.

    Raises
    ------
    ValueError
        ``rec`` carries no annotations.
    """
    if rec.annotations is None:
        raise ValueError(
            f"{rec.path}: beats need annotations; read the record with annotation='atr'"
        )
    is_beat = np.isin(rec.annotations.symbol, sorted(BEAT_SYMBOLS))
    r_peaks = rec.annotations.sample[is_beat]
    symbols = rec.annotations.symbol[is_beat]
    if len(r_peaks) >= 2:
        rr = rr_features(r_peaks, rec.fs)
    else:
        rr = np.zeros((len(r_peaks), len(RR_FEATURES)), np.float32)
    inside = (r_peaks - pre >= 0) & (r_peaks + post <= rec.n_samples)
    r_peaks, symbols, rr = r_peaks[inside], symbols[inside], rr[inside]
    offsets = np.arange(-pre, post)
    x = rec.signal[:, r_peaks[:, None] + offsets[None, :]]  # [C, N, L]
    n = len(r_peaks)
    beats = EcgSet(
        x=np.ascontiguousarray(x.transpose(1, 0, 2), dtype=np.float32),
        y=np.array([aami_index(s) for s in symbols], dtype=np.int64),
        classes=AAMI_CLASSES,
        fs=rec.fs,
        leads=rec.leads,
        record=np.full(n, rec.name),
        patient=np.full(n, patient_of(rec.name)),
        sample=r_peaks.astype(np.int64),
        symbol=symbols.astype(str),
        meta={"rr": rr.astype(np.float32)},
    )
    return beats, int((~inside).sum())


def load_beats(
    data_dir: Path | str,
    records: tuple[str, ...] | list[str] | None = None,
    lead: str = "MLII",
    fs: float = FS_HZ,
    pre_s: float = DEFAULT_PRE_S,
    post_s: float = DEFAULT_POST_S,
) -> EcgSet:
    """Beats of MIT-BIH records in ``data_dir`` (one lead, selected by name).

    Parameters
    ----------
    records:
        Record names; ``None`` means every non-paced record present in ``data_dir``.
    fs:
        Sampling frequency in Hz the signals are resampled to (MIT-BIH is stored at 360 Hz).
    pre_s, post_s:
        Window extent before / after the R peak in seconds (see :func:`beat_window`).

    Returns
    -------
    EcgSet
        ``x`` float32 ``[N, 1, pre + post]`` mV, AAMI labels, record and R-peak sample per beat.

    Raises
    ------
    EcgDataError
        A record is missing or broken (see :func:`~.records.read_record`).
    """
    default = tuple(r for r in ALL_RECORDS if r not in PACED)
    pre, post = beat_window(fs, pre_s, post_s)
    parts = []
    for name in resolve_records(data_dir, records, default):
        rec = read_record(record_path(data_dir, name), leads=(lead,), fs=fs)
        parts.append(beats_from_record(rec, pre, post)[0])
    return concat(parts)
