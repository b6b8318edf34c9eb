"""The shipped artifacts of a trained model and how they derive from each other.

``models/checkpoints/<model>-<protocol>.pt`` (trained weights) → ``.onnx`` (QONNX, by
:func:`ecgaccel.models.export.export_qonnx`) → ``.intnet.json`` (integer description, by
:func:`ecgaccel.hw.compile.compile_qonnx`, as a chain for an ECG-BNN). The description is
always compiled from the QONNX, never from the PyTorch module, so the reference and every
hardware back end see what FINN would see.
"""

from __future__ import annotations

from pathlib import Path

from ecgaccel.hw.description import NetworkDescription
from ecgaccel.models.shipped import checkpoints_dir, shipped_checkpoint, shipped_protocols

OVERWRITE_FLAG = "--overwrite-shipped"
"""The flag that allows writing into the shipped checkpoints or the committed builds."""


def shipped_folders() -> tuple[Path, ...]:
    """Folders that hold what the package ships: ``models/checkpoints/`` and the committed
    builds under ``bitstreams/``."""
    from importlib import resources

    return (
        checkpoints_dir(),
        Path(str(resources.files("ecgaccel.bitstreams"))),
    )


def refuse_shipped(path: Path | str, allowed: bool) -> Path:
    """``path``, unless it lies in a :func:`shipped_folders` folder and ``allowed`` is false.

    Raises
    ------
    OutputPathError
        Writing there would change a shipped checkpoint or a committed build without
        :data:`OVERWRITE_FLAG` (the message says so).
    """
    from ecgaccel.hw.files import OutputPathError

    path = Path(path)
    target = path.resolve()
    for folder in shipped_folders():
        if (target == folder.resolve() or folder.resolve() in target.parents) and not allowed:
            raise OutputPathError(
                f"{path}: inside the shipped {folder.name}/ folder; write elsewhere "
                f"(--out / --out-root) or pass {OVERWRITE_FLAG} to replace what is shipped"
            )
    return path


def artifact_paths(model: str, protocol: str, checkpoint: Path | None = None) -> dict[str, Path]:
    """``{"checkpoint", "qonnx", "description"}`` paths; the latter two sit next to the
    checkpoint."""
    ckpt = Path(checkpoint) if checkpoint else shipped_checkpoint(model, protocol)
    stem = ckpt.name[: -len(".pt")] if ckpt.name.endswith(".pt") else ckpt.stem
    return {
        "checkpoint": ckpt,
        "qonnx": ckpt.with_name(stem + ".onnx"),
        "description": ckpt.with_name(stem + ".intnet.json"),
    }


def export_and_compile(
    model: str, protocol: str, checkpoint: Path | None = None, out: Path | None = None
) -> tuple[Path, Path, NetworkDescription]:
    """Export the checkpoint to QONNX and compile that to the integer description.

    Returns ``(qonnx_path, description_path, description)``; ``out`` overrides the QONNX path
    (the description then goes next to it as ``<stem>.intnet.json``).

    Raises
    ------
    CheckpointError, CompileError, ValueError
        Bad checkpoint, a graph the compiler cannot lower, a full-precision model.
    """
    paths = artifact_paths(model, protocol, checkpoint)
    from ecgaccel.hw.compile import compile_chain, compile_qonnx
    from ecgaccel.models.checkpoint import build_model, load_checkpoint
    from ecgaccel.models.export import export_qonnx
    from ecgaccel.models.nets import BnnConfig
    from ecgaccel.models.registry import get_spec

    ckpt = load_checkpoint(paths["checkpoint"])
    net = build_model(ckpt, paths["checkpoint"], expect_model=model)
    qonnx_path = Path(out) if out else paths["qonnx"]
    export_qonnx(net, qonnx_path, tau=ckpt.get("tau"))
    spec = get_spec(model)
    classes = load_task_classes(spec.task)
    # an ECG-BNN is kept as the chain the core reads; a graph network (residual adds, GAP, FC)
    # as its graph; both come out of the one front end
    compile_ = compile_chain if isinstance(spec.config, BnnConfig) else compile_qonnx
    desc = compile_(qonnx_path, f"{model}-{protocol}", classes)
    desc_path = qonnx_path.with_name(qonnx_path.stem + ".intnet.json")
    desc.save(desc_path)
    return qonnx_path, desc_path, desc


def load_task_classes(task: str) -> tuple[str, ...]:
    """Class names of a task without loading its data."""
    from ecgaccel.models.aami import AAMI_CLASSES
    from ecgaccel.models.plawiak import CLASSES_17
    from ecgaccel.models.ptbxl import BINARY_CLASSES, SUPERCLASSES

    named = {"plawiak17": CLASSES_17, "ptbxl5": SUPERCLASSES, "ptbxl-multiclass": SUPERCLASSES,
             "ptbxl-binary": BINARY_CLASSES}  # fmt: skip
    return named.get(task, AAMI_CLASSES)


def load_description(model: str, protocol: str) -> NetworkDescription:
    """The shipped integer description of ``model``/``protocol``.

    Raises
    ------
    DescriptionError
        No shipped checkpoint for ``model``/``protocol`` (the message lists what is shipped),
        no description file (the message says to run ``ecgaccel export``), or a malformed one.
    """
    from ecgaccel.hw.description import DescriptionError

    paths = artifact_paths(model, protocol)
    path = paths["description"]
    if not paths["checkpoint"].is_file():
        raise DescriptionError(f"no shipped {model} checkpoint for protocol {protocol!r}; "
                               f"shipped: {shipped_list(model)}")  # fmt: skip
    if not path.is_file():
        raise DescriptionError(
            f"{path}: no integer description; run "
            f"`ecgaccel export --model {model} --protocol {protocol}`"
        )
    return NetworkDescription.load(path)


def load_network(model: str, protocol: str, checkpoint: Path | None = None):
    """The integer network of ``model``/``protocol`` (shipped, or next to ``checkpoint``): a
    chain :class:`NetworkDescription` or a graph (:class:`~ecgaccel.hw.graph.IntGraph`).

    Raises
    ------
    DescriptionError
        As :func:`load_description`.
    """
    from ecgaccel.hw.description import DescriptionError
    from ecgaccel.hw.graph import load_network as load_file

    paths = artifact_paths(model, protocol, checkpoint)
    if checkpoint is None and not paths["checkpoint"].is_file():
        raise DescriptionError(f"no shipped {model} checkpoint for protocol {protocol!r}; "
                               f"shipped: {shipped_list(model)}")  # fmt: skip
    path = paths["description"]
    if not path.is_file():
        raise DescriptionError(f"{path}: no integer description; run `ecgaccel export --model "
                               f"{model} --protocol {protocol}`")  # fmt: skip
    return load_file(path)


def shipped_list(model: str) -> str:
    """``model``'s shipped protocols (``--protocol paper | patient``), or every shipped model
    with its protocols when none is shipped for ``model``: for error messages."""
    have = shipped_protocols(model)
    if model in have:
        return f"--model {model} --protocol {' | '.join(have[model])}"
    return "; ".join(f"--model {m} --protocol {' | '.join(ps)}" for m, ps in have.items())
