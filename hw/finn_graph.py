"""The integer network as a FINN-dialect ONNX graph that FINN's own passes lower to hardware.

:func:`finn_graph` writes a :class:`~ecgaccel.hw.description.NetworkDescription` in the form
FINN's ``step_streamline`` leaves a convolutional network in (NHWC tensors ``[1, 1, L, C]``,
``Im2Col`` → ``MatMul`` / ``XnorPopcountMatMul`` → ``MaxPoolNHWC`` → ``MultiThreshold``), with
only the ops FINN turns into hardware layers: ``Im2Col`` → ``ConvolutionInputGenerator``
(+ ``FMPadding``), ``MatMul`` / ``XnorPopcountMatMul`` → ``MVAU``, overlapping
``MaxPoolNHWC`` → ``Pool`` (FINN's ``InferPool``), per-channel ``Mul`` / ``Add`` →
``ChannelwiseOp``, ``Pad`` → ``FMPadding``, ``MultiThreshold`` → ``Thresholding``.
The graph computes exactly what :func:`ecgaccel.models.reference.run` computes (a test runs
both on every bundled window); two rewrites make that possible with FINN's ops:

**Bipolar padding.** The ECG-BNN pads its ±1 activations with +1, and FINN's ``FMPadding``
pads zero bits, which are -1 in FINN's bipolar encoding. No choice of bit polarity per channel
helps (a monotone increasing threshold of a max-pool cannot yield the bit that is 1 for *small*
values). So the padding moves in front of the thresholds: each output channel ``j`` becomes
``v = s * Y + beta`` (``Y`` the max-pooled accumulator, ``s`` = ±1), zero-padded, then
thresholded as ``bit = [v >= T]`` with ``T`` = 0 where the pad bit is 1 and ``T`` = 1 where it
is 0. Every threshold is then FINN's increasing ``MultiThreshold`` with ``BINARY`` output.

**Two-sided thresholds.** A channel with a negative PReLU slope is one bit of two comparisons,
``invert XOR (m >= hi OR m <= lo)``; FINN's thresholds are monotone. Such a channel is streamed
as two channels ``A = [m >= hi]``, ``B = [m <= lo]`` (the second with ``s = -1``); since ``A``
and ``B`` are never both 1, the bipolar value is ``x = A' + B' + 1`` (or ``-(A' + B' + 1)``
inverted; ``A'``, ``B'`` bipolar), so the next layer's weights for ``A`` and ``B`` are the
channel's weights (negated when inverted) and the constant goes into a per-channel bias. The
pad bits of ``A``/``B`` are chosen so that ``x`` is +1 in the padding.

Layers after a binary one are ``XnorPopcountMatMul`` on ``BINARY`` bits and weights (FINN's
XNOR-popcount MVAU): the popcount ``y`` of ``xnor(b, w)`` gives the accumulator
``2 y + bias`` (``bias`` = the constants above minus twice the weight's -1 count). The bias and
factor 2 are folded into ``beta`` and the thresholds, so ``y`` reaches the thresholds
unchanged; its range is ``0 .. C_in' * K`` (FINN's ``MinimizeAccumulatorWidth`` sizes an XNOR
MVAU without fused activation from the ±1 range instead, so ``finn_steps.py`` sets it).

**Host side.** The first layer's padding (the value ``pad_value`` of the input, not zero) is
done by the host (:func:`host_input`), and the head (:class:`~ecgaccel.hw.description.SumHead`:
two sums over 27 positions and three multiply-adds per class) runs on the host from the graph's
output, the last layer's pooled accumulators (:func:`host_scores`).

Imports onnx, qonnx and numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from .description import (
    ConvLayer,
    MultiThresholds,
    NetworkDescription,
    Thresholds,
    sum_head_scores,
)

OPSET = 13
"""ONNX opset of the graph (``opset_import`` entry 0, which FINN's qonnx reads as ONNX's)."""

QONNX_DOMAIN = "qonnx.custom_op.general"


class FinnGraphError(ValueError):
    """A description this rewrite does not cover (the message names the layer)."""


@dataclass(frozen=True)
class StreamChannel:
    """One channel of a stream between two layers in the FINN graph.

    ``source``: the description's channel it encodes; ``sign`` (±1) and ``theta``: the bit is
    ``[sign * m >= theta]`` of that channel's pooled accumulator ``m``; ``pad_bit``: its value in
    the next layer's padding; ``alpha`` (±1): its coefficient in the bipolar value
    ``x[source] = sum(alpha * (2 b - 1)) + gamma[source]``.
    """

    source: int
    sign: int
    theta: int
    pad_bit: int
    alpha: int


@dataclass(frozen=True)
class StreamMap:
    """How a layer's bipolar output channels are streamed: ``channels`` in stream order and the
    constant ``gamma`` int64 ``[C]`` per description channel."""

    channels: tuple[StreamChannel, ...]
    gamma: np.ndarray


def stream_map(th: Thresholds, acc_min: int, acc_max: int) -> StreamMap:
    """Streamed channels of binary thresholds ``th`` on pooled accumulators in
    ``[acc_min, acc_max]`` (see the module docstring; every channel's padding is +1).

    Raises
    ------
    FinnGraphError
        Thresholds of inconsistent shapes.
    """
    if not (th.lo.shape == th.hi.shape == th.invert.shape):
        raise FinnGraphError("thresholds lo/hi/invert of different shapes")
    chans: list[StreamChannel] = []
    gamma = np.zeros(th.lo.shape[0], dtype=np.int64)
    for c, (lo, hi, inv) in enumerate(
        zip(th.lo.tolist(), th.hi.tolist(), th.invert.tolist(), strict=True)
    ):
        has_hi, has_lo = hi <= acc_max, lo >= acc_min
        if has_hi and has_lo and lo < hi - 1:
            a = 1 if not inv else -1
            chans.append(StreamChannel(c, +1, hi, 0 if inv else 1, a))  # A = [m >= hi]
            chans.append(StreamChannel(c, -1, -lo, 0, a))  # B = [m <= lo]
            gamma[c] = a
            continue
        if has_hi and has_lo:  # lo >= hi - 1: the two comparisons cover every m
            hi, has_lo = acc_min, False
        if has_lo:  # bit = inv XOR [m <= lo]
            chans.append(StreamChannel(c, +1, lo + 1, 1, 1) if inv else
                         StreamChannel(c, -1, -lo, 1, 1))  # fmt: skip
        else:  # bit = inv XOR [m >= hi] (hi may lie beyond the range: a constant)
            hi = hi if has_hi else acc_max + 1
            chans.append(StreamChannel(c, -1, 1 - hi, 1, 1) if inv else
                         StreamChannel(c, +1, hi, 1, 1))  # fmt: skip
    return StreamMap(tuple(chans), gamma)


@dataclass(frozen=True)
class LevelChannel:
    """One channel of an n-bit stream: the value ``offset + sum_t [m >= t]`` over
    ``thresholds`` (ascending) of description channel ``source``'s pooled accumulator ``m``;
    ``alpha`` (±1): its coefficient in ``x[source] = sum(alpha * value)``."""

    source: int
    thresholds: tuple[int, ...]
    offset: int
    alpha: int


@dataclass(frozen=True)
class LevelMap:
    """How a layer's n-bit output channels are streamed: ``channels`` in stream order, FINN's
    ``MultiThreshold`` ``out_bias`` (``bias``, the lowest value) and ``dtype`` (the stream's
    FINN datatype name)."""

    channels: tuple[LevelChannel, ...]
    bias: int
    dtype: str

    @property
    def steps(self) -> int:
        """Thresholds a channel in FINN's form (``offset - bias`` always-true ones first)."""
        return max(ch.offset - self.bias + len(ch.thresholds) for ch in self.channels)

    def matrix(self, acc_min: int, acc_max: int) -> np.ndarray:
        """FINN's thresholds int64 ``[C', steps]``: per channel ``offset - bias`` thresholds at
        ``acc_min`` (always reached), its own, then ``acc_max + 1`` (never reached)."""
        rows = []
        for ch in self.channels:
            row = [acc_min] * (ch.offset - self.bias) + list(ch.thresholds)
            rows.append(row + [acc_max + 1] * (self.steps - len(row)))
        return np.array(rows, dtype=np.int64)


def level_map(th: MultiThresholds, acc_min: int, acc_max: int) -> LevelMap:
    """Streamed channels of n-bit thresholds ``th`` on pooled accumulators in
    ``[acc_min, acc_max]``: a monotone channel as it is; one whose steps have both signs (a
    negative PReLU slope) as ``g - h``, ``g`` its rising steps and ``h`` its falling ones, each
    shifted by the same ``delta`` so both stay in the signed ``out_bits`` range where they can
    (the padding, 0 in both, is then 0 in ``x``). The stream's datatype is the smallest signed
    type holding every channel's values."""
    lo_lim, hi_lim = -(2 ** (th.out_bits - 1)), 2 ** (th.out_bits - 1) - 1
    chans: list[LevelChannel] = []
    for c in range(th.thresholds.shape[0]):
        base = int(th.base[c])
        rise, fall = [], []
        for t, sg in zip(th.thresholds[c].tolist(), th.sign[c].tolist(), strict=True):
            if t <= acc_min:  # always reached: a constant step
                base += sg
            elif t <= acc_max:
                (rise if sg > 0 else fall).append(t)
        if not fall:
            chans.append(LevelChannel(c, tuple(rise), base, 1))
            continue
        g_lo, g_hi, h_hi = base, base + len(rise), len(fall)
        d_lo, d_hi = max(g_hi, h_hi) - hi_lim, min(g_lo, 0) - lo_lim
        delta = d_lo if d_lo <= d_hi else (d_lo + d_hi) // 2
        chans.append(LevelChannel(c, tuple(rise), base - delta, 1))
        chans.append(LevelChannel(c, tuple(fall), -delta, -1))
    low = min(ch.offset for ch in chans)
    high = max(ch.offset + len(ch.thresholds) for ch in chans)
    return LevelMap(tuple(chans), low, _bits_type(min(low, -1), high))


@dataclass(frozen=True)
class FinnLayer:
    """One description layer as FINN computes it.

    ``weights`` int ``[K * C_in', C_out']`` (``Im2Col`` column order: kernel tap major,
    stream channel minor), ``columns`` int ``[C_out']``: the description channel of each
    output column; ``factor`` and ``bias`` int64 ``[C_out]``: the true accumulator is
    ``factor * y + bias[channel]`` of the MVAU's ``y`` (``sum(w * x)`` for integer inputs, the
    XNOR popcount when ``factor`` is 2: binary inputs); ``in_pad``: the zero padding FINN
    adds in front of the layer (``FMPadding`` from ``Im2Col``; n-bit inputs), else ``(0, 0)``.
    """

    layer: ConvLayer
    weights: np.ndarray
    columns: np.ndarray
    factor: int
    bias: np.ndarray
    in_pad: tuple[int, int]
    out_map: StreamMap | LevelMap | None


def lower_layers(desc: NetworkDescription) -> list[FinnLayer]:
    """Each layer of ``desc`` as FINN computes it (see the module docstring).

    Raises
    ------
    FinnGraphError
        A layer this rewrite does not cover.
    """
    out: list[FinnLayer] = []
    prev: StreamMap | LevelMap | None = None
    for i, layer in enumerate(desc.layers):
        w = layer.weights.astype(np.int64)  # [O, C, K]
        in_pad = (0, 0)
        bias = np.zeros(layer.out_channels, dtype=np.int64)
        if i == 0:
            if layer.input_bits is None:
                raise FinnGraphError(f"{layer.name}: the first layer needs an integer input")
            wj, factor = w, 1
        elif isinstance(prev, LevelMap):
            if layer.input_bits is None or layer.pad_value != 0:
                raise FinnGraphError(
                    f"{layer.name}: expected an n-bit input padded with 0 after n-bit thresholds"
                )
            src = np.array([ch.source for ch in prev.channels])
            alpha = np.array([ch.alpha for ch in prev.channels])
            wj, factor, in_pad = (
                w[:, src, :] * alpha[None, :, None],
                1,
                (layer.pad_left, layer.pad_right),
            )
        elif isinstance(prev, StreamMap):
            if layer.input_bits is not None or layer.pad_value != 1:
                raise FinnGraphError(
                    f"{layer.name}: expected a bipolar input padded with +1 after binary thresholds"
                )
            src = np.array([ch.source for ch in prev.channels])
            alpha = np.array([ch.alpha for ch in prev.channels])
            wj = w[:, src, :] * alpha[None, :, None]
            # x_c = 2 * sum_j alpha_j b_j + (gamma_c - sum_j alpha_j), and with the popcount
            # y = #[b == (w' > 0)]: sum_j w'_j b_j = y - #[w' < 0]
            const = prev.gamma - np.bincount(src, weights=alpha, minlength=w.shape[1])
            bias = (w.sum(axis=2) * const[None, :].astype(np.int64)).sum(axis=1)
            bias = bias - 2 * (wj < 0).sum(axis=(1, 2))
            factor = 2
        else:
            raise FinnGraphError(f"{layer.name}: follows a layer without thresholds")
        out_map: StreamMap | LevelMap | None = None
        if isinstance(layer.thresholds, MultiThresholds):
            out_map = level_map(layer.thresholds, layer.acc_min, layer.acc_max)
        elif isinstance(layer.thresholds, Thresholds):
            out_map = stream_map(layer.thresholds, layer.acc_min, layer.acc_max)
        if out_map is not None:
            columns = np.array([ch.source for ch in out_map.channels])
        else:
            columns = np.arange(layer.out_channels)
        mat = wj.transpose(2, 1, 0).reshape(-1, layer.out_channels)[:, columns]
        out.append(FinnLayer(layer, mat, columns, factor, bias.astype(np.int64), in_pad,
                             out_map))  # fmt: skip
        prev = out_map
    return out


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return -((-a) // b)


class _Builder:
    """Appends nodes, initializers and datatype annotations to one graph."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.dtypes: dict[str, str] = {}
        self.shapes: dict[str, list[int]] = {}
        self.n = 0

    def tensor(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def const(self, stem: str, value: np.ndarray, dtype: str | None, int64: bool = False) -> str:
        """An initializer (float32, or int64 where ONNX requires it, e.g. ``Pad``'s pads) with
        its FINN datatype ``dtype``."""
        name = self.tensor(stem)
        arr = np.asarray(value)
        if int64:
            self.inits.append(helper.make_tensor(name, TensorProto.INT64, arr.shape, arr.ravel()))
        else:
            arr = arr.astype(np.float32)
            self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, arr.shape, arr.ravel()))
        if dtype is not None:
            self.dtypes[name] = dtype
        return name

    def node(self, op: str, inputs: list[str], stem: str, shape: list[int], domain: str = "",
             **attrs) -> str:  # fmt: skip
        out = self.tensor(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attrs))
        self.shapes[out] = shape
        return out


def _bits_type(lo: int, hi: int) -> str:
    """Smallest FINN integer type holding ``[lo, hi]``."""
    if lo >= 0:
        return f"UINT{max(1, int(hi).bit_length())}"
    return f"INT{max(int(-lo - 1).bit_length(), int(hi).bit_length()) + 1}"


def _true_accumulators(b: _Builder, fl: FinnLayer, pooled: str, shape: list[int]) -> str:
    """``factor * Y + bias``: the last layer's pooled accumulators."""
    m = pooled
    if fl.factor != 1:
        m = b.node("Mul", [m, b.const("factor", np.array(fl.factor), "UINT2")], "scale", shape)
    if np.any(fl.bias):
        bias = fl.bias[fl.columns]
        bias_t = b.const("bias", bias, _bits_type(bias.min(), bias.max()))
        m = b.node("Add", [m, bias_t], "bias", shape)
    return m


def _level_activation(b: _Builder, fl: FinnLayer, pooled: str, shape: list[int]) -> str:
    """n-bit thresholds: one FINN ``MultiThreshold`` (``out_bias`` the stream's lowest value);
    the next layer's ``Im2Col`` pads the zeros."""
    lm = fl.out_map
    assert isinstance(lm, LevelMap) and fl.factor == 1 and not np.any(fl.bias)
    t = lm.matrix(fl.layer.acc_min, fl.layer.acc_max)
    x = b.node(
        "MultiThreshold", [pooled, b.const("thresholds", t, _bits_type(t.min(), t.max()))],
        "act", shape, QONNX_DOMAIN, out_dtype=lm.dtype, out_scale=1.0, out_bias=float(lm.bias),
        data_layout="NHWC",
    )  # fmt: skip
    b.dtypes[x] = lm.dtype
    return x


def _binary_activation(b: _Builder, fl: FinnLayer, pooled: str, shape: list[int],
                       nxt: ConvLayer) -> tuple[str, int]:  # fmt: skip
    """Binary thresholds with the next layer's +1 padding in front of them (module docstring):
    ``[Mul(sign)] → Add(beta) → Pad(0) → MultiThreshold(T)``. Returns the bit stream and its
    (padded) length."""
    sm = fl.out_map
    assert isinstance(sm, StreamMap)
    sign = np.array([ch.sign for ch in sm.channels], dtype=np.int64)
    theta = np.array([ch.theta for ch in sm.channels], dtype=np.int64)
    t = np.array([0 if ch.pad_bit else 1 for ch in sm.channels], dtype=np.int64)
    # [sign * (factor * Y + bias) >= theta]  <=>  [sign * Y >= ceil((theta - sign * bias) / f)]
    theta_y = _ceil_div(theta - sign * fl.bias[fl.columns], fl.factor)
    beta = t - theta_y
    v = pooled
    if np.any(sign != 1):
        v = b.node("Mul", [v, b.const("sign", sign, "INT2")], "sign", shape)
    v = b.node("Add", [v, b.const("beta", beta, _bits_type(beta.min(), beta.max()))], "shift",
               shape)  # fmt: skip
    length = nxt.in_length + nxt.pad_left + nxt.pad_right
    padded = [1, 1, length, shape[3]]
    pads = np.array([0, 0, nxt.pad_left, 0, 0, 0, nxt.pad_right, 0], dtype=np.int64)
    zero = b.const("zero", np.array(0.0), None)
    v = b.node(
        "Pad", [v, b.const("pads", pads, None, int64=True), zero], "pad", padded, mode="constant"
    )
    x = b.node(
        "MultiThreshold", [v, b.const("thresholds", t.reshape(-1, 1), "UINT1")], "act", padded,
        QONNX_DOMAIN, out_dtype="BINARY", out_scale=1.0, out_bias=0.0, data_layout="NHWC",
    )  # fmt: skip
    b.dtypes[x] = "BINARY"
    return x, length


def finn_graph(desc: NetworkDescription) -> ModelWrapper:
    """The FINN-dialect graph of ``desc`` (see the module docstring).

    Input ``global_in``: float32 ``[1, 1, L_pad, 1]`` holding ``INT<input_bits>`` values, the
    window already padded by the host (:func:`host_input`). Output ``global_out``: float32
    ``[1, 1, L_last, C_last]`` holding the last layer's pooled accumulators (integers; NHWC).

    Raises
    ------
    FinnGraphError
        A layer this rewrite does not cover (an inner layer whose input is not the bits or
        n-bit levels of the layer before it, with that encoding's padding).
    """
    layers = lower_layers(desc)
    b = _Builder()
    length = length0 = padded_input_length(desc)
    x = "global_in"
    b.dtypes[x] = f"INT{desc.input_bits}"
    in_ch = 1
    for i, fl in enumerate(layers):
        layer = fl.layer
        cols = fl.weights.shape[1]
        pl, pr = fl.in_pad
        conv_len = (length + pl + pr - layer.kernel) // layer.stride + 1
        im2col = b.node(
            "Im2Col", [x], "im2col", [1, 1, conv_len, layer.kernel * in_ch], QONNX_DOMAIN,
            stride=[1, layer.stride], kernel_size=[1, layer.kernel], pad_amount=[0, pl, 0, pr],
            pad_value=0, input_shape=f"(1,1,{length},{in_ch})", depthwise=0, dilations=[1, 1],
        )  # fmt: skip
        y_shape = [1, 1, conv_len, cols]
        if fl.factor == 2:  # bits in: FINN's XNOR-popcount MVAU
            w_bin = b.const("weights", (fl.weights > 0).astype(np.int64), "BINARY")
            y = b.node("XnorPopcountMatMul", [im2col, w_bin], "mvau", y_shape, QONNX_DOMAIN)
        else:
            wt = (
                "BIPOLAR"
                if layer.weight_bits == 1
                else _bits_type(fl.weights.min(), fl.weights.max())
            )
            y = b.node("MatMul", [im2col, b.const("weights", fl.weights, wt)], "mvau", y_shape)
        pooled = b.node(
            "MaxPoolNHWC", [y], "pool", [1, 1, layer.out_length, cols], QONNX_DOMAIN,
            kernel_shape=[1, layer.pool_kernel], strides=[1, layer.pool_stride],
            pads=[0, 0, 0, 0], ceil_mode=0,
        )  # fmt: skip
        shape = [1, 1, layer.out_length, cols]
        if fl.out_map is None:  # last layer: the true accumulators leave the graph
            x = _true_accumulators(b, fl, pooled, shape)
            break
        if isinstance(fl.out_map, LevelMap):
            x, length = _level_activation(b, fl, pooled, shape), layer.out_length
        else:
            x, length = _binary_activation(b, fl, pooled, shape, desc.layers[i + 1])
        in_ch = cols
    last = desc.layers[-1]
    out_shape = [1, 1, last.out_length, last.out_channels]
    nodes = b.nodes
    b.shapes.pop(nodes[-1].output[0])
    b.dtypes.pop(nodes[-1].output[0], None)
    nodes[-1].output[0] = "global_out"
    graph = helper.make_graph(
        nodes,
        f"{desc.name}_finn",
        [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [1, 1, length0, 1])],
        [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, out_shape)],
        initializer=b.inits,
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                    for n, s in b.shapes.items()],
    )  # fmt: skip
    onnx_model = helper.make_model(
        graph,
        producer_name="ecgaccel",
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)],
    )
    model = ModelWrapper(onnx_model)
    for name, dt in b.dtypes.items():
        model.set_tensor_datatype(name, DataType[dt])
    model.set_tensor_datatype("global_out", DataType[_bits_type(last.acc_min, last.acc_max)])
    return model


