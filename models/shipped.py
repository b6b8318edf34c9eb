"""Where the shipped checkpoints live and which are shipped: paths only (no PyTorch), so that
reading a shipped description or listing the shipped models stays fast."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["checkpoints_dir", "shipped_checkpoint", "shipped_protocols"]


def checkpoints_dir() -> Path:
    """The package's shipped checkpoints folder (``models/checkpoints/``)."""
    return Path(str(resources.files("ecgaccel.models"))) / "checkpoints"


def shipped_checkpoint(model: str, protocol: str) -> Path:
    """Path of the checkpoint shipped with the package for ``model`` trained under ``protocol``
    (``models/checkpoints/<model>-<protocol>.pt``)."""
    return checkpoints_dir() / f"{model}-{protocol}.pt"


def shipped_protocols(model: str) -> dict[str, tuple[str, ...]]:
    """Protocols of the checkpoints shipped for ``model`` (``{model: protocols}``, one entry),
    or, when none is shipped for it, every shipped model with its protocols."""
    folder = checkpoints_dir()
    have: dict[str, list[str]] = {}
    for p in sorted(folder.glob("*.pt")):
        name, _, protocol = p.name[: -len(".pt")].rpartition("-")
        have.setdefault(name, []).append(protocol)
    if model in have:
        return {model: tuple(have[model])}
    return {m: tuple(ps) for m, ps in have.items()}
