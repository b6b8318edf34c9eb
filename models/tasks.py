"""Tasks (what data a model reads) and protocols (how it is split into train / val / test).

Protocols:

* ``paper``: the BNN paper's random 80/20 split over examples (optimistic: one patient's windows
  on both sides); validation = a random 10% of the training part.
* ``patient``: no patient on two sides of train/test. MIT-BIH windows: de Chazal's DS1 records
  train, DS2 test (so the bundled DS2 records are never trained on); Plawiak: 20% of the patients
  (MIT-BIH records) by :func:`~.splits.patient_split` with rare classes covered.
* ``interpatient``: beats, DS1 → DS2 (de Chazal 2004). For ``beats-rr`` the validation part
  is whole DS1 patients (20% of the beats, every class covered, no patient with over a third of
  a class), held out from training.
* ``folds``: PTB-XL's ``strat_fold`` 1-8 train, 9 validation, 10 test (patient-wise).

Validation = a random 10% of the training examples in every protocol but ``folds``. (Holding
out whole training patients instead took 4 of DS1's 18 window patients, with most of its F and
S windows, away from training; the test patients stay unseen either way.)

Model selection (best epoch) uses only the validation part, never the test part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import splits
from .beats import load_beats, with_record_template
from .ecgset import EcgSet
from .errors import RecordNotFoundError
from .mitdb import DS1, DS2, PAPER_5CLASS_RECORDS, available_records, bundled_data_dir
from .plawiak import load_plawiak
from .ptbxl import as_binary, as_multiclass, fold_split, load_ptbxl
from .registry import PROTOCOLS, PTBXL_TASKS, TASKS
from .windows import load_windows

__all__ = ["PROTOCOLS", "TASKS", "load_task", "protocol_split", "training_records"]

BEAT_WINDOWS_S = {"beats": (1.0, 1.0), "beats-rr": (0.25, 0.45)}
"""Seconds before / from the R peak of a beat task's window (``beats``: 720 samples at 360 Hz,
``beats-rr``: 252 samples, de Chazal's 250 ms before and 450 ms after, with RR features)."""


PTBXL_TASK_VIEWS = {"ptbxl5": lambda d: d, "ptbxl-binary": as_binary,
                    "ptbxl-multiclass": as_multiclass}  # fmt: skip
"""Each PTB-XL task as a view of the multi-label set of :func:`~.ptbxl.load_ptbxl`."""