def padded_input_length(desc: NetworkDescription) -> int:
    """Samples of the graph's input: the window plus the first layer's padding, which the host
    adds (:func:`host_input`)."""
    first = desc.layers[0]
    return first.in_length + first.pad_left + first.pad_right


def host_input(desc: NetworkDescription, x: np.ndarray) -> np.ndarray:
    """The host's part before the graph: windows int ``[N, 1, L]`` → float32
    ``[N, 1, L + pad_left + pad_right, 1]`` (NHWC), padded with the first layer's
    ``pad_value``.

    Raises
    ------
    ValueError
        ``x`` is not ``[N, 1, input_length]``.
    """
    first = desc.layers[0]
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1:] != (1, desc.input_length):
        raise ValueError(f"input must be [N, 1, {desc.input_length}], got {list(x.shape)}")
    pad = ((0, 0), (0, 0), (first.pad_left, first.pad_right))
    return np.pad(x, pad, constant_values=first.pad_value).astype(np.float32)[..., None]


def host_scores(desc: NetworkDescription, out: np.ndarray) -> np.ndarray:
    """The host's part after the graph: its output float ``[N, 1, L, C]`` (NHWC pooled
    accumulators) → int64 class scores ``[N, n_classes]`` (the :class:`SumHead`).

    Raises
    ------
    ValueError
        ``out`` is not ``[N, 1, L_last, C_last]`` of ``desc``'s last layer.
    """
    last = desc.layers[-1]
    if np.ndim(out) != 4 or np.shape(out)[1:] != (1, last.out_length, last.out_channels):
        raise ValueError(f"graph output must be [N, 1, {last.out_length}, {last.out_channels}], "
                         f"got {list(np.shape(out))}")  # fmt: skip
    m = np.rint(np.asarray(out, dtype=np.float64)).astype(np.int64)[:, 0].transpose(0, 2, 1)
    return sum_head_scores(m, desc.head.a_pos, desc.head.a_neg, desc.head.bias)
