"""``ecgaccel export`` on checkpoints: artifacts written; bad files give one-line errors."""

from __future__ import annotations

import subprocess
import sys

from ecgaccel.cli import main
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.models.checkpoint import FORMAT, atomic_save, config_to_dict
from ecgaccel.models.nets import BnnConfig
from tests.helpers import random_bnn


def test_export_writes_qonnx_and_description(tmp_path, capsys):
    model = random_bnn(BnnConfig(5), seed=3)
    ckpt = {"format": FORMAT, "model": "ecgbnn5", "config": config_to_dict(model.config),
            "state_dict": model.state_dict(), "seed": 0}  # fmt: skip
    atomic_save(ckpt, tmp_path / "m.pt")
    assert main(["export", "--model", "ecgbnn5", "--checkpoint", str(tmp_path / "m.pt")]) == 0
    assert "28280 weight bits" in capsys.readouterr().out
    assert (tmp_path / "m.onnx").is_file()
    desc = NetworkDescription.load(tmp_path / "m.intnet.json")
    assert desc.classes == ("N", "S", "V", "F", "Q") and len(desc.layers) == 6


def test_corrupted_checkpoint_is_one_line_error(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    out = subprocess.run(
        [sys.executable, "-m", "ecgaccel.cli", "export", "--model", "ecgbnn5", "--checkpoint",
         str(tmp_path / "bad.pt")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "bad.pt: not a readable PyTorch checkpoint" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
