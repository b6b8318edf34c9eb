"""The graph compiler's fuzzer: random small Brevitas graph networks (residual 1-D ResNets and
12-lead-style lead x time networks), seeded, exported to QONNX, compiled
(``hw.compile.compile_qonnx``) and checked against qonnx and Brevitas.

:func:`random_graph_config` draws either a :class:`~.resnet.ResNetConfig` (1 to 3 residual
blocks, identity or widening 1x1-projection shortcuts, kernel 3 or 5, 4 to 8 channels (4 or 5
at 8 bits), global
average pooling, a Linear head, 2 to 5 classes) or a :class:`~.leadnet.LeadNetConfig` (2 to 6
leads, 1 or 2 temporal blocks, a convolution across the leads, an optional age/sex-like
metadata input of 2 or 3 values, one class or a sigmoid per label), with weight and activation
bits among 2, 4 and 8. :func:`calibrated_network` sets the quantizer scales and BatchNorm
statistics by forward passes in training mode on random inputs (no gradient step), then draws
γ and PReLU slopes of both signs so that every threshold shape occurs. :func:`check_graph_network`
asserts, on random int8 inputs (and random metadata):

* qonnx's ``execute_onnx`` of the streamlined graph equals the graph reference
  (:meth:`~ecgaccel.hw.graph.IntGraph.run`) bit for bit, scores and decisions;
* the reference's scores are Brevitas's logits divided by the head's unit, up to the head bias's
  rounding (half a unit) and float32 noise; the class (or each label) is Brevitas's wherever
  Brevitas is more than one unit from the decision.

1-bit (bipolar) activations are drawn by the chain fuzzer (:mod:`.fuzz`), whose networks are the
ECG-BNN family; these graphs use n-bit activations (the graph networks' power-of-two grids).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from qonnx.core.onnx_exec import execute_onnx

from ecgaccel.hw.compile import graph_of_streamlined, load_qonnx
from ecgaccel.hw.semantics import logit
from ecgaccel.hw.streamline import HEAD_KEY, streamline

from .export import export_qonnx
from .leadnet import LeadNetConfig, QuantLeadNet, quantize_metadata
from .preprocess import quantize_input
from .resnet import QuantResNet1d, ResNetConfig

GRAPH_BITS = (2, 4, 8)
"""Weight and activation bits drawn."""


def random_graph_config(seed: int) -> ResNetConfig | LeadNetConfig:
    """A random graph network configuration (seeded; ranges in the module docstring)."""
    rng = np.random.default_rng(seed)
    bits = int(rng.choice(GRAPH_BITS))
    ch = int(rng.integers(4, 6 if bits == 8 else 9))  # 8 bits: thresholds over wide ranges
    kernel = int(rng.choice((3, 5)))
    classes = int(rng.integers(2, 6))
    if rng.random() < 0.5:
        blocks = int(rng.integers(1, 4))
        widths, w = [], ch
        for _ in range(blocks):
            w = w * 2 if rng.random() < 0.3 and w < 16 else w
            widths.append(w)
        return ResNetConfig(n_classes=classes, input_length=int(rng.integers(3, 9)) * 16,
                            channels=ch, blocks=blocks, kernel=kernel, bits=bits,
                            widths=tuple(widths))  # fmt: skip
    return LeadNetConfig(n_classes=classes, leads=int(rng.integers(2, 7)),
                         input_length=int(rng.integers(2, 7)) * 16, channels=ch,
                         temporal_blocks=int(rng.integers(1, 3)), kernel=kernel, bits=bits,
                         multilabel=bool(rng.random() < 0.5),
                         metadata=int(rng.choice((0, 2, 3))))  # fmt: skip


def _inputs(config, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random z-scored inputs float32 (``[n, 1, L]`` or ``[n, 1, leads, L]``) and, for a
    network with metadata, features in [-2, 2) ``[n, M]``."""
    if isinstance(config, ResNetConfig):
        return [rng.standard_normal((n, 1, config.input_length)).astype(np.float32)]
    x = rng.standard_normal((n, 1, config.leads, config.input_length)).astype(np.float32)
    if not config.metadata:
        return [x]
    # the metadata input's whole int8 range at 2^-6, negative values too
    return [x, rng.uniform(-2.0, 2.0, (n, config.metadata)).astype(np.float32)]


