"""The quantized 12-lead network (models/leadnet.py) through the graph front end: Brevitas
(Conv2d over [N, 1, leads, time], a convolution across all leads, global average pooling, a
Linear head with a sigmoid per label) → QONNX → streamlined → IntGraph with a MultiLabel
decision, equal to qonnx execution and to Brevitas, and bit-exact on the dataflow RTL."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgaccel.hw.compile import compile_qonnx
from ecgaccel.hw.streamline import HEAD_KEY, streamline
from ecgaccel.hw.streamline.to_graph import graph_from_streamlined
from ecgaccel.models import reference
from ecgaccel.models.export import export_qonnx
from ecgaccel.models.leadnet import LeadNetConfig, QuantLeadNet, quantize_metadata
from ecgaccel.models.nets import quantize_input, zscore
from tests.helpers import calibrated_export

L = 64
LABELS = ("NORM", "MI", "STTC", "CD", "HYP")


@pytest.fixture(scope="module")
def net(ptbxl_dir, tmp_path_factory):
    """A small lead x time network whose scales and BatchNorm statistics are set on real
    12-lead ECGs (PTB-XL, 100 Hz: 64-sample pieces of 8 records, forward passes in training
    mode, no gradient steps), exported to QONNX."""
    import wfdb

    torch.manual_seed(3)
    model = QuantLeadNet(LeadNetConfig(input_length=L, channels=8, temporal_blocks=2, kernel=5))
    pieces = []
    for rec in sorted((ptbxl_dir / "records100" / "00000").glob("*_lr.hea"))[:8]:
        sig = wfdb.rdrecord(str(rec.with_suffix(""))).p_signal.T  # [12, 1000] mV
        pieces += [sig[:, i : i + L] for i in range(0, 1000 - L, 2 * L)]
    x = np.stack(pieces)[:, None].astype(np.float32)  # [N, 1, 12, L]
    z = zscore(x)
    model, path = calibrated_export(model, z, tmp_path_factory.mktemp("leadnet") / "leadnet.onnx")
    return model, path, quantize_input(z[:24])


def test_the_lead_by_time_network_compiles_to_2d_convolutions_and_a_multilabel_head(net):
    _, path, _ = net
    g = compile_qonnx(path, "leadnet", LABELS)
    convs = [n for n in g.nodes if n.op == "Conv"]
    assert [c.kernel for c in convs] == [(1, 5), (1, 5), (12, 1)]
    assert g.types["x"].shape == (1, 12, L)
    assert [n.op for n in g.nodes][-3:] == ["GlobalAccPool", "LinearHead", "MultiLabel"]
    assert g.node(g.decision).tau == (0.5,) * 5


def test_reference_equals_qonnx_and_brevitas_labels(net):
    from qonnx.core.onnx_exec import execute_onnx

    from ecgaccel.hw.compile import load_qonnx

    model, path, q = net
    s = streamline(load_qonnx(path))
    g = graph_from_streamlined(s, "leadnet", LABELS)
    ref = g.run(q.astype(np.int64))
    labels = ref["decision"].reshape(len(q), -1)
    for i in range(0, len(q), 5):
        out = execute_onnx(s, {"global_in": q[i : i + 1].astype(np.float32)})
        np.testing.assert_array_equal(out["global_out"][0], ref["scores"][i])
        np.testing.assert_array_equal(out["global_out_1"][0], labels[i])
    head = json.loads(s.get_metadata_prop(HEAD_KEY))
    with torch.no_grad():
        logits = model(torch.from_numpy(q.astype(np.float32) / 32)).numpy()
    # the bias's rounding is half a unit; away from the 0.5 level Brevitas decides the same
    clear = np.abs(logits) > head["unit"]
    np.testing.assert_array_equal(labels[clear], (logits > 0)[clear])
    assert 0 < labels.sum() < labels.size  # some labels on, some off


@pytest.fixture(scope="module")
def meta_net(ptbxl_dir, tmp_path_factory):
    """The network of :func:`net` with the late-fused age / age-missing / sex input, calibrated
    on the same pieces with the records' own PTB-XL age and sex."""
    from ecgaccel.models.ptbxl import age_sex_features, load_ptbxl

    torch.manual_seed(4)
    config = LeadNetConfig(input_length=L, channels=8, temporal_blocks=2, kernel=5, metadata=3)
    model = QuantLeadNet(config)
    data = load_ptbxl(ptbxl_dir, limit=8)
    x = np.concatenate([data.x[:, None, :, i : i + L] for i in range(0, 1000 - L, 2 * L)])
    meta = np.tile(age_sex_features(data), (len(x) // len(data), 1))
    z = zscore(x)
    path = tmp_path_factory.mktemp("leadnet-meta") / "leadnet-meta.onnx"
    model, path = calibrated_export(model, z, path, meta)
    return model, path, quantize_input(z[:24]), quantize_metadata(meta[:24])


def test_metadata_joins_the_pooled_features_and_the_graph_equals_qonnx_and_brevitas(meta_net):
    from qonnx.core.onnx_exec import execute_onnx

    from ecgaccel.hw.compile import load_qonnx

    model, path, q, mq = meta_net
    s = streamline(load_qonnx(path))
    g = graph_from_streamlined(s, "leadnet-meta", LABELS)
    assert [(i.name, i.type.shape, i.frac_bits) for i in g.inputs][1] == ("meta", (3, 1, 1), 6)
    ops = [n.op for n in g.nodes]
    assert ops[-5:] == ["GlobalAccPool", "Concat", "MultiThreshold", "LinearHead", "MultiLabel"]
    ref = g.run({"x": q.astype(np.int64), "meta": mq[:, :, None, None]})
    labels = ref["decision"].reshape(len(q), -1)
    for i in range(0, len(q), 5):
        out = execute_onnx(s, {"global_in": q[i : i + 1].astype(np.float32),
                               "global_in_1": mq[i : i + 1].astype(np.float32)})  # fmt: skip
        np.testing.assert_array_equal(out["global_out"][0], ref["scores"][i])
    head = json.loads(s.get_metadata_prop(HEAD_KEY))
    with torch.no_grad():
        logits = model(torch.from_numpy(q.astype(np.float32) / 32),
                       torch.from_numpy(mq.astype(np.float32) / 64)).numpy()  # fmt: skip
    err = np.abs(ref["scores"] - logits / head["unit"])
    assert err.max() <= 0.5 + 1e-3 * np.abs(logits / head["unit"]).max(), err.max()
    clear = np.abs(logits) > head["unit"]
    np.testing.assert_array_equal(labels[clear], (logits > 0)[clear])
    # the metadata matters: another sex changes some score
    flipped = mq.copy()
    flipped[:, 2] = 64 - flipped[:, 2]
    other = g.run({"x": q.astype(np.int64), "meta": flipped[:, :, None, None]})
    assert not np.array_equal(other["scores"], ref["scores"])


def test_the_lead_by_time_network_with_metadata_is_bit_exact_on_the_dataflow_rtl(
        meta_net, tmp_path):  # fmt: skip
    """12 leads x time, the metadata header before each window, the sigmoid head's label bits:
    RTL == reference with input stalls and output back-pressure."""
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.sim.core_sim import simulate_core

    _, path, q, mq = meta_net
    g = compile_qonnx(path, "leadnet-meta", LABELS)
    x, meta = q[:3].astype(np.int64), mq[:3]
    ref = reference.run(g, {"x": x, "meta": meta[:, :, None, None]})
    plan = plan_graph(g, in_lanes=4)
    assert plan.header_beats == 1  # 3 values in the first beat's 4 lanes
    r = simulate_core(plan, x, meta=meta, idle=0.3, pause=0.5, build_root=tmp_path)
    np.testing.assert_array_equal(r.scores, ref.scores)
    bits = (ref.decision.reshape(3, -1) << np.arange(5)).sum(axis=1)  # label k in bit k
    np.testing.assert_array_equal(ref.word, bits)  # what verify compares
    np.testing.assert_array_equal(r.classes, bits)
    # back to back (the next header while this window computes): the same words, at the II
    # (this net's first SWG sets the II and a window takes little more, so it would also meet
    # it without the metadata FIFO; the FIFO matters where several windows are in flight)
    back = simulate_core(plan, x, meta=meta, overlap=True, build_root=tmp_path)
    np.testing.assert_array_equal(back.scores, ref.scores)
    est = plan.estimates()
    assert est.latency > est.ii and back.cycles[0] > est.ii  # a window takes longer than II
    assert np.all(np.abs(back.cycles[1:] - est.ii) <= 0.1 * est.ii), (back.cycles, est.ii)


def test_stated_decision_levels_become_the_label_thresholds(net, tmp_path):
    model, _, q = net
    tau = [0.3, 0.5, 0.6, 0.45, 0.7]
    g = compile_qonnx(export_qonnx(model, tmp_path / "tau.onnx", tau=tau), "leadnet", LABELS)
    head = g.node(g.decision)
    assert head.tau == tuple(tau)
    ref = g.run(q.astype(np.int64))
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(q.astype(np.float32) / 32))).numpy()
    labels = ref["decision"].reshape(len(q), -1)
    clear = np.abs(p - np.array(tau)) > 0.01  # the bias's rounding moves a logit by half a unit
    np.testing.assert_array_equal(labels[clear], (p >= np.array(tau))[clear])
    assert head.thresholds[0] < 0 < head.thresholds[4]  # tau below / above 0.5