@dataclass(frozen=True)
class ProtocolSplit:
    """Index arrays (int64, into the task's :class:`EcgSet`) of one protocol."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    protocol: str
    seed: int


def default_data_dir(task: str) -> Path:
    """The data folder used when none is given: the bundled MIT-BIH records.

    Raises
    ------
    RecordNotFoundError
        ``task`` has no bundled data (Plawiak's fragments must be given with ``--data-dir``).
    """
    if task == "plawiak17":
        raise RecordNotFoundError(
            Path("plawiak17"), "the 17-class fragments are not bundled; pass --data-dir"
        )
    if task in PTBXL_TASKS:
        raise RecordNotFoundError(
            Path("ptbxl"), "PTB-XL's 12-lead records are not bundled; pass --data-dir"
        )
    return bundled_data_dir()


def load_task(task: str, data_dir: Path | str | None = None) -> EcgSet:
    """All examples of ``task`` (signals in mV, not normalized).

    * ``windows5``: the paper's 43 records x 180 windows (all 43 must be in ``data_dir``);
    * ``plawiak17``: the 1,000 fragments;
    * ``beats``: DS1 + DS2 beats, 720 samples (1 s before the R peak, 1 s from it);
    * ``beats-rr``: DS1 + DS2 beats, 252 samples, with their record's median beat as a second
      lead (:func:`~.beats.with_record_template`) and their RR features (``meta["rr"]``);
    * ``ptbxl5``: PTB-XL's 10-s 12-lead records at 100 Hz, five superclasses (multi-label);
      ``ptbxl-binary``: the same records, NORM alone against the rest
      (:func:`~.ptbxl.as_binary`); ``ptbxl-multiclass``: the records with exactly one
      superclass, one class each (:func:`~.ptbxl.as_multiclass`).

    Raises
    ------
    EcgDataError
        Missing or broken records (e.g. the bundled folder lacks the paper's 43 records).
    ValueError
        Unknown task.
    """
    bundled = data_dir is None
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir(task)
    needed = (
        PAPER_5CLASS_RECORDS if task == "windows5" else DS1 + DS2 if task in BEAT_WINDOWS_S else ()
    )
    if bundled and needed:
        have = set(available_records(data_dir))
        missing = [r for r in needed if r not in have]
        if missing:
            raise RecordNotFoundError(
                data_dir,
                f"the bundled records ({', '.join(sorted(have))}) are a small DS2 sample; "
                f"task {task!r} needs {len(needed)} MIT-BIH records ({len(missing)} missing): "
                "pass --data-dir with a full MIT-BIH copy (`ecgaccel data download mitdb DIR`)",
            )
    if task == "windows5":
        return load_windows(data_dir, PAPER_5CLASS_RECORDS)
    if task == "plawiak17":
        return load_plawiak(data_dir)
    if task in BEAT_WINDOWS_S:
        pre_s, post_s = BEAT_WINDOWS_S[task]
        beats = load_beats(data_dir, DS1 + DS2, pre_s=pre_s, post_s=post_s)
        return with_record_template(beats) if task == "beats-rr" else beats
    if task in PTBXL_TASK_VIEWS:
        return PTBXL_TASK_VIEWS[task](load_ptbxl(data_dir))
    raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


def protocol_split(task: str, protocol: str, data: EcgSet, seed: int = 0) -> ProtocolSplit:
    """Train / validation / test indices of ``data`` under ``protocol`` (see module docstring).

    Raises
    ------
    ValueError
        The protocol does not apply to the task.
    """
    group = "dup_group" if "dup_group" in data.meta else None
    if protocol == "folds" and task in PTBXL_TASKS:
        return ProtocolSplit(*fold_split(data), protocol, seed)
    if protocol == "paper":
        train, test = splits.random_split(data, 0.2, seed, group_key=group)
        sub_tr, sub_va = splits.random_split(data.subset(train), 0.1, seed + 1, group_key=group)
    elif protocol == "patient" and task == "windows5":
        train, test = splits.interpatient_split(data)
        sub_tr, sub_va = splits.random_split(data.subset(train), 0.1, seed + 1)
    elif protocol == "patient" and task == "plawiak17":
        train, test = splits.patient_split(data, 0.2, seed, cover_classes=True)
        sub_tr, sub_va = splits.random_split(data.subset(train), 0.1, seed + 1, group_key=group)
    elif protocol == "interpatient" and task == "beats":
        train, test = splits.interpatient_split(data)
        sub_tr, sub_va = splits.random_split(data.subset(train), 0.1, seed + 1)
    elif protocol == "interpatient" and task == "beats-rr":
        train, test = splits.interpatient_split(data)
        sub_tr, sub_va = splits.patient_split(
            data.subset(train), 0.2, seed + 1, cover_classes=True, max_share=1 / 3
        )
    else:
        raise ValueError(f"protocol {protocol!r} does not apply to task {task!r}")
    return ProtocolSplit(train[sub_tr], train[sub_va], test, protocol, seed)


def training_records(task: str, protocol: str) -> frozenset[str] | None:
    """MIT-BIH records whose examples a model trained under ``protocol`` may have seen (train or
    validation part), or ``None`` when the task is not MIT-BIH records (Plawiak fragments).

    ``patient`` (windows) and ``interpatient`` (beats) train on DS1 only; ``paper`` on a random
    80% of the windows of all 43 records, so each of those records counts as seen.
    """
    if task == "windows5":
        return (
            frozenset(DS1) - {"114"} if protocol == "patient" else frozenset(PAPER_5CLASS_RECORDS)
        )
    if task in BEAT_WINDOWS_S:
        return frozenset(DS1)
    return None
