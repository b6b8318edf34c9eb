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

from ecgaccel.hw.description import (
    ConvLayer,
    NetworkDescription,
    SumHead,
    max_pool_1d,
    sum_head_scores,
)


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
        Per layer, what it outputs: uint8 bits ``[N, C, L]`` for threshold layers, int64 pooled
        accumulators ``[N, C, L]`` for the last layer (only with ``keep=True``).
    """

    scores: np.ndarray
    pred: np.ndarray
    activations: list[np.ndarray]


def int_matmul(a: np.ndarray, b: np.ndarray, a_max: int | None = None) -> np.ndarray:
    """Exact integer product ``a @ b`` (int64 result) of integer arrays, through float BLAS:
    float32 where the bound ``max|a| * max|b| * K`` is below 2^24 (every partial sum is then an
    exactly representable integer), float64 below 2^53. ``a_max``: ``max|a|`` if the caller
    knows it (saves a pass over a large ``a``).

    Raises
    ------
    OverflowError
        The bound reaches 2^53 (float64 would not be exact).
    """
    k = a.shape[-1]
    if a_max is None:
        a_max = int(np.abs(a).max(initial=0))
    bound = float(a_max) * float(np.abs(b).max(initial=0)) * k
    if bound >= 2.0**53:
        raise OverflowError(f"integer product bound {bound:.3g} exceeds float64's exact range")
    ftype = np.float32 if bound < 2.0**24 else np.float64
    return np.rint(a.astype(ftype) @ b.astype(ftype)).astype(np.int64)


def layer_input_values(layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """The integer values a layer multiplies: int input as is, bits 0/1 → -1/+1. ``[N, C, L]``."""
    return x.astype(np.int64) if layer.input_bits is not None else x.astype(np.int64) * 2 - 1


def conv_accumulate(layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """Accumulators int64 ``[N, C_out, conv_length]`` of ``layer`` on input ``x`` ``[N, C_in, L]``
    (int for the first layer, bits otherwise), after padding with the value ``pad_value``."""
    v = layer_input_values(layer, x)
    pads = ((0, 0), (0, 0), (layer.pad_left, layer.pad_right))
    v = np.pad(v, pads, constant_values=layer.pad_value)
    win = np.lib.stride_tricks.sliding_window_view(v, layer.kernel, axis=2)[:, :, :: layer.stride]
    n, c, t, k = win.shape
    cols = win.transpose(0, 2, 1, 3).reshape(n * t, c * k)
    v_max = int(np.abs(v).max(initial=0))  # the windows hold the same values, K times over
    acc = int_matmul(cols, layer.weights.reshape(layer.out_channels, -1).T, a_max=v_max)
    return acc.reshape(n, t, layer.out_channels).transpose(0, 2, 1)


def max_pool(layer: ConvLayer, acc: np.ndarray) -> np.ndarray:
    """Max-pool int64 ``[N, C, conv_length]`` → ``[N, C, out_length]``
    (:func:`~ecgaccel.hw.description.max_pool_1d`)."""
    return max_pool_1d(acc, layer.pool_kernel, layer.pool_stride, layer.out_length)


def head_scores(head: SumHead, m: np.ndarray) -> np.ndarray:
    """Class scores int64 ``[N, n_classes]`` from the last layer's pooled ints ``[N, C, L]``
    (:func:`~ecgaccel.hw.description.sum_head_scores`)."""
    return sum_head_scores(m, head.a_pos, head.a_neg, head.bias)


def run(desc: NetworkDescription, x: np.ndarray, keep: bool = False, batch: int = 256
        ) -> ReferenceOutput:  # fmt: skip
    """Run the integer network on ``x`` int8 ``[N, 1, input_length]``.

    Raises
    ------
    ValueError
        ``x`` has the wrong shape or values outside the input's bit width.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1:] != (1, desc.input_length):
        raise ValueError(f"input must be [N, 1, {desc.input_length}], got {list(x.shape)}")
    lim = 2 ** (desc.input_bits - 1)
    if x.size and (x.min() < -lim or x.max() >= lim):
        raise ValueError(f"input values outside the signed {desc.input_bits}-bit range")
    scores, acts = [], [[] for _ in desc.layers]
    for i in range(0, len(x), batch):
        h = x[i : i + batch]
        for j, layer in enumerate(desc.layers):
            m = max_pool(layer, conv_accumulate(layer, h))
            h = layer.thresholds.apply(m) if layer.thresholds is not None else m
            if keep:
                acts[j].append(h)
        scores.append(head_scores(desc.head, h))
    s = np.concatenate(scores) if scores else np.zeros((0, len(desc.classes)), np.int64)
    return ReferenceOutput(
        scores=s,
        pred=s.argmax(axis=1).astype(np.int64),
        activations=[np.concatenate(a) for a in acts] if keep else [],
    )
