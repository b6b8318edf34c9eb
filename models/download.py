"""Downloading PhysioNet databases with ``wfdb.dl_database``."""

from __future__ import annotations

from pathlib import Path

import wfdb

from .errors import DataDownloadError


def download_database(name: str, dest: Path | str, records: list[str] | None = None) -> Path:
    """Download PhysioNet database ``name`` (e.g. ``"mitdb"``) into ``dest``.

    Parameters
    ----------
    records:
        Record names to fetch; ``None`` fetches every record.

    Returns
    -------
    Path
        ``dest``, which then holds the WFDB files (and is usable as ``--data-dir``).

    Raises
    ------
    DataDownloadError
        PhysioNet is unreachable (offline), the database does not exist, or a file failed.
    """
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database(name, dl_dir=str(dest), records=records or "all")
    except Exception as exc:  # requests/urllib/HTTP errors of assorted types
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataDownloadError(
            dest,
            f"could not download PhysioNet database {name!r} "
            f"(offline, or no such database?): {reason}",
        ) from exc
    return dest
