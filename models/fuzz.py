"""The compiler's own fuzzer: random small Brevitas ECG-BNN-family networks, seeded, taken
through export → QONNX → the front end (``hw.compile``) → the chain description, and checked.

:func:`random_config` draws the weight/activation bits (1, 2, 4 or 8), the depth (2 to 6
blocks; 8-bit: 2 or 3), the channels (2 to 16 a block; 8-bit: 2 or 3), the classes (2 to 6)
and the input length (96 to 512 samples, doubled until every block has 2 outputs);
:func:`random_network` gives the network random BatchNorm statistics, γ of both signs and PReLU
slopes of both signs, so every threshold shape (monotone up or down, V, inverted V)
occurs. :func:`check_network` then asserts, on random int8 inputs:

* the streamlined graph (``hw.streamline`` → ``hw.compile.graph_of_streamlined``) is a chain,
  and its chain description (``hw.compile.chain_of``) turns back into the same graph;
* qonnx's ``execute_onnx`` of the streamlined graph equals the integer reference bit for bit;
* the reference's class equals the Brevitas model's wherever the float model's top-2 margin
  exceeds the head's fixed-point error bound (scores within that bound everywhere).

Residual blocks, 2-D convolutions, global average pooling, metadata inputs and multi-label
heads are the graph fuzzer's (:mod:`.graph_fuzz`): the same front end, there being no chain
description of them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .nets import BnnConfig, EcgBnn, quantize_input

BITS = (1, 2, 4, 8)
"""Weight and activation bits drawn."""


def random_config(seed: int) -> BnnConfig:
    """A random :class:`~.nets.BnnConfig` (seeded; see the module docstring for the ranges)."""
    rng = np.random.default_rng(seed)
    bits = int(rng.choice(BITS))
    # 8-bit networks stay narrow and shallow: the compiler reads thresholds off every
    # accumulator value, C_in * 7 * 2^14 of them per channel at 8 bits
    depth = int(rng.integers(2, 4 if bits == 8 else 7))
    channels = tuple(int(c) for c in rng.integers(2, 4 if bits == 8 else 17, size=depth - 1))
    config = BnnConfig(n_classes=int(rng.integers(2, 7)), input_length=int(rng.integers(96, 513)),
                       channels=channels, bits=bits)  # fmt: skip
    while not _fits(config):  # deep nets need longer inputs
        config = replace(config, input_length=config.input_length * 2)
    return config


def _fits(config: BnnConfig) -> bool:
    try:
        return min(config.block_lengths()) >= 2
    except ValueError:  # a block with no output
        return False


def random_network(config: BnnConfig, seed: int = 0) -> EcgBnn:
    """An untrained network of ``config`` whose BatchNorm statistics, γ (both signs), PReLU
    slopes (both signs) and convolution weights are random (seeded), in eval mode."""
    g = torch.Generator().manual_seed(seed)
    model = EcgBnn(config)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=g) * 5)
                mod.running_var.copy_(torch.rand(n, generator=g) * 20 + 0.5)
                mod.weight.copy_(torch.randn(n, generator=g))
                mod.bias.copy_(torch.randn(n, generator=g))
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * 0.5)
            elif isinstance(mod, torch.nn.Conv1d):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g))
        for name, p in model.named_parameters():
            if name.startswith("sign.") and name.endswith("scaling_impl.value"):
                p.fill_(2.0 / config.bits)  # n-bit activations: steps of about a BN unit
    return model.eval()


@dataclass(frozen=True)
class FuzzResult:
    """One checked network: ``seed``, its ``config``, the windows checked, the windows whose
    reference class differs from Brevitas's with a top-2 margin above the bound
    (``class_mismatches``, must be 0), the largest |reference score - Brevitas score| (real
    units) and its bound."""

    seed: int
    config: BnnConfig
    windows: int
    class_mismatches: int
    max_score_error: float
    score_bound: float


def check_network(seed: int, windows: int = 4, work: Path | None = None) -> FuzzResult:
    """Export, compile and check random network ``seed`` (:func:`random_config`,
    :func:`random_network`) on ``windows`` random z-scored inputs.

    Raises
    ------
    AssertionError
        The chain description is not the graph, qonnx's execution differs from the
        reference, or a score error exceeds the bound (the message names the seed).
    CompileError
        The network does not compile (a compiler bug the fuzzer found).
    """
    from qonnx.core.onnx_exec import execute_onnx

    from ecgaccel.hw.chain_graph import graph_from_chain
    from ecgaccel.hw.compile import chain_of, graph_of_streamlined, load_qonnx
    from ecgaccel.hw.graph import first_difference
    from ecgaccel.hw.streamline import streamline

    from . import reference
    from .export import export_qonnx
    from .train import predict_scores

    config = random_config(seed)
    net = random_network(config, seed)
    classes = tuple(f"c{i}" for i in range(config.n_classes))
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        path = export_qonnx(net, Path(tmp) / f"fuzz{seed}.onnx")
        model = streamline(load_qonnx(path))
        graph = graph_of_streamlined(model, f"fuzz{seed}", classes)
        desc = chain_of(graph, path)
    diff = first_difference(graph, graph_from_chain(desc).canonical())
    assert diff is None, f"seed {seed}: the chain description is not the graph: {diff}"
    z = np.random.default_rng(seed).standard_normal((windows, 1, config.input_length))
    z = z.astype(np.float32)
    q = quantize_input(z)
    ref = reference.run(desc, q)
    name = model.graph.input[0].name
    got = np.concatenate([execute_onnx(model, {name: q[k : k + 1].astype(np.float32)})
                          ["global_out"] for k in range(windows)])  # fmt: skip
    assert np.array_equal(got, ref.scores), f"seed {seed}: qonnx execution != reference"
    sw = predict_scores(net, z)
    real = ref.scores / 2.0**desc.head.frac_bits
    err = float(np.abs(real - sw).max())
    bound = _head_bound(desc)
    assert err <= bound, f"seed {seed}: score error {err:.3g} above the bound {bound:.3g}"
    top2 = np.sort(sw, axis=1)
    decided = top2[:, -1] - top2[:, -2] > 2 * bound
    bad = int(((ref.pred != sw.argmax(axis=1)) & decided).sum())
    return FuzzResult(seed, config, windows, bad, err, bound)


def _head_bound(desc) -> float:
    """A bound on the real score error of the fixed-point head: ``a_pos`` and ``a_neg`` are
    rounded to ``2^-frac_bits`` (half a unit each) and multiply sums of at most ``length *
    acc_max``; the bias adds half a unit. The factor ``1 + 2^-(coef_bits - 1)`` is a margin for
    the float32 arithmetic of the Brevitas side, not derived."""
    h, last = desc.head, desc.layers[-1]
    n = h.length * last.acc_max
    unit = 2.0**-h.frac_bits
    return float(2 * 0.5 * unit * n + 0.5 * unit) * (1 + 2.0 ** -(h.coef_bits - 1))
