"""Typed errors of the data layer.

Every error names the offending file (or record) and the problem in one line, so the CLI can print
``str(err)`` and exit non-zero without a traceback. All derive from :class:`EcgDataError`, itself a
``ValueError``.
"""

from __future__ import annotations

from pathlib import Path


class EcgDataError(ValueError):
    """Bad or unreadable ECG input.

    Parameters
    ----------
    path:
        The file or record path the problem is in (``Path`` or ``str``).
    problem:
        One line saying what is wrong.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RecordNotFoundError(EcgDataError, FileNotFoundError):
    """The record's header (``.hea``) or one of its files does not exist."""


class CorruptRecordError(EcgDataError):
    """A header or signal file that cannot be parsed, or a ``.dat`` whose size disagrees with
    the sample count its header declares (truncated file, wrong header)."""


class MissingLeadError(EcgDataError):
    """The record has no signal with the requested name (e.g. no ``MLII``)."""


class EmptySignalError(EcgDataError):
    """The selected signal has no samples, or every sample is NaN (invalid ADC code)."""


class UnknownAnnotationError(EcgDataError):
    """An annotation file holds a symbol outside the WFDB standard annotation table."""


class DataDownloadError(EcgDataError):
    """Downloading a database failed (offline, unknown database, server error)."""
