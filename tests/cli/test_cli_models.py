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


def test_summary_lines_of_a_single_label_and_a_multi_label_report():
    """train and evaluate print one line of either kind (a single-label report has a
    macro AUC too since the metrics come from scikit-learn; only a multi-label one has exact)."""
    from ecgaccel.modelcli import _summary_line

    per = {"N": {"se": 0.9, "ppv": 0.8, "f1": 0.85, "support": 10, "auc": 0.7}}
    single = {"n": 10, "accuracy": 0.9, "macro_f1": 0.85, "kappa": 0.5, "macro_auc": 0.7,
              "storage_bytes": 100, "per_class": per}  # fmt: skip
    assert "kappa=0.5000 macro_auc=0.7000" in _summary_line(single)
    multi = {"n": 10, "macro_auc": 0.8, "macro_f1": 0.6, "exact": 0.4, "storage_bytes": 100,
             "per_class": {"MI": {"auc": 0.8, "f1": 0.6, "support": 3}}}  # fmt: skip
    assert "exact=0.4000" in _summary_line(multi)
