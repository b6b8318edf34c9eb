"""The integer network as a graph (format ``ecgaccel-intgraph-2``): a DAG of named nodes with
typed edges, the description every back end reads.

A tensor is named after the node (or graph input) that produces it; its :class:`TensorType`
gives the shape ``[C, H, W]`` (H = leads, 1 for one lead; W = time, samples) and the element
type: ``bipolar`` (bits standing for ±1), ``int`` (signed ``bits``-bit), ``uint`` (unsigned
``bits``-bit) or ``acc`` (an accumulator integer with its range ``[lo, hi]``). Nodes carry FINN's
op names where FINN has the op. What each node computes is one function of
:mod:`ecgaccel.hw.semantics`; the node types here add shapes, types, storage and JSON.

A tensor read by more than one node is the output of a :class:`DuplicateStreams` node whose
``n`` equals its readers (the fork is explicit, as after FINN's ``InsertDuplicateStreams``;
:func:`insert_forks` adds them). A graph has one main input (the ECG, ``int`` ``[1 or leads, H,
W]``), optionally a metadata input (e.g. age and sex as integers ``[M, 1, 1]``), one head and
an optional decision node after it.

Imports nothing from PyTorch or ``ecgaccel.models``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from . import semantics as sem
from .files import write_text_atomic

FORMAT = "ecgaccel-intgraph-2"


class GraphError(ValueError):
    """A graph that is malformed: a cycle, an unknown tensor, mismatched shapes or types, an
    accumulator past its declared range. The message names the node and its op."""


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class TensorType:
    """Shape ``[C, H, W]`` and element type of one edge.

    ``kind``: ``bipolar`` (uint8 bits 0/1 standing for -1/+1), ``int`` / ``uint`` (``bits``-bit
    signed / unsigned integers), ``acc`` (int64 accumulators); ``lo``/``hi`` the value range
    (inclusive; for ``bipolar`` the values -1, +1).
    """

    shape: tuple[int, int, int]
    kind: str
    lo: int
    hi: int
    bits: int | None = None

    @property
    def bipolar(self) -> bool:
        """Bits standing for ±1."""
        return self.kind == "bipolar"

    @property
    def max_abs(self) -> int:
        """Largest ``|value|``."""
        return max(abs(self.lo), abs(self.hi))

    @property
    def width(self) -> int:
        """Bits of a signed register holding every value (the accumulator width)."""
        return int(self.max_abs).bit_length() + 1

    def to_json(self) -> dict:
        """A JSON-serializable dict."""
        return {"shape": list(self.shape), "kind": self.kind, "lo": self.lo, "hi": self.hi,
                "bits": self.bits}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict) -> TensorType:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(int(s) for s in d["shape"]), d["kind"], int(d["lo"]), int(d["hi"]),
                   None if d.get("bits") is None else int(d["bits"]))  # fmt: skip


def bipolar(shape: tuple[int, int, int]) -> TensorType:
    """Bits standing for ±1 of ``shape``."""
    return TensorType(tuple(shape), "bipolar", -1, 1)


def signed(shape: tuple[int, int, int], bits: int) -> TensorType:
    """Signed ``bits``-bit integers of ``shape``: ``[-2^(bits-1), 2^(bits-1) - 1]``."""
    return TensorType(tuple(shape), "int", -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, bits)


def unsigned(shape: tuple[int, int, int], bits: int) -> TensorType:
    """Unsigned ``bits``-bit integers of ``shape``: ``[0, 2^bits - 1]``."""
    return TensorType(tuple(shape), "uint", 0, 2**bits - 1, bits)


def accumulator(shape: tuple[int, int, int], lo: int, hi: int) -> TensorType:
    """Accumulator integers of ``shape`` in ``[lo, hi]``."""
    return TensorType(tuple(shape), "acc", int(lo), int(hi))


def weight_max(weight_bits: int) -> int:
    """Largest |weight| of a ``weight_bits``-bit weight: 1 for bipolar, ``2^(n-1)`` for signed
    n-bit integers (the full range, so it bounds narrow-range weights too)."""
    return 1 if weight_bits == 1 else 2 ** (weight_bits - 1)


# --------------------------------------------------------------------------- arrays in JSON


def pack_weights(weights: np.ndarray, weight_bits: int) -> str:
    """Hex string of ``weights`` in C order: bipolar (``weight_bits`` 1) as bits (1 = +1,
    most-significant bit first, ``numpy.packbits``), n-bit as int8 bytes."""
    if weight_bits == 1:
        return np.packbits((np.asarray(weights).reshape(-1) > 0).astype(np.uint8)).tobytes().hex()
    return np.asarray(weights).astype(np.int8).tobytes().hex()


def unpack_weights(hex_bits: str, shape: tuple[int, ...], weight_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_weights`: int8 of ``shape``.

    Raises
    ------
    ValueError
        The hex string holds another number of weights.
    """
    n = int(np.prod(shape))
    if weight_bits == 1:
        bits = np.unpackbits(np.frombuffer(bytes.fromhex(hex_bits), dtype=np.uint8))[:n]
        if bits.size != n:
            raise ValueError(f"packed weights hold {bits.size} bits, shape {shape} needs {n}")
        return (bits.astype(np.int8) * 2 - 1).reshape(shape)
    w = np.frombuffer(bytes.fromhex(hex_bits), dtype=np.int8)
    if w.size != n:
        raise ValueError(f"{w.size} weights, shape {shape} needs {n}")
    return w.reshape(shape).copy()


