"""The common in-memory form of an ECG data set: signals, targets and provenance per example."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class EcgSet:
    """A set of fixed-length ECG examples (beats, windows or fragments) with their provenance.

    Attributes
    ----------
    x:
        float32 ``[N, C, L]``: signals in mV, ``C`` leads, ``L`` samples at ``fs``.
    y:
        int64 ``[N]`` class indices into ``classes``, or ``[N, K]`` multi-hot for multi-label
        targets.
    classes:
        Class names, e.g. the AAMI ``("N", "S", "V", "F", "Q")``.
    fs:
        Sampling frequency in Hz.
    leads:
        Lead names, ``C`` of them.
    record:
        str ``[N]``: source record of each example.
    patient:
        str ``[N]``: patient of each example (group key of patient-wise splits).
    sample:
        int64 ``[N]``: anchor position in the source record, in samples at ``fs``: the R peak of a
        beat, the first sample of a window or fragment.
    symbol:
        str ``[N]``: the source label (WFDB beat symbol, rhythm name).
    meta:
        Extra per-example arrays (e.g. ``age`` float ``[N]``, ``sex`` int ``[N]``,
        ``dup_group`` int ``[N]``).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    fs: float
    leads: tuple[str, ...]
    record: np.ndarray
    patient: np.ndarray
    sample: np.ndarray
    symbol: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: np.ndarray) -> EcgSet:
        """The examples at ``index`` (int ``[M]`` or bool ``[N]``), in that order."""
        return replace(
            self,
            x=self.x[index],
            y=self.y[index],
            record=self.record[index],
            patient=self.patient[index],
            sample=self.sample[index],
            symbol=self.symbol[index],
            meta={k: v[index] for k, v in self.meta.items()},
        )

    def class_counts(self) -> dict[str, int]:
        """Examples per class (single-label) or positives per class (multi-label)."""
        if self.y.ndim == 2:
            counts = self.y.sum(axis=0)
        else:
            counts = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}


def concat(sets: list[EcgSet]) -> EcgSet:
    """Concatenate sets that share classes, fs and leads (examples in the given order).

    Raises
    ------
    ValueError
        ``sets`` is empty or the sets disagree on classes, fs, leads or length ``L``.
    """
    if not sets:
        raise ValueError("nothing to concatenate")
    first = sets[0]
    for s in sets[1:]:
        if (s.classes, s.fs, s.leads, s.x.shape[1:]) != (
            first.classes,
            first.fs,
            first.leads,
            first.x.shape[1:],
        ):
            raise ValueError("cannot concatenate ECG sets with different classes/fs/leads/shape")
    return EcgSet(
        x=np.concatenate([s.x for s in sets]),
        y=np.concatenate([s.y for s in sets]),
        classes=first.classes,
        fs=first.fs,
        leads=first.leads,
        record=np.concatenate([s.record for s in sets]),
        patient=np.concatenate([s.patient for s in sets]),
        sample=np.concatenate([s.sample for s in sets]),
        symbol=np.concatenate([s.symbol for s in sets]),
        meta={k: np.concatenate([s.meta[k] for s in sets]) for k in first.meta},
    )
