"""The integer semantics of every node type of the network graph, in one place.

Each function is the one numpy definition of what a node computes; the reference
(:mod:`ecgaccel.models.reference`), the graph's nodes (:mod:`ecgaccel.hw.graph`), the streamlined
QONNX graph's custom ops and every hardware layer's Python model call these and nothing else.
Arrays are integers: activations int64 ``[N, C, H, W]`` (H = leads, 1 for one lead; W = time, in
samples), bipolar activations as uint8 bits (``1`` = +1, ``0`` = -1) that :func:`values` turns
into ±1. No padding is implied anywhere: a node that pads says so.

Integer matrix products use float BLAS where that is exact (:func:`int_matmul`).
"""

from __future__ import annotations

import numpy as np


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


def values(x: np.ndarray, bipolar: bool) -> np.ndarray:
    """The integers a layer multiplies, int64 of ``x``'s shape: bits 0/1 → -1/+1 when
    ``bipolar``, integers as they are otherwise."""
    x = np.asarray(x).astype(np.int64)
    return 2 * x - 1 if bipolar else x


def conv2d(v: np.ndarray, w: np.ndarray, stride: tuple[int, int], pads: tuple[int, int, int, int],
           pad_value: int, groups: int = 1) -> np.ndarray:  # fmt: skip
    """Convolution (ONNX ``Conv``; FINN ``ConvolutionInputGenerator`` + ``MVAU``, or
    ``VectorVectorActivation`` when depthwise): accumulators int64 ``[N, C_out, H_out, W_out]``.

    ``v`` int64 ``[N, C_in, H, W]`` (values, :func:`values`); ``w`` int ``[C_out, C_in / groups,
    kh, kw]``; ``pads`` ``(top, bottom, left, right)`` of ``pad_value`` (a value of the input
    domain: ±1 for bipolar inputs); ``groups`` 1 (dense) or ``C_in`` (depthwise, ``C_out`` a
    multiple of ``C_in``). ``acc[n, o, y, x] = sum_{i, p, q} w[o, i, p, q] * v_pad[n, g(o) + i,
    y * sh + p, x * sw + q]``.

    Raises
    ------
    ValueError
        Shapes that do not fit (channels against groups, a kernel larger than the padded input).
    """
    n, c_in = v.shape[:2]
    c_out, c_grp, kh, kw = w.shape
    if c_in % groups or c_out % groups or c_grp != c_in // groups:
        raise ValueError(f"weights {list(w.shape)} do not fit {c_in} input channels in "
                         f"{groups} groups")  # fmt: skip
    top, bottom, left, right = pads
    vp = np.pad(v, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
    if vp.shape[2] < kh or vp.shape[3] < kw:
        raise ValueError(f"kernel ({kh}, {kw}) larger than the padded input {list(vp.shape[2:])}")
    win = np.lib.stride_tricks.sliding_window_view(vp, (kh, kw), axis=(2, 3))
    win = win[:, :, :: stride[0], :: stride[1]]  # [N, C_in, Ho, Wo, kh, kw]
    ho, wo = win.shape[2:4]
    v_max = int(np.abs(vp).max(initial=0))
    out = np.empty((n, c_out, ho, wo), np.int64)
    per_group = c_out // groups
    for g in range(groups):
        part = win[:, g * c_grp : (g + 1) * c_grp]
        cols = part.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c_grp * kh * kw)
        wg = w[g * per_group : (g + 1) * per_group].reshape(per_group, -1).astype(np.int64)
        acc = int_matmul(cols, wg.T, a_max=v_max)
        out[:, g * per_group : (g + 1) * per_group] = acc.reshape(n, ho, wo, per_group).transpose(
            0, 3, 1, 2
        )
    return out


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of a convolution or pool along one axis (samples): ``(size + pad - kernel)
    // stride + 1`` with ``pad`` the total padding of that axis."""
    return (size + pad - kernel) // stride + 1


def max_pool(acc: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             out_shape: tuple[int, int] | None = None) -> np.ndarray:  # fmt: skip
    """Max-pool without padding (ONNX ``MaxPool``; FINN ``StreamingMaxPool`` / ``Pool``):
    int ``[..., H, W]`` → ``[..., H_out, W_out]``, output ``(y, x)`` the maximum of
    ``acc[..., y*sh : y*sh + kh, x*sw : x*sw + kw]`` (on the integers, so it is exact whatever
    the direction of the thresholds after it). ``out_shape`` crops the output (PyTorch's floor
    rule gives it by default).

    Raises
    ------
    ValueError
        ``out_shape`` windows do not fit in the input.
    """
    kh, kw = kernel
    sh, sw = stride
    h, w = acc.shape[-2:]
    full = (conv_out(h, kh, sh, 0), conv_out(w, kw, sw, 0))
    ho, wo = full if out_shape is None else out_shape
    if min(ho, wo) < 0 or ho > max(full[0], 0) or wo > max(full[1], 0):
        raise ValueError(f"{ho} x {wo} pool windows of ({kh}, {kw}) / ({sh}, {sw}) do not fit "
                         f"in {h} x {w} samples")  # fmt: skip
    win = np.lib.stride_tricks.sliding_window_view(acc, (kh, kw), axis=(-2, -1))
    return win[..., ::sh, ::sw, :, :].max(axis=(-2, -1))[..., :ho, :wo]


def global_acc_pool(x: np.ndarray) -> np.ndarray:
    """Global sum pooling (FINN ``GlobalAccPool``): int64 ``[N, C, 1, 1]`` = the sum over every
    position of ``x`` ``[N, C, H, W]``; an average's divisor ``H * W`` is folded into the next
    thresholds by the compiler."""
    return np.asarray(x, np.int64).sum(axis=(-2, -1), keepdims=True)