def _arr(value, dtype) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Node:
    """One node: ``name`` (also its output tensor's), ``inputs`` (tensor names). Subclasses set
    ``op`` and implement :meth:`infer` (output type from input types), :meth:`run` (the
    semantics on int arrays ``[N, C, H, W]``) and :meth:`storage_bits`."""

    op: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    name: str
    inputs: tuple[str, ...]

    def infer(self, types: list[TensorType]) -> TensorType:
        """The output's type from the inputs' (one per entry of ``inputs``).

        Raises
        ------
        GraphError
            Inputs this node cannot take (shapes, element types), naming the node and op.
        """
        raise NotImplementedError

    def run(self, xs: list[np.ndarray], types: list[TensorType]) -> np.ndarray:
        """The output, int64 (uint8 bits for a bipolar output) ``[N, C, H, W]``, of the inputs
        ``xs`` ``[N, C_i, H_i, W_i]`` of ``types`` (:mod:`~ecgaccel.hw.semantics`)."""
        raise NotImplementedError

    def storage_bits(self, types: list[TensorType]) -> int:
        """Bits the hardware stores for this node (weights, thresholds, coefficients)."""
        return 0

    def error(self, problem: str) -> GraphError:
        """A :class:`GraphError` naming this node and its op."""
        return GraphError(f"node {self.name} ({self.op}): {problem}")

    def to_json(self) -> dict:
        """A JSON-serializable dict: ``op``, ``name``, ``inputs`` and the attributes."""
        d = {"op": self.op, "name": self.name, "inputs": list(self.inputs)}
        for f in fields(self):
            if f.name not in ("name", "inputs"):
                d[f.name] = _to_json_value(self, f.name)
        return d


def _to_json_value(node: Node, key: str):
    v = getattr(node, key)
    if key == "weights":
        return pack_weights(v, node.weight_bits)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


@dataclass(frozen=True)
class Conv(Node):
    """Convolution 1-D (``kernel`` ``(1, k)``) or 2-D: ONNX ``Conv``; FINN
    ``ConvolutionInputGenerator`` (sliding-window generator) + ``MVAU``
    (:func:`~ecgaccel.hw.semantics.conv2d`).

    ``weights`` int8 ``[C_out, C_in / groups, kh, kw]``: ±1 (``weight_bits`` 1) or signed
    ``weight_bits``-bit; ``stride`` ``(sh, sw)``; ``pads`` ``(top, bottom, left, right)`` of
    ``pad_value`` (a value of the input: ±1 for bipolar, an integer otherwise); ``groups`` 1 or
    ``C_in`` (depthwise). Output: accumulators in ``±fan_in * max|x| * max|w|``
    (``fan_in = C_in / groups * kh * kw``). For bipolar inputs and weights the product is the
    XNOR-popcount ``2 * popcount(xnor(x, w)) - fan_in``.
    """

    op: ClassVar[str] = "Conv"
    weights: np.ndarray = field(default=None, compare=False)
    weight_bits: int = 1
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    pad_value: int = 0
    groups: int = 1

    @property
    def kernel(self) -> tuple[int, int]:
        """``(kh, kw)``."""
        return tuple(int(k) for k in self.weights.shape[2:])

    @property
    def fan_in(self) -> int:
        """Products per accumulator: ``C_in / groups * kh * kw``."""
        return int(np.prod(self.weights.shape[1:]))

    def infer(self, types):
        (t,) = types
        c, h, w = t.shape
        co, cg, kh, kw = self.weights.shape
        if cg * self.groups != c or co % self.groups:
            raise self.error(f"weights {list(self.weights.shape)} in {self.groups} groups do not "
                             f"fit {c} input channels")  # fmt: skip
        top, bottom, left, right = self.pads
        ho = sem.conv_out(h, kh, self.stride[0], top + bottom)
        wo = sem.conv_out(w, kw, self.stride[1], left + right)
        if ho < 1 or wo < 1:
            raise self.error(f"kernel ({kh}, {kw}) larger than the padded input {h} x {w}")
        if not t.lo <= self.pad_value <= t.hi or (t.bipolar and self.pad_value not in (-1, 1)):
            raise self.error(f"pad value {self.pad_value} is not a value of the input ({t.kind})")
        bound = self.fan_in * t.max_abs * weight_max(self.weight_bits)
        return accumulator((co, ho, wo), -bound, bound)

    def run(self, xs, types):
        v = sem.values(xs[0], types[0].bipolar)
        return sem.conv2d(v, self.weights, self.stride, self.pads, self.pad_value, self.groups)

    def storage_bits(self, types):
        return int(self.weights.size) * self.weight_bits


