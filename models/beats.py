"""Beat extraction: a fixed window around each annotated R peak, AAMI EC57 class labels.

Source: AAMI EC57 class mapping as used by de Chazal et al. 2004 (see :mod:`.aami`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .aami import AAMI_CLASSES, BEAT_SYMBOLS, aami_index
from .detect import MATCH_WINDOW_S
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


UNLABELED = -1
"""``y`` of a beat at a detected R peak that no annotated beat matches (or of a record without
annotations)."""


def beats_from_record(rec: EcgRecord, pre: int, post: int,
                      r_peaks: np.ndarray | None = None) -> tuple[EcgSet, int]:  # fmt: skip
    """Every annotated beat of ``rec`` (or, given ``r_peaks``, every detected one) as a window
    ``[r - pre, r + post)`` samples.

    Non-beat annotations (rhythm, noise, flutter waves, ...) are dropped; beats whose window
    crosses the record's start or end are skipped and counted. With ``r_peaks`` (int
    ``[M]``, e.g. :func:`~.detect.detect_r_peaks`), a beat takes the symbol and class of the
    annotated beat within 150 ms of it (EC57's match window), else symbol ``""`` and class
    :data:`UNLABELED`; the RR features come from the detected peaks.

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
        ``rec`` carries no annotations and no ``r_peaks`` are given.
    """
    if r_peaks is None:
        if rec.annotations is None:
            raise ValueError(f"{rec.path}: beats need annotations (read the record with "
                             "annotation='atr') or detected R peaks")  # fmt: skip
        is_beat = np.isin(rec.annotations.symbol, sorted(BEAT_SYMBOLS))
        r_peaks = rec.annotations.sample[is_beat]
        symbols = rec.annotations.symbol[is_beat]
    else:
        r_peaks = np.asarray(r_peaks, np.int64)
        symbols = _matched_symbols(rec, r_peaks)
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
        y=np.array([aami_index(s) if s else UNLABELED for s in symbols], dtype=np.int64),
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


def _matched_symbols(rec: EcgRecord, r_peaks: np.ndarray) -> np.ndarray:
    """str ``[M]``: per detected peak the symbol of the annotated beat it matches within
    :data:`~.detect.MATCH_WINDOW_S` (wfdb's ``compare_annotations``, each beat matched once, as
    :func:`~.detect.score_detection` counts them), or ``""``."""
    from wfdb.processing import compare_annotations

    out = np.full(len(r_peaks), "", dtype=object)
    ann = rec.annotations
    is_beat = np.zeros(0, bool) if ann is None else np.isin(ann.symbol, sorted(BEAT_SYMBOLS))
    if not is_beat.any() or not len(r_peaks):
        return out.astype(str)
    ref, sym = ann.sample[is_beat].astype(np.int64), ann.symbol[is_beat]
    c = compare_annotations(ref, np.asarray(r_peaks, np.int64), round(MATCH_WINDOW_S * rec.fs))
    out[c.matched_test_inds] = sym[c.matched_ref_inds]
    return out.astype(str)


def with_record_template(beats: EcgSet) -> EcgSet:
    """``beats`` with a second lead: each record's median beat (over all its beats in
    ``beats``, mostly normal ones), the same for every beat of the record.

    Host-side patient normalization of the morphology, as the RR features normalize the rhythm
    by the record's average: a network reading ``[beat, template]`` can learn what differs
    from this patient's usual beat, where one trained on other patients' beats alone reads a
    right bundle branch block's wide normal beats as ventricular.

    Returns
    -------
    EcgSet
        ``x`` float32 ``[N, 2 C, L]`` mV (the beat's leads, then the templates'), ``leads`` with
        ``" median"`` appended to the template leads; the rest unchanged.
    """
    x = np.asarray(beats.x, np.float32)
    template = np.empty_like(x)
    for name in np.unique(beats.record):
        m = beats.record == name
        template[m] = np.median(x[m], axis=0)
    leads = (*beats.leads, *(f"{lead} median" for lead in beats.leads))
    return dataclasses.replace(beats, x=np.concatenate([x, template], axis=1), leads=leads)


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
