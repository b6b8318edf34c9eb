"""The integer network description: the single source of truth for every hardware back end.

Produced from QONNX by :mod:`ecgaccel.hw.compile`; run by :mod:`ecgaccel.models.reference` (the
golden model) and by the RTL generators. Imports nothing from PyTorch or ``ecgaccel.models``.

Semantics of one :class:`ConvLayer` (all integers), input ``x`` ``[C_in, L_in]``:

1. pad ``pad_left`` / ``pad_right`` samples of ``pad_value``, a value of the input domain (an
   integer for an integer input, ``-1`` or ``+1`` for a bipolar one, whose bit is ``1`` for +1);
2. ``acc[o, t] = sum_{i,k} w[o, i, k] * x_pad[i, t * stride + k]`` with ``w`` in {-1, +1}
   (``weight_bits`` 1) or signed ``weight_bits``-bit integers. For bipolar inputs and weights
   this is the XNOR-popcount ``2 * popcount(xnor(x_bits, w_bits)) - C_in * K``;
3. max-pool ``m[o, u] = max_{j < pool_kernel} acc[o, u * pool_stride + j]`` (on the integers,
   so it is exact whatever the threshold's direction);
4. activation, one of
   * :class:`Thresholds` (binary activations): ``bit = invert XOR (m >= hi OR m <= lo)`` per
     output channel; the bit stands for the bipolar value ``2 * bit - 1`` of the next layer's
     input;
   * :class:`MultiThresholds` (n-bit activations, FINN's ``MultiThreshold`` with an output
     bias, generalized to non-monotone channels): the signed integer
     ``base + sum_j sign_j * [m >= T_j]``, the next layer's n-bit input.

The last layer has no thresholds; :class:`SumHead` turns its pooled integers into class scores.

Bit order of packed weights (``ConvLayer.to_json``): bits in ``[C_out, C_in, K]`` C order, bit 1
= weight +1, packed most-significant bit first (``numpy.packbits``), hex encoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import semantics as sem
from .files import write_text_atomic
from .graph import pack_weights as _pack
from .graph import unpack_weights as _unpack
from .graph import weight_max

__all__ = ["ConvLayer", "DescriptionError", "MultiThresholds", "NetworkDescription", "SumHead",
           "Thresholds", "acc_width", "max_pool_1d", "sum_head_scores", "weight_max"]  # fmt: skip

FORMAT = "ecgaccel-intnet-1"


class DescriptionError(ValueError):
    """A description file that is missing, malformed, or inconsistent."""


@dataclass(frozen=True)
class Thresholds:
    """Per-channel two-threshold function of a pooled integer ``m``.

    ``bit = invert XOR ((m >= hi) OR (m <= lo))``; ``lo``/``hi`` int64 ``[C]``, ``invert`` bool
    ``[C]``. It covers every BatchNorm ∘ PReLU ∘ sign composition: a monotone increasing channel
    (``lo`` below the range, ``hi`` = threshold), a decreasing one (γ < 0: ``lo`` = threshold,
    ``hi`` above the range), and the two non-monotone shapes of a negative PReLU slope (bit 1
    outside ``(lo, hi)``, or, inverted, inside it).
    """

    lo: np.ndarray
    hi: np.ndarray
    invert: np.ndarray

    def apply(self, m: np.ndarray) -> np.ndarray:
        """Bits uint8 ``[..., C, L]`` of pooled integers ``m`` int ``[..., C, L]``."""
        lo, hi, inv = (a[:, None] for a in (self.lo, self.hi, self.invert))
        return (((m >= hi) | (m <= lo)) ^ inv).astype(np.uint8)


@dataclass(frozen=True)
class MultiThresholds:
    """Per-channel step function of a pooled integer ``m`` onto signed ``out_bits`` integers.

    ``level[c] = base[c] + sum_j sign[c, j] * (m >= thresholds[c, j])``: FINN's
    ``MultiThreshold`` (``out_bias`` = ``base``) when every ``sign`` is +1, which is the case for a
    monotone increasing channel; a decreasing channel (BatchNorm γ < 0) has signs -1, and the
    V shape of a negative PReLU slope has both. ``thresholds`` int64 ``[C, J]`` ascending along
    ``j``; ``sign`` int8 ``[C, J]`` in {-1, +1}; ``base`` int64 ``[C]``. A channel that needs
    fewer than ``J`` steps is padded with thresholds that are never reached (above the
    accumulator range) and sign +1. Every level lies in the signed ``out_bits`` range.
    """

    thresholds: np.ndarray
    sign: np.ndarray
    base: np.ndarray
    out_bits: int

    @property
    def steps(self) -> int:
        """``J``: thresholds per channel."""
        return int(self.thresholds.shape[1])

    def apply(self, m: np.ndarray) -> np.ndarray:
        """Levels int64 ``[..., C, L]`` of pooled integers ``m`` int ``[..., C, L]``
        (:func:`~ecgaccel.hw.semantics.multithreshold`)."""
        m = np.asarray(m, dtype=np.int64)
        lead = m.reshape(-1, *m.shape[-2:])  # [B, C, L]
        out = sem.multithreshold(lead, self.thresholds, self.sign, self.base)
        return out.reshape(m.shape)


Activation = Thresholds | MultiThresholds
"""What follows a layer's max-pool: binary or n-bit activations."""


