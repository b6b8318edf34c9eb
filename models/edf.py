"""Reading EDF / EDF+ / BDF recordings (European Data Format, Kemp et al. 1992 and 2003) into
the same :class:`~.records.EcgRecord` as a WFDB record: the lead chosen by its signal label,
physical values in mV, resampled to the requested rate.

All reading goes through ``pyedflib`` (the EDFlib C library); an EDF file carries no beat
annotations that this project reads, so its R peaks come from the detector
(:mod:`.detect`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import CorruptRecordError, EmptySignalError, MissingLeadError, RecordNotFoundError
from .records import EcgRecord, resample_signal

EDF_SUFFIXES = (".edf", ".bdf")
"""File name endings read as EDF (``.edf``, EDF+ included) or BDF (24-bit)."""

TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}
"""Factor from an EDF physical dimension (lower case) to mV."""


def _label_key(label: str) -> str:
    """A signal label compared by name: lower case, without spaces and an ``ECG`` prefix
    (EDF+ labels read e.g. ``"ECG MLII"``, its standard texts ``"ECG II"``)."""
    key = label.strip().lower().replace(" ", "")
    return key[3:] if key.startswith("ecg") and len(key) > 3 else key


def read_edf(path: Path | str, leads: tuple[str, ...] = ("MLII",), fs: float | None = 360.0
             ) -> EcgRecord:  # fmt: skip
    """Read leads ``leads`` of the EDF / BDF file ``path`` in mV, resampled to ``fs`` Hz (None
    keeps the file's rate; every chosen lead must share it).

    A lead matches a signal label equal to it ignoring case, spaces and an ``ECG`` prefix
    (``MLII`` matches ``"ECG MLII"``).

    Returns
    -------
    EcgRecord
        ``signal`` float32 ``[len(leads), L]`` mV, ``name`` the file's stem, ``path`` the file
        without its suffix, no annotations.

    Raises
    ------
    RecordNotFoundError
        No such file.
    CorruptRecordError
        Not a readable EDF / BDF file, or a lead in a physical unit that is not a voltage, or
        leads of different rates.
    MissingLeadError
        No signal of that label (the error lists the file's labels).
    EmptySignalError
        The lead has no samples.
    """
    import pyedflib

    path = Path(path)
    if not path.is_file():
        raise RecordNotFoundError(path, "EDF file not found")
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise CorruptRecordError(path, f"not a readable EDF/BDF file ({exc})") from None
    try:
        labels = list(reader.getSignalLabels())
        keys = [_label_key(x) for x in labels]
        rows, rates = [], set()
        for lead in leads:
            if _label_key(lead) not in keys:
                raise MissingLeadError(path, f"no signal labelled {lead} (signals: "
                                       f"{', '.join(labels) or 'none'})")  # fmt: skip
            i = keys.index(_label_key(lead))
            unit = reader.getPhysicalDimension(i).strip().lower()
            if unit not in TO_MV:
                raise CorruptRecordError(path, f"signal {labels[i]} is in {unit or 'no unit'!r}, "
                                         "not a voltage (mV, uV, V)")  # fmt: skip
            if reader.getNSamples()[i] == 0:
                raise EmptySignalError(path, f"signal {labels[i]} has no samples")
            rows.append(np.asarray(reader.readSignal(i), np.float64) * TO_MV[unit])
            rates.add(float(reader.getSampleFrequency(i)))
    finally:
        reader.close()
    if len(rates) > 1:
        raise CorruptRecordError(path, f"leads {', '.join(leads)} have different rates "
                                 f"({', '.join(f'{r:g}' for r in sorted(rates))} Hz)")  # fmt: skip
    fs_in = rates.pop()
    n = min(len(r) for r in rows)
    signal = np.stack([r[:n] for r in rows])
    fs_out = fs_in if fs is None else float(fs)
    if fs_out != fs_in:
        signal = resample_signal(signal, fs_in, fs_out)
    return EcgRecord(name=path.stem, path=path.with_suffix(""), signal=signal.astype(np.float32),
                     leads=tuple(leads), fs=fs_out, fs_original=fs_in)  # fmt: skip


def edf_file(data_dir: Path | str, name: str) -> Path | None:
    """The EDF / BDF file of record ``name`` in ``data_dir`` (``<name>.edf`` or ``.bdf``), or
    ``None`` when there is none."""
    for suffix in EDF_SUFFIXES:
        p = Path(data_dir) / f"{name}{suffix}"
        if p.is_file():
            return p
    return None