def test_modality_dropout_acts_in_training_only():
    """``morph_dropout`` zeroes some examples' pooled ECG features in training, so their
    logits depend on the metadata alone; inference is the network without it."""
    import dataclasses

    torch.manual_seed(0)
    c = LeadNetConfig(3, 2, 64, 8, 2, 5, 4, multilabel=False, metadata=2, fuse_bits=8,
                      morph_dropout=0.5)  # fmt: skip
    net = QuantLeadNet(c)
    x, meta = 3 * torch.randn(64, 1, 2, 64), torch.randn(64, 2).clamp(-1.9, 1.9)
    net(x, meta)  # training mode: the quantizers take their scales
    net.eval()
    with torch.no_grad():
        inference = net(x, meta)
        net.training = True  # the network's own flag only: quantizers stay as they are
        dropped = net(x, meta)
        object.__setattr__(net, "config", dataclasses.replace(c, morph_dropout=0.0))
        kept = net(x, meta)
    assert torch.equal(kept, inference)  # without dropout the training pass is the inference
    gone = (dropped != inference).any(dim=1)
    assert 0 < int(gone.sum()) < 64  # some examples lost their ECG features, not all
    # what a dropped example sees: the metadata alone
    zero = net.fc(net.fuse_quant(torch.cat([torch.zeros(64, 8), net.meta_quant(meta)], dim=1)))
    assert torch.allclose(dropped[gone], zero[gone])
    with pytest.raises(ValueError, match="morph_dropout"):
        LeadNetConfig(morph_dropout=1.0)