@dataclass(frozen=True)
class MatMul(Node):
    """Fully connected layer: ONNX ``MatMul`` after ``Flatten``; FINN ``MVAU`` on one vector
    (:func:`~ecgaccel.hw.semantics.matmul`). ``weights`` int8 ``[O, K]``, ``K = C * H * W`` of
    the input (channel major); output accumulators ``[O, 1, 1]``."""

    op: ClassVar[str] = "MatMul"
    weights: np.ndarray = field(default=None, compare=False)
    weight_bits: int = 1

    def infer(self, types):
        (t,) = types
        o, k = self.weights.shape
        if k != int(np.prod(t.shape)):
            raise self.error(f"weights [{o}, {k}] against an input of {int(np.prod(t.shape))} "
                             f"values {list(t.shape)}")  # fmt: skip
        bound = k * t.max_abs * weight_max(self.weight_bits)
        return accumulator((o, 1, 1), -bound, bound)

    def run(self, xs, types):
        return sem.matmul(sem.values(xs[0], types[0].bipolar), self.weights)

    def storage_bits(self, types):
        return int(self.weights.size) * self.weight_bits


@dataclass(frozen=True)
class MaxPool(Node):
    """Max-pool without padding, 1-D (``kernel`` ``(1, k)``) or 2-D: ONNX ``MaxPool``; FINN
    ``StreamingMaxPool`` (:func:`~ecgaccel.hw.semantics.max_pool`). Output of the input's type
    and range, ``(H - kh) // sh + 1`` x ``(W - kw) // sw + 1`` positions."""

    op: ClassVar[str] = "MaxPool"
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)

    def infer(self, types):
        (t,) = types
        c, h, w = t.shape
        ho = sem.conv_out(h, self.kernel[0], self.stride[0], 0)
        wo = sem.conv_out(w, self.kernel[1], self.stride[1], 0)
        if ho < 1 or wo < 1:
            raise self.error(f"pool {self.kernel} larger than its input {h} x {w}")
        return replace(t, shape=(c, ho, wo))

    def run(self, xs, types):
        return sem.max_pool(xs[0], self.kernel, self.stride)


@dataclass(frozen=True)
class GlobalAccPool(Node):
    """Global sum pooling (FINN ``GlobalAccPool``; ONNX ``GlobalAveragePool`` with its divisor
    folded into the next thresholds): ``[C, H, W]`` → accumulators ``[C, 1, 1]`` in
    ``H * W`` times the input range (:func:`~ecgaccel.hw.semantics.global_acc_pool`)."""

    op: ClassVar[str] = "GlobalAccPool"

    def infer(self, types):
        (t,) = types
        c, h, w = t.shape
        return accumulator((c, 1, 1), t.lo * h * w, t.hi * h * w)

    def run(self, xs, types):
        return sem.global_acc_pool(sem.values(xs[0], types[0].bipolar))


