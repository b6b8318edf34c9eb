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


def test_shipped_beat_graph_is_compiled_from_its_qonnx_and_predicts_like_the_float_model():
    """``ecgbnn-beat-rr``: the graph (two leads, RR features through the metadata input) the
    shipped QONNX compiles to is the shipped one, and its integer reference takes the float
    model's class on every fourth beat of the bundled records (R peaks from the annotations)."""
    from ecgaccel.hw.compile import compile_qonnx
    from ecgaccel.hw.graph import load_network
    from ecgaccel.models.beat_inputs import load_beat_records

    paths = artifact_paths("ecgbnn-beat-rr", "interpatient")
    graph = load_network(paths["description"])
    fresh = compile_qonnx(paths["qonnx"], "ecgbnn-beat-rr-interpatient",
                          load_task_classes("beats-rr"))  # fmt: skip
    assert fresh.to_json() == graph.to_json()
    net = build_model(load_checkpoint(paths["checkpoint"]), paths["checkpoint"], "ecgbnn-beat-rr")
    b = load_beat_records(bundled_data_dir(), ["200", "213", "232", "233"])
    x, rr = (a[::4] for a in b.network_inputs())
    xq, mq = (a[::4] for a in b.integer_inputs())
    ref = reference.run(
        graph, {graph.inputs[0].name: xq, graph.inputs[1].name: mq[:, :, None, None]}
    )
    np.testing.assert_array_equal(ref.pred, predict_scores(net, x, meta=rr).argmax(axis=1))
