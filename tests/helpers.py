"""Test helpers: small ECG-BNNs with randomized, non-trivial BatchNorm and PReLU parameters."""

from __future__ import annotations

import torch

from ecgaccel.models.nets import BnnConfig, EcgBnn


def random_bnn(config: BnnConfig, seed: int = 0) -> EcgBnn:
    """An untrained network whose BatchNorm statistics, γ (both signs) and PReLU slopes (both
    signs) are random, so every threshold shape (monotone up/down, V, inverted V) occurs."""
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


def shipped_description(model: str = "ecgbnn5", protocol: str = "patient"):
    """The integer network description of a shipped checkpoint (``.intnet.json``)."""
    from ecgaccel.artifacts import artifact_paths
    from ecgaccel.hw.description import NetworkDescription

    return NetworkDescription.load(artifact_paths(model, protocol)["description"])


def bundled_windows(records: tuple[str, ...], index: int = 0):
    """int8 windows ``[len(records), 1, 3600]``: the ``index``-th bundled window of each record,
    z-scored and quantized as ``ecgaccel run`` does."""
    import numpy as np

    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.nets import quantize_input, zscore
    from ecgaccel.models.windows import load_windows

    w = load_windows(bundled_data_dir())
    pick = [int(np.flatnonzero(w.record == r)[index]) for r in records]
    return quantize_input(zscore(w.x[pick]))
