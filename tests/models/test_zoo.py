"""The 12-lead zoo (``models.zoo``): every architecture in float and quantized, with and without
age/sex fusion; the variant names of the registry; PTB-XL's binary and multiclass tasks."""

from __future__ import annotations

import pytest
import torch

from ecgaccel.models.configs import ZOO_ARCHS, ZooConfig
from ecgaccel.models.registry import UnknownModelError, get_spec
from ecgaccel.models.zoo import build_zoo, storage_bits


@pytest.mark.parametrize("arch", ZOO_ARCHS)
def test_every_architecture_trains_in_float_and_int4_with_and_without_age_sex(arch):
    torch.manual_seed(0)
    x = torch.randn(3, 1, 12, 1000)
    for bits, meta in ((0, 0), (4, 3)):
        config = ZooConfig(arch, n_classes=5, bits=bits, metadata=meta)
        net = build_zoo(config)
        m = torch.rand(3, 3) if meta else None
        out = net(x, m)
        assert out.shape == (3, 5) and torch.isfinite(out).all()
        out.sum().backward()
        assert all(p.grad is not None for p in net.fc.parameters())
        assert net(x[:, 0], m).shape == (3, 5)  # [N, 12, L] as an EcgSet holds it
    # quantized storage: int4 convolutions take an eighth of float's 32 bits, minus the
    # per-channel words and the head's 8-bit weights
    assert storage_bits(ZooConfig(arch, bits=4)) < storage_bits(ZooConfig(arch, bits=0)) / 4


def test_bad_inputs_name_the_expected_shape():
    net = build_zoo(ZooConfig("simplenet", metadata=3))
    with pytest.raises(ValueError, match=r"SimpleNet expects metadata \[N, 3\], got None"):
        net(torch.zeros(2, 1, 12, 1000))
    with pytest.raises(
        ValueError, match=r"expects input \[N, 1, 12, 1000\], got \[2, 1, 8, 1000\]"
    ):
        net(torch.zeros(2, 1, 8, 1000), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="ZooConfig: arch in"):
        ZooConfig("resnet")


def test_attianet_has_about_the_published_parameter_count():
    net = build_zoo(ZooConfig("attianet", bits=0))
    n = sum(p.numel() for p in net.parameters())
    assert 100_000 < n < 200_000  # Attia et al.'s network: about 0.15 M (SEEDS.md §2)


def test_parallelcnnew_starts_symmetric_and_parallelcnn_does_not():
    torch.manual_seed(1)
    new = build_zoo(ZooConfig("parallelcnnew"))
    half = new.n_features // 2
    assert torch.equal(new.fc.weight[:, :half], new.fc.weight[:, half:])
    # the two branches' first convolutions: the same normal draw, each at its He scale
    a, b = new.temporal[0].unit.conv.weight, new.spatial.conv.weight
    he = [(2.0 / w[0].numel()) ** 0.5 for w in (a, b)]
    torch.testing.assert_close(a.flatten()[:5] / he[0], b.flatten()[:5] / he[1])
    old = build_zoo(ZooConfig("parallelcnn"))
    assert not torch.equal(old.fc.weight[:, :half], old.fc.weight[:, half:])


@pytest.mark.parametrize(
    ("name", "task", "n_classes", "bits", "metadata"),
    [
        ("attianet", "ptbxl5", 5, 8, 0),
        ("attianet-binary-int4-agesex", "ptbxl-binary", 2, 4, 3),
        ("simplenet-multiclass-fp", "ptbxl-multiclass", 5, 0, 0),
        ("deepresidualcnn-w2a2-agesex", "ptbxl5", 5, 2, 3),
    ],
)
def test_variant_names(name, task, n_classes, bits, metadata):
    spec = get_spec(name)
    c = spec.config
    assert (spec.name, spec.task, c.n_classes, c.bits, c.metadata) == (
        name, task, n_classes, bits, metadata)  # fmt: skip
    assert c.multilabel == (task == "ptbxl5") and spec.protocols == ("folds",)


@pytest.mark.parametrize("name", ["attianet-int3", "simplenet-agesex-int4", "zoo-binary"])
def test_unknown_variants_are_refused(name):
    with pytest.raises(UnknownModelError, match="unknown model"):
        get_spec(name)


