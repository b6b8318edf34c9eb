"""Training is deterministic and resumable; checkpoints load safely and reject bad files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ecgaccel.models.checkpoint import (
    FORMAT,
    CheckpointError,
    atomic_save,
    build_model,
    config_to_dict,
    load_checkpoint,
)
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.registry import get_spec
from ecgaccel.models.tasks import ProtocolSplit
from ecgaccel.models.train import train
from ecgaccel.models.windows import load_windows


@pytest.fixture(scope="module")
def tiny():
    data = load_windows(bundled_data_dir(), ["213"])
    idx = np.arange(len(data))
    split = ProtocolSplit(idx[:120], idx[120:150], idx[150:], "paper", seed=7)
    spec = dataclasses.replace(get_spec("ecgbnn5"), batch_size=64, epochs=2)
    return spec, data, split


def _same_state(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_and_resumable(tiny, tmp_path):
    spec, data, split = tiny
    one = train(spec, data, split, tmp_path / "a", epochs=2, progress=False)
    two = train(spec, data, split, tmp_path / "b", epochs=2, progress=False)
    assert _same_state(one.checkpoint["state_dict"], two.checkpoint["state_dict"])
    # stop after one epoch, then resume to two: same result as running straight through
    train(spec, data, split, tmp_path / "c", epochs=2, progress=False, stop_after=1)
    resumed = train(spec, data, split, tmp_path / "c", epochs=2, progress=False)
    assert len(resumed.history) == 2
    assert _same_state(one.checkpoint["state_dict"], resumed.checkpoint["state_dict"])


def test_epoch_chosen_on_the_spec_metric(tiny, tmp_path):
    spec, data, split = tiny
    spec = dataclasses.replace(spec, select="macro_auc")
    r = train(spec, data, split, tmp_path, epochs=2, progress=False)
    scores = [h["val_macro_auc"] for h in r.history]
    assert r.best_epoch == int(np.argmax(scores))
    assert r.val["macro_auc"] == pytest.approx(max(scores))


def _ckpt(model_name: str = "ecgbnn5") -> dict:
    from ecgaccel.models.nets import EcgBnn

    spec = get_spec(model_name)
    return {"format": FORMAT, "model": model_name, "config": config_to_dict(spec.config),
            "state_dict": EcgBnn(spec.config).state_dict(), "seed": 0}  # fmt: skip


def test_checkpoint_round_trip(tmp_path):
    atomic_save(_ckpt(), tmp_path / "m.pt")
    model = build_model(load_checkpoint(tmp_path / "m.pt"), tmp_path / "m.pt", "ecgbnn5")
    assert not model.training


def test_checkpoint_of_another_model(tmp_path):
    atomic_save(_ckpt("ecgbnn17"), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="is for model 'ecgbnn17', not 'ecgbnn5'"):
        build_model(load_checkpoint(tmp_path / "m.pt"), tmp_path / "m.pt", "ecgbnn5")


def test_checkpoint_of_another_shape(tmp_path):
    ckpt = _ckpt()
    ckpt["config"] = {**ckpt["config"], "channels": [4, 8, 16, 16, 32]}
    atomic_save(ckpt, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"shape .* differs from model 'ecgbnn5'"):
        build_model(load_checkpoint(tmp_path / "m.pt"), tmp_path / "m.pt", "ecgbnn5")
    ckpt = _ckpt()
    ckpt["state_dict"]["blocks.1.conv.weight"] = torch.zeros(3, 3, 3)
    atomic_save(ckpt, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="tensors do not fit model 'ecgbnn5'"):
        build_model(load_checkpoint(tmp_path / "w.pt"), tmp_path / "w.pt", "ecgbnn5")


def test_corrupted_and_foreign_checkpoints(tmp_path):
    atomic_save(_ckpt(), tmp_path / "m.pt")
    raw = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an ecgaccel checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