@dataclass(frozen=True)
class MultiThreshold(Node):
    """FINN's ``MultiThreshold`` with an output bias, generalized to non-monotone channels
    (:func:`~ecgaccel.hw.semantics.multithreshold`): ``level = base + sum_j sign_j * [m >=
    T_j]`` per channel. ``thresholds`` int64 ``[C, J]`` ascending, ``sign`` int8 ``[C, J]`` in
    {-1, +1}, ``base`` int64 ``[C]``. ``out_bits`` ``None``: levels 0/1, the bits of bipolar
    values (binary activations: at most two steps, :func:`binary_thresholds`); n: signed n-bit
    levels. Steps a channel does not need sit above the input's range."""

    op: ClassVar[str] = "MultiThreshold"
    thresholds: np.ndarray = field(default=None, compare=False)
    sign: np.ndarray = field(default=None, compare=False)
    base: np.ndarray = field(default=None, compare=False)
    out_bits: int | None = None

    def infer(self, types):
        (t,) = types
        c = t.shape[0]
        if (
            self.thresholds.shape[0] != c
            or self.sign.shape != self.thresholds.shape
            or (self.base.shape != (c,))
        ):
            raise self.error(f"thresholds {list(self.thresholds.shape)}, signs "
                             f"{list(self.sign.shape)}, base {list(self.base.shape)} for {c} "
                             "channels")  # fmt: skip
        if t.bipolar:
            raise self.error("its input is bipolar; thresholds take integers")
        if self.out_bits is None:
            return bipolar(t.shape)
        return signed(t.shape, self.out_bits)

    def run(self, xs, types):
        out = sem.multithreshold(xs[0], self.thresholds, self.sign, self.base)
        return out.astype(np.uint8) if self.out_bits is None else out

    def canonical(self, lo: int, hi: int) -> MultiThreshold:
        """The same function on inputs in ``[lo, hi]`` in one form: steps never reached
        (threshold above ``hi``) dropped, steps always taken (at or below ``lo``) folded into
        the base, thresholds sorted, channels padded to the longest with ``hi + 1`` (sign +1).
        Two front ends that agree on the function agree on this form."""
        rows = []
        base = self.base.astype(np.int64).copy()
        for c in range(self.thresholds.shape[0]):
            t, s = self.thresholds[c].astype(np.int64), self.sign[c].astype(np.int64)
            base[c] += int(s[t <= lo].sum())
            keep = (t > lo) & (t <= hi)
            order = np.lexsort((s[keep], t[keep]))
            rows.append((t[keep][order], s[keep][order]))
        j = max([len(r[0]) for r in rows] + [1])
        t = np.full((len(rows), j), hi + 1, np.int64)
        sg = np.ones((len(rows), j), np.int8)
        for c, (tc, sc) in enumerate(rows):
            t[c, : len(tc)], sg[c, : len(sc)] = tc, sc
        return replace(self, thresholds=t, sign=sg, base=base)

    def storage_bits(self, types):
        """Binary: ``lo``, ``hi`` at the accumulator width and an invert bit per channel (how
        the core stores them); n-bit: ``J`` thresholds at the width, ``J`` sign bits and an
        ``out_bits`` base per channel."""
        c, j = self.thresholds.shape
        width = types[0].width
        if self.out_bits is None:
            return c * (2 * width + 1)
        return c * (j * (width + 1) + self.out_bits)


@dataclass(frozen=True)
class AddStreams(Node):
    """Residual add of two integer streams of one shape (FINN ``AddStreams``):
    ``ka * a + kb * b`` (:func:`~ecgaccel.hw.semantics.add_streams`), ``ka``/``kb`` the integer
    factors that align the two inputs' scales (1 and 1 for FINN's plain add); requantized by the
    thresholds after it."""

    op: ClassVar[str] = "AddStreams"
    arity: ClassVar[int | None] = 2
    ka: int = 1
    kb: int = 1

    def infer(self, types):
        a, b = types
        if a.shape != b.shape:
            raise self.error(f"inputs of shapes {list(a.shape)} and {list(b.shape)}")
        ends = [self.ka * a.lo, self.ka * a.hi]
        lo = min(ends) + min(self.kb * b.lo, self.kb * b.hi)
        hi = max(ends) + max(self.kb * b.lo, self.kb * b.hi)
        return accumulator(a.shape, lo, hi)

    def run(self, xs, types):
        a, b = (sem.values(x, t.bipolar) for x, t in zip(xs, types, strict=True))
        return sem.add_streams(a, b, self.ka, self.kb)


@dataclass(frozen=True)
class DuplicateStreams(Node):
    """A fork (FINN ``DuplicateStreams``): its one output feeds ``n`` readers; the values pass
    unchanged."""

    op: ClassVar[str] = "DuplicateStreams"
    n: int = 2

    def infer(self, types):
        return types[0]

    def run(self, xs, types):
        return xs[0]


@dataclass(frozen=True)
class Concat(Node):
    """Channel concatenation (ONNX ``Concat`` axis 1; FINN ``StreamingConcat``) of inputs with
    equal ``H``, ``W``: e.g. the age/sex metadata joining the features before a fully connected
    layer (:func:`~ecgaccel.hw.semantics.concat`). Bipolar inputs join as ±1 values."""

    op: ClassVar[str] = "Concat"
    arity: ClassVar[int | None] = None

    def infer(self, types):
        if len({t.shape[1:] for t in types}) != 1:
            raise self.error(f"inputs of shapes {[list(t.shape) for t in types]}")
        c = sum(t.shape[0] for t in types)
        kinds = {t.kind for t in types}
        lo, hi = min(t.lo for t in types), max(t.hi for t in types)
        if len(kinds) == 1 and kinds != {"acc"}:
            bits = None if kinds == {"bipolar"} else max(t.bits for t in types)
            return replace(types[0], shape=(c, *types[0].shape[1:]), lo=lo, hi=hi, bits=bits)
        return accumulator((c, *types[0].shape[1:]), lo, hi)

    def run(self, xs, types):
        out_bipolar = len({t.kind for t in types}) == 1 and types[0].bipolar
        if out_bipolar:
            return np.concatenate(xs, axis=1)
        return sem.concat([sem.values(x, t.bipolar) for x, t in zip(xs, types, strict=True)])


