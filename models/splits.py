"""Train/test splits as pure functions of (examples, seed): identical on every machine.

Randomness comes from SHA-256 of ``"<seed>:<key>"``, not from a PRNG, so a split depends only on
the examples' keys and the seed, never on numpy's version, the platform or the examples' order.

* :func:`interpatient_split`: de Chazal 2004 DS1 → DS2 (records fixed by the paper).
* :func:`random_split`: the BNN paper's random 80/20 over examples (optimistic: one patient's
  windows fall on both sides); groups (e.g. duplicate pairs) stay together.
* :func:`patient_split`: whole patients to one side, about ``test_fraction`` of the examples in
  test.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .ecgset import EcgSet
from .mitdb import DS1, DS2


def hash_order(keys: list[str] | np.ndarray, seed: int) -> np.ndarray:
    """Indices that sort ``keys`` by ``sha256(f"{seed}:{key}")``: a seeded shuffle that is a pure
    function of the keys (int64 ``[len(keys)]``)."""
    digests = [hashlib.sha256(f"{seed}:{k}".encode()).hexdigest() for k in keys]
    return np.array(sorted(range(len(digests)), key=digests.__getitem__), dtype=np.int64)


def example_keys(data: EcgSet) -> np.ndarray:
    """A machine- and order-independent key per example: ``"<record>:<sample>"`` (str ``[N]``).

    Two examples share a key only when they start at the same sample of the same record (exact
    duplicates, e.g. Plawiak's duplicate pairs); they then always fall on the same side.
    """
    return np.array([f"{r}:{s}" for r, s in zip(data.record, data.sample, strict=True)])


def _split_groups(
    groups: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    unique, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = hash_order(unique, seed)
    target = test_fraction * len(groups)
    cumulative = np.cumsum(sizes[order])
    n_test_groups = int(np.searchsorted(cumulative, target, side="left")) + 1
    test_groups = np.zeros(len(unique), dtype=bool)
    test_groups[order[:n_test_groups]] = True
    is_test = test_groups[inverse]
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def random_split(
    data: EcgSet, test_fraction: float = 0.2, seed: int = 0, group_key: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random split over examples (BNN paper's protocol, 80/20).

    Parameters
    ----------
    group_key:
        Name of an int array in ``data.meta`` whose equal values must stay on one side (e.g.
        ``"dup_group"`` of the Plawiak set); ``None``: every example is its own group.

    Returns
    -------
    (train, test)
        int64 index arrays, sorted; the test side holds the first groups in hash order until it
        reaches ``test_fraction`` of the examples.

    Raises
    ------
    ValueError
        ``test_fraction`` outside (0, 1).
    """
    keys = example_keys(data)
    if group_key is not None:
        groups = data.meta[group_key]
        first_key = {}
        for g, k in zip(groups, keys, strict=True):
            first_key.setdefault(g, k)
        keys = np.array([first_key[g] for g in groups])
    return _split_groups(keys, test_fraction, seed)


def patient_split(
    data: EcgSet,
    test_fraction: float = 0.2,
    seed: int = 0,
    cover_classes: bool = False,
    max_share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Patient-wise split: every patient's examples on one side (honest protocol).

    Parameters
    ----------
    cover_classes:
        First give the test side, for each class from the rarest up, one patient holding that
        class (the first in hash order) when the test side has none yet and another patient with
        it stays on the training side; then fill in hash order. Keeps rare classes on both sides
        of small validation splits.
    max_share:
        With ``cover_classes``: a patient holding more than this share of a class's examples
        stays on the training side (MIT-BIH DS1: record 208 holds 90% of the F beats, 209 40%
        of the S beats; a validation part with them would leave training without them).

    Returns
    -------
    (train, test)
        int64 index arrays; whole patients go to test until it holds at least
        ``test_fraction`` of the examples.

    Raises
    ------
    ValueError
        ``test_fraction`` outside (0, 1).
    """
    if not cover_classes:
        return _split_groups(data.patient, test_fraction, seed)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    patients = np.unique(data.patient)
    counts = np.bincount(data.y, minlength=len(data.classes))
    share = {str(p): np.bincount(data.y[data.patient == p], minlength=len(counts))
             / np.maximum(counts, 1) for p in patients}  # fmt: skip
    order = [str(patients[i]) for i in hash_order(patients, seed)
             if share[str(patients[i])].max() <= max_share]  # fmt: skip
    has = {p: set(np.unique(data.y[data.patient == p]).tolist()) for p in order}
    test: list[str] = []
    for c in np.argsort(counts, kind="stable"):
        holders = [p for p in order if c in has[p]]
        if len(holders) < 2 or any(c in has[p] for p in test):
            continue
        test.append(holders[0])
    size = {p: int((data.patient == p).sum()) for p in order}
    for p in order:
        if sum(size[q] for q in test) >= test_fraction * len(data):
            break
        if p not in test:
            test.append(p)
    is_test = np.isin(data.patient, test)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def interpatient_split(data: EcgSet) -> tuple[np.ndarray, np.ndarray]:
    """de Chazal 2004 inter-patient split: (DS1 indices, DS2 indices) by record; examples of
    records in neither set (paced records) are in neither."""
    return (np.flatnonzero(np.isin(data.record, DS1)), np.flatnonzero(np.isin(data.record, DS2)))
