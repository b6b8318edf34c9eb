"""Dataflow layers of the graph's non-chain nodes: global sum pooling (FINN
``GlobalAccPool``), the residual add of two streams (FINN ``AddStreams``) and the fork of one
stream into several (FINN ``DuplicateStreams``).

Stream layout as every layer's (:mod:`.common`): a feature map ``[C, H, W]`` streams position by
position (``h`` major, then ``w``: FINN's NHWC order), ``C / PE`` beats a position of ``PE``
signed lanes of ``width`` bits, lane 0 in the low bits; ``tlast`` on a frame's last beat. The
Python models (:func:`global_pool_model`, :func:`add_streams_model`) compute with
:mod:`ecgaccel.hw.semantics` and turn the result into beats, so the layers are checked against
the one semantics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import semantics as sem
from ..stream import AxiStreamSignature
from .common import RegisterSlice, check, columns_to_beats, output_slice, signed_bits, wrap_inc
from .mvau import MVAU, MvauParams


def map_to_beats(x: np.ndarray, pe: int) -> np.ndarray:
    """Stream order of one feature map: int ``[C, H, W]`` → ``[W * H * C / PE, PE]``: time
    step major, then row (lead), then channel (element ``(w * H + h) * C + c``; the order of
    :mod:`~.swg`, FINN's NHWC with the image transposed so that a lead x time window needs
    only a few time steps of all leads buffered; :func:`~.common.columns_to_beats`)."""
    return columns_to_beats(x, pe)


def beats_to_map(beats: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`map_to_beats`: ``[W * H * C / PE, PE]`` → ``[C, H, W]``."""
    c, h, w = shape
    return np.asarray(beats).reshape(w, h, c).transpose(2, 1, 0)


def _lanes(sig: Signal, n: int, width: int) -> list:
    """The ``n`` signed lanes of ``width`` bits of a packed beat."""
    return [sig[i * width : (i + 1) * width].as_signed() for i in range(n)]


def _fit(v: Value, width: int) -> Value:
    """Signed ``v`` as ``width`` bits: sign-extended when narrower, truncated when wider (the
    value fits by construction)."""
    v = v.as_signed()
    n = len(v)
    return v[:width] if n >= width else Cat(v, v[n - 1].replicate(width - n))


def _pack(lanes: list, width: int) -> Value:
    """A beat of signed ``lanes``, each as ``width`` bits (:func:`_fit`), lane 0 in the low
    bits."""
    return Cat(*(_fit(v, width) for v in lanes))


# --------------------------------------------------------------------------- GlobalAccPool


@dataclass(frozen=True)
class GlobalPoolParams:
    """A :class:`GlobalAccPoolLayer`: ``channels`` C, ``positions`` H x W a frame, ``pe``
    lanes a beat (divides C), ``in_width`` signed bits a lane."""

    channels: int
    positions: int
    pe: int = 1
    in_width: int = 8

    def __post_init__(self) -> None:
        check(self.channels >= 1 and self.positions >= 1,
              f"global pool needs channels, positions ≥ 1, got {self.channels}, "
              f"{self.positions}")  # fmt: skip
        check(self.pe >= 1 and self.channels % self.pe == 0,
              f"global pool pe={self.pe} does not divide channels={self.channels}")  # fmt: skip
        check(self.in_width >= 1, f"global pool in_width must be ≥ 1, got {self.in_width}")

    @property
    def nf(self) -> int:
        """Beats a position: ``C / PE``."""
        return self.channels // self.pe

    @property
    def out_width(self) -> int:
        """Signed bits of a sum: ``positions`` times the input range."""
        half = 1 << (self.in_width - 1)
        return signed_bits(-half * self.positions, (half - 1) * self.positions)


def global_pool_model(in_lanes: np.ndarray, p: GlobalPoolParams) -> np.ndarray:
    """Output lanes int64 ``[C / PE, PE]`` of one frame of input lanes ``[positions * C / PE,
    PE]``: :func:`~ecgaccel.hw.semantics.global_acc_pool` of the feature map."""
    x = beats_to_map(in_lanes, (p.channels, 1, p.positions))
    return map_to_beats(sem.global_acc_pool(x[None])[0], p.pe)