@dataclass(frozen=True)
class SumHead(Node):
    """The ECG-BNN head (:func:`~ecgaccel.hw.semantics.sum_head`): global sum pooling of the
    last layer's pooled integers ``[K, H, W]`` (one channel per class) with its BatchNorm ∘
    PReLU in fixed point; scores ``[K]`` equal the real scores x ``2^frac_bits`` up to the
    rounding of ``a_pos``, ``a_neg`` (``coef_bits``-bit signed) and ``bias``; int64 ``[K]``
    each."""

    op: ClassVar[str] = "SumHead"
    a_pos: np.ndarray = field(default=None, compare=False)
    a_neg: np.ndarray = field(default=None, compare=False)
    bias: np.ndarray = field(default=None, compare=False)
    frac_bits: int = 0
    coef_bits: int = 16

    def infer(self, types):
        (t,) = types
        k = t.shape[0]
        if any(a.shape != (k,) for a in (self.a_pos, self.a_neg, self.bias)):
            raise self.error(f"coefficients for {len(self.bias)} classes on {k} channels")
        n = t.shape[1] * t.shape[2]
        amax = int(max(np.abs(self.a_pos).max(), np.abs(self.a_neg).max()))
        bound = amax * n * t.max_abs + int(np.abs(self.bias).max())
        return accumulator((k, 1, 1), -bound, bound)

    def run(self, xs, types):
        return sem.sum_head(xs[0], self.a_pos, self.a_neg, self.bias)[:, :, None, None]

    def storage_bits(self, types):
        return len(self.bias) * (2 * self.coef_bits + 32)


@dataclass(frozen=True)
class LinearHead(Node):
    """Fully connected head (:func:`~ecgaccel.hw.semantics.linear_head`): scores ``[K]`` =
    ``weights`` int8 ``[K, F]`` times the flattened input + ``bias`` int64 ``[K]``, the real
    logits x ``2^frac_bits``."""

    op: ClassVar[str] = "LinearHead"
    weights: np.ndarray = field(default=None, compare=False)
    bias: np.ndarray = field(default=None, compare=False)
    weight_bits: int = 8
    frac_bits: int = 0

    def infer(self, types):
        (t,) = types
        k, f = self.weights.shape
        if f != int(np.prod(t.shape)) or self.bias.shape != (k,):
            raise self.error(f"weights [{k}, {f}], bias {list(self.bias.shape)} against an input "
                             f"{list(t.shape)}")  # fmt: skip
        bound = f * t.max_abs * weight_max(self.weight_bits) + int(np.abs(self.bias).max())
        return accumulator((k, 1, 1), -bound, bound)

    def run(self, xs, types):
        v = sem.values(xs[0], types[0].bipolar)
        return sem.linear_head(v, self.weights, self.bias)[:, :, None, None]

    def storage_bits(self, types):
        return int(self.weights.size) * self.weight_bits + 32 * len(self.bias)


@dataclass(frozen=True)
class LabelSelect(Node):
    """FINN's ``LabelSelect``: the indices of the ``k`` largest scores, descending, lowest index
    first among equal scores (:func:`~ecgaccel.hw.semantics.label_select`): ``[k, 1, 1]``."""

    op: ClassVar[str] = "LabelSelect"
    k: int = 1

    def infer(self, types):
        (t,) = types
        if not 1 <= self.k <= t.shape[0]:
            raise self.error(f"top-{self.k} of {t.shape[0]} scores")
        return unsigned((self.k, 1, 1), max(int(t.shape[0] - 1).bit_length(), 1))

    def run(self, xs, types):
        return sem.label_select(xs[0][:, :, 0, 0], self.k)[:, :, None, None]


TAU_KEY = "ecgaccel.tau"
"""QONNX metadata of a multi-label network: its decision levels ``tau`` per label (a JSON list;
0.5 each when absent): label ``k`` is on when ``sigmoid(logit_k) >= tau_k``."""


@dataclass(frozen=True)
class MultiLabel(Node):
    """Multi-label head: per label ``score >= thresholds[k]`` (int64 ``[K]``), i.e.
    ``sigmoid(logit) >= tau[k]`` with ``thresholds[k] = ceil(logit(tau[k]) * 2^frac_bits)`` on
    the fixed-point logits (:func:`~ecgaccel.hw.semantics.multilabel`): uint8 ``[K, 1, 1]``.
    ``tau`` float ``[K]`` is stated for the reader."""

    op: ClassVar[str] = "MultiLabel"
    thresholds: np.ndarray = field(default=None, compare=False)
    tau: tuple[float, ...] = ()

    def infer(self, types):
        (t,) = types
        if self.thresholds.shape != (t.shape[0],) or len(self.tau) != t.shape[0]:
            raise self.error(f"{len(self.thresholds)} thresholds, {len(self.tau)} tau for "
                             f"{t.shape[0]} scores")  # fmt: skip
        return unsigned((t.shape[0], 1, 1), 1)

    def run(self, xs, types):
        return sem.multilabel(xs[0][:, :, 0, 0], self.thresholds)[:, :, None, None]

    def storage_bits(self, types):
        return 32 * len(self.thresholds)