def test_ptbxl_binary_and_multiclass_tasks(ptbxl_dir):
    import numpy as np

    from ecgaccel.models.ptbxl import as_binary, as_multiclass, load_ptbxl

    data = load_ptbxl(ptbxl_dir, limit=120)
    b = as_binary(data)
    assert b.classes == ("NORM", "ABNORMAL") and b.y.shape == (120,)
    np.testing.assert_array_equal(b.y == 0, (data.y[:, 0] == 1) & (data.y.sum(1) == 1))
    m = as_multiclass(data)
    single = data.y.sum(1) == 1
    assert len(m) == single.sum() < 120 and m.y.ndim == 1
    np.testing.assert_array_equal(m.y, data.y[single].argmax(1))
    assert list(m.record) == list(data.record[single])


@pytest.mark.parametrize(
    "model", ["simplenet-multiclass-int4-agesex", "attianet-binary-fp", "parallelcnnew-w2a2"]
)
def test_one_epoch_of_zoo_training_on_real_records(ptbxl_dir, tmp_path, model):
    """A zoo variant trains on its task's records (age and sex fused where named) and its
    checkpoint rebuilds the same network."""
    import dataclasses

    import numpy as np

    from ecgaccel.models.checkpoint import build_model
    from ecgaccel.models.ptbxl import load_ptbxl
    from ecgaccel.models.tasks import PTBXL_TASK_VIEWS, ProtocolSplit
    from ecgaccel.models.train import predict_scores, train

    spec = dataclasses.replace(get_spec(model), batch_size=16, epochs=1)
    data = PTBXL_TASK_VIEWS[spec.task](load_ptbxl(ptbxl_dir, limit=60))
    idx = np.arange(len(data))
    split = ProtocolSplit(idx[:30], idx[30:], idx[30:], "folds", seed=1)
    result = train(spec, data, split, tmp_path, progress=False)
    assert 0.0 <= result.val["macro_auc"] <= 1.0
    assert result.checkpoint["config"]["arch"] == model.split("-")[0]
    again = build_model(result.checkpoint, tmp_path / "x.pt")
    x = torch.from_numpy(data.x[:4])
    meta = torch.rand(4, 3) if spec.config.metadata else None
    with torch.no_grad():
        torch.testing.assert_close(again(x, meta), result.model.eval()(x, meta))
    assert predict_scores(again, data.x[:2], meta=None if meta is None else meta[:2].numpy()
                          ).shape == (2, spec.config.n_classes)  # fmt: skip


@pytest.mark.parametrize(
    ("arch", "meta"), [("attianet", 3), ("simplenet", 0), ("parallelcnn", 3), ("parallelcnnew", 0)]
)
def test_quantized_zoo_networks_compile_to_integer_graphs_equal_to_brevitas(arch, meta, tmp_path):
    """Calibrated on random records, exported and compiled: the integer graph's decisions are
    the Brevitas network's (no near-ties), and age/sex enter through the metadata input."""
    import numpy as np

    from ecgaccel.hw.compile import compile_qonnx
    from ecgaccel.models.leadnet import quantize_metadata
    from ecgaccel.models.preprocess import quantize_input
    from tests.helpers import calibrated_export

    torch.manual_seed(2)
    rng = np.random.default_rng(3)
    config = ZooConfig(arch, n_classes=5, width=4, bits=4, multilabel=False, metadata=meta)
    z = rng.normal(0, 1, (12, 1, 12, 1000)).astype(np.float32)
    m = rng.uniform(0, 1, (12, 3)).astype(np.float32) if meta else None
    model, path = calibrated_export(build_zoo(config), z, tmp_path / f"{arch}.onnx", m)
    g = compile_qonnx(path, arch, ("a", "b", "c", "d", "e"))
    assert (len(g.inputs) == 2) == bool(meta)
    q = quantize_input(z)
    inputs = {"x": q.astype(np.int64)}
    if meta:
        inputs["meta"] = quantize_metadata(m)[:, :, None, None]
    ref = g.run(inputs)
    with torch.no_grad():
        mt = None if m is None else torch.from_numpy(quantize_metadata(m) / 64.0).float()
        logits = model(torch.from_numpy(q.astype(np.float32) / 32), mt).numpy()
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-2
    assert clear.sum() >= 6
    np.testing.assert_array_equal(ref["decision"].reshape(-1)[clear], logits.argmax(1)[clear])


def test_deepresidualcnn_is_refused_with_the_reason(tmp_path):
    from ecgaccel.hw.compile import CompileError
    from ecgaccel.models.export import export_qonnx

    net = build_zoo(ZooConfig("deepresidualcnn", width=4, bits=4))
    with pytest.raises(CompileError, match="DeepResidualCNN: its 8-head self-attention"):
        export_qonnx(net, tmp_path / "d.onnx")