class GlobalAccPoolLayer(wiring.Component):
    """Global sum pooling: per channel, the sum of its ``positions`` values (FINN
    ``GlobalAccPool``).

    Accumulators (C x ``out_width`` bits) add each beat's lanes into fold ``n``'s registers; at
    a frame's last position the beat's sums go straight out (and the registers restart), so the
    layer takes a beat every cycle: ``positions * C / PE`` cycles a frame.

    Members
    -------
    s_axis : In(AxiStreamSignature(pe * in_width))
    m_axis : Out(AxiStreamSignature(pe * out_width)), ``C / PE`` beats a frame.
    """

    def __init__(self, params: GlobalPoolParams) -> None:
        self.params = p = params
        super().__init__({"s_axis": In(AxiStreamSignature(p.pe * p.in_width)),
                          "m_axis": Out(AxiStreamSignature(p.pe * p.out_width))})  # fmt: skip

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate: one beat a cycle, ``positions * C / PE``."""
        return self.params.positions * self.params.nf

    def estimate_resources(self) -> dict[str, int]:
        """LUT: a ripple adder and a clear multiplexer per accumulator bit of one beat and the
        fold multiplexer; FF: the accumulators, counters and the output slice."""
        p = self.params
        acc_bits = p.pe * p.out_width
        mux = acc_bits * max(p.nf - 1, 0)
        counters = (p.positions.bit_length() + p.nf.bit_length()) * 2
        out = RegisterSlice.estimate_resources(acc_bits)
        return {"lut": 2 * acc_bits + mux + counters + out["lut"],
                "ff": p.channels * p.out_width + counters + out["ff"], "bram": 0,
                "dsp": 0}  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.params
        out, advance = output_slice(m, self, p.pe * p.out_width)
        s = self.s_axis
        w = p.out_width
        accs = [Signal(p.pe * w, name=f"acc{n}") for n in range(p.nf)]
        fold = Signal(range(max(p.nf, 2)))
        pos = Signal(range(max(p.positions, 2)))
        last_pos = pos == p.positions - 1
        cur = Signal(p.pe * w)
        with m.Switch(fold):
            for n, acc in enumerate(accs):
                with m.Case(n):
                    m.d.comb += cur.eq(acc)
        sums = [a + x for a, x in zip(_lanes(cur, p.pe, w), _lanes(s.tdata, p.pe, p.in_width),
                                      strict=True)]  # fmt: skip
        packed = _pack(sums, w)
        m.d.comb += [out.s_axis.tvalid.eq(s.tvalid & last_pos), out.s_axis.tdata.eq(packed),
                     out.s_axis.tlast.eq(fold == p.nf - 1)]  # fmt: skip
        with m.If(s.tvalid & advance):
            with m.Switch(fold):
                for n, acc in enumerate(accs):
                    with m.Case(n):
                        m.d.sync += acc.eq(Mux(last_pos, 0, packed))
            m.d.sync += fold.eq(wrap_inc(fold, p.nf))
            with m.If(fold == p.nf - 1):
                m.d.sync += pos.eq(wrap_inc(pos, p.positions))
        return m


# --------------------------------------------------------------------------- AddStreams


@dataclass(frozen=True)
class AddParams:
    """An :class:`AddStreamsLayer`: ``ka * a + kb * b`` lane by lane; ``beats`` a frame,
    ``pe`` lanes a beat, signed ``a_width`` / ``b_width`` bits a lane, integer factors
    ``ka`` / ``kb``."""

    beats: int
    pe: int = 1
    a_width: int = 8
    b_width: int = 8
    ka: int = 1
    kb: int = 1

    def __post_init__(self) -> None:
        check(self.beats >= 1 and self.pe >= 1,
              f"add needs beats, pe ≥ 1, got {self.beats}, {self.pe}")  # fmt: skip
        check(self.a_width >= 1 and self.b_width >= 1, "add lane widths must be ≥ 1")
        check(self.ka != 0 and self.kb != 0, "add factors ka, kb must be non-zero")

    @property
    def out_width(self) -> int:
        """Signed bits of ``ka * a + kb * b`` over the lanes' ranges."""
        ha, hb = 1 << (self.a_width - 1), 1 << (self.b_width - 1)
        ea = [self.ka * -ha, self.ka * (ha - 1)]
        eb = [self.kb * -hb, self.kb * (hb - 1)]
        return signed_bits(min(ea) + min(eb), max(ea) + max(eb))