def max_pool_1d(acc: np.ndarray, kernel: int, stride: int, out_length: int) -> np.ndarray:
    """1-D max-pool over the last axis: int ``[..., L]`` → ``[..., out_length]``, output ``u`` the
    maximum of ``acc[..., u * stride : u * stride + kernel]`` (no padding, as PyTorch's
    ``MaxPool1d``): :func:`~ecgaccel.hw.semantics.max_pool` with H = 1.

    Raises
    ------
    ValueError
        ``out_length`` windows do not fit in ``L`` samples.
    """
    acc = np.asarray(acc)
    return sem.max_pool(acc[..., None, :], (1, kernel), (1, stride), (1, out_length))[..., 0, :]


@dataclass(frozen=True)
class ConvLayer:
    """One block: pad → conv → max-pool → thresholds (or the head).

    Attributes
    ----------
    input_bits:
        Width of a signed integer input (the first layer, e.g. 8, or an n-bit activation), or
        ``None`` for a bipolar (1-bit, ``0`` = -1, ``1`` = +1) input.
    weights:
        int8 ``[C_out, C_in, K]``: in {-1, +1} (``weight_bits`` 1) or signed ``weight_bits``-bit
        integers.
    thresholds:
        :class:`Thresholds` (binary output), :class:`MultiThresholds` (n-bit output), or
        ``None`` for the last layer (the head follows).
    weight_bits:
        1: bipolar weights (stored as one bit each); n ≥ 2: signed n-bit integers.
    acc_min, acc_max:
        The range of the accumulator over all inputs (sizes registers and threshold widths).
    in_length, conv_length, out_length:
        Sequence lengths in samples: input, after the convolution, after the max-pool.
    """

    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    pad_left: int
    pad_right: int
    pad_value: int
    input_bits: int | None
    weights: np.ndarray
    pool_kernel: int
    pool_stride: int
    in_length: int
    thresholds: Activation | None
    weight_bits: int = 1

    @property
    def conv_length(self) -> int:
        """Convolution output length in samples."""
        return (self.in_length + self.pad_left + self.pad_right - self.kernel) // self.stride + 1

    @property
    def out_length(self) -> int:
        """Max-pool output length in samples."""
        return (self.conv_length - self.pool_kernel) // self.pool_stride + 1

    @property
    def fan_in(self) -> int:
        """Products per accumulator: ``C_in * K``."""
        return self.in_channels * self.kernel

    @property
    def acc_max(self) -> int:
        """Largest accumulator value: ``fan_in * max |input| * max |weight|`` (over the signed
        ranges of the input and weight widths)."""
        x_max = 1 if self.input_bits is None else 2 ** (self.input_bits - 1)
        return self.fan_in * x_max * weight_max(self.weight_bits)

    @property
    def acc_min(self) -> int:
        """Smallest accumulator value."""
        return -self.acc_max

    @property
    def weight_storage_bits(self) -> int:
        """Stored weight bits: ``weight_bits`` per weight."""
        return int(self.weights.size) * self.weight_bits

    @property
    def output_bits(self) -> int | None:
        """Bits of one output element: ``None`` (bipolar), the n of n-bit activations, or
        ``None`` for the last layer too (its pooled integers go to the head)."""
        return self.thresholds.out_bits if isinstance(self.thresholds, MultiThresholds) else None


