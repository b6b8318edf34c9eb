"""Reading WFDB records (PhysioNet) into float signals in mV, with validation.

All reading goes through the ``wfdb`` package. Before ``wfdb`` touches a signal file, the header is
checked against the file on disk so that a truncated ``.dat`` or a header that disagrees with it
gives one clear :class:`~ecgaccel.models.errors.EcgDataError` instead of a deep traceback.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import resample_poly

from .aami import KNOWN_SYMBOLS
from .errors import (
    CorruptRecordError,
    EcgDataError,
    EmptySignalError,
    MissingLeadError,
    RecordNotFoundError,
    UnknownAnnotationError,
)

# Bytes per sample of the WFDB storage formats whose file size follows from the header
# (WFDB "signal" specification, https://www.physionet.org/physiotools/wag/signal-5.htm).
_BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3,
    "311": 4 / 3,
}  # fmt: skip


@dataclass(frozen=True)
class Annotations:
    """Annotations of one record.

    Attributes
    ----------
    sample:
        int64 ``[A]``: positions in samples at the record's (possibly resampled) ``fs``.
    symbol:
        ``[A]`` str: WFDB annotation symbols (``N``, ``V``, ``+``, ...), same order.
    """

    sample: np.ndarray
    symbol: np.ndarray


@dataclass(frozen=True)
class EcgRecord:
    """One ECG record, selected leads only.

    Attributes
    ----------
    name:
        Record name, e.g. ``"200"``.
    path:
        Record path without extension (the ``wfdb`` record name).
    signal:
        float32 ``[C, L]`` in mV, one row per selected lead.
    leads:
        Lead (signal) names, ``C`` of them, e.g. ``("MLII",)``.
    fs:
        Sampling frequency in Hz of ``signal`` (after any resampling).
    fs_original:
        Sampling frequency in Hz stored in the header.
    annotations:
        Annotations (``None`` when none were asked for), positions at ``fs``.
    comments:
        Header comment lines (age, sex, medications, diagnoses).
    """

    name: str
    path: Path
    signal: np.ndarray
    leads: tuple[str, ...]
    fs: float
    fs_original: float
    annotations: Annotations | None = None
    comments: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_samples(self) -> int:
        """Length ``L`` of the signal in samples."""
        return int(self.signal.shape[1])


def record_path(data_dir: Path | str, name: str) -> Path:
    """Path of record ``name`` in ``data_dir`` (without extension), as ``wfdb`` expects it."""
    return Path(data_dir) / str(name)


def read_header(path: Path | str) -> wfdb.Record:
    """Read and check a WFDB header ``<path>.hea``.

    Raises
    ------
    RecordNotFoundError
        ``<path>.hea`` does not exist.
    CorruptRecordError
        The header cannot be parsed.
    """
    path = Path(path)
    hea = path.parent / (path.name + ".hea")
    if not hea.is_file():
        raise RecordNotFoundError(hea, "record header not found")
    try:
        return wfdb.rdheader(str(path))
    except Exception as exc:  # wfdb raises assorted types on malformed headers
        raise CorruptRecordError(hea, f"unreadable WFDB header ({exc})") from exc


def check_signal_files(path: Path | str, header: wfdb.Record) -> None:
    """Check that every signal file of ``header`` exists and holds exactly the declared samples.

    The expected size of a file in a fixed-size format is ``byte_offset + sig_len * bytes per
    frame`` (one frame = one sample of every signal stored in that file, times its samples per
    frame). Files in formats without a fixed size per sample (``.mat``, FLAC) are only checked
    for existence.

    Raises
    ------
    RecordNotFoundError
        A signal file named by the header does not exist.
    CorruptRecordError
        A file is shorter (truncated) or longer than the header's sample count implies.
    """
    path = Path(path)
    files: dict[str, dict[str, float]] = {}
    for i, fname in enumerate(header.file_name or []):
        entry = files.setdefault(fname, {"frame_bytes": 0.0, "offset": 0.0, "sized": 1.0})
        fmt = str(header.fmt[i])
        spf = (header.samps_per_frame or [1] * header.n_sig)[i] or 1
        if fmt not in _BYTES_PER_SAMPLE or fname.endswith(".mat"):
            entry["sized"] = 0.0
            continue
        entry["frame_bytes"] += _BYTES_PER_SAMPLE[fmt] * spf
        offsets = header.byte_offset or [None] * header.n_sig
        entry["offset"] = float(offsets[i] or 0)
    for fname, entry in files.items():
        fpath = path.parent / fname
        if not fpath.is_file():
            raise RecordNotFoundError(fpath, f"signal file named by {path.name}.hea not found")
        if not entry["sized"] or header.sig_len is None or entry["frame_bytes"] == 0:
            continue
        size = fpath.stat().st_size
        expected = entry["offset"] + math.ceil(header.sig_len * entry["frame_bytes"])
        held = int((size - entry["offset"]) // entry["frame_bytes"])
        if size < expected:
            raise CorruptRecordError(
                fpath,
                f"truncated: header declares {header.sig_len} samples ({expected:.0f} bytes) "
                f"but the file has {size} bytes ({held} samples)",
            )
        if held > header.sig_len:
            raise CorruptRecordError(
                fpath,
                f"header {path.name}.hea declares {header.sig_len} samples but the file holds "
                f"{held} samples ({size} bytes)",
            )


def read_annotations(path: Path | str, extension: str = "atr") -> Annotations:
    """Read ``<path>.<extension>`` with ``wfdb.rdann`` and check its symbols.

    Returns positions at the header's sampling frequency.

    Raises
    ------
    RecordNotFoundError
        The annotation file does not exist.
    CorruptRecordError
        It cannot be parsed.
    UnknownAnnotationError
        It holds a symbol outside the WFDB standard table (the first such symbol, its sample and
        how many there are are named).
    """
    path = Path(path)
    ann_file = path.parent / f"{path.name}.{extension}"
    if not ann_file.is_file():
        raise RecordNotFoundError(ann_file, "annotation file not found")
    try:
        ann = wfdb.rdann(str(path), extension)
    except Exception as exc:
        raise CorruptRecordError(ann_file, f"unreadable annotation file ({exc})") from exc
    # an undefined annotation code reads as symbol NaN; a custom label as its own symbol
    symbols = np.array([s if isinstance(s, str) else "" for s in ann.symbol], dtype=str)
    samples = np.asarray(ann.sample, dtype=np.int64)
    unknown = ~np.isin(symbols, sorted(KNOWN_SYMBOLS))
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        what = (
            f"symbol {str(symbols[first])!r}" if symbols[first] else "code (not in the WFDB table)"
        )
        raise UnknownAnnotationError(
            ann_file,
            f"unknown annotation {what} at sample {samples[first]} "
            f"({int(unknown.sum())} unknown in all)",
        )
    return Annotations(sample=samples, symbol=symbols)


def resample_signal(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """``signal`` float ``[C, L]`` at ``fs_in`` Hz resampled to ``fs_out`` Hz along time with
    ``scipy.signal.resample_poly`` (polyphase, anti-aliased; the rate ratio as a fraction of
    denominator at most 1000)."""
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)


def read_record(
    path: Path | str,
    leads: tuple[str, ...] | None = ("MLII",),
    fs: float | None = 360.0,
    annotation: str | None = "atr",
) -> EcgRecord:
    """Read one WFDB record: selected leads in mV, resampled to ``fs``, with annotations.

    Parameters
    ----------
    path:
        Record path without extension, e.g. ``data/mitdb/114``.
    leads:
        Signal names to keep, in this order (e.g. ``("MLII",)``); ``None`` keeps every signal.
        Leads are selected by name, never by index: MIT-BIH record 114 stores MLII in channel 1.
    fs:
        Target sampling frequency in Hz; the signal is resampled with
        ``scipy.signal.resample_poly`` (polyphase, anti-aliased) and annotation positions are
        scaled and rounded. ``None`` keeps the stored rate.
    annotation:
        Annotation file extension to read (``"atr"``), or ``None`` for none.

    Returns
    -------
    EcgRecord
        ``signal`` float32 ``[len(leads), L]`` in mV.

    Raises
    ------
    RecordNotFoundError, CorruptRecordError, MissingLeadError, EmptySignalError,
    UnknownAnnotationError
        See :mod:`ecgaccel.models.errors`; each names the file and the problem. Isolated NaN
        samples (invalid ADC codes) are linearly interpolated with a ``RuntimeWarning``; a lead
        that is entirely NaN is an :class:`EmptySignalError`.
    """
    path = Path(path)
    header = read_header(path)
    hea = path.parent / (path.name + ".hea")
    names = list(header.sig_name or [])
    if leads is None:
        leads = tuple(names)
    missing = [lead for lead in leads if lead not in names]
    if missing:
        raise MissingLeadError(
            hea, f"no signal named {', '.join(missing)} (signals: {', '.join(names) or 'none'})"
        )
    if not header.sig_len:
        raise EmptySignalError(hea, "the record has no samples (sig_len 0)")
    check_signal_files(path, header)
    try:
        rec = wfdb.rdrecord(str(path), channel_names=list(leads), physical=True)
    except EcgDataError:
        raise
    except Exception as exc:
        raise CorruptRecordError(hea, f"unreadable signal data ({exc})") from exc
    signal = np.asarray(rec.p_signal, dtype=np.float64).T  # [C, L]
    for i, lead in enumerate(leads):
        bad = np.isnan(signal[i])
        if bad.all():
            raise EmptySignalError(hea, f"signal {lead} is all NaN (invalid samples only)")
        if bad.any():
            warnings.warn(
                f"{hea}: signal {lead} has {int(bad.sum())} NaN samples; interpolated linearly",
                RuntimeWarning,
                stacklevel=2,
            )
            idx = np.arange(signal.shape[1])
            signal[i, bad] = np.interp(idx[bad], idx[~bad], signal[i, ~bad])
    fs_in = float(header.fs)
    fs_out = fs_in if fs is None else float(fs)
    if fs_out != fs_in:
        signal = resample_signal(signal, fs_in, fs_out)
    ann = None
    if annotation is not None:
        ann = read_annotations(path, annotation)
        if fs_out != fs_in:
            scaled = np.rint(ann.sample * (fs_out / fs_in)).astype(np.int64)
            ann = Annotations(sample=scaled, symbol=ann.symbol)
    return EcgRecord(
        name=path.name,
        path=path,
        signal=signal.astype(np.float32),
        leads=tuple(leads),
        fs=fs_out,
        fs_original=fs_in,
        annotations=ann,
        comments=tuple(header.comments or ()),
    )