NODE_TYPES: dict[str, type[Node]] = {
    cls.op: cls
    for cls in (Conv, MatMul, MaxPool, GlobalAccPool, MultiThreshold, AddStreams,
                DuplicateStreams, Concat, SumHead, LinearHead, LabelSelect, MultiLabel)
}  # fmt: skip
"""Every node type by its op name."""

HEADS = ("SumHead", "LinearHead")
"""Ops that produce the class scores."""

_ARRAYS = {"thresholds": np.int64, "sign": np.int8, "base": np.int64, "a_pos": np.int64,
           "a_neg": np.int64, "bias": np.int64}  # fmt: skip


def node_from_json(d: dict) -> Node:
    """A node from its :meth:`Node.to_json` dict.

    Raises
    ------
    GraphError
        An unknown op; ``KeyError``/``ValueError`` on malformed attributes.
    """
    cls = NODE_TYPES.get(d.get("op"))
    if cls is None:
        raise GraphError(f"node {d.get('name')}: unknown op {d.get('op')!r}; known: "
                         f"{', '.join(NODE_TYPES)}")  # fmt: skip
    kw = {"name": d["name"], "inputs": tuple(d["inputs"])}
    for f in fields(cls):
        if f.name in kw or f.name not in d:
            continue
        v = d[f.name]
        if f.name == "weights":
            kw[f.name] = unpack_weights(v, tuple(d["weights_shape"]), int(d.get("weight_bits", 1)))
        elif f.name in _ARRAYS:
            kw[f.name] = _arr(v, _ARRAYS[f.name])
        elif isinstance(v, list):
            kw[f.name] = tuple(v)
        else:
            kw[f.name] = v
    return cls(**kw)


# --------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class GraphInput:
    """A graph input: ``name``, its :class:`TensorType` and ``frac_bits`` (the integer is the
    real value x ``2^frac_bits``: the z-scored ECG at 2^-5, or metadata as the exporter states)."""

    name: str
    type: TensorType
    frac_bits: int = 0


