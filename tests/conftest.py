"""Shared fixtures: the development data copy (../shared/data) and crafted broken records."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# the benches simulate a few windows: a faster C++ compile beats a faster model (sim.runner);
# measured 2026-12-02 on 2 cores, -O0 against -O1: the W2A2 dataflow test 56 s against 95 s,
# the 12-lead RTL test 42 s against 56 s, the UART and core-cycle tests alike (45 / 32 s)
os.environ.setdefault("ECGACCEL_VERILATOR_OPT", "-O0")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ECGACCEL_SHARED_DATA", REPO.parent / "shared" / "data"))


def _shared(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.is_dir():
        pytest.skip(f"development data copy {path} is absent (set ECGACCEL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    """The full MIT-BIH copy (48 records)."""
    return _shared("mitdb")


@pytest.fixture(scope="session")
def plawiak_dir() -> Path:
    """Plawiak's 17-class fragments with their manifest."""
    return _shared("plawiak17")


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    """The PTB-XL subset (1,987 records at 100 Hz, 12 leads, with age / sex / superclasses)."""
    return _shared("ptbxl")


@pytest.fixture(scope="session")
def seed_labels() -> list[str]:
    """The BNN paper's per-window label symbols of its 7,740 windows."""
    path = _shared("seed001_5class") / "label_MIT_C2.txt"
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture()
def record_copy(tmp_path: Path):
    """Copy a bundled record into a temporary folder, to be broken by a test; returns its path
    (without extension)."""
    from ecgaccel.models.mitdb import bundled_data_dir

    def copy(name: str = "233") -> Path:
        for ext in ("hea", "dat", "atr"):
            dst = tmp_path / f"{name}.{ext}"
            shutil.copy(bundled_data_dir() / f"{name}.{ext}", dst)
            dst.chmod(0o644)
        return tmp_path / name

    return copy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reads the development data copy with ``shared_data``."""
    shared = {"mitdb_dir", "plawiak_dir", "ptbxl_dir", "seed_labels"}
    for item in items:
        if shared & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared_data)