def multithreshold(m: np.ndarray, thresholds: np.ndarray, sign: np.ndarray, base: np.ndarray
                   ) -> np.ndarray:  # fmt: skip
    """FINN's ``MultiThreshold`` with an output bias, generalized to non-monotone channels:
    ``level[n, c, ...] = base[c] + sum_j sign[c, j] * (m[n, c, ...] >= thresholds[c, j])``.

    ``m`` int ``[N, C, ...]``; ``thresholds`` int64 ``[C, J]``, ``sign`` int ``[C, J]`` in
    {-1, +1}, ``base`` int64 ``[C]``; returns int64 of ``m``'s shape. Binary activations are its
    two-step case with levels 0/1 (the bits of bipolar values).
    """
    m = np.asarray(m, dtype=np.int64)
    expand = (slice(None),) + (None,) * (m.ndim - 2)
    out = np.broadcast_to(base[expand], m.shape).astype(np.int64)
    for j in range(thresholds.shape[1]):
        t, sg = thresholds[:, j][expand], sign[:, j].astype(np.int64)[expand]
        out = out + sg * (m >= t)
    return out


def add_streams(a: np.ndarray, b: np.ndarray, ka: int = 1, kb: int = 1) -> np.ndarray:
    """Residual add (FINN ``AddStreams``, with the integer factors ``ka``/``kb`` that align the
    two inputs' scales, 1 for FINN's plain add): int64 ``ka * a + kb * b``, both ``[N, C, H, W]``.

    Raises
    ------
    ValueError
        The two shapes differ.
    """
    if np.shape(a) != np.shape(b):
        raise ValueError(f"AddStreams of shapes {list(np.shape(a))} and {list(np.shape(b))}")
    return ka * np.asarray(a, np.int64) + kb * np.asarray(b, np.int64)


def concat(xs: list[np.ndarray]) -> np.ndarray:
    """Channel concatenation (ONNX ``Concat`` on axis 1; FINN ``StreamingConcat``) of int
    ``[N, C_i, H, W]`` into int64 ``[N, sum C_i, H, W]``.

    Raises
    ------
    ValueError
        The inputs differ in N, H or W.
    """
    shapes = {(np.shape(x)[0], *np.shape(x)[2:]) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"Concat of shapes {[list(np.shape(x)) for x in xs]}")
    return np.concatenate([np.asarray(x, np.int64) for x in xs], axis=1)


def matmul(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fully connected layer (ONNX ``MatMul`` after ``Flatten``; FINN ``MVAU`` with one input
    vector): int64 ``[N, O, 1, 1]`` = ``w`` int ``[O, K]`` times the flattened values ``v``
    ``[N, C, H, W]`` with ``K = C * H * W`` (C order: channel major)."""
    flat = np.asarray(v, np.int64).reshape(len(v), -1)
    return int_matmul(flat, np.asarray(w, np.int64).T)[:, :, None, None]


def sum_head(m: np.ndarray, a_pos: np.ndarray, a_neg: np.ndarray, bias: np.ndarray
             ) -> np.ndarray:  # fmt: skip
    """The ECG-BNN head: global sum pooling of the last layer with its BatchNorm ∘ PReLU in fixed
    point: int64 scores ``[N, K]`` of ``m`` int ``[N, K, ...]`` (one channel per class),
    ``score[k] = a_pos[k] * sum max(m[k], 0) + a_neg[k] * sum min(m[k], 0) + bias[k]`` over every
    position; coefficients int64 ``[K]``."""
    m = np.asarray(m, dtype=np.int64).reshape(len(m), np.shape(m)[1], -1)
    pos = np.maximum(m, 0).sum(axis=-1)
    neg = np.minimum(m, 0).sum(axis=-1)
    return a_pos * pos + a_neg * neg + bias


def linear_head(v: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Fully connected head: int64 scores ``[N, K]`` = ``w`` int ``[K, F]`` times the flattened
    values of ``v`` ``[N, C, H, W]`` (``F = C * H * W``) plus ``bias`` int64 ``[K]``: the real
    logits times ``2^frac_bits`` (ONNX ``MatMul`` + ``Add`` + ``Mul``)."""
    return matmul(v, w)[:, :, 0, 0] + np.asarray(bias, np.int64)


def label_select(scores: np.ndarray, k: int = 1) -> np.ndarray:
    """FINN's ``LabelSelect``: int64 ``[N, k]``, the indices of the ``k`` largest scores of
    ``scores`` int ``[N, K]`` in descending order, the lowest index first among equal scores."""
    order = np.argsort(-np.asarray(scores, np.int64), axis=1, kind="stable")
    return order[:, :k].astype(np.int64)


def multilabel(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Multi-label decision: uint8 ``[N, K]`` = ``scores[:, k] >= thresholds[k]`` (int64
    ``[K]``), i.e. ``sigmoid(logit_k) >= tau_k`` with ``thresholds[k] = ceil(logit(tau_k) *
    2^frac_bits)`` on the fixed-point logits."""
    return (np.asarray(scores, np.int64) >= np.asarray(thresholds, np.int64)).astype(np.uint8)


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` float64 of probabilities ``p`` in (0, 1): ``sigmoid(z) >= tau`` is
    ``z >= logit(tau)``, which turns a multi-label head's decision levels into score thresholds
    (:func:`multilabel`)."""
    p = np.asarray(p, np.float64)
    return np.log(p / (1.0 - p))
