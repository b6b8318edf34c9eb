"""Reading WFDB records: lead selection by name, resampling, and every bad-input case."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import wfdb

from ecgaccel.models.errors import (
    CorruptRecordError,
    EmptySignalError,
    MissingLeadError,
    RecordNotFoundError,
    UnknownAnnotationError,
)
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.records import read_record


def test_record_114_mlii_is_channel_1(mitdb_dir):
    both = read_record(mitdb_dir / "114", leads=None)
    assert both.leads == ("V5", "MLII")  # swapped leads in 114
    mlii = read_record(mitdb_dir / "114")
    assert mlii.leads == ("MLII",)
    np.testing.assert_array_equal(mlii.signal[0], both.signal[1])
    assert not np.array_equal(mlii.signal[0], both.signal[0])


def test_mlii_by_name_in_bundled_233():
    rec = read_record(bundled_data_dir() / "233", leads=("V1", "MLII"))
    assert rec.leads == ("V1", "MLII") and rec.signal.shape == (2, 650000)
    assert rec.signal.dtype == np.float32 and rec.fs == 360.0
    # 233.hea: MLII first sample 1005 adu, baseline 1024, 200 adu/mV -> -0.095 mV
    assert rec.signal[1, 0] == pytest.approx((1005 - 1024) / 200)


def test_resampling_scales_signal_and_annotations():
    native = read_record(bundled_data_dir() / "200")
    rec = read_record(bundled_data_dir() / "200", fs=250.0)
    assert rec.fs == 250.0 and rec.fs_original == 360.0
    assert rec.n_samples == round(650000 * 250 / 360)
    expected = np.rint(native.annotations.sample * 250 / 360).astype(np.int64)
    np.testing.assert_array_equal(rec.annotations.sample, expected)


def test_missing_record(tmp_path):
    with pytest.raises(RecordNotFoundError, match=r"999\.hea: record header not found"):
        read_record(tmp_path / "999")


def test_missing_signal_file(record_copy):
    path = record_copy()
    path.with_suffix(".dat").unlink()
    with pytest.raises(RecordNotFoundError, match=r"233\.dat: signal file"):
        read_record(path)


def test_truncated_dat(record_copy):
    path = record_copy()
    with path.with_suffix(".dat").open("r+b") as f:
        f.truncate(1_000_000)
    with pytest.raises(CorruptRecordError, match=r"233\.dat: truncated: header declares 650000"):
        read_record(path)


def test_header_sample_count_disagrees(record_copy):
    path = record_copy()
    hea = path.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("233 2 360 650000", "233 2 360 600000", 1))
    with pytest.raises(
        CorruptRecordError, match=r"declares 600000 samples but the file holds 650000"
    ):
        read_record(path)


def test_record_without_mlii(record_copy):
    path = record_copy()
    hea = path.with_suffix(".hea")
    hea.write_text(hea.read_text().replace(" MLII", " V2"))
    with pytest.raises(
        MissingLeadError, match=r"233\.hea: no signal named MLII \(signals: V2, V1\)"
    ):
        read_record(path)


def test_unparseable_header(record_copy):
    path = record_copy()
    path.with_suffix(".hea").write_text("this is not a header\n")
    with pytest.raises(CorruptRecordError, match=r"233\.hea: unreadable WFDB header"):
        read_record(path)


def _write_record(folder, name, signal):
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV"],
        sig_name=["MLII"],
        p_signal=signal,
        fmt=["16"],
        adc_gain=[200],
        baseline=[0],
        write_dir=str(folder),
    )


def test_empty_signal(tmp_path):
    (tmp_path / "e.hea").write_text("e 1 360 0\ne.dat 16 200 16 0 0 0 0 MLII\n")
    (tmp_path / "e.dat").write_bytes(b"")
    with pytest.raises(EmptySignalError, match=r"e\.hea: the record has no samples"):
        read_record(tmp_path / "e", annotation=None)


def test_all_nan_signal(tmp_path):
    _write_record(tmp_path, "nan", np.full((1000, 1), np.nan))
    with pytest.raises(EmptySignalError, match=r"nan\.hea: signal MLII is all NaN"):
        read_record(tmp_path / "nan", annotation=None)


def test_partial_nan_is_interpolated_with_warning(tmp_path):
    sig = np.linspace(0, 1, 1000)[:, None]
    sig[500] = np.nan
    _write_record(tmp_path, "gap", sig)
    with pytest.warns(RuntimeWarning, match="1 NaN samples; interpolated"):
        rec = read_record(tmp_path / "gap", annotation=None)
    assert not np.isnan(rec.signal).any()
    assert rec.signal[0, 500] == pytest.approx((rec.signal[0, 499] + rec.signal[0, 501]) / 2)


def test_unknown_annotation_symbol_custom_label(record_copy):
    import pandas as pd

    path = record_copy()
    custom = pd.DataFrame({"label_store": [42], "symbol": ["Z"], "description": ["bogus"]})
    wfdb.wrann(
        "233",
        "atr",
        np.array([10, 20]),
        symbol=["N", "Z"],
        custom_labels=custom,
        write_dir=str(path.parent),
    )
    with pytest.raises(
        UnknownAnnotationError, match=r"233\.atr: unknown annotation symbol 'Z' at sample 20"
    ):
        read_record(path)


def test_unknown_annotation_code_raw(record_copy):
    path = record_copy()
    # MIT annotation format: 16-bit words, code << 10 | time increment; code 45 is undefined
    path.with_suffix(".atr").write_bytes(struct.pack("<HHH", (1 << 10) | 10, (45 << 10) | 10, 0))
    with pytest.raises(UnknownAnnotationError, match=r"unknown annotation code .* at sample 20"):
        read_record(path)


def test_missing_annotation_file(record_copy):
    path = record_copy()
    path.with_suffix(".atr").unlink()
    with pytest.raises(RecordNotFoundError, match=r"233\.atr: annotation file not found"):
        read_record(path)
