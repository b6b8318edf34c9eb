"""The graph front end in one call: a QONNX file → :func:`~.streamline` →
:func:`~.to_graph.graph_from_streamlined` (FINN's front end to its dataflow partition)."""

from __future__ import annotations

from pathlib import Path

from ..graph import IntGraph


def compile_graph(path: Path | str, name: str, classes: tuple[str, ...] | list[str]) -> IntGraph:
    """The :class:`~ecgaccel.hw.graph.IntGraph` of the Brevitas QONNX at ``path`` (an ECG-BNN,
    a quantized ResNet: residual adds, global average pooling, a fully connected head).

    Raises
    ------
    ecgaccel.hw.compile.CompileError
        An unreadable file, or a node the passes cannot lower (naming it).
    """
    from ..compile import load_qonnx
    from . import streamline
    from .to_graph import graph_from_streamlined

    return graph_from_streamlined(streamline(load_qonnx(path)), name, classes)