@dataclass(frozen=True)
class IntGraph:
    """A whole integer network as a DAG.

    ``inputs``: the ECG first, then any metadata input; ``nodes`` in topological order (the
    constructor checks it: :meth:`validate`); ``scores``: the head's output tensor; ``decision``:
    the tensor of the predicted class(es) (a :class:`LabelSelect` or :class:`MultiLabel`) or
    None; ``classes``: label names, one per score.
    """

    name: str
    classes: tuple[str, ...]
    inputs: tuple[GraphInput, ...]
    nodes: tuple[Node, ...]
    scores: str
    decision: str | None = None
    types: dict[str, TensorType] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", self.validate())

    # ------------------------------------------------------------------ checks

    def validate(self) -> dict[str, TensorType]:
        """The type of every tensor, checking that the graph is a DAG in topological order with
        one producer per name, known tensors, explicit forks and consistent shapes.

        Raises
        ------
        GraphError
            Naming the node, its op and the problem (a cycle names a node on it).
        """
        types: dict[str, TensorType] = {i.name: i.type for i in self.inputs}
        producers = {n.name for n in self.nodes}
        if len(producers) != len(self.nodes) or producers & set(types):
            dup = [n.name for n in self.nodes if n.name in types or
                   sum(m.name == n.name for m in self.nodes) > 1]  # fmt: skip
            raise GraphError(f"tensor name {dup[0]} produced twice")
        for node in self.nodes:
            for t in node.inputs:
                if t not in types:
                    if t in producers:
                        raise node.error(f"reads {t}, produced later: a cycle or nodes out of "
                                         "topological order (see topological_order)")  # fmt: skip
                    raise node.error(f"reads unknown tensor {t}")
            if node.arity is not None and len(node.inputs) != node.arity:
                raise node.error(f"{len(node.inputs)} inputs, takes {node.arity}")
            types[node.name] = node.infer([types[t] for t in node.inputs])
        readers: dict[str, int] = {}
        for node in self.nodes:
            for t in node.inputs:
                readers[t] = readers.get(t, 0) + 1
        for node in self.nodes:
            r = readers.get(node.name, 0)
            if isinstance(node, DuplicateStreams) and r != node.n:
                raise node.error(f"declares {node.n} readers, has {r}")
            if r > 1 and not isinstance(node, DuplicateStreams):
                raise node.error(f"read by {r} nodes without a DuplicateStreams (insert_forks)")
        for name in (self.scores, self.decision):
            if name is not None and name not in types:
                raise GraphError(f"graph {self.name}: output {name} is not a tensor")
        if types[self.scores].shape[0] != len(self.classes):
            raise GraphError(f"graph {self.name}: {len(self.classes)} classes, "
                             f"{types[self.scores].shape[0]} scores")  # fmt: skip
        return types

    def node(self, name: str) -> Node:
        """The node producing tensor ``name`` (KeyError when there is none)."""
        return next(n for n in self.nodes if n.name == name)

    def canonical(self) -> IntGraph:
        """This graph with every :class:`MultiThreshold` in its canonical form over its input's
        range (:meth:`MultiThreshold.canonical`): the same function."""
        nodes = tuple(n.canonical(self.types[n.inputs[0]].lo, self.types[n.inputs[0]].hi)
                      if isinstance(n, MultiThreshold) else n for n in self.nodes)  # fmt: skip
        return replace(self, nodes=nodes)

    def readers(self, tensor: str) -> list[Node]:
        """The nodes that read ``tensor``."""
        return [n for n in self.nodes if tensor in n.inputs]

    # ------------------------------------------------------------------ running

    def run(self, inputs: dict[str, np.ndarray] | np.ndarray, keep: bool = False
            ) -> dict[str, np.ndarray]:  # fmt: skip
        """Every tensor's value (``keep``) or just the outputs: ``{"scores": int64 [N, K],
        "decision": int64 [N, k] or uint8 [N, K]}`` (+ every tensor by name, ``[N, C, H, W]``,
        with ``keep``). ``inputs``: ``{input name: int [N, C, H, W]}``, or the ECG array alone
        for a graph with one input.

        Raises
        ------
        GraphError
            A missing input, a wrong shape, values outside an input's range.
        """
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise GraphError(f"graph {self.name} has inputs "
                                 f"{[i.name for i in self.inputs]}: pass a dict")  # fmt: skip
            inputs = {self.inputs[0].name: inputs}
        env: dict[str, np.ndarray] = {}
        for gi in self.inputs:
            if gi.name not in inputs:
                raise GraphError(f"graph {self.name}: input {gi.name} not given")
            x = np.asarray(inputs[gi.name])
            if x.ndim != 4 or x.shape[1:] != gi.type.shape:
                raise GraphError(f"input {gi.name} must be [N, {', '.join(map(str, gi.type.shape))}"
                                 f"], got {list(x.shape)}")  # fmt: skip
            lo, hi = (0, 1) if gi.type.bipolar else (gi.type.lo, gi.type.hi)
            if x.size and (x.min() < lo or x.max() > hi):
                raise GraphError(f"input {gi.name}: values outside [{lo}, {hi}]")
            env[gi.name] = x
        last_read = {t: i for i, n in enumerate(self.nodes) for t in n.inputs}
        outputs = {self.scores, self.decision}
        for i, node in enumerate(self.nodes):
            env[node.name] = node.run([env[t] for t in node.inputs],
                                      [self.types[t] for t in node.inputs])  # fmt: skip
            if not keep:  # free what no later node reads
                for t in node.inputs:
                    if last_read[t] == i and t not in outputs:
                        del env[t]
        out = {"scores": env[self.scores][:, :, 0, 0]}
        if self.decision is not None:
            out["decision"] = env[self.decision][:, :, 0, 0]
        if keep:
            out.update(env)
        return out

    # ------------------------------------------------------------------ size

    def storage_bits(self) -> dict[str, int]:
        """What the hardware stores, by kind: ``weights`` (convolutions, fully connected
        layers), ``thresholds``, ``head`` (head coefficients, multi-label thresholds) and
        ``total`` (:meth:`Node.storage_bits`)."""
        out = {"weights": 0, "thresholds": 0, "head": 0}
        for node in self.nodes:
            bits = node.storage_bits([self.types[t] for t in node.inputs])
            kind = ("weights" if isinstance(node, (Conv, MatMul)) else
                    "thresholds" if isinstance(node, MultiThreshold) else "head")  # fmt: skip
            out[kind] += bits
        out["total"] = sum(out.values())
        return out

    # ------------------------------------------------------------------ files

    def to_json(self) -> dict:
        """A JSON-serializable dict (weights packed: :func:`pack_weights`)."""
        nodes = []
        for n in self.nodes:
            d = n.to_json()
            if "weights" in d:
                d["weights_shape"] = list(n.weights.shape)
            nodes.append(d)
        return {
            "format": FORMAT,
            "name": self.name,
            "classes": list(self.classes),
            "inputs": [
                {"name": i.name, "type": i.type.to_json(), "frac_bits": i.frac_bits}
                for i in self.inputs
            ],
            "nodes": nodes,
            "scores": self.scores,
            "decision": self.decision,
        }

    @classmethod
    def from_json(cls, d: dict) -> IntGraph:
        """Inverse of :meth:`to_json`.

        Raises
        ------
        GraphError
            Not this format, or an inconsistent graph; ``KeyError``/``ValueError`` on
            malformed fields.
        """
        if d.get("format") != FORMAT:
            raise GraphError(f"not an integer network graph (format {FORMAT})")
        return cls(
            name=d["name"],
            classes=tuple(d["classes"]),
            inputs=tuple(
                GraphInput(i["name"], TensorType.from_json(i["type"]), int(i.get("frac_bits", 0)))
                for i in d["inputs"]
            ),
            nodes=tuple(node_from_json(n) for n in d["nodes"]),
            scores=d["scores"],
            decision=d.get("decision"),
        )

    def save(self, path: Path | str) -> Path:
        """Write the JSON atomically (temporary file + rename)."""
        return write_text_atomic(path, json.dumps(self.to_json(), indent=1))


