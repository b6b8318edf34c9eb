"""EDF input through pyedflib: the lead by its label, physical values in mV, resampling, beats
from the detector, and one-line errors naming the file."""

from __future__ import annotations

import numpy as np
import pyedflib
import pytest

from ecgaccel.models.beat_inputs import load_beat_records, records_in
from ecgaccel.models.edf import read_edf
from ecgaccel.models.errors import CorruptRecordError, MissingLeadError, RecordNotFoundError
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.records import read_record

SECONDS = 120


def write_edf(path, signals: dict[str, tuple[np.ndarray, str, float]]) -> None:
    """An EDF+ file of ``{label: (physical values, unit, fs)}``."""
    w = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([
        {"label": k, "dimension": unit, "sample_frequency": fs, "physical_max": 10000.0,
         "physical_min": -10000.0, "digital_max": 32767, "digital_min": -32768}
        for k, (_, unit, fs) in signals.items()
    ])  # fmt: skip
    w.writeSamples([v for v, _, _ in signals.values()])
    w.close()


@pytest.fixture(scope="module")
def rec232():
    return read_record(bundled_data_dir() / "232", leads=("MLII",), annotation=None)


@pytest.fixture(scope="module")
def edf_dir(tmp_path_factory, rec232):
    """Two minutes of record 232's MLII as an EDF+ file in µV, labelled "ECG MLII", beside a
    respiration channel."""
    folder = tmp_path_factory.mktemp("edf")
    n = SECONDS * 360
    uv = rec232.signal[0, :n].astype(np.float64) * 1000
    write_edf(folder / "p232.edf", {"Resp": (np.zeros(n), "mV", 360.0),
                                    "ECG MLII": (uv, "uV", 360.0)})  # fmt: skip
    return folder


def test_the_lead_is_found_by_label_and_read_in_mv(edf_dir, rec232):
    r = read_edf(edf_dir / "p232.edf", leads=("MLII",))
    assert r.name == "p232" and r.fs == 360.0 and r.annotations is None
    assert r.signal.shape == (1, SECONDS * 360)
    # 16 bits over +-10 mV: steps of 0.3 uV
    np.testing.assert_allclose(r.signal[0], rec232.signal[0, : SECONDS * 360], atol=1e-3)


def test_resampled_on_reading(edf_dir):
    r = read_edf(edf_dir / "p232.edf", leads=("MLII",), fs=250.0)
    assert r.fs == 250.0 and r.fs_original == 360.0 and r.signal.shape[1] == SECONDS * 250


def test_beats_of_an_edf_file_equal_those_of_its_wfdb_record(edf_dir, tmp_path, rec232):
    assert records_in(edf_dir) == ["p232"]
    b = load_beat_records(edf_dir, ["p232"])
    assert b.peaks == {"p232": "detected"} and (b.beats.y == -1).all()
    # the same two minutes as a WFDB record without annotations: the same detected beats
    import wfdb

    n = SECONDS * 360
    wfdb.wrsamp("w232", fs=360, units=["mV"], sig_name=["MLII"], fmt=["16"], adc_gain=[1000.0],
                baseline=[0], p_signal=rec232.signal[:, :n].T.astype(np.float64),
                write_dir=str(tmp_path))  # fmt: skip
    w = load_beat_records(tmp_path, ["w232"])
    assert abs(len(w.beats) - len(b.beats)) <= 1
    k = min(len(w.beats), len(b.beats))
    assert np.abs(w.beats.sample[:k] - b.beats.sample[:k]).max() <= 1


def test_a_missing_lead_lists_the_labels(edf_dir):
    with pytest.raises(MissingLeadError, match=r"p232\.edf.*no signal labelled V5.*ECG MLII"):
        read_edf(edf_dir / "p232.edf", leads=("V5",))


def test_not_a_voltage_and_not_an_edf_are_one_line_errors(tmp_path):
    write_edf(tmp_path / "t.edf", {"ECG II": (np.zeros(3600), "degC", 360.0)})
    with pytest.raises(CorruptRecordError, match=r"t\.edf.*not a voltage"):
        read_edf(tmp_path / "t.edf", leads=("II",))
    (tmp_path / "junk.edf").write_bytes(b"not an edf file at all" * 20)
    with pytest.raises(CorruptRecordError, match=r"junk\.edf: not a readable EDF"):
        read_edf(tmp_path / "junk.edf")
    with pytest.raises(RecordNotFoundError, match=r"none\.edf"):
        read_edf(tmp_path / "none.edf")