def calibrated_network(config: ResNetConfig | LeadNetConfig, seed: int = 0) -> torch.nn.Module:
    """An untrained network of ``config``: scales and BatchNorm statistics from four forward
    passes in training mode on random inputs, then γ and PReLU slopes of both signs (seeded);
    in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = QuantResNet1d(config) if isinstance(config, ResNetConfig) else QuantLeadNet(config)
    calib = [torch.from_numpy(a) for a in _inputs(config, 32, rng)]
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(*calib)
        g = torch.Generator().manual_seed(seed)
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                flip = torch.rand(mod.num_features, generator=g) < 0.2
                mod.weight.copy_(torch.where(flip, -mod.weight, mod.weight))
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * 0.5)
    return model.eval()


@dataclass(frozen=True)
class GraphFuzzResult:
    """One checked graph network: ``seed``, its ``config``, the node ops of its graph, the
    windows checked, the decisions (classes or labels) that differ from Brevitas's more than a
    unit from the decision level (``decision_mismatches``, must be 0) and the largest
    |reference score - Brevitas logit / unit| (``max_score_error``, units)."""

    seed: int
    config: ResNetConfig | LeadNetConfig
    ops: tuple[str, ...]
    windows: int
    decision_mismatches: int
    max_score_error: float


SCORE_TOLERANCE = 0.5
"""Reference score - Brevitas logit / unit, in units: the head bias's rounding (plus float32
noise, ``1e-3`` of the largest logit)."""


def check_graph_network(seed: int, windows: int = 4, work: Path | None = None
                        ) -> tuple[GraphFuzzResult, object, dict]:  # fmt: skip
    """Export, compile and check random graph network ``seed`` on ``windows`` random inputs.

    Returns ``(result, the IntGraph, its integer inputs {name: int [N, C, H, W]})``, so that a
    caller can take the same graph and inputs through the RTL. Raises ``AssertionError`` (the
    message names the seed) when qonnx's execution differs from the reference or a score is
    further from Brevitas's than :data:`SCORE_TOLERANCE`, and ``CompileError`` when the network
    does not compile (a compiler bug the fuzzer found).
    """
    net = calibrated_network(config := random_graph_config(seed), seed)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        model = streamline(load_qonnx(export_qonnx(net, Path(tmp) / f"graph{seed}.onnx")))
    classes = tuple(f"c{i}" for i in range(config.n_classes))
    graph = graph_of_streamlined(model, f"graph{seed}", classes)
    raw = _inputs(config, windows, np.random.default_rng(seed + 1))
    q = quantize_input(raw[0]).astype(np.int64)
    ints = {"x": q if q.ndim == 4 else q[:, :, None, :]}
    feeds = [q.astype(np.float32)]
    if len(raw) > 1:
        mq = quantize_metadata(raw[1])
        ints["meta"] = mq[:, :, None, None]
        feeds.append(mq.astype(np.float32))
    ref = graph.run(ints)
    names = [i.name for i in model.graph.input]
    for k in range(windows):
        out = execute_onnx(model, {n: f[k : k + 1] for n, f in zip(names, feeds, strict=True)})
        assert np.array_equal(out["global_out"][0], ref["scores"][k]), (
            f"seed {seed}: qonnx execution != reference (window {k})")  # fmt: skip
        decision = out["global_out_1"].reshape(-1)
        assert np.array_equal(decision, ref["decision"][k].reshape(-1)), (
            f"seed {seed}: qonnx decision != reference (window {k})")  # fmt: skip
    head = json.loads(model.get_metadata_prop(HEAD_KEY))
    unit = head["unit"]
    with torch.no_grad():
        brev = net(torch.from_numpy(feeds[0] / 32),
                   *[torch.from_numpy(f / 64) for f in feeds[1:]]).numpy()  # fmt: skip
    err = np.abs(ref["scores"] - brev / unit)
    bound = SCORE_TOLERANCE + 1e-3 * float(np.abs(brev / unit).max(initial=0.0))
    assert err.max(initial=0.0) <= bound, (
        f"seed {seed}: score error {err.max():.3g} units above {bound:.3g}")  # fmt: skip
    if getattr(config, "multilabel", False):
        cut = logit(np.asarray(head["tau"], np.float64))
        decided = np.abs(brev - cut) > unit
        labels = ref["decision"].reshape(windows, -1).astype(bool)
        bad = int(((labels != (brev >= cut)) & decided).sum())
    else:
        top2 = np.sort(brev, axis=1)
        decided = top2[:, -1] - top2[:, -2] > 2 * unit
        bad = int(((ref["decision"][:, 0] != brev.argmax(axis=1)) & decided).sum())
    result = GraphFuzzResult(seed, config, tuple(n.op for n in graph.nodes), windows, bad,
                             float(err.max(initial=0.0)))  # fmt: skip
    return result, graph, ints


def describe(config: ResNetConfig | LeadNetConfig) -> str:
    """A short summary of a drawn configuration, e.g. ``ResNet 4-bit, widths 8-16-16`` or
    ``lead x time 2-bit, 3 leads, metadata 2, multi-label``."""
    if isinstance(config, ResNetConfig):
        widths = "-".join(str(w) for w in config.block_widths)
        return f"ResNet {config.bits}-bit, K {config.kernel}, widths {config.channels}:{widths}"
    head = "multi-label" if config.multilabel else "one class"
    meta = f", metadata {config.metadata}" if config.metadata else ""
    return f"lead x time {config.bits}-bit, {config.leads} leads{meta}, {head}"
