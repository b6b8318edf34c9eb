"""Test helpers: small ECG-BNNs with randomized, non-trivial BatchNorm and PReLU parameters."""

from __future__ import annotations

from ecgaccel.models.fuzz import random_network
from ecgaccel.models.nets import BnnConfig, EcgBnn


def random_bnn(config: BnnConfig, seed: int = 0) -> EcgBnn:
    """An untrained network whose BatchNorm statistics, γ (both signs) and PReLU slopes (both
    signs) are random, so every threshold shape (monotone up/down, V, inverted V) occurs
    (:func:`ecgaccel.models.fuzz.random_network`)."""
    return random_network(config, seed)


def shipped_chain_networks() -> list[str]:
    """The shipped ``<model>-<protocol>`` names whose ``.intnet.json`` is a chain
    (:data:`ecgaccel.hw.description.FORMAT`); graph networks (:data:`ecgaccel.hw.graph.FORMAT`,
    e.g. ``ecgbnn-beat-rr``) are tested in ``tests/models/test_shipped.py``."""
    import json

    from ecgaccel.artifacts import checkpoints_dir
    from ecgaccel.hw.description import FORMAT

    return sorted(
        p.name.removesuffix(".intnet.json")
        for p in checkpoints_dir().glob("*.intnet.json")
        if json.loads(p.read_text()).get("format") == FORMAT
    )


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


def calibrated_export(model, z, path, meta=None):
    """Set ``model``'s quantizer scales and BatchNorm statistics on the z-scored inputs ``z``
    (and metadata features ``meta`` for a network that takes them; four forward passes in
    training mode, no gradient step), then export it to QONNX at ``path``; returns ``(model in
    eval mode, path)``."""
    import torch

    from ecgaccel.models.export import export_qonnx

    inputs = [torch.from_numpy(z)] + ([] if meta is None else [torch.from_numpy(meta)])
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(*inputs)
    model.eval()
    return model, export_qonnx(model, path)