def sum_head_scores(m: np.ndarray, a_pos: np.ndarray, a_neg: np.ndarray, bias: np.ndarray
                    ) -> np.ndarray:  # fmt: skip
    """The fixed-point head (:class:`SumHead`): int64 scores ``[N, n_classes]`` of the last
    layer's pooled integers ``m`` int ``[N, C, L]`` (:func:`~ecgaccel.hw.semantics.sum_head`)."""
    return sem.sum_head(m, a_pos, a_neg, bias)


@dataclass(frozen=True)
class SumHead:
    """Global sum pooling of the last layer with its BatchNorm ∘ PReLU folded into fixed point.

    For class ``c`` with pooled integers ``m[c, t]``, ``t < length``::

        score[c] = a_pos[c] * sum_t max(m[c, t], 0) + a_neg[c] * sum_t min(m[c, t], 0) + bias[c]

    The real-valued score equals ``score * 2^-frac_bits`` up to the rounding of ``a_pos``,
    ``a_neg`` (``coef_bits``-bit signed) and ``bias`` to that scale; the predicted class is
    ``argmax(score)`` (lowest index on ties). All arrays int64 ``[n_classes]``.
    """

    a_pos: np.ndarray
    a_neg: np.ndarray
    bias: np.ndarray
    frac_bits: int
    coef_bits: int
    length: int


@dataclass(frozen=True)
class NetworkDescription:
    """A whole integer network: input format, layers, head, class names.

    The input is the z-scored window quantized to ``input_bits``-bit signed integers with
    ``input_frac_bits`` fractional bits, ``[1, input_length]``.
    """

    name: str
    classes: tuple[str, ...]
    input_length: int
    input_bits: int
    input_frac_bits: int
    layers: tuple[ConvLayer, ...]
    head: SumHead

    def storage_bits(self) -> dict[str, int]:
        """What the hardware stores: ``weights`` (``weight_bits`` each), ``thresholds`` (binary:
        lo and hi at the accumulator width + 1 invert bit per channel; n-bit: ``J`` thresholds
        at the accumulator width + ``J`` sign bits + an ``out_bits`` base per channel), ``head``
        (two coefficients and a 32-bit bias per class), and ``total``."""
        w = sum(layer.weight_storage_bits for layer in self.layers)
        t = sum(
            layer.out_channels * _threshold_bits(layer.thresholds, acc_width(layer))
            for layer in self.layers
            if layer.thresholds is not None
        )
        h = len(self.classes) * (2 * self.head.coef_bits + 32)
        return {"weights": w, "thresholds": t, "head": h, "total": w + t + h}

    def to_json(self) -> dict:
        """A JSON-serializable dict (weights bit-packed, see the module docstring)."""
        return {
            "format": FORMAT,
            "name": self.name,
            "classes": list(self.classes),
            "input_length": self.input_length,
            "input_bits": self.input_bits,
            "input_frac_bits": self.input_frac_bits,
            "layers": [_layer_to_json(layer) for layer in self.layers],
            "head": {
                "a_pos": self.head.a_pos.tolist(),
                "a_neg": self.head.a_neg.tolist(),
                "bias": self.head.bias.tolist(),
                "frac_bits": self.head.frac_bits,
                "coef_bits": self.head.coef_bits,
                "length": self.head.length,
            },
        }

    @classmethod
    def from_json(cls, d: dict) -> NetworkDescription:
        """Inverse of :meth:`to_json`. Raises ``KeyError``/``ValueError`` on malformed input."""
        if d.get("format") != FORMAT:
            raise ValueError(f"not an integer network description (format {FORMAT})")
        h = d["head"]
        return cls(
            name=d["name"],
            classes=tuple(d["classes"]),
            input_length=int(d["input_length"]),
            input_bits=int(d["input_bits"]),
            input_frac_bits=int(d["input_frac_bits"]),
            layers=tuple(_layer_from_json(x) for x in d["layers"]),
            head=SumHead(
                a_pos=np.array(h["a_pos"], dtype=np.int64),
                a_neg=np.array(h["a_neg"], dtype=np.int64),
                bias=np.array(h["bias"], dtype=np.int64),
                frac_bits=int(h["frac_bits"]),
                coef_bits=int(h["coef_bits"]),
                length=int(h["length"]),
            ),
        )

    def save(self, path: Path | str) -> Path:
        """Write the JSON atomically (temporary file + rename)."""
        return write_text_atomic(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path | str) -> NetworkDescription:
        """Read a description written by :meth:`save`.

        Raises
        ------
        DescriptionError
            Missing file, invalid JSON, or a malformed description (named with the path).
        """
        path = Path(path)
        if not path.is_file():
            raise DescriptionError(f"{path}: description not found")
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise DescriptionError(f"{path}: malformed description ({exc})") from exc


