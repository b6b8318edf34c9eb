"""RR-interval features of beats, normalized per record (host-side, from R-peak positions).

The rhythm context that a beat's morphology lacks: a supraventricular ectopic (S) beat looks
like a normal one but comes early. de Chazal et al. 2004 (IEEE TBME 51(7)) feed the previous,
next, local-average and average RR interval to their classifier; Mondéjar-Guerra et al. 2019
(BSPC 47) divide them by the record's average RR so that they transfer across patients. Here
each feature is such a ratio minus 1 (0 for a beat in a steady rhythm) times :data:`RR_GAIN`,
clipped to the metadata input's int8 range at 2^-6 (``[-2, 2)``,
:func:`~.leadnet.quantize_metadata`): the gain spreads the typical ratios (0.5 to 1.5) over
that range, so that the quantizer after the fusion, whose one scale also covers the pooled
morphology features, does not round them away.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

RR_FEATURES = ("pre", "post", "local", "pre_over_local", "post_over_pre")
"""The features of :func:`rr_features`, in order."""

RR_GAIN = 4.0
"""Factor on ``ratio - 1``: a ratio of 0.75 (a beat 25% early) is -1, one of 1.5 saturates."""
RR_MAX = 2.0 - 2.0**-6
"""The largest metadata value (int8 at 2^-6: 127 / 64)."""

LOCAL_BEATS = 10
"""Half-width of the local-average window, in beats (de Chazal 2004: the ten RR intervals
around the beat)."""


def rr_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """RR features float32 ``[N, 5]`` (:data:`RR_FEATURES`) of a record's ``N`` beats.

    With ``pre`` / ``post`` the RR interval before / after the beat (s), ``local`` the mean
    ``pre`` over the ``2 * LOCAL_BEATS + 1`` beats centred on it, and ``avg`` the record's mean
    RR interval, each times :data:`RR_GAIN` and clipped to ``[-2, RR_MAX]``:
    ``pre / avg - 1``, ``post / avg - 1``, ``local / avg - 1``, ``pre / local - 1``,
    ``post / pre - 1``. The first beat's ``pre`` is its ``post`` and the last beat's ``post``
    its ``pre``.

    Parameters
    ----------
    r_peaks:
        int ``[N]``: every beat's R-peak position in samples, strictly increasing (annotated or
        detected; all beats of the record, so that the intervals are the true ones).
    fs:
        Sampling frequency in Hz.

    Raises
    ------
    ValueError
        Fewer than two beats, or positions not strictly increasing.
    """
    r = np.asarray(r_peaks, dtype=np.float64)
    if r.ndim != 1 or len(r) < 2:
        raise ValueError(f"RR features need at least two beats, got {len(r)}")
    rr = np.diff(r) / fs
    if (rr <= 0).any():
        raise ValueError("R-peak positions must be strictly increasing")
    pre = np.concatenate([rr[:1], rr])
    post = np.concatenate([rr, rr[-1:]])
    local = uniform_filter1d(pre, size=2 * LOCAL_BEATS + 1, mode="nearest")
    avg = rr.mean()
    feats = [pre / avg, post / avg, local / avg, pre / local, post / pre]
    f = RR_GAIN * (np.stack(feats, axis=1) - 1.0)
    return np.clip(f, -2.0, RR_MAX).astype(np.float32)
