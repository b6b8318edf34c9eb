"""MIT-BIH Arrhythmia Database facts: record lists, patients, the bundled records.

Source: PhysioNet MIT-BIH Arrhythmia Database 1.0.0 (Moody & Mark 2001; Goldberger et al. 2000);
inter-patient split of de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7):1196-1206, 2004.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import RecordNotFoundError

FS_HZ = 360.0
"""Sampling frequency of MIT-BIH records in Hz."""

ALL_RECORDS: tuple[str, ...] = tuple(
    """
    100 101 102 103 104 105 106 107 108 109 111 112 113 114 115 116
    117 118 119 121 122 123 124 200 201 202 203 205 207 208 209 210
    212 213 214 215 217 219 220 221 222 223 228 230 231 232 233 234
    """.split()
)
"""The 48 records in the database's ``RECORDS`` order."""

PACED: tuple[str, ...] = ("102", "104", "107", "217")
"""Records with paced beats, excluded by AAMI EC57 and by de Chazal 2004."""

DS1: tuple[str, ...] = tuple(
    """
    101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207
    208 209 215 220 223 230
    """.split()
)
"""de Chazal 2004 training set (22 records)."""

DS2: tuple[str, ...] = tuple(
    """
    100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221
    222 228 231 232 233 234
    """.split()
)
"""de Chazal 2004 test set (22 records)."""

PAPER_5CLASS_RECORDS: tuple[str, ...] = tuple(r for r in ALL_RECORDS if r not in {*PACED, "114"})
"""The 43 records of the BNN paper's 5-class window set (Zhang et al. 2024): paced records and
record 114 dropped, ``RECORDS`` order kept."""

BUNDLED_RECORDS: tuple[str, ...] = ("200", "213", "232", "233")
"""DS2 records shipped in ``data/`` (ODC-By 1.0); together they hold N, S, V and F beats."""


def patient_of(record: str) -> str:
    """Patient id of a record: records 201 and 202 come from the same subject (database
    directory), every other record is its own patient."""
    return "201" if record == "202" else record


def bundled_data_dir() -> Path:
    """Folder of the records bundled with the package (``data/`` in the source tree)."""
    return Path(str(resources.files("ecgaccel.data")))


def available_records(data_dir: Path | str) -> tuple[str, ...]:
    """Records present in ``data_dir``: those of its ``RECORDS`` file, else every ``*.hea``.

    Raises
    ------
    RecordNotFoundError
        ``data_dir`` is not a directory.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise RecordNotFoundError(data_dir, "data directory not found")
    listing = data_dir / "RECORDS"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        return tuple(n for n in names if (data_dir / f"{n}.hea").is_file())
    return tuple(sorted(p.stem for p in data_dir.glob("*.hea")))


def resolve_records(
    data_dir: Path | str, records: tuple[str, ...] | list[str] | None, default: tuple[str, ...]
) -> tuple[str, ...]:
    """The records to load from ``data_dir``.

    ``records=None`` means every record of ``default`` present in ``data_dir`` (so the bundled
    subset works out of the box); explicit ``records`` must all be present.

    Raises
    ------
    RecordNotFoundError
        ``data_dir`` holds no WFDB record at all (the message says what it holds), an
        explicitly requested record has no header in ``data_dir``, or ``records=None`` and no
        record of ``default`` is present.
    """
    data_dir = Path(data_dir)
    present = set(available_records(data_dir))
    if not present:
        others = sorted({p.suffix for p in data_dir.iterdir() if p.is_file() and p.suffix})
        seen = f" (it holds {', '.join(others)} files)" if others else " (it is empty)"
        raise RecordNotFoundError(
            data_dir, f"no WFDB records here{seen}; ecgaccel reads WFDB records: a .hea header "
            "with its .dat signal and, for labels, an .atr annotation file"
        )  # fmt: skip
    if records is None:
        chosen = tuple(r for r in default if r in present)
        if not chosen:
            raise RecordNotFoundError(data_dir, "none of the expected MIT-BIH records is here")
        return chosen
    for r in records:
        if r not in present:
            raise RecordNotFoundError(data_dir / f"{r}.hea", "record header not found")
    return tuple(str(r) for r in records)
