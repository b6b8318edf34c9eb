"""Atomic file writes, shared by every package (``hw`` is the layer all others may import).

A reader never sees a half-written file, and an interrupted write leaves the old file intact:
the data goes to a temporary file in the same folder, which is then renamed over the target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder; mode 0644.

    Raises
    ------
    OSError
        The folder cannot be created or written.
    """
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating its folder; mode 0644.

    Raises
    ------
    OSError
        The folder cannot be created or written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names the path and the problem."""


def ensure_output_dir(path: Path | str) -> Path:
    """Create the output folder ``path`` (and its parents) and check that files can be
    written in it, before any work is done.

    Raises
    ------
    OutputPathError
        ``path`` or a parent is an existing file, the folder cannot be created (the system's
        reason), or it is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: exists and is not a folder (choose another --out)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write here ({exc.strerror or exc})") from exc
    return path


def check_output_file(path: Path | str) -> Path:
    """Check, before any work is done, that the file ``path`` can be written (its folder is
    created).

    Raises
    ------
    OutputPathError
        ``path`` is a folder, or its folder cannot be created or written
        (:func:`ensure_output_dir`).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path}: is a folder; give a file name")
    ensure_output_dir(path.parent)
    return path
