"""R-peak detection for records without annotations, and its ANSI/AAMI EC57 score.

Detection is wfdb's XQRS (``wfdb.processing.XQRS``: band-pass 5-20 Hz, moving-wave
integration, adaptive thresholds with search-back; a well-kept detector, not ours). Scoring
matches detections to the reference beat annotations with ``wfdb.processing.
compare_annotations`` at EC57's 150 ms match window: sensitivity Se = TP / (TP + FN), positive
predictivity +P = TP / (TP + FP). Every beat of the record is scored (EC57 allows leaving out
the first 5 minutes as a learning period; we do not).
"""

from __future__ import annotations

import numpy as np

from .aami import BEAT_SYMBOLS
from .errors import EcgDataError
from .records import EcgRecord

MATCH_WINDOW_S = 0.150
"""EC57's beat-matching window: a detection within 150 ms of a reference beat matches it."""
MIN_FS_HZ = 50.0
"""The lowest sampling rate XQRS is used at (its 5-20 Hz band-pass needs a Nyquist above 20 Hz
with margin)."""


def detect_r_peaks(rec: EcgRecord, lead: int = 0) -> np.ndarray:
    """R-peak positions int64 ``[M]`` (samples at ``rec.fs``, increasing) found by XQRS in lead
    ``lead`` (row of ``rec.signal``, mV).

    Raises
    ------
    EcgDataError
        ``rec.fs`` below :data:`MIN_FS_HZ`, a signal shorter than 10 s, or no beat found
        (the message names the record's file).
    """
    from wfdb.processing import XQRS

    if rec.fs < MIN_FS_HZ:
        raise EcgDataError(rec.path, f"sampling rate {rec.fs:g} Hz is below the QRS "
                           f"detector's {MIN_FS_HZ:g} Hz")  # fmt: skip
    sig = np.asarray(rec.signal[lead], np.float64)
    if len(sig) < 10 * rec.fs:
        raise EcgDataError(rec.path, f"{len(sig) / rec.fs:.1f} s of signal: the QRS detector "
                           "needs at least 10 s")  # fmt: skip
    xqrs = XQRS(sig=np.nan_to_num(sig), fs=rec.fs)
    xqrs.detect(verbose=False)
    peaks = np.unique(np.asarray(xqrs.qrs_inds, np.int64))
    if len(peaks) < 2:
        raise EcgDataError(rec.path, f"the QRS detector found {len(peaks)} beat(s) in lead "
                           f"{rec.leads[lead]}")  # fmt: skip
    return peaks


def annotated_r_peaks(rec: EcgRecord) -> np.ndarray:
    """The reference beats' positions int64 ``[B]`` (annotations whose symbol is a beat,
    :data:`~.aami.BEAT_SYMBOLS`). Raises :class:`EcgDataError` for a record read without
    annotations."""
    if rec.annotations is None:
        raise EcgDataError(rec.path, "no beat annotations to score the detector against")
    is_beat = np.isin(rec.annotations.symbol, sorted(BEAT_SYMBOLS))
    return rec.annotations.sample[is_beat].astype(np.int64)


def score_detection(reference: np.ndarray, detected: np.ndarray, fs: float) -> dict:
    """EC57 beat-detection score of ``detected`` against ``reference`` (int sample positions at
    ``fs`` Hz), matched within :data:`MATCH_WINDOW_S`.

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn`` (counts) and ``se``, ``ppv`` (``None`` where undefined).
    """
    from wfdb.processing import compare_annotations

    c = compare_annotations(np.asarray(reference, np.int64), np.asarray(detected, np.int64),
                            round(MATCH_WINDOW_S * fs))  # fmt: skip
    tp, fp, fn = int(c.tp), int(c.fp), int(c.fn)
    return {"tp": tp, "fp": fp, "fn": fn, "se": tp / (tp + fn) if tp + fn else None,
            "ppv": tp / (tp + fp) if tp + fp else None}  # fmt: skip


def gross_score(per_record: list[dict]) -> dict:
    """EC57's gross statistic: the counts of every record summed, Se and +P of the sums."""
    tp, fp, fn = (sum(r[k] for r in per_record) for k in ("tp", "fp", "fn"))
    return {"tp": tp, "fp": fp, "fn": fn, "se": tp / (tp + fn) if tp + fn else None,
            "ppv": tp / (tp + fp) if tp + fp else None}  # fmt: skip