def add_streams_model(a: np.ndarray, b: np.ndarray, p: AddParams) -> np.ndarray:
    """Output lanes int64 ``[beats, PE]`` of input lanes ``a``, ``b`` ``[beats, PE]``:
    :func:`~ecgaccel.hw.semantics.add_streams` (element-wise, so the stream order is kept)."""
    return sem.add_streams(a, b, p.ka, p.kb)


class AddStreamsLayer(wiring.Component):
    """Residual add of two streams of one shape (FINN ``AddStreams``): a beat of each input
    makes one output beat, ``ka * a + kb * b`` per lane; a beat a cycle when both inputs have
    one. ``tlast`` is input ``a``'s.

    Members
    -------
    s_axis : In(AxiStreamSignature(pe * a_width))
        Input ``a`` (the main path).
    s_axis_1 : In(AxiStreamSignature(pe * b_width))
        Input ``b`` (the shortcut).
    m_axis : Out(AxiStreamSignature(pe * out_width))
    """

    def __init__(self, params: AddParams) -> None:
        self.params = p = params
        super().__init__({"s_axis": In(AxiStreamSignature(p.pe * p.a_width)),
                          "s_axis_1": In(AxiStreamSignature(p.pe * p.b_width)),
                          "m_axis": Out(AxiStreamSignature(p.pe * p.out_width))})  # fmt: skip

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate: ``beats``."""
        return self.params.beats

    def estimate_resources(self) -> dict[str, int]:
        """LUT: one adder bit per output bit (the constant factors as shifts and adds: a
        second adder per factor that is not a power of two) and the join; FF: the slice."""
        p = self.params
        bits = p.pe * p.out_width
        extra = sum(bits for k in (p.ka, p.kb) if abs(k) & (abs(k) - 1))
        out = RegisterSlice.estimate_resources(bits)
        return {"lut": bits + extra + 2 + out["lut"], "ff": out["ff"], "bram": 0, "dsp": 0}

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.params
        a, b = self.s_axis, self.s_axis_1
        both = a.tvalid & b.tvalid
        out, advance = output_slice(m, self, p.pe * p.out_width, accept=both)
        m.d.comb += b.tready.eq(advance & both)
        lanes = [ka_a + kb_b for ka_a, kb_b in zip(
            [x * p.ka for x in _lanes(a.tdata, p.pe, p.a_width)],
            [x * p.kb for x in _lanes(b.tdata, p.pe, p.b_width)], strict=True)]  # fmt: skip
        packed = _pack(lanes, p.out_width)
        m.d.comb += [out.s_axis.tvalid.eq(both), out.s_axis.tdata.eq(packed),
                     out.s_axis.tlast.eq(a.tlast)]  # fmt: skip
        return m


# --------------------------------------------------------------------------- DuplicateStreams


class DuplicateStreamsLayer(wiring.Component):
    """A fork (FINN ``DuplicateStreams``): every input beat goes to each of ``n`` outputs; an
    input beat is taken when every output can take it, so one slow reader stalls the others
    (the skip path's FIFO must absorb the difference of the two paths' latencies).

    Members
    -------
    s_axis : In(AxiStreamSignature(width))
    m_axis, m_axis_1, … : Out(AxiStreamSignature(width)), ``n`` of them.
    """

    def __init__(self, width: int, n: int = 2, beats: int = 1) -> None:
        check(n >= 2, f"a fork has at least 2 outputs, got {n}")
        check(width >= 1 and beats >= 1, "fork width and beats must be ≥ 1")
        self.width, self.n, self.beats = width, n, beats
        outs = {("m_axis" if i == 0 else f"m_axis_{i}"): Out(AxiStreamSignature(width))
                for i in range(n)}  # fmt: skip
        super().__init__({"s_axis": In(AxiStreamSignature(width)), **outs})

    @property
    def outputs(self) -> list:
        """The output ports, ``m_axis`` first."""
        return [self.m_axis] + [getattr(self, f"m_axis_{i}") for i in range(1, self.n)]

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate: ``beats``."""
        return self.beats

    def estimate_resources(self) -> dict[str, int]:
        """An output slice per output and the AND of their readies."""
        one = RegisterSlice.estimate_resources(self.width)
        return {"lut": self.n * one["lut"] + self.n, "ff": self.n * one["ff"], "bram": 0,
                "dsp": 0}  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        s = self.s_axis
        slices = []
        for i, port in enumerate(self.outputs):
            m.submodules[f"out{i}"] = sl = RegisterSlice(self.width)
            wiring.connect(m, sl.m_axis, wiring.flipped(port))
            slices.append(sl)
        all_ready = Signal()
        m.d.comb += all_ready.eq(Cat(*(sl.s_axis.tready for sl in slices)).all())
        m.d.comb += s.tready.eq(all_ready)
        for sl in slices:
            m.d.comb += [sl.s_axis.tvalid.eq(s.tvalid & all_ready), sl.s_axis.tdata.eq(s.tdata),
                         sl.s_axis.tlast.eq(s.tlast)]  # fmt: skip
        return m


