"""QONNX → integer network description (:class:`~.description.NetworkDescription`).

Reads the graph that ``brevitas.export.export_qonnx`` writes for an ECG-BNN (see
``ecgaccel.models.export``) with qonnx's :class:`ModelWrapper` and lowers it:

* ``Quant`` on the input → signed integer input (bit width, power-of-two scale 2^-F);
* per block ``Pad → Conv(BipolarQuant(W) | Quant(W)) → MaxPool → PRelu → BatchNormalization``
  followed by ``BipolarQuant`` (binary activation) → :class:`ConvLayer` with integer
  :class:`Thresholds`, by ``Quant`` (n-bit activation) → :class:`ConvLayer` with
  :class:`MultiThresholds`, or by ``ReduceSum`` over time → the last :class:`ConvLayer` and the
  :class:`SumHead`. ``Quant`` weights (the WnAn variants) become signed n-bit integers with their
  per-tensor scale folded into the thresholds.

Thresholds are found by evaluating the block's real-valued map
``v = s * m → PReLU → BatchNorm → (>= 0)`` on every integer ``m`` the accumulator can hold
(``s`` = input scale x weight scale > 0) and reading off where the sign changes; a map with more
than two changes cannot come from BatchNorm ∘ PReLU and is rejected. This is exact on the
accumulator range, whatever the signs of the BatchNorm γ and the PReLU slope.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .description import ConvLayer, MultiThresholds, NetworkDescription, SumHead, Thresholds


class CompileError(ValueError):
    """A QONNX graph the compiler cannot lower (the message names the node and the reason)."""


@dataclass(frozen=True)
class _Affine:
    """BatchNorm ∘ PReLU of one block, per channel: y = a * (PReLU(v) - mean) + beta."""

    slope: np.ndarray
    a: np.ndarray
    mean: np.ndarray
    beta: np.ndarray

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """y float64 ``[C, M]`` of real pre-activations v ``[C, M]``."""
        p = np.where(v < 0, self.slope[:, None] * v, v)
        return self.a[:, None] * (p - self.mean[:, None]) + self.beta[:, None]


def load_qonnx(path: Path | str):
    """The QONNX model at ``path`` as a qonnx ``ModelWrapper``.

    Raises
    ------
    CompileError
        Missing or unreadable file.
    """
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.is_file():
        raise CompileError(f"{path}: QONNX file not found")
    try:
        return ModelWrapper(str(path))
    except Exception as exc:
        raise CompileError(f"{path}: unreadable ONNX model ({exc})") from exc


def _init(model, node, i: int) -> np.ndarray:
    value = model.get_initializer(node.input[i])
    if value is None:
        raise CompileError(f"{node.name} ({node.op_type}): input {i} is not a constant")
    return np.asarray(value, dtype=np.float64)


def _attr(node, name: str, default=None):
    from qonnx.util.basic import get_by_name

    a = get_by_name(node.attribute, name)
    if a is None:
        return default
    if a.ints:
        return list(a.ints)
    if a.type == 2:  # INT
        return a.i
    if a.type == 1:  # FLOAT
        return a.f
    return a.s.decode() if a.s else default


def _next(model, node, expect: str):
    consumer = model.find_consumer(node.output[0])
    if consumer is None or consumer.op_type != expect:
        got = "nothing" if consumer is None else consumer.op_type
        raise CompileError(f"after {node.name} ({node.op_type}) expected {expect}, found {got}")
    return consumer


def _power_of_two_exponent(scale: float, where: str) -> int:
    exp = -np.log2(scale)
    if not np.isclose(exp, round(exp)):
        raise CompileError(f"{where}: scale {scale} is not a power of two")
    return round(exp)


def block_affine(model, prelu, bn, channels: int) -> _Affine:
    """The per-channel real map ``BatchNorm(PReLU(v))`` of one block, read from its nodes.

    ``prelu`` and ``bn`` are the block's ``PRelu`` and ``BatchNormalization`` nodes of the qonnx
    ``ModelWrapper`` ``model``; ``channels`` is C, the number of output channels (a per-tensor
    PReLU slope is broadcast to C). Shared by :func:`describe` and ``ecgaccel.hw.streamline``.

    Raises
    ------
    CompileError
        A slope or BatchNorm parameter is not a constant initializer.
    """
    gamma, beta, mean, var = (_init(model, bn, i).reshape(-1) for i in (1, 2, 3, 4))
    eps = float(_attr(bn, "epsilon", 1e-5))
    slope = np.broadcast_to(_init(model, prelu, 1).reshape(-1), (channels,)).astype(np.float64)
    return _Affine(slope=slope, a=gamma / np.sqrt(var + eps), mean=mean, beta=beta)


def derive_thresholds(f: _Affine, scale: np.ndarray, acc_min: int, acc_max: int) -> Thresholds:
    """Integer thresholds reproducing ``sign(f(scale * m)) >= 0`` for every integer ``m`` in
    ``[acc_min, acc_max]`` (sign(0) = +1, as Brevitas's binary quantizer).

    Raises
    ------
    CompileError
        The sign changes more than twice over the range on some channel.
    """
    m = np.arange(acc_min, acc_max + 1, dtype=np.int64)
    bits = f(scale[:, None] * m[None, :].astype(np.float64)) >= 0  # [C, M]
    n = bits.shape[0]
    lo = np.full(n, acc_min - 1, dtype=np.int64)
    hi = np.full(n, acc_max + 1, dtype=np.int64)
    invert = np.zeros(n, dtype=bool)
    for c in range(n):
        b = bits[c]
        changes = np.flatnonzero(b[1:] != b[:-1])  # change between m[i] and m[i+1]
        if len(changes) > 2:
            raise CompileError(f"channel {c}: sign changes {len(changes)} times; not BN∘PReLU")
        if len(changes) == 0:
            hi[c] = acc_min if b[0] else acc_max + 1  # always 1 / never 1
            continue
        first_on = b[0]
        if len(changes) == 1:
            if first_on:  # 1..1 0..0: m <= lo
                lo[c] = m[changes[0]]
            else:  # 0..0 1..1: m >= hi
                hi[c] = m[changes[0] + 1]
            continue
        lo[c], hi[c] = m[changes[0]], m[changes[1] + 1]
        if not first_on:  # 0..0 1..1 0..0: inside (lo, hi) -> invert of "outside"
            invert[c] = True
    th = Thresholds(lo=lo, hi=hi, invert=invert)
    assert np.array_equal(th.apply(np.broadcast_to(m, bits.shape)), bits.astype(np.uint8))
    return th


@dataclass(frozen=True)
class ActQuant:
    """An n-bit activation quantizer (a QONNX ``Quant`` node): ``clip(round(y / scale))`` on the
    signed or unsigned, narrow or full range of ``bits`` bits; round half to even (``ROUND``)."""

    scale: float
    bits: int
    signed: bool
    narrow: bool

    @property
    def range(self) -> tuple[int, int]:
        """Smallest and largest integer level."""
        if self.signed:
            hi = 2 ** (self.bits - 1) - 1
            return (-hi if self.narrow else -hi - 1), hi
        return 0, 2**self.bits - 1 - int(self.narrow)

    def levels(self, y: np.ndarray) -> np.ndarray:
        """Integer levels int64 of real values ``y``."""
        lo, hi = self.range
        return np.clip(np.rint(y / self.scale), lo, hi).astype(np.int64)


def quant_node(model, node, what: str) -> ActQuant:
    """The :class:`ActQuant` of a QONNX ``Quant`` node with constant scale, zero point 0 and bit
    width, and rounding mode ``ROUND``.

    Raises
    ------
    CompileError
        Non-constant or per-channel parameters, a non-zero zero point, another rounding mode.
    """
    scale, zero, bits = (_init(model, node, i).reshape(-1) for i in (1, 2, 3))
    if scale.size != 1 or zero.size != 1 or bits.size != 1:
        raise CompileError(f"{node.name}: {what} quantizer must be per tensor")
    if zero[0] != 0:
        raise CompileError(f"{node.name}: {what} quantizer must have zero point 0")
    if scale[0] <= 0 or bits[0] != round(bits[0]) or not 1 <= bits[0] <= 16:
        raise CompileError(f"{node.name}: {what} quantizer scale {scale[0]} / bits {bits[0]}")
    mode = str(_attr(node, "rounding_mode", "ROUND")).upper()
    if mode not in ("ROUND", "ROUND_TO_EVEN"):
        raise CompileError(f"{node.name}: rounding mode {mode} is not supported (ROUND only)")
    return ActQuant(float(scale[0]), int(bits[0]), bool(_attr(node, "signed", 1)),
                    bool(_attr(node, "narrow", 0)))  # fmt: skip


def derive_multithresholds(f: _Affine, scale: np.ndarray, quant: ActQuant, acc_min: int,
                           acc_max: int) -> MultiThresholds:  # fmt: skip
    """:class:`MultiThresholds` reproducing ``quant.levels(f(scale * m))`` for every integer
    ``m`` in ``[acc_min, acc_max]``: the level at ``acc_min`` is the base, and each change of the
    level between ``m - 1`` and ``m`` by ``d`` adds ``|d|`` thresholds ``m`` of sign ``sign(d)``.

    Raises
    ------
    CompileError
        The quantizer is unsigned (the hardware's activations are signed) or a channel needs more
        than ``2 * (2^bits - 1)`` steps (not BatchNorm ∘ PReLU).
    """
    if not quant.signed:
        raise CompileError("n-bit activations must be signed")
    m = np.arange(acc_min, acc_max + 1, dtype=np.int64)
    levels = quant.levels(f(scale[:, None] * m[None, :].astype(np.float64)))  # [C, M]
    n = levels.shape[0]
    steps: list[list[tuple[int, int]]] = []
    for c in range(n):
        d = np.diff(levels[c])
        where = np.flatnonzero(d)
        ch = [(int(m[i + 1]), int(np.sign(d[i]))) for i in where for _ in range(abs(int(d[i])))]
        if len(ch) > 2 * (2**quant.bits - 1):
            raise CompileError(f"channel {c}: {len(ch)} level steps; not BN∘PReLU")
        steps.append(ch)
    j = max(1, max(len(ch) for ch in steps))
    th = np.full((n, j), acc_max + 1, dtype=np.int64)
    sign = np.ones((n, j), dtype=np.int8)
    for c, ch in enumerate(steps):
        for k, (t, sg) in enumerate(ch):
            th[c, k], sign[c, k] = t, sg
    mt = MultiThresholds(thresholds=th, sign=sign, base=levels[:, 0].copy(), out_bits=quant.bits)
    assert np.array_equal(mt.apply(np.broadcast_to(m, levels.shape)), levels)
    return mt


def derive_head(f: _Affine, scale: np.ndarray, length: int, coef_bits: int = 16) -> SumHead:
    """Fixed-point :class:`SumHead` of ``sum_t f(scale * m_t)`` over ``length`` steps.

    ``sum_t f = a*s*(P + slope*N) + length*(beta - a*mean)`` with ``P = sum max(m, 0)`` and
    ``N = sum min(m, 0)``; the coefficients ``a*s`` and ``a*s*slope`` are rounded to
    ``coef_bits``-bit signed integers at the largest common scale 2^frac_bits that fits them.
    """
    pos = f.a * scale
    neg = f.a * scale * f.slope
    bias = length * (f.beta - f.a * f.mean)
    biggest = float(np.max(np.abs(np.concatenate([pos, neg]))))
    frac = int(np.floor(np.log2((2 ** (coef_bits - 1) - 1) / biggest))) if biggest > 0 else 0
    k = 2.0**frac
    return SumHead(
        a_pos=np.rint(pos * k).astype(np.int64),
        a_neg=np.rint(neg * k).astype(np.int64),
        bias=np.rint(bias * k).astype(np.int64),
        frac_bits=frac,
        coef_bits=coef_bits,
        length=length,
    )


def describe(model, name: str, classes: tuple[str, ...] | list[str]) -> NetworkDescription:
    """Lower an ECG-BNN QONNX ``ModelWrapper`` to its integer description.

    Raises
    ------
    CompileError
        The graph is not the pattern described in the module docstring (the message names the
        node), or a scale / pad value has no exact integer form.
    """
    graph = model.graph
    in_name = graph.input[0].name
    q = model.find_consumer(in_name)
    if q is None or q.op_type != "Quant":
        raise CompileError("the graph input must feed a Quant node (the int8 input quantizer)")
    in_scale, zero, bits = (float(_init(model, q, i).reshape(-1)[0]) for i in (1, 2, 3))
    if zero != 0 or not _attr(q, "signed", 1):
        raise CompileError(f"{q.name}: input quantizer must be signed with zero point 0")
    frac = _power_of_two_exponent(in_scale, q.name)
    input_length = int(model.get_tensor_shape(in_name)[-1])
    layers: list[ConvLayer] = []
    node, scale_in, input_bits, length = q, in_scale, int(bits), input_length
    head = None
    while head is None:
        nxt = model.find_consumer(node.output[0])
        # a zero pad may have been folded into the Conv's own pads by the ONNX exporter
        pad = _next(model, node, "Pad") if nxt is None or nxt.op_type != "Conv" else None
        conv = nxt if pad is None else _next(model, pad, "Conv")
        pool = _next(model, conv, "MaxPool")
        prelu = _next(model, pool, "PRelu")
        bn = _next(model, prelu, "BatchNormalization")
        layer, f, s = _block(model, pad, conv, pool, prelu, bn, scale_in, input_bits, length,
                             len(layers))  # fmt: skip
        after = model.find_consumer(bn.output[0])
        if after is not None and after.op_type == "BipolarQuant":
            th = derive_thresholds(f, s, layer.acc_min, layer.acc_max)
            layers.append(_with_thresholds(layer, th))
            node, scale_in, input_bits, length = after, 1.0, None, layer.out_length
        elif after is not None and after.op_type == "Quant":
            aq = quant_node(model, after, "activation")
            mt = derive_multithresholds(f, s, aq, layer.acc_min, layer.acc_max)
            layers.append(_with_thresholds(layer, mt))
            node, scale_in, input_bits, length = after, aq.scale, aq.bits, layer.out_length
        elif after is not None and after.op_type == "ReduceSum":
            layers.append(layer)
            head = derive_head(f, s, layer.out_length)
        else:
            got = "nothing" if after is None else after.op_type
            raise CompileError(f"after {bn.name} expected BipolarQuant, Quant or ReduceSum, "
                               f"found {got}")  # fmt: skip
    if len(classes) != layers[-1].out_channels:
        raise CompileError(f"{len(classes)} class names for {layers[-1].out_channels} outputs")
    return NetworkDescription(name, tuple(classes), input_length, int(bits), frac, tuple(layers),
                              head)  # fmt: skip


def _block(model, pad, conv, pool, prelu, bn, scale_in, input_bits, length, index):
    if pad is None:  # zero padding held by the Conv (ONNX pads: begins then ends)
        pads = np.array(_attr(conv, "pads", [0, 0]), dtype=np.int64)
        value, pad = 0.0, conv
    else:
        pads = _init(model, pad, 1).astype(np.int64).reshape(-1)
        value = float(_init(model, pad, 2).reshape(-1)[0]) if len(pad.input) > 2 else 0.0
        if any(_attr(conv, "pads", [0, 0])):
            raise CompileError(f"{conv.name}: padding must be an explicit Pad node")
    n = len(pads) // 2
    if np.any(pads[:n][:-1]) or np.any(pads[n:][:-1]):
        raise CompileError(f"{pad.name}: only the time axis may be padded")
    pad_int = value / scale_in
    if not np.isclose(pad_int, round(pad_int)):
        raise CompileError(f"{pad.name}: pad value {value} is not an integer at scale {scale_in}")
    if input_bits is None and round(pad_int) not in (-1, 1):
        raise CompileError(f"{pad.name}: a bipolar input can only be padded with -1 or +1")
    wq = model.find_producer(conv.input[1])
    if wq is None or wq.op_type not in ("BipolarQuant", "Quant"):
        raise CompileError(f"{conv.name}: weights must come from a BipolarQuant or Quant node")
    w_real = _init(model, wq, 0)
    w_scale = _init(model, wq, 1).reshape(-1)
    if wq.op_type == "BipolarQuant":
        weights, weight_bits = np.where(w_real >= 0, 1, -1).astype(np.int8), 1
    else:
        wqq = quant_node(model, wq, "weight")
        if not wqq.signed or wqq.bits < 2 or wqq.bits > 8:
            raise CompileError(f"{wq.name}: weights must be signed 2..8-bit integers")
        weights, weight_bits = wqq.levels(w_real).astype(np.int8), wqq.bits
    if _attr(conv, "group", 1) != 1 or any(d != 1 for d in _attr(conv, "dilations", [1])):
        raise CompileError(f"{conv.name}: grouped or dilated convolutions are not supported")
    if len(conv.input) > 2:
        raise CompileError(f"{conv.name}: convolutions must be bias-free")
    c_out = weights.shape[0]
    scale = np.broadcast_to(scale_in * w_scale, (c_out,)).astype(np.float64)
    if np.any(scale <= 0):
        raise CompileError(f"{wq.name}: weight scales must be positive")
    if _attr(pool, "ceil_mode", 0) or any(_attr(pool, "pads", [0, 0])):
        raise CompileError(f"{pool.name}: only floor-mode, unpadded max-pooling is supported")
    if any(d != 1 for d in _attr(pool, "dilations", [1])):
        raise CompileError(f"{pool.name}: dilated max-pooling is not supported")
    f = block_affine(model, prelu, bn, c_out)
    layer = ConvLayer(
        name=f"block{index + 1}",
        in_channels=weights.shape[1],
        out_channels=c_out,
        kernel=weights.shape[2],
        stride=int(_attr(conv, "strides", [1])[0]),
        pad_left=int(pads[n - 1]),
        pad_right=int(pads[-1]),
        pad_value=round(pad_int),
        input_bits=input_bits,
        weights=weights,
        pool_kernel=int(_attr(pool, "kernel_shape")[0]),
        pool_stride=int(_attr(pool, "strides", [1])[0]),
        in_length=length,
        thresholds=None,
        weight_bits=weight_bits,
    )
    return layer, f, scale


def _with_thresholds(layer: ConvLayer, th: Thresholds) -> ConvLayer:
    from dataclasses import replace

    return replace(layer, thresholds=th)


def compile_qonnx(path: Path | str, name: str, classes: tuple[str, ...] | list[str]
                  ) -> NetworkDescription:  # fmt: skip
    """:func:`describe` the QONNX file at ``path``. Raises :class:`CompileError`."""
    return describe(load_qonnx(path), name, classes)
