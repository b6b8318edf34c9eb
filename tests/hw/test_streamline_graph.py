"""The streamlined QONNX graph as the network graph (``hw.streamline.to_graph``): for every shipped
model it is, node for node in canonical form, the graph of its shipped description (compiled by
the procedural chain matcher the one front end replaced: a golden regression); qonnx's
``execute_onnx`` of the streamlined graph equals the graph's reference on real windows (also
with pools moved behind thresholds and in FINN's 4-D layout); an op without a graph node is a
CompileError naming it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from qonnx.core.onnx_exec import execute_onnx

from ecgaccel.hw.chain_graph import graph_from_chain
from ecgaccel.hw.compile import CompileError, load_qonnx
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.graph import first_difference
from ecgaccel.hw.streamline import streamline
from ecgaccel.hw.streamline.to_graph import graph_from_streamlined
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.shipped import checkpoints_dir
from ecgaccel.models.windows import load_windows
from tests.helpers import shipped_chain_networks

SHIPPED = shipped_chain_networks()  # a graph network's golden test: tests/models/test_shipped.py


@pytest.fixture(scope="module")
def q() -> np.ndarray:
    """Three real windows of different classes, quantized: int8 [3, 1, 3600]."""
    w = load_windows(bundled_data_dir())
    idx = [int(np.flatnonzero(w.y == c)[0]) for c in np.unique(w.y)][:3]
    return quantize_input(zscore(w.x[idx]))


def _inputs(desc: NetworkDescription, q: np.ndarray) -> np.ndarray:
    if desc.input_length == q.shape[-1]:
        return q
    return np.random.default_rng(0).integers(-128, 128, (3, 1, desc.input_length), np.int8)


def _execute(model, x: np.ndarray) -> np.ndarray:
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    return np.concatenate([execute_onnx(model, {name: x[k : k + 1].astype(np.float32)
                                                .reshape(shape)})["global_out"]
                           for k in range(len(x))])  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED)
def test_front_end_gives_the_shipped_description_and_qonnx_agrees(name, q):
    desc = NetworkDescription.load(checkpoints_dir() / f"{name}.intnet.json")
    model = streamline(load_qonnx(checkpoints_dir() / f"{name}.onnx"))
    graph = graph_from_streamlined(model, desc.name, desc.classes)
    a, b = graph.canonical(), graph_from_chain(desc).canonical()
    assert [n.op for n in a.nodes] == [n.op for n in b.nodes]
    assert first_difference(a, b) is None
    x = _inputs(desc, q)
    np.testing.assert_array_equal(reference.run(graph, x[:, :, None, :]).scores,
                                  _execute(model, x))  # fmt: skip


@pytest.mark.parametrize(("reorder_pool", "layout_4d"), [(True, False), (True, True)])
def test_reordered_and_4d_graphs_equal_qonnx(q, reorder_pool, layout_4d):
    desc = NetworkDescription.load(checkpoints_dir() / "ecgbnn5-patient.intnet.json")
    model = streamline(load_qonnx(checkpoints_dir() / "ecgbnn5-patient.onnx"),
                       reorder_pool=reorder_pool, layout_4d=layout_4d)  # fmt: skip
    graph = graph_from_streamlined(model, desc.name, desc.classes)
    want = _execute(model, q)
    np.testing.assert_array_equal(reference.run(graph, q[:, :, None, :]).scores, want)
    np.testing.assert_array_equal(want, reference.run(desc, q).scores)


def test_an_op_without_a_graph_node_is_named():
    model = streamline(load_qonnx(checkpoints_dir() / "ecgbnn5-patient.onnx"))
    bad = copy.deepcopy(model)
    pool = next(n for n in bad.graph.node if n.op_type == "MaxPool")
    pool.op_type = "Resize"
    with pytest.raises(CompileError, match=rf"{pool.name} \(Resize\): no graph node"):
        graph_from_streamlined(bad, "x", ("N", "S", "V", "F", "Q"))