# --------------------------------------------------------------------------- Concat


@dataclass(frozen=True)
class ConcatParams:
    """A :class:`ConcatLayer`: channel concatenation of ``channels`` (one count per input) at
    ``positions`` positions, ``pe`` lanes a beat (divides every count), signed ``widths`` bits
    a lane per input; the output lanes are as wide as the widest input's."""

    channels: tuple[int, ...]
    positions: int
    pe: int = 1
    widths: tuple[int, ...] = (8, 8)

    def __post_init__(self) -> None:
        check(len(self.channels) == len(self.widths) >= 2,
              "concat needs a channel count and a width per input, two inputs or more")  # fmt: skip
        check(self.pe >= 1 and all(c % self.pe == 0 for c in self.channels),
              f"concat pe={self.pe} does not divide the channels {self.channels}")  # fmt: skip
        check(self.positions >= 1, f"concat positions must be ≥ 1, got {self.positions}")

    @property
    def out_width(self) -> int:
        """Bits of an output lane: the widest input's."""
        return max(self.widths)

    @property
    def folds(self) -> tuple[int, ...]:
        """Beats a position of each input: ``C_i / PE``."""
        return tuple(c // self.pe for c in self.channels)


def concat_model(inputs: list[np.ndarray], p: ConcatParams) -> np.ndarray:
    """Output lanes int64 ``[positions * sum C / PE, PE]`` of input lanes ``[positions * C_i /
    PE, PE]``: :func:`~ecgaccel.hw.semantics.concat` of the feature maps."""
    maps = [beats_to_map(x, (c, 1, p.positions))[None] for x, c in zip(inputs, p.channels,
                                                                         strict=True)]  # fmt: skip
    return map_to_beats(sem.concat(maps)[0], p.pe)


class ConcatLayer(wiring.Component):
    """Channel concatenation of two streams (FINN ``StreamingConcat``): per position, input
    ``a``'s ``C_a / PE`` beats, then input ``b``'s, lanes sign-extended to the wider width; a
    beat a cycle. ``tlast`` is input ``b``'s.

    Members
    -------
    s_axis, s_axis_1 : In(AxiStreamSignature(pe * widths[i]))
    m_axis : Out(AxiStreamSignature(pe * out_width))
    """

    def __init__(self, params: ConcatParams) -> None:
        check(len(params.channels) == 2, "the concat layer joins two streams; chain them")
        self.params = p = params
        super().__init__({"s_axis": In(AxiStreamSignature(p.pe * p.widths[0])),
                          "s_axis_1": In(AxiStreamSignature(p.pe * p.widths[1])),
                          "m_axis": Out(AxiStreamSignature(p.pe * p.out_width))})  # fmt: skip

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate: ``positions * sum C / PE``."""
        return self.params.positions * sum(self.params.folds)

    def estimate_resources(self) -> dict[str, int]:
        """LUT: a 2:1 multiplexer per output bit and the beat counter; FF: the slice."""
        p = self.params
        bits = p.pe * p.out_width
        out = RegisterSlice.estimate_resources(bits)
        counter = 2 * max(sum(p.folds), 2).bit_length()
        return {"lut": bits + counter + out["lut"], "ff": counter + out["ff"], "bram": 0,
                "dsp": 0}  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.params
        a, b = self.s_axis, self.s_axis_1
        fa, fb = p.folds
        beat = Signal(range(fa + fb))
        from_b = beat >= fa
        valid = Mux(from_b, b.tvalid, a.tvalid)
        out, advance = output_slice(m, self, p.pe * p.out_width, accept=valid & ~from_b)
        m.d.comb += b.tready.eq(advance & from_b & b.tvalid)
        lanes_a = _pack(_lanes(a.tdata, p.pe, p.widths[0]), p.out_width)
        lanes_b = _pack(_lanes(b.tdata, p.pe, p.widths[1]), p.out_width)
        m.d.comb += [out.s_axis.tvalid.eq(valid), out.s_axis.tdata.eq(Mux(from_b, lanes_b,
                                                                          lanes_a)),
                     out.s_axis.tlast.eq(from_b & b.tlast)]  # fmt: skip
        with m.If(valid & advance):
            m.d.sync += beat.eq(wrap_inc(beat, fa + fb))
        return m


# --------------------------------------------------------------------------- MultiLabel


def multilabel_model(scores: np.ndarray, thresholds: np.ndarray) -> int:
    """The output beat of one frame: bit ``k`` = ``scores[k] >= thresholds[k]``
    (:func:`~ecgaccel.hw.semantics.multilabel`), label 0 in the lowest bit."""
    bits = sem.multilabel(np.asarray(scores)[None], thresholds)[0]
    return int(sum(int(v) << k for k, v in enumerate(bits)))


class MultiLabelLayer(wiring.Component):
    """Multi-label head: ``K`` score beats (one signed ``width``-bit score a beat, label order)
    in; each plus ``bias[k]`` (default 0) is compared with ``thresholds[k]`` (bit ``k``:
    ``score_k >= thresholds[k]``, i.e. ``sigmoid >= tau_k``). Out: one beat of the ``K``
    decision bits with ``tlast``, or with ``pass_scores`` first the ``K`` biased scores (one a
    beat, the head layer's stream: scores, then the decision with ``tlast``).

    Members
    -------
    s_axis : In(AxiStreamSignature(width))
    m_axis : Out(AxiStreamSignature(K)), or ``out_width`` bits with ``pass_scores``.
    """

    def __init__(self, thresholds: np.ndarray, width: int, bias: np.ndarray | None = None,
                 pass_scores: bool = False) -> None:  # fmt: skip
        self.thresholds = np.asarray(thresholds, np.int64)
        self.k, self.width = len(self.thresholds), width
        self.bias = np.zeros(self.k, np.int64) if bias is None else np.asarray(bias, np.int64)
        self.pass_scores = pass_scores
        check(self.k >= 1, "a multi-label head needs at least one label")
        check(self.bias.shape == (self.k,), f"{len(self.bias)} biases for {self.k} labels")
        lim = 1 << (width - 1)
        self.score_width = signed_bits(-lim + int(self.bias.min()), lim - 1 + int(self.bias.max()))
        slim = 1 << (self.score_width - 1)
        check(bool(np.all((self.thresholds >= -slim) & (self.thresholds <= slim))),
              f"thresholds outside the {self.score_width}-bit score range")  # fmt: skip
        self.out_width = max(self.score_width, self.k) if pass_scores else self.k
        super().__init__({"s_axis": In(AxiStreamSignature(width)),
                          "m_axis": Out(AxiStreamSignature(self.out_width))})  # fmt: skip

    def estimate_cycles(self) -> int:
        """Cycles of one frame at full rate, first input to last output transfer: ``K`` (one
        score a cycle), the decision beat's cycle with ``pass_scores``, the output slice's."""
        return self.k + 1 + int(self.pass_scores)

    def estimate_resources(self) -> dict[str, int]:
        """LUT: the bias adder, one comparator (``width`` bits) and the threshold / bias
        multiplexers; FF: the decision bits, the label counter and the slice."""
        out = RegisterSlice.estimate_resources(self.out_width)
        counter = max(self.k, 2).bit_length()
        adder = self.score_width if np.any(self.bias) else 0
        return {"lut": 2 * self.score_width + adder + counter + out["lut"],
                "ff": self.k + counter + 1 + out["ff"], "bram": 0, "dsp": 0}  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        s = self.s_axis
        label = Signal(range(max(self.k, 2)))
        bits = Signal(self.k)
        emit = Signal()  # pass_scores: the decision beat goes out next
        t = Signal(signed(self.score_width + 1))
        b = Signal(signed(self.score_width))
        with m.Switch(label):
            for k, (v, c) in enumerate(zip(self.thresholds.tolist(), self.bias.tolist(),
                                           strict=True)):  # fmt: skip
                with m.Case(k):
                    m.d.comb += [t.eq(v), b.eq(c)]
        score = Signal(signed(self.score_width))
        m.d.comb += score.eq(s.tdata.as_signed() + b)
        hit = score >= t
        last = label == self.k - 1
        word = Signal(self.k)
        m.d.comb += word.eq(bits | (hit << label))
        if not self.pass_scores:
            out, advance = output_slice(m, self, self.k)
            m.d.comb += [out.s_axis.tvalid.eq(s.tvalid & last), out.s_axis.tdata.eq(word),
                         out.s_axis.tlast.eq(1)]  # fmt: skip
            with m.If(s.tvalid & advance):
                m.d.sync += [label.eq(wrap_inc(label, self.k)), bits.eq(Mux(last, 0, word))]
            return m
        out, advance = output_slice(m, self, self.out_width, accept=~emit)
        with m.If(emit):
            m.d.comb += [out.s_axis.tvalid.eq(1), out.s_axis.tdata.eq(bits),
                         out.s_axis.tlast.eq(1)]  # fmt: skip
            with m.If(advance):
                m.d.sync += [emit.eq(0), bits.eq(0)]
        with m.Else():
            m.d.comb += [out.s_axis.tvalid.eq(s.tvalid), out.s_axis.tdata.eq(score),
                         out.s_axis.tlast.eq(0)]  # fmt: skip
            with m.If(s.tvalid & advance):
                m.d.sync += [label.eq(wrap_inc(label, self.k)), bits.eq(word), emit.eq(last)]
        return m


# --------------------------------------------------------------------------- fully connected


def fc_weight_matrix(weights: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A fully connected layer's weights int ``[O, C * H * W]`` (ONNX ``Flatten`` order:
    channel major) → the MVAU matrix ``[O, W * H * C]`` in stream order (the order
    :func:`map_to_beats` sends the input in)."""
    c, h, w = shape
    o = np.asarray(weights).shape[0]
    return np.asarray(weights).reshape(o, c, h, w).transpose(0, 3, 2, 1).reshape(o, -1)


def fully_connected(weights: np.ndarray, shape: tuple[int, int, int], pe: int = 1,
                    simd: int = 1, elem_bits: int | None = 8,
                    weight_bits: int = 8) -> MVAU:  # fmt: skip
    """The graph's ``MatMul`` / ``LinearHead`` product (FINN: an ``MVAU`` on one input vector):
    the :class:`~.mvau.MVAU` of :func:`fc_weight_matrix` with one vector a frame; its output
    beats are the ``O`` accumulators, ``PE`` a beat (:func:`~ecgaccel.hw.semantics.matmul`)."""
    return MVAU(MvauParams(fc_weight_matrix(weights, shape), n_vectors=1, pe=pe, simd=simd,
                           elem_bits=elem_bits, weight_bits=weight_bits))  # fmt: skip
