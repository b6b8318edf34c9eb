"""QONNX export of a trained network (``brevitas.export.export_qonnx``), cleaned up with qonnx."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from .nets import EcgBnn


def export_qonnx(model: EcgBnn | torch.nn.Module, path: Path | str,
                 tau: list[float] | None = None) -> Path:  # fmt: skip
    """Write ``model`` (an ECG-BNN, binary or WnAn, a :class:`~.resnet.QuantResNet1d` or a
    :class:`~.leadnet.QuantLeadNet`) as QONNX to ``path`` atomically and return ``path``.

    The graph takes float32 ``[1, 1, L]`` (a lead x time network: ``[1, 1, leads, L]``)
    z-scored input named ``global_in`` (a network with metadata also float32 ``[1, M]``
    features, ``global_in_1``) and gives float32 ``[1, n_classes]`` scores
    ``global_out`` (a multi-label network: their sigmoids); the first node is the int8
    ``Quant``, weights and activations go through ``BipolarQuant`` (binary) or ``Quant``
    (n-bit). qonnx's ``cleanup_model`` folds constants, infers shapes and names tensors
    readably. ``tau``: a multi-label network's decision level per label (``sigmoid >= tau``),
    recorded as metadata for the compiler (default 0.5 each).

    Raises
    ------
    ValueError
        ``model`` is a full-precision twin (there is nothing to quantize; export it with
        ``torch.onnx`` instead).
    CompileError
        A network that states why it has no QONNX / integer lowering (``lowering_refused``,
        e.g. the zoo's DeepResidualCNN with its attention).
    """
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    if not getattr(model.config, "binary", True):
        raise ValueError("QONNX export is for quantized networks; this is a full-precision twin")
    refused = getattr(model, "lowering_refused", "")
    if refused:
        from ecgaccel.hw.compile import CompileError

        raise CompileError(f"{type(model).__name__}: {refused}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    cfg = model.config
    example = cfg.example_input() if hasattr(cfg, "example_input") else (
        torch.zeros(1, 1, cfg.input_length))  # fmt: skip
    if getattr(cfg, "multilabel", False):
        # eval() too: the exporter restores the wrapper's mode afterwards, on the network too
        model = _Sigmoid(model).eval()
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with quiet_export():
            brevitas_export_qonnx(model, example, export_path=tmp)
        wrapper = cleanup_model(ModelWrapper(tmp))
        graph = wrapper.graph
        graph.input[0].name, graph.output[0].name = _rename_io(wrapper)
        if tau is not None:  # a multi-label network's decision levels (hw.graph.TAU_KEY)
            from ecgaccel.hw.graph import TAU_KEY

            wrapper.set_metadata_prop(TAU_KEY, json.dumps([float(t) for t in tau]))
        wrapper.save(tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".data"):  # torch.onnx may write external data beside it
            if os.path.exists(leftover):
                os.unlink(leftover)
    os.chmod(path, 0o644)
    return path


class _Sigmoid(torch.nn.Module):
    """``sigmoid(model(x))``: a multi-label network's exported output (per-label
    probabilities; the compiler turns ``sigmoid >= tau`` into integer thresholds)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(*inputs))


@contextlib.contextmanager
def quiet_export() -> Iterator[None]:
    """Silence an exporter's warnings, prints and ``torch.onnx`` log lines inside the block."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        yield


def _rename_io(wrapper) -> tuple[str, str]:
    """Rename the graph's input and output tensors to ``global_in`` / ``global_out`` (a second
    input, the metadata: ``global_in_1``)."""
    old = [i.name for i in wrapper.graph.input]
    old_out = wrapper.graph.output[0].name
    for k, name in enumerate(old):
        wrapper.rename_tensor(name, "global_in" if k == 0 else f"global_in_{k}")
    wrapper.rename_tensor(old_out, "global_out")
    return "global_in", "global_out"
