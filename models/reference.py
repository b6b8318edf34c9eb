"""The golden model: numpy, integers only, running an integer network description.

Every hardware test compares against these functions. Input: int8 ``[N, 1, L]`` (the quantized
z-scored window, :func:`~.nets.quantize_input`); bits are uint8 0/1 standing for -1/+1.

Integer matrix products use float64 BLAS where that is exact: every operand is an integer of at
most ``input_bits`` bits and every sum has at most ``C_in * K`` terms, far below 2^53, so the
results are the exact integers (checked by :func:`int_matmul`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgaccel.hw import semantics as sem
from ecgaccel.hw.chain_graph import graph_from_chain
from ecgaccel.hw.description import ConvLayer, NetworkDescription, SumHead, max_pool_1d
from ecgaccel.hw.graph import GraphError, IntGraph
from ecgaccel.hw.semantics import int_matmul

__all__ = ["ReferenceOutput", "conv_accumulate", "head_scores", "int_matmul", "max_pool",
           "max_pool_1d", "run"]  # fmt: skip


@dataclass(frozen=True)
class ReferenceOutput:
    """Result of :func:`run`.

    Attributes
    ----------
    scores:
        int64 ``[N, n_classes]``: the head's fixed-point class scores.
    pred:
        int64 ``[N]``: argmax of ``scores`` (lowest index on ties).
    activations:
        Chain descriptions: per layer, what it outputs: uint8 bits ``[N, C, L]`` for threshold
        layers, int64 pooled accumulators ``[N, C, L]`` for the last layer. Graphs: every
        tensor ``[N, C, H, W]`` in node order. Only with ``keep=True``.
    decision:
        The graph's decision tensor: int64 ``[N, k]`` (``LabelSelect``) or uint8 ``[N, K]``
        (multi-label); None without one.
    word:
        int64 ``[N]``: the decision word the hardware emits after the scores: ``pred``, or for
        a multi-label head the label bits (bit ``k`` = label ``k``).
    """

    scores: np.ndarray
    pred: np.ndarray
    activations: list[np.ndarray]
    decision: np.ndarray | None = None
    word: np.ndarray | None = None

    def first(self, n: int) -> ReferenceOutput:
        """The output of the first ``n`` windows (scores, classes, decision, word; no
        activations)."""
        cut = [None if a is None else a[:n] for a in (self.decision, self.word)]
        return ReferenceOutput(self.scores[:n], self.pred[:n], [], *cut)


def conv_accumulate(layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """Accumulators int64 ``[N, C_out, conv_length]`` of a chain ``layer`` on input ``x``
    ``[N, C_in, L]`` (int for the first layer, bits otherwise), after padding with the value
    ``pad_value`` (:func:`~ecgaccel.hw.semantics.conv2d` with H = 1)."""
    v = sem.values(x, layer.input_bits is None)[:, :, None, :]
    pads = (0, 0, layer.pad_left, layer.pad_right)
    acc = sem.conv2d(v, layer.weights[:, :, None, :], (1, layer.stride), pads, layer.pad_value)
    return acc[:, :, 0, :]


def max_pool(layer: ConvLayer, acc: np.ndarray) -> np.ndarray:
    """Max-pool int64 ``[N, C, conv_length]`` → ``[N, C, out_length]`` of a chain ``layer``
    (:func:`~ecgaccel.hw.semantics.max_pool` with H = 1)."""
    out = sem.max_pool(acc[..., None, :], (1, layer.pool_kernel), (1, layer.pool_stride),
                       (1, layer.out_length))  # fmt: skip
    return out[..., 0, :]


def head_scores(head: SumHead, m: np.ndarray) -> np.ndarray:
    """Class scores int64 ``[N, n_classes]`` from the last layer's pooled ints ``[N, C, L]``
    (:func:`~ecgaccel.hw.semantics.sum_head`)."""
    return sem.sum_head(m, head.a_pos, head.a_neg, head.bias)


def _chain_outputs(desc: NetworkDescription) -> list[str]:
    """The graph tensor each chain layer outputs (:func:`graph_from_chain`'s names)."""
    return [f"{layer.name}.{'pool' if layer.thresholds is None else 'act'}"
            for layer in desc.layers]  # fmt: skip


def run(desc: NetworkDescription | IntGraph, x, keep: bool = False, batch: int = 256
        ) -> ReferenceOutput:  # fmt: skip
    """Run the integer network on ``x``: for a chain description int8 ``[N, 1,
    input_length]``; for a graph the ECG int ``[N, C, H, W]`` or ``{input name: array}`` with
    a metadata input. A chain runs as its graph (:func:`graph_from_chain`), so every node type
    has one semantics (:mod:`ecgaccel.hw.semantics`).

    Raises
    ------
    ValueError
        ``x`` has the wrong shape or values outside the input's bit width (a
        :class:`~ecgaccel.hw.graph.GraphError`, a ``ValueError``).
    """
    chain = isinstance(desc, NetworkDescription)
    if chain:
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[1:] != (1, desc.input_length):
            raise ValueError(f"input must be [N, 1, {desc.input_length}], got {list(x.shape)}")
        lim = 2 ** (desc.input_bits - 1)
        if x.size and (x.min() < -lim or x.max() >= lim):
            raise ValueError(f"input values outside the signed {desc.input_bits}-bit range")
        graph, inputs = graph_from_chain(desc), {"x": x[:, :, None, :]}
    else:
        graph = desc
        inputs = x if isinstance(x, dict) else {graph.inputs[0].name: np.asarray(x)}
    n = len(next(iter(inputs.values())))
    if any(len(v) != n for v in inputs.values()):
        raise GraphError(f"graph {graph.name}: inputs of different batch sizes")
    names = _chain_outputs(desc) if chain else None
    scores, decisions, acts = [], [], {}
    for i in range(0, n, batch):
        out = graph.run({k: np.asarray(v)[i : i + batch] for k, v in inputs.items()}, keep=keep)
        scores.append(out["scores"])
        if "decision" in out:
            decisions.append(out["decision"])
        if keep:
            for k in names or [t.name for t in graph.inputs] + [nd.name for nd in graph.nodes]:
                acts.setdefault(k, []).append(out[k][:, :, 0, :] if chain else out[k])
    k = len(graph.classes)
    s = np.concatenate(scores) if scores else np.zeros((0, k), np.int64)
    decision = np.concatenate(decisions) if decisions else None
    pred = s.argmax(axis=1).astype(np.int64)
    word = pred
    if decision is not None and graph.node(graph.decision).op == "MultiLabel":
        word = (decision.reshape(len(s), -1).astype(np.int64) << np.arange(k)).sum(axis=1)
    return ReferenceOutput(
        scores=s,
        pred=pred,
        activations=[np.concatenate(a) for a in acts.values()] if keep else [],
        decision=decision,
        word=word,
    )
