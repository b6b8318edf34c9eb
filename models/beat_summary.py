"""A record's beats summarized the way a Holter report does: beats per AAMI class, ectopic
burden and runs of consecutive ventricular beats.

Terms as in Holter reporting (e.g. the ACC/AHA guidelines for ambulatory ECG, 1999): the
ventricular ectopic burden is the share of V beats among all beats, in %; two consecutive V
beats are a couplet, three or more a run (non-sustained ventricular tachycardia when at a
rate above 100 bpm, which this summary does not judge); likewise S for supraventricular ones.
"""

from __future__ import annotations

import numpy as np


def runs_of(flags: np.ndarray) -> np.ndarray:
    """Lengths int64 ``[R]`` of the runs of consecutive ``True`` in bool ``flags`` ``[N]``, in
    order (``[]`` when there is none)."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return (edges[1::2] - edges[0::2]).astype(np.int64)


def record_summary(classes: np.ndarray, names: tuple[str, ...] | list[str]) -> dict:
    """The Holter-style summary of one record's beats, in time order.

    Parameters
    ----------
    classes:
        int ``[N]``: each beat's AAMI class index into ``names`` (the beats of one record in
        the order they occur).
    names:
        Class names, e.g. ``("N", "S", "V", "F", "Q")``.

    Returns
    -------
    dict
        ``beats``; ``per_class`` {name: count}; ``burden_pct`` {``S``, ``V``: share of all
        beats in %} (the classes present in ``names``); ``V`` and ``S`` {``couplets`` (runs of
        exactly 2), ``runs`` (runs of 3 or more), ``longest`` (beats in the longest run, 0 for
        none)}.
    """
    c = np.asarray(classes, np.int64)
    n = len(c)
    out = {
        "beats": n,
        "per_class": {name: int((c == i).sum()) for i, name in enumerate(names)},
        "burden_pct": {},
    }
    for name in ("S", "V"):
        if name not in names:
            continue
        is_it = c == list(names).index(name)
        out["burden_pct"][name] = 100.0 * float(is_it.mean()) if n else 0.0
        r = runs_of(is_it)
        out[name] = {"couplets": int((r == 2).sum()), "runs": int((r >= 3).sum()),
                     "longest": int(r.max(initial=0))}  # fmt: skip
    return out