def _threshold_bits(th: Activation, width: int) -> int:
    if isinstance(th, MultiThresholds):
        return th.steps * (width + 1) + th.out_bits
    return 2 * width + 1


def acc_width(layer: ConvLayer) -> int:
    """Bits of a signed register holding every accumulator value of ``layer``."""
    return int(max(abs(layer.acc_min), layer.acc_max)).bit_length() + 1


def _layer_to_json(layer: ConvLayer) -> dict:
    d = {
        k: getattr(layer, k)
        for k in ("name", "in_channels", "out_channels", "kernel", "stride", "pad_left",
                  "pad_right", "pad_value", "input_bits", "pool_kernel", "pool_stride",
                  "in_length")
    }  # fmt: skip
    if layer.weight_bits == 1:
        d["weights"] = _pack(layer.weights, 1)
    else:  # int8 bytes, C order
        d["weight_bits"] = layer.weight_bits
        d["weights"] = _pack(layer.weights, layer.weight_bits)
    if isinstance(layer.thresholds, MultiThresholds):
        mt = layer.thresholds
        d["multithresholds"] = {
            "thresholds": mt.thresholds.tolist(),
            "sign": mt.sign.tolist(),
            "base": mt.base.tolist(),
            "out_bits": mt.out_bits,
        }
    elif layer.thresholds is not None:
        d["thresholds"] = {
            "lo": layer.thresholds.lo.tolist(),
            "hi": layer.thresholds.hi.tolist(),
            "invert": layer.thresholds.invert.astype(int).tolist(),
        }
    return d


def _layer_from_json(d: dict) -> ConvLayer:
    shape = (int(d["out_channels"]), int(d["in_channels"]), int(d["kernel"]))
    wbits = int(d.get("weight_bits", 1))
    try:
        weights = _unpack(d["weights"], shape, wbits)
    except ValueError as exc:
        raise ValueError(f"{d['name']}: {exc}") from exc
    t = d.get("thresholds")
    act: Activation | None = None
    if "multithresholds" in d:
        mt = d["multithresholds"]
        act = MultiThresholds(
            thresholds=np.array(mt["thresholds"], dtype=np.int64).reshape(shape[0], -1),
            sign=np.array(mt["sign"], dtype=np.int8).reshape(shape[0], -1),
            base=np.array(mt["base"], dtype=np.int64),
            out_bits=int(mt["out_bits"]),
        )
    elif t is not None:
        act = Thresholds(
            lo=np.array(t["lo"], dtype=np.int64),
            hi=np.array(t["hi"], dtype=np.int64),
            invert=np.array(t["invert"], dtype=bool),
        )
    return ConvLayer(
        name=d["name"],
        in_channels=shape[1],
        out_channels=shape[0],
        kernel=shape[2],
        stride=int(d["stride"]),
        pad_left=int(d["pad_left"]),
        pad_right=int(d["pad_right"]),
        pad_value=int(d["pad_value"]),
        input_bits=None if d["input_bits"] is None else int(d["input_bits"]),
        weights=weights,
        pool_kernel=int(d["pool_kernel"]),
        pool_stride=int(d["pool_stride"]),
        in_length=int(d["in_length"]),
        thresholds=act,
        weight_bits=wbits,
    )
