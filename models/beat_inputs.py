"""Records → the inputs of a beat model: beats at annotated or detected R peaks, each record's
median beat as a second lead, RR features, and the integers the hardware takes.

Host-side and shared by ``ecgaccel run --task beats`` and ``ecgaccel verify`` so that both
stream exactly what the model was trained on (:func:`~.tasks.load_task` ``beats-rr``): a
window of 250 ms before and 450 ms after the R peak (de Chazal et al. 2004), the record's median
beat (:func:`~.beats.with_record_template`) and the five RR features of :mod:`.rr`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .beats import beat_window, beats_from_record, with_record_template
from .detect import detect_r_peaks
from .ecgset import EcgSet, concat
from .edf import EDF_SUFFIXES, edf_file, read_edf
from .errors import EcgDataError
from .mitdb import FS_HZ, available_records
from .preprocess import quantize_input, quantize_metadata, zscore
from .records import EcgRecord, read_record, record_path
from .registry import PEAKS
from .tasks import BEAT_WINDOWS_S


@dataclass(frozen=True)
class BeatRecords:
    """Beats of some records, ready for a ``beats-rr`` network.

    Attributes
    ----------
    beats:
        ``x`` float32 ``[N, 2, 252]`` mV (beat, record median), ``y`` AAMI class int64 ``[N]``
        (``-1``, :data:`~.beats.UNLABELED`, for a detected beat no annotation matches or a
        record without annotations), ``sample`` R peaks, ``meta["rr"]`` float32 ``[N, 5]``.
    peaks:
        ``{record: "annotations" | "detected"}``: where each record's R peaks came from.
    skipped:
        ``{record: beats}`` dropped because their window crosses the record's start or end.
    """

    beats: EcgSet
    peaks: dict[str, str]
    skipped: dict[str, int]

    def network_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The software model's inputs: z-scored beats float32 ``[N, 1, 2, L]`` and RR
        features float32 ``[N, 5]``."""
        x = zscore(self.beats.x)
        return x[:, None], np.asarray(self.beats.meta["rr"], np.float32)

    def integer_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """What the hardware takes: int8 ``[N, 1, 2, L]`` (:func:`~.preprocess.quantize_input`
        of the z-scored beats) and the metadata integers int64 ``[N, 5]``
        (:func:`~.preprocess.quantize_metadata`: the RR features at 2^-6)."""
        x, rr = self.network_inputs()
        return quantize_input(x), quantize_metadata(rr)


def _has_annotations(data_dir: Path, name: str) -> bool:
    return (record_path(data_dir, name).parent / f"{name}.atr").is_file()


def records_in(data_dir: Path | str) -> list[str]:
    """Record names in ``data_dir``: its WFDB records (:func:`~.mitdb.available_records`), then
    the stems of EDF / BDF files that are not also WFDB records.

    Raises
    ------
    RecordNotFoundError
        ``data_dir`` is not a directory.
    """
    names = list(available_records(data_dir))
    edf = sorted({p.stem for s in EDF_SUFFIXES for p in Path(data_dir).glob(f"*{s}")})
    return names + [n for n in edf if n not in names]


def read_any(data_dir: Path, name: str, lead: str, annotation: bool) -> EcgRecord:
    """Record ``name`` of ``data_dir`` at 360 Hz: a WFDB record (``<name>.hea``, with its
    ``.atr`` when ``annotation``), else an EDF / BDF file (:func:`~.edf.read_edf`)."""
    path = record_path(data_dir, name)
    if not (data_dir / f"{name}.hea").is_file() and (edf := edf_file(data_dir, name)):
        return read_edf(edf, leads=(lead,), fs=FS_HZ)
    return read_record(path, leads=(lead,), fs=FS_HZ, annotation="atr" if annotation else None)


def load_beat_records(
    data_dir: Path | str,
    records: list[str] | tuple[str, ...],
    lead: str = "MLII",
    peaks: str = "auto",
) -> BeatRecords:
    """Beats of ``records`` in ``data_dir`` (WFDB records, or EDF / BDF files
    ``<name>.edf``, :func:`read_any`) for a ``beats-rr`` network, in lead ``lead`` (resampled
    to 360 Hz), at R peaks from ``peaks`` (:data:`~.registry.PEAKS`; an EDF file has no
    annotations).

    A detected beat takes the class of the annotated beat within 150 ms (EC57), when the record
    has annotations; the RR features and the median beat come from the R peaks used.

    Raises
    ------
    EcgDataError
        A missing or broken record, a missing lead, ``peaks="annotations"`` for a record without
        a ``.atr`` file, or a record in which no beat is found (each error names the file).
    ValueError
        ``peaks`` is not one of :data:`~.registry.PEAKS`.
    """
    if peaks not in PEAKS:
        raise ValueError(f"peaks must be one of {', '.join(PEAKS)}, got {peaks!r}")
    data_dir = Path(data_dir)
    pre, post = beat_window(FS_HZ, *BEAT_WINDOWS_S["beats-rr"])
    parts, source, skipped = [], {}, {}
    for name in records:
        has_atr = _has_annotations(data_dir, name)
        path = record_path(data_dir, name)
        if peaks == "annotations" and not has_atr:
            raise EcgDataError(path.parent / f"{name}.atr", "no beat annotations (.atr): use "
                               "--peaks detect or auto")  # fmt: skip
        rec = read_any(data_dir, name, lead, has_atr)
        use_detector = peaks == "detect" or not has_atr
        r = detect_r_peaks(rec) if use_detector else None
        beats, skip = beats_from_record(rec, pre, post, r_peaks=r)
        if len(beats) == 0:
            raise EcgDataError(path, "no beat found (no R peak with a whole window around it)")
        parts.append(with_record_template(beats))
        source[str(name)] = "detected" if use_detector else "annotations"
        skipped[str(name)] = skip
    if not parts:
        raise EcgDataError(data_dir, "no records given")
    return BeatRecords(concat(parts), source, skipped)
