"""Matrix-vector-activation unit without the activation (FINN's ``MVAU`` /
``MatrixVectorActivation`` with ``noActivation=1``).

Multiplies each input vector of ``MW`` elements (one conv window from a
:class:`~.swg.SlidingWindowGenerator`) by an ``MH × MW`` weight matrix (±1, or signed
``weight_bits``-bit integers) and streams out the ``MH`` accumulators. Folded as in FINN:
``PE`` output channels in parallel (``NF = MH / PE`` neuron folds) and ``SIMD`` inputs a cycle
(``SF = MW / SIMD`` synapse folds), so one vector takes ``NF * SF`` cycles. Thresholding is a
separate layer (:mod:`.threshold`), so that max-pool can sit between the two (Conv → MaxPool →
threshold).

* binary mode (bipolar inputs): XNOR-popcount; the popcount accumulator is sized from its
  range ``[0, MW]`` (FINN's trap: a popcount of 1028 in an 11-bit *signed* accumulator wraps to
  -1020); the output is the conv value ``2 * popcount - MW``;
* integer mode (first layer of a binary net): ``elem_bits``-bit signed inputs, each added or
  subtracted by its ±1 weight's sign;
* integer-weight mode (``WnAn`` nets, FINN's ``MVAU`` with ``INTn`` weights): ``elem_bits``-bit
  signed inputs times signed ``weight_bits``-bit weights (one signed × signed multiplier per
  ``SIMD`` lane), summed in a signed accumulator sized from
  ``MW * 2^(elem_bits - 1) * 2^(weight_bits - 1)``.

The Python model is :func:`mvau_model`; it equals ``models.reference.conv_accumulate`` on the
windows of :func:`~.swg.swg_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..description import weight_max
from ..primitives import adder_tree, popcount_tree, shift_add_product
from ..stream import AxiStreamSignature
from .common import RegisterSlice, bram18, check, lutram, pack_lanes, signed_bits


def conv_weight_matrix(weights: np.ndarray) -> np.ndarray:
    """Conv weights int ``[C_out, C_in, K]`` (1-D) or ``[C_out, C_in, KH, K]`` (lead x time) →
    the MVAU matrix ``[C_out, K * KH * C_in]``, fan-in flattened tap-major (column ``(k * KH +
    r) * C_in + c``; ``k * C_in + c`` for 1-D), as :func:`~.swg.swg_model` orders a window."""
    w = np.asarray(weights)
    if w.ndim == 4:
        return w.transpose(0, 3, 2, 1).reshape(w.shape[0], -1)
    return w.transpose(0, 2, 1).reshape(w.shape[0], -1)


@dataclass(frozen=True)
class MvauParams:
    """Parameters of an :class:`MVAU`.

    Attributes
    ----------
    weights:
        int ``[MH, MW]`` (see :func:`conv_weight_matrix`): in {-1, +1} (``weight_bits`` 1) or
        signed ``weight_bits``-bit integers.
    n_vectors:
        Vectors of one frame (conv positions); ``tlast`` marks the last output beat of a frame.
    pe, simd:
        Output channels and inputs a cycle; must divide ``MH`` and ``MW``.
    elem_bits:
        ``None``: bipolar inputs (bit 1 = +1), XNOR-popcount. An integer: signed inputs of that
        many bits.
    out_width:
        Bits of each output lane (two's complement); default :attr:`acc_width`, may be wider.
    weight_bits:
        1: ±1 weights (one ROM bit each, 1 = +1). n ≥ 2: signed n-bit integer weights (n ROM
        bits each, two's complement); needs integer inputs (``elem_bits``).
    """

    weights: np.ndarray
    n_vectors: int
    pe: int = 1
    simd: int = 1
    elem_bits: int | None = None
    out_width: int | None = None
    weight_bits: int = 1

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        check(w.ndim == 2 and w.size > 0, f"MVAU weights must be [MH, MW], got {list(w.shape)}")
        check(self.weight_bits >= 1, f"MVAU weight_bits must be ≥ 1, got {self.weight_bits}")
        if self.weight_bits == 1:
            check(bool(np.all(np.abs(w) == 1)), "MVAU weights must all be -1 or +1")
        else:
            check(self.elem_bits is not None,
                  f"MVAU weight_bits={self.weight_bits} needs integer inputs (elem_bits); "
                  "bipolar inputs take ±1 weights (weight_bits=1) only")  # fmt: skip
            lim = 1 << (self.weight_bits - 1)
            check(bool(np.all((w >= -lim) & (w < lim))),
                  f"MVAU weights outside the signed {self.weight_bits}-bit range "
                  f"[{-lim}, {lim - 1}]")  # fmt: skip
        check(self.n_vectors >= 1, f"MVAU n_vectors must be ≥ 1, got {self.n_vectors}")
        check(self.pe >= 1 and self.mh % self.pe == 0,
              f"MVAU pe={self.pe} does not divide MH={self.mh} output channels")  # fmt: skip
        check(self.simd >= 1 and self.mw % self.simd == 0,
              f"MVAU simd={self.simd} does not divide MW={self.mw} (fan-in)")  # fmt: skip
        check(self.elem_bits is None or self.elem_bits >= 1,
              f"MVAU elem_bits must be ≥ 1, got {self.elem_bits}")  # fmt: skip
        check(
            self.out_width is None or self.out_width >= self.acc_width,
            f"MVAU out_width={self.out_width} below the accumulator's {self.acc_width} bits",
        )

    @property
    def mh(self) -> int:
        """Output channels (matrix height)."""
        return int(np.asarray(self.weights).shape[0])

    @property
    def mw(self) -> int:
        """Fan-in (matrix width)."""
        return int(np.asarray(self.weights).shape[1])

    @property
    def nf(self) -> int:
        """Neuron folds ``MH / PE``: output beats a vector."""
        return self.mh // self.pe

    @property
    def sf(self) -> int:
        """Synapse folds ``MW / SIMD``: input beats a vector."""
        return self.mw // self.simd

    @property
    def in_width(self) -> int:
        """Bits of one input element."""
        return 1 if self.elem_bits is None else self.elem_bits

    @property
    def acc_max(self) -> int:
        """Largest |output|: ``MW`` (binary) or ``MW * 2^(elem_bits - 1) * weight_max`` (``1``
        for ±1 weights, ``2^(weight_bits - 1)`` for integer ones)."""
        x_max = 1 if self.elem_bits is None else 1 << (self.elem_bits - 1)
        return self.mw * x_max * weight_max(self.weight_bits)

    @property
    def acc_width(self) -> int:
        """Signed bits of an output value (covers ``[-acc_max, acc_max]``)."""
        return signed_bits(-self.acc_max, self.acc_max)

    @property
    def width(self) -> int:
        """Bits of one output lane."""
        return self.out_width or self.acc_width


def mvau_model(in_lanes: np.ndarray, p: MvauParams) -> np.ndarray:
    """Output lanes of :class:`MVAU`, computed fold by fold as the hardware does.

    Parameters
    ----------
    in_lanes:
        int ``[n_vectors * SF, SIMD]``: input beats (bits 0/1 in binary mode).

    Returns
    -------
    np.ndarray
        int64 ``[n_vectors * NF, PE]``: beat ``v * NF + n``, lane ``q`` is output channel
        ``n * PE + q`` of vector ``v``.
    """
    x = np.asarray(in_lanes, dtype=np.int64).reshape(p.n_vectors, p.sf, p.simd)
    w = np.asarray(p.weights, dtype=np.int64).reshape(p.nf, p.pe, p.sf, p.simd)
    out = np.zeros((p.n_vectors, p.nf, p.pe), dtype=np.int64)
    for nf in range(p.nf):
        acc = np.zeros((p.n_vectors, p.pe), dtype=np.int64)
        for sf in range(p.sf):
            xs, ws = x[:, sf, :], w[nf, :, sf, :]  # [V, SIMD], [PE, SIMD]
            if p.elem_bits is None:  # XNOR-popcount
                acc += (xs[:, None, :] == (ws[None] > 0)).sum(axis=-1)
            else:  # x * w: add / subtract for ±1 weights, a multiply for integer ones
                acc += (xs[:, None, :] * ws[None]).sum(axis=-1)
        out[:, nf] = 2 * acc - p.mw if p.elem_bits is None else acc
    return out.reshape(-1, p.pe)


def mvau_weight_words(p: MvauParams) -> list[int]:
    """Weight ROM image: word ``n * SF + s`` holds, in lane ``q * SIMD + i`` (``weight_bits``
    bits, lane 0 in the low bits), the weight of output channel ``n * PE + q`` at fan-in index
    ``s * SIMD + i``: one bit, 1 = +1, for ±1 weights (the layout of
    :mod:`ecgaccel.hw.core_plan`'s binary weight ROM), two's complement for integer weights."""
    w = np.asarray(p.weights).reshape(p.nf, p.pe, p.sf, p.simd).transpose(0, 2, 1, 3)
    if p.weight_bits > 1:
        return pack_lanes(w.reshape(p.nf * p.sf, p.pe * p.simd), p.weight_bits)
    flat = (w > 0).reshape(p.nf * p.sf, p.pe * p.simd)
    # Python ints: a word is PE * SIMD bits, often more than numpy's 64
    return [sum(1 << int(i) for i in np.flatnonzero(row)) for row in flat]


class MVAU(wiring.Component):
    """Folded matrix-vector unit (XNOR-popcount, integer × ±1 or integer × integer),
    accumulator outputs.

    Pipeline: an issue stage takes input beat ``s`` of a vector (from the stream during neuron
    fold 0, which also stores it in an input buffer of ``SF`` words; from the buffer during the
    other folds) and reads weight word ``n * SF + s`` from the ROM; the next stage adds the
    ``PE`` partial sums to the accumulators and, on the last synapse fold, hands the ``PE``
    results to the output :class:`~.common.RegisterSlice`. The whole pipeline advances when the
    slice can take a beat, so ``s_axis.tready`` has no path from ``m_axis.tready``.

    Members
    -------
    s_axis : In(AxiStreamSignature(SIMD * in_width))
        Input vectors, ``SF`` beats each; lane ``i`` of beat ``s`` is fan-in element
        ``s * SIMD + i`` (bit 1 = +1 in binary mode). ``tlast`` is ignored.
    m_axis : Out(AxiStreamSignature(PE * width))
        ``NF`` beats a vector; lane ``q`` of beat ``n`` is output channel ``n * PE + q``,
        signed, ``width`` bits. ``tlast`` on the last beat of a frame (``n_vectors`` vectors).
    """

    def __init__(self, params: MvauParams) -> None:
        self.p = params
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(params.simd * params.in_width)),
                "m_axis": Out(AxiStreamSignature(params.pe * params.width)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.p
        NF, SF, PE, SIMD, ew = p.nf, p.sf, p.pe, p.simd, p.in_width
        xw = SIMD * ew
        wb = p.weight_bits
        m.submodules.rom = rom = Memory(shape=PE * SIMD * wb, depth=NF * SF,
                                        init=mvau_weight_words(p))  # fmt: skip
        rom_rd = rom.read_port()
        m.submodules.out = out = RegisterSlice(PE * p.width)
        wiring.connect(m, out.m_axis, wiring.flipped(self.m_axis))
        s = self.s_axis
        advance = out.s_axis.tready

        nf = Signal(range(NF))
        sf = Signal(range(SF))
        waddr = Signal(range(NF * SF))
        vec = Signal(range(p.n_vectors))
        from_stream = nf == 0
        avail = Mux(from_stream, s.tvalid, 1)
        take = advance & avail
        m.d.comb += s.tready.eq(advance & from_stream)

        # input buffer: written during neuron fold 0, read during the others
        b_x = Signal(xw)  # the stage-2 input beat when it came from the stream
        if NF > 1:
            m.submodules.buf = buf = Memory(shape=xw, depth=SF, init=[])
            bw, br = buf.write_port(), buf.read_port()
            m.d.comb += [bw.addr.eq(sf), bw.data.eq(s.tdata), bw.en.eq(take & from_stream),
                         br.addr.eq(sf), br.en.eq(advance)]  # fmt: skip
        m.d.comb += [rom_rd.addr.eq(waddr), rom_rd.en.eq(advance)]

        # stage 2 registers
        b_valid, b_first, b_last, b_stream, b_tlast = (Signal(name=n) for n in
            ("b_valid", "b_first", "b_last", "b_stream", "b_tlast"))  # fmt: skip
        with m.If(advance):
            m.d.sync += [
                b_valid.eq(take),
                b_first.eq(sf == 0),
                b_last.eq(sf == SF - 1),
                b_stream.eq(from_stream),
                b_x.eq(s.tdata),
                b_tlast.eq((vec == p.n_vectors - 1) & (nf == NF - 1) & (sf == SF - 1)),
            ]
        with m.If(take):
            m.d.sync += waddr.eq(Mux(waddr == NF * SF - 1, 0, waddr + 1))
            with m.If(sf == SF - 1):
                m.d.sync += sf.eq(0)
                with m.If(nf == NF - 1):
                    m.d.sync += [nf.eq(0), vec.eq(Mux(vec == p.n_vectors - 1, 0, vec + 1))]
                with m.Else():
                    m.d.sync += nf.eq(nf + 1)
            with m.Else():
                m.d.sync += sf.eq(sf + 1)

        x = Signal(xw)
        m.d.comb += x.eq(Mux(b_stream, b_x, br.data) if NF > 1 else b_x)
        w = rom_rd.data
        results = []
        if p.elem_bits is None:
            pw = p.mw.bit_length()  # popcount range [0, MW]: unsigned, sized from the range
            for q in range(PE):
                acc = Signal(unsigned(pw), name=f"pop{q}")
                part = popcount_tree(~(x ^ w[q * SIMD : (q + 1) * SIMD]))
                total = Mux(b_first, 0, acc) + part
                with m.If(advance & b_valid):
                    m.d.sync += acc.eq(total)
                conv = Signal(signed(p.width), name=f"conv{q}")
                m.d.comb += conv.eq(Cat(Const(0, 1), total[:pw]).as_unsigned() - p.mw)
                results.append(conv)
        else:
            aw = p.acc_width
            for q in range(PE):
                acc = Signal(signed(aw), name=f"acc{q}")
                xs = [x[i * ew : (i + 1) * ew].as_signed() for i in range(SIMD)]
                if wb == 1:  # ±1 weights: add or subtract
                    terms = [Mux(w[q * SIMD + i], xs[i], -xs[i]) for i in range(SIMD)]
                else:  # signed × signed products, shift-and-add (no DSP inference)
                    lanes = (w[(q * SIMD + i) * wb : (q * SIMD + i + 1) * wb] for i in range(SIMD))
                    terms = [shift_add_product(xi, wi) for xi, wi in zip(xs, lanes, strict=True)]
                part = adder_tree(terms)
                total = Signal(signed(aw), name=f"total{q}")
                m.d.comb += total.eq(Mux(b_first, 0, acc) + part)
                with m.If(advance & b_valid):
                    m.d.sync += acc.eq(total)
                lane = Signal(signed(p.width), name=f"conv{q}")
                m.d.comb += lane.eq(total)
                results.append(lane)
        m.d.comb += [
            out.s_axis.tvalid.eq(b_valid & b_last),
            out.s_axis.tlast.eq(b_tlast),
            out.s_axis.tdata.eq(Cat(*results)),
        ]
        return m

    def estimate_cycles(self) -> int:
        """FINN's ``get_exp_cycles``: ``NF * SF * n_vectors`` (plus 2 pipeline cycles)."""
        p = self.p
        return p.nf * p.sf * p.n_vectors + 2

    def estimate_resources(self) -> dict[str, int]:
        """LUTs: per PE, ``SIMD`` XNORs + a ``SIMD``-input popcount (≈ ``SIMD`` LUTs) in binary
        mode, ``SIMD`` add/subtracts of ``elem_bits`` bits in integer mode, or in integer-weight
        mode FINN's ``lut_estimation`` terms for ``A = elem_bits``, ``W = weight_bits``: ``SIMD``
        LUT multipliers of ``(2 ceil((W + A) / 6) - 1) (W + A)`` LUTs each and an adder tree of
        ``(W + A) (2 SIMD - 1)`` (without FINN's fitted ``c0``, ``c1``); plus the accumulator
        adder; the output slice. FFs: accumulators, the stage-2 input register, counters, the
        slice. Memory: the ``NF*SF × PE*SIMD*weight_bits`` weight ROM and the ``SF × SIMD``
        input buffer (block RAM when over 1 kbit). No DSPs (the multipliers are in LUTs)."""
        p = self.p
        acc = p.mw.bit_length() if p.elem_bits is None else p.acc_width
        if p.elem_bits is None:
            per_pe = 2 * p.simd
        elif p.weight_bits == 1:
            per_pe = p.simd * (p.in_width + 1)
        else:
            wa = p.weight_bits + p.in_width
            per_pe = p.simd * (2 * math.ceil(wa / 6) - 1) * wa + wa * (2 * p.simd - 1)
        xw = p.simd * p.in_width
        mems = [(p.pe * p.simd * p.weight_bits, p.nf * p.sf)] + ([(xw, p.sf)] if p.nf > 1 else [])
        slice_res = RegisterSlice.estimate_resources(p.pe * p.width)
        cbits = 3 * max(p.nf * p.sf * p.n_vectors, 2).bit_length()
        return {
            "lut": p.pe * (per_pe + acc + p.width)
            + 4 * cbits
            + slice_res["lut"]
            + sum(lutram(*mm) for mm in mems),
            "ff": p.pe * acc + xw + cbits + 6 + slice_res["ff"],
            "bram": sum(bram18(*mm) for mm in mems),
            "dsp": 0,
        }
