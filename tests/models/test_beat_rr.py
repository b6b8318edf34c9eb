"""The beat network with RR features (registry ``ecgbnn-beat-rr``, here at a small size): real
MIT-BIH beats beside their record's median beat, and their RR features, through Brevitas →
QONNX → IntGraph (the two as the leads of a 2 x time network, the RR features concatenated after
the pooling under a 4-bit quantizer, an argmax head), equal to qonnx execution and to Brevitas,
and bit-exact on the dataflow RTL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgaccel.hw.compile import compile_qonnx, load_qonnx
from ecgaccel.hw.streamline import streamline
from ecgaccel.hw.streamline.to_graph import graph_from_streamlined
from ecgaccel.models import reference
from ecgaccel.models.aami import AAMI_CLASSES
from ecgaccel.models.beats import beats_from_record, with_record_template
from ecgaccel.models.leadnet import LeadNetConfig, QuantLeadNet, quantize_metadata
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.preprocess import quantize_input, zscore
from ecgaccel.models.records import read_record, record_path
from ecgaccel.models.registry import get_spec
from ecgaccel.models.rr import RR_FEATURES
from tests.helpers import calibrated_export

PRE, POST = 22, 42  # 64 samples around the R peak at 360 Hz


@pytest.fixture(scope="module")
def beat_net(tmp_path_factory):
    """A small beat network calibrated on 400 beats of record 232 (many S beats) with their RR
    features, exported to QONNX; and 24 of those beats (int8 ``[24, 1, 2, L]``) with their RR
    integers ``[24, 5]``."""
    torch.manual_seed(5)
    shipped = get_spec("ecgbnn-beat-rr").config
    config = LeadNetConfig(5, shipped.leads, PRE + POST, 8, 2, 5, shipped.bits, multilabel=False,
                           metadata=len(RR_FEATURES), fuse_bits=shipped.fuse_bits)  # fmt: skip
    rec = read_record(record_path(bundled_data_dir(), "232"), leads=("MLII",))
    beats = with_record_template(beats_from_record(rec, PRE, POST)[0]).subset(np.arange(400))
    z, rr = zscore(beats.x), beats.meta["rr"]
    path = tmp_path_factory.mktemp("beat-rr") / "beat-rr.onnx"
    model, path = calibrated_export(QuantLeadNet(config), z, path, rr)
    pick = np.linspace(0, 399, 24).round().astype(int)
    return model, path, quantize_input(z[pick])[:, None], quantize_metadata(rr[pick])


def test_rr_features_fuse_after_the_pooling_and_the_graph_equals_qonnx_and_brevitas(beat_net):
    from qonnx.core.onnx_exec import execute_onnx

    model, path, q, mq = beat_net
    s = streamline(load_qonnx(path))
    g = graph_from_streamlined(s, "beat-rr", AAMI_CLASSES)
    assert g.types["x"].shape == (1, 2, PRE + POST)  # [C, H = beat and template, W]
    assert [n.kernel for n in g.nodes if n.op == "Conv"][-1] == (2, 1)  # across the two
    assert [(i.name, i.type.shape, i.frac_bits) for i in g.inputs][1] == ("meta", (5, 1, 1), 6)
    ops = [n.op for n in g.nodes]
    assert ops[-5:] == ["GlobalAccPool", "Concat", "MultiThreshold", "LinearHead", "LabelSelect"]
    fuse = g.nodes[ops.index("Concat") + 1]
    assert fuse.thresholds.shape[-1] == 2**4 - 1  # the 4-bit fusion quantizer: 15 steps
    inputs = {"x": q.astype(np.int64), "meta": mq[:, :, None, None]}
    ref = g.run(inputs)
    for i in range(0, len(q), 5):
        out = execute_onnx(s, {"global_in": q[i : i + 1].astype(np.float32),
                               "global_in_1": mq[i : i + 1].astype(np.float32)})  # fmt: skip
        np.testing.assert_array_equal(out["global_out"][0], ref["scores"][i])
    with torch.no_grad():
        logits = model(torch.from_numpy(q.astype(np.float32) / 32),
                       torch.from_numpy(mq.astype(np.float32) / 64)).numpy()  # fmt: skip
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-2  # no near-tie the head's rounding could flip
    np.testing.assert_array_equal(ref["decision"].reshape(-1)[clear], logits.argmax(1)[clear])
    # the RR features matter: a steady rhythm (all zeros) changes some score
    other = g.run({"x": inputs["x"], "meta": np.zeros_like(inputs["meta"])})
    assert not np.array_equal(other["scores"], ref["scores"])


def test_beat_network_is_bit_exact_on_the_dataflow_rtl(beat_net, tmp_path):
    """Beats with their RR header, input stalls and output back-pressure: RTL == reference."""
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.sim.core_sim import simulate_core

    _, path, q, mq = beat_net
    g = compile_qonnx(path, "beat-rr", AAMI_CLASSES)
    x, meta = q[:4].astype(np.int64), mq[:4]
    ref = reference.run(g, {"x": x, "meta": meta[:, :, None, None]})
    plan = plan_graph(g, in_lanes=4)
    r = simulate_core(plan, x, meta=meta, idle=0.3, pause=0.5, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref.scores)
    np.testing.assert_array_equal(r.classes, ref.word)


def test_the_built_byte_stream_design_of_a_beat_graph_is_bit_exact(beat_net, tmp_path):
    """What ``ecgaccel build`` synthesizes for a graph with a metadata input: the graph
    pipeline in its byte-stream wrapper (RR header bytes first), a byte a cycle with input gaps
    and output back-pressure: RTL == reference."""
    from ecgaccel.hw.byte_stream import ByteStreamPlan
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.sim.core_sim import simulate_core

    _, path, q, mq = beat_net
    g = compile_qonnx(path, "beat-rr", AAMI_CLASSES)
    x, meta = q[4:7].astype(np.int64), mq[4:7]
    ref = reference.run(g, {"x": x, "meta": meta[:, :, None, None]})
    plan = ByteStreamPlan(plan_graph(g, in_lanes=8))
    r = simulate_core(plan, x, meta=meta, idle=0.2, pause=0.4, seed=3, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref.scores)
    np.testing.assert_array_equal(r.classes, ref.word)
