"""The shipped checkpoints: each one's QONNX compiles to exactly the shipped integer description,
and on real windows the integer reference predicts what the float model predicts."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.artifacts import artifact_paths, load_task_classes
from ecgaccel.hw.compile import compile_chain
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.models import reference
from ecgaccel.models.checkpoint import build_model, load_checkpoint
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.train import predict_scores
from ecgaccel.models.windows import load_windows

SHIPPED = [("ecgbnn5", "paper"), ("ecgbnn5", "patient"), ("ecgbnn17", "paper"),
           ("ecgbnn17", "patient"), ("ecgbnn5-w2a2", "patient"),
           ("ecgbnn5-w4a4", "patient")]  # fmt: skip


@pytest.fixture(scope="module")
def windows():
    w = load_windows(bundled_data_dir())
    return zscore(w.x[::6])  # 120 windows spread over the four bundled records


@pytest.mark.parametrize(("model", "protocol"), [*SHIPPED, ("ecgbnn-beat", "interpatient")])
def test_shipped_description_is_compiled_from_shipped_qonnx(model, protocol):
    paths = artifact_paths(model, protocol)
    classes = load_task_classes("plawiak17" if model == "ecgbnn17" else "windows5")
    desc = compile_chain(paths["qonnx"], f"{model}-{protocol}", classes)
    assert desc.to_json() == NetworkDescription.load(paths["description"]).to_json()


@pytest.mark.parametrize(("model", "protocol"), SHIPPED)
def test_shipped_integer_reference_predicts_like_float_model(model, protocol, windows):
    paths = artifact_paths(model, protocol)
    net = build_model(load_checkpoint(paths["checkpoint"]), paths["checkpoint"], model)
    desc = NetworkDescription.load(paths["description"])
    float_pred = predict_scores(net, windows).argmax(axis=1)
    ref = reference.run(desc, quantize_input(windows))
    np.testing.assert_array_equal(ref.pred, float_pred)
