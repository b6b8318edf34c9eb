"""Checkpoints: atomic writes, safe loads (``torch.load(weights_only=True)``), shape checks."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import EcgDataError
from .nets import BnnConfig, EcgBnn
from .registry import get_spec

FORMAT = "ecgaccel-checkpoint-1"


class CheckpointError(EcgDataError):
    """A checkpoint that is missing, corrupted, or of another model or shape."""


def atomic_save(obj: Any, path: Path | str) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``: a reader
    never sees a half-written file, and an interrupted write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; shipped files are world-readable
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(path: Path | str) -> dict:
    """Load a checkpoint dict with ``weights_only=True``.

    Raises
    ------
    CheckpointError
        Missing file, unreadable / corrupted content, or not an ecgaccel checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's messages run over several lines, with advice for torch
        first = (str(exc).strip().splitlines() or [""])[0]
        why = (
            first
            if len(first) <= 80 and "weights_only" not in first
            else ("not a torch.save file, or one holding more than tensors and plain values")
        )
        raise CheckpointError(path, f"not a readable PyTorch checkpoint ({why})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(path, f"not an ecgaccel checkpoint (expected format {FORMAT})")
    return ckpt


LATER_FIELDS = {"widths": [], "metadata": 0, "fuse_bits": 0, "morph_dropout": 0.0}
"""Shape fields added after checkpoints were first written, with their defaults: a shape leaves
them out at the default, so that a checkpoint from before them matches."""
TRAINING_FIELDS = ("morph_dropout",)
"""Config fields that act in training only: a checkpoint's network is the same whatever they
were, so they are not compared with the registry's shape."""


def _without_later_defaults(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in LATER_FIELDS or v != LATER_FIELDS[k]}


def _shape(d: dict) -> dict:
    """``d`` without the training-only fields, for comparing a checkpoint with a spec."""
    return {k: v for k, v in _without_later_defaults(d).items() if k not in TRAINING_FIELDS}


def config_to_dict(config: BnnConfig) -> dict:
    """A :class:`BnnConfig` (or a :class:`~.resnet.ResNetConfig` / :class:`~.leadnet.
    LeadNetConfig`, tagged ``arch: resnet`` / ``leadnet``, or a zoo config with its ``arch``)
    as plain types (storable under
    ``weights_only``)."""
    from dataclasses import asdict

    from .configs import ZooConfig
    from .leadnet import LeadNetConfig
    from .resnet import ResNetConfig

    if isinstance(config, ZooConfig):  # tagged by its own arch field
        return _without_later_defaults(asdict(config))
    if isinstance(config, ResNetConfig | LeadNetConfig):
        arch = "resnet" if isinstance(config, ResNetConfig) else "leadnet"
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
        return _without_later_defaults({"arch": arch, **d})
    d = {
        "n_classes": config.n_classes,
        "input_length": config.input_length,
        "channels": list(config.channels),
        "binary": config.binary,
        "dropout": config.dropout,
    }
    if config.bits != 1:  # binary checkpoints predate the field
        d["bits"] = config.bits
    return d


def build_model(ckpt: dict, path: Path | str, expect_model: str | None = None) -> EcgBnn:
    """The network stored in ``ckpt``, in eval mode.

    Raises
    ------
    CheckpointError
        It belongs to another model than ``expect_model``, its shape differs from the registry's,
        or its tensors do not fit the network.
    """
    name = ckpt.get("model")
    if expect_model is not None and name != expect_model:
        raise CheckpointError(path, f"checkpoint is for model {name!r}, not {expect_model!r}")
    spec = get_spec(str(name))
    stored = ckpt.get("config")
    if not isinstance(stored, dict) or _shape(stored) != _shape(config_to_dict(spec.config)):
        raise CheckpointError(
            path, f"checkpoint shape {ckpt.get('config')} differs from model {name!r}"
        )
    from .registry import build_network

    model = build_network(spec.config)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise CheckpointError(path, f"tensors do not fit model {name!r}: {first}") from exc
    return model.eval()