def load_network(path: Path | str):
    """The integer network in the JSON file ``path``: an :class:`IntGraph` (format
    :data:`FORMAT`) or a chain :class:`~.description.NetworkDescription` (its own format).

    Raises
    ------
    ecgaccel.hw.description.DescriptionError
        Missing file, invalid JSON, an unknown format or a malformed network (naming the path).
    """
    from .description import FORMAT as CHAIN_FORMAT
    from .description import DescriptionError, NetworkDescription

    path = Path(path)
    if not path.is_file():
        raise DescriptionError(f"{path}: description not found")
    try:
        d = json.loads(path.read_text())
    except ValueError as exc:
        raise DescriptionError(f"{path}: not JSON ({exc})") from exc
    fmt = d.get("format") if isinstance(d, dict) else None
    if fmt == CHAIN_FORMAT:
        return NetworkDescription.load(path)
    if fmt != FORMAT:
        raise DescriptionError(f"{path}: format {fmt!r}, neither {FORMAT} nor {CHAIN_FORMAT}")
    try:
        return IntGraph.from_json(d)
    except (GraphError, KeyError, ValueError, TypeError) as exc:
        raise DescriptionError(f"{path}: malformed graph ({exc})") from exc


def first_difference(a: IntGraph, b: IntGraph) -> str | None:
    """Where two graphs differ as computations, node by node in order, ignoring tensor names
    (ops, attributes, weights, thresholds): a sentence naming the two nodes, or None when they
    are the same. Compare :meth:`IntGraph.canonical` forms to ignore how thresholds are
    written."""
    if len(a.nodes) != len(b.nodes):
        return f"{len(a.nodes)} nodes against {len(b.nodes)}"
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        ja, jb = na.to_json(), nb.to_json()
        for k in ("name", "inputs"):
            ja.pop(k), jb.pop(k)
        if ja != jb:
            return f"{na.name} ({na.op}) differs from {nb.name} ({nb.op})"
    return None


def topological_order(nodes: list[Node], inputs: set[str]) -> list[Node]:
    """``nodes`` sorted so that every node follows the producers of its inputs (Kahn's
    algorithm, stable).

    Raises
    ------
    GraphError
        A cycle (naming a node on it) or a tensor nobody produces.
    """
    produced = {n.name for n in nodes}
    done = set(inputs)
    out: list[Node] = []
    todo = list(nodes)
    while todo:
        ready = [n for n in todo if all(t in done for t in n.inputs)]
        if not ready:
            n = todo[0]
            missing = [t for t in n.inputs if t not in done]
            if any(t not in produced for t in missing):
                raise n.error(f"reads unknown tensor {missing[0]}")
            raise n.error(f"is on a cycle (waits for {', '.join(missing)})")
        for n in ready:
            out.append(n)
            done.add(n.name)
        todo = [n for n in todo if n.name not in done]
    return out


def insert_forks(nodes: list[Node]) -> list[Node]:
    """``nodes`` (topological order) with a :class:`DuplicateStreams` ``<tensor>.fork`` after
    every tensor read by more than one node, and the readers rewired to it."""
    readers: dict[str, int] = {}
    for n in nodes:
        for t in n.inputs:
            readers[t] = readers.get(t, 0) + 1
    forked = {t: f"{t}.fork" for t, r in readers.items() if r > 1}
    out: list[Node] = []
    inputs_forked = [t for t in forked if t not in {n.name for n in nodes}]
    out += [DuplicateStreams(forked[t], (t,), n=readers[t]) for t in inputs_forked]
    for n in nodes:
        n2 = replace(n, inputs=tuple(forked.get(t, t) for t in n.inputs)) if any(
            t in forked for t in n.inputs) else n  # fmt: skip
        out.append(n2)
        if n.name in forked and not isinstance(n, DuplicateStreams):
            out.append(DuplicateStreams(forked[n.name], (n.name,), n=readers[n.name]))
    return out
