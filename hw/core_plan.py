"""What the hand-written BNN core needs from an integer description: per-layer constants,
memory images and the exact cycle count (:func:`estimate_cycles`).

Memory layouts (all little-endian bit order, bit 0 = lane 0):

* input RAM: ``in_lanes`` int8 samples per word; sample ``p`` is lane ``p % in_lanes`` of word
  ``p // in_lanes`` (the input stream's beat layout);
* feature-map RAMs (two, ping-pong; layer ``i`` writes RAM ``i % 2``, each as deep as its
  largest map): 16-bit words; column ``u`` (one time step) of a ``C``-channel
  map occupies words ``u * ceil(C/16) + j``; bit ``b`` of word ``j`` is channel ``16 j + b``
  (1 = +1);
* binary weight ROM: one ``PE x SIMD``-bit word per (layer, output group ``g``, fold ``f``); the
  layer's fan-in is flattened tap-major (index ``k * C_in + c``) and cut into folds of ``SIMD``;
  bit ``p * SIMD + i`` of fold ``f`` is the weight of output channel ``g * PE + p`` at flat index
  ``f * SIMD + i`` (1 = +1; 0 outside the layer);
* first-layer weight ROM: one ``PE x K``-bit word per output group, bit ``p * K + k``;
* threshold ROM: one word per (layer, group); lane ``p`` holds ``lo``, ``hi`` (``tw``-bit two's
  complement) and ``invert`` at bit offset ``p * (2 tw + 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .chain_graph import chain_from_graph
from .description import NetworkDescription
from .graph import GraphError, IntGraph

FM_WIDTH = 16
"""Feature-map RAM word width in bits (one iCE40 SB_RAM40_4K port in 256 x 16 mode)."""


class CoreConfigError(ValueError):
    """PE / SIMD / lanes or a description the core cannot implement (message says why)."""


@dataclass(frozen=True)
class LayerPlan:
    """Constants of one layer as the core runs it (lengths in samples, counts in words)."""

    index: int
    binary_input: bool
    c_in: int
    c_out: int
    kernel: int
    stride: int
    pad_left: int
    pad_bit: int
    pad_value: int
    l_in: int
    l_out: int
    pool_kernel: int
    pool_stride: int
    conv_positions: int
    groups: int
    chunks: int
    words_in: int
    words_out: int
    w_base: int
    th_base: int
    is_head: bool
    fan_in: int

    @property
    def reads_per_column(self) -> int:
        """RAM reads per input column: feature-map words (binary input) or 1 (one sample)."""
        return self.words_in if self.binary_input else 1

    @property
    def issue_cycles(self) -> int:
        """Cycles the fold stage spends on one conv position: one per ``SIMD`` fold (binary),
        one for the whole first-layer kernel."""
        return self.chunks if self.binary_input else 1

    @property
    def period(self) -> int:
        """Cycles between conv positions in steady state. The column loader runs ahead by one
        column while the fold stage works, so a position costs the larger of the fold stage
        plus loading the other ``stride - 1`` new columns, and loading all ``stride`` columns:
        ``max((stride - 1) * W + issue, stride * W)``, ``W`` = :attr:`reads_per_column`."""
        w = self.reads_per_column
        return max((self.stride - 1) * w + self.issue_cycles, self.stride * w)

    def cycles(self) -> int:
        """All cycles of this layer. Per output group: 2 set-up cycles; the run, from loading
        the first ``K`` columns (``K * W`` reads, +1 read latency) to the last fold of the last
        position; then the drain of the accumulate and pool stages (3 cycles binary, 2 for
        the first layer, whose kernel is summed in the fold cycle itself)."""
        run = (self.kernel * self.reads_per_column + self.issue_cycles
               + (self.conv_positions - 1) * self.period + 1)  # fmt: skip
        drain = 3 if self.binary_input else 2
        return self.groups * (2 + run + drain)


@dataclass(frozen=True)
class CorePlan:
    """Everything the core's generator needs (see the module docstring for layouts)."""

    pe: int
    simd: int
    in_lanes: int
    input_bits: int
    input_length: int
    in_beats: int
    layers: tuple[LayerPlan, ...]
    col_width: int
    acc_width: int
    fm_depths: tuple[int, int]
    w_init: tuple[int, ...]
    w1_init: tuple[int, ...]
    th_init: tuple[int, ...]
    n_classes: int
    head_pos_width: int
    score_width: int
    out_width: int
    a_pos: tuple[int, ...]
    a_neg: tuple[int, ...]
    bias: tuple[int, ...]
    coef_bits: int

    def cycles_per_inference(self) -> int:
        """Cycles from the first accepted input beat to the accepted ``tlast`` output beat with
        no stalls: input beats, every layer, 2 per class score (compute, send), 1 class beat,
        and 1 cycle from the last input beat to the first layer."""
        return (self.in_beats + 1 + sum(lp.cycles() for lp in self.layers)
                + 2 * self.n_classes + 1)  # fmt: skip


def _signed_bits(lo: int, hi: int) -> int:
    return max(abs(lo), abs(hi)).bit_length() + 1


def plan_core(desc: NetworkDescription | IntGraph, pe: int = 8, simd: int = 32,
              in_lanes: int = 8) -> CorePlan:  # fmt: skip
    """Lay out ``desc`` (a chain, or a graph that is one: :func:`~.chain_graph.chain_from_graph`)
    for a core with ``pe`` output lanes and ``simd`` input lanes.

    Raises
    ------
    CoreConfigError
        A graph that is not a chain (naming the first node that breaks it; the core is a chain
        engine: ``--backend dataflow``);
        ``pe`` not in {1, 2, 4, 8, 16}; ``simd`` < 1; ``in_lanes`` not dividing the input length;
        a first layer with more than one input channel or a bipolar pad other than ±1; a
        ``WnAn`` description (integer weights or n-bit activations: the core runs binary
        networks only).
    """
    if isinstance(desc, IntGraph):
        try:
            desc = chain_from_graph(desc)
        except GraphError as exc:
            raise CoreConfigError(f"{exc}; the hand-written core runs chains only: use "
                                  "--backend dataflow") from None  # fmt: skip
    if pe not in (1, 2, 4, 8, 16):
        raise CoreConfigError(f"PE must be 1, 2, 4, 8 or 16 (a divisor of {FM_WIDTH}), got {pe}")
    if simd < 1:
        raise CoreConfigError(f"SIMD must be at least 1, got {simd}")
    if in_lanes < 1 or desc.input_length % in_lanes:
        raise CoreConfigError(f"{in_lanes} input lanes do not divide {desc.input_length} samples")
    wnan = [layer.name for i, layer in enumerate(desc.layers)
            if layer.weight_bits != 1 or layer.output_bits is not None
            or (i > 0 and layer.input_bits is not None)]  # fmt: skip
    if wnan:
        raise CoreConfigError(f"{', '.join(wnan)}: integer weights or n-bit activations; the "
                              "hand-written core runs binary networks only; use --backend "
                              "dataflow")  # fmt: skip
    first = desc.layers[0]
    if first.input_bits is None or first.in_channels != 1:
        raise CoreConfigError("the core's first layer takes one integer input channel")
    layers, w_init, th_init = [], [], []
    w1_init: list[int] = []
    binary = [layer for layer in desc.layers if layer.input_bits is None]
    c_max = max(layer.in_channels for layer in binary)
    lcm = FM_WIDTH * simd // math.gcd(FM_WIDTH, simd)
    col_width = -(-c_max // lcm) * lcm
    acc_width = max(_signed_bits(layer.acc_min - 1, layer.acc_max + 1) for layer in desc.layers)
    tw = acc_width
    fm_depths = [1, 1]
    for i, layer in enumerate(desc.layers):
        is_bin = layer.input_bits is None
        if is_bin and layer.pad_value not in (-1, 1):
            raise CoreConfigError(f"{layer.name}: bipolar pad value must be ±1")
        groups = -(-layer.out_channels // pe)
        chunks = -(-layer.fan_in // simd) if is_bin else 1
        words_out = -(-layer.out_channels // FM_WIDTH)
        is_head = layer.thresholds is None
        lp = LayerPlan(
            index=i, binary_input=is_bin, c_in=layer.in_channels, c_out=layer.out_channels,
            kernel=layer.kernel, stride=layer.stride, pad_left=layer.pad_left,
            pad_bit=int(layer.pad_value > 0), pad_value=layer.pad_value, l_in=layer.in_length,
            l_out=layer.out_length, pool_kernel=layer.pool_kernel, pool_stride=layer.pool_stride,
            conv_positions=(layer.out_length - 1) * layer.pool_stride + layer.pool_kernel,
            groups=groups, chunks=chunks, words_in=-(-layer.in_channels // FM_WIDTH),
            words_out=words_out, w_base=len(w_init), th_base=len(th_init), is_head=is_head,
            fan_in=layer.fan_in,
        )  # fmt: skip
        if lp.conv_positions > layer.conv_length:
            raise CoreConfigError(f"{layer.name}: pooling reads past the convolution")
        if not is_head:
            fm_depths[i % 2] = max(fm_depths[i % 2], layer.out_length * words_out)
        layers.append(lp)
        w = layer.weights > 0
        for g in range(groups):
            if is_bin:
                flat = w.transpose(0, 2, 1).reshape(layer.out_channels, -1)  # [C_out, K * C_in]
                for f in range(chunks):
                    word = 0
                    for p in range(pe):
                        o = g * pe + p
                        for j in range(simd):
                            idx = f * simd + j
                            if o < layer.out_channels and idx < layer.fan_in and flat[o, idx]:
                                word |= 1 << (p * simd + j)
                    w_init.append(word)
            else:
                word = 0
                for p in range(pe):
                    o = g * pe + p
                    for k in range(layer.kernel):
                        if o < layer.out_channels and w[o, 0, k]:
                            word |= 1 << (p * layer.kernel + k)
                w1_init.append(word)
            if not is_head:
                th = layer.thresholds
                word, mask = 0, (1 << tw) - 1
                for p in range(pe):
                    o = g * pe + p
                    if o >= layer.out_channels:
                        continue
                    lane = (int(th.lo[o]) & mask) | ((int(th.hi[o]) & mask) << tw)
                    lane |= int(th.invert[o]) << (2 * tw)
                    word |= lane << (p * (2 * tw + 1))
                th_init.append(word)
    head_layer = desc.layers[-1]
    pos_max = head_layer.out_length * head_layer.acc_max
    a_pos, a_neg, bias = (tuple(int(v) for v in a) for a in
                          (desc.head.a_pos, desc.head.a_neg, desc.head.bias))  # fmt: skip
    bound = (max(map(abs, a_pos)) + max(map(abs, a_neg))) * pos_max + max(map(abs, bias))
    score_width = bound.bit_length() + 1
    n_classes = len(desc.classes)
    out_width = max(32, -(-score_width // 8) * 8, n_classes.bit_length())
    return CorePlan(
        pe=pe, simd=simd, in_lanes=in_lanes, input_bits=desc.input_bits,
        input_length=desc.input_length, in_beats=desc.input_length // in_lanes,
        layers=tuple(layers), col_width=col_width, acc_width=acc_width,
        fm_depths=(fm_depths[0], fm_depths[1]),
        w_init=tuple(w_init), w1_init=tuple(w1_init), th_init=tuple(th_init),
        n_classes=n_classes, head_pos_width=pos_max.bit_length(), score_width=score_width,
        out_width=out_width, a_pos=a_pos, a_neg=a_neg, bias=bias,
        coef_bits=desc.head.coef_bits,
    )  # fmt: skip


def estimate_cycles(desc: NetworkDescription, pe: int = 8, simd: int = 32, in_lanes: int = 8
                    ) -> int:  # fmt: skip
    """Analytical cycles per inference of :class:`~.bnn_core.BnnCore` (no stalls), from the first
    input beat to the last output beat. Raises :class:`CoreConfigError` like :func:`plan_core`."""
    return plan_core(desc, pe, simd, in_lanes).cycles_per_inference()


def pack_input(x: np.ndarray, in_lanes: int, bits: int = 8) -> list[int]:
    """Input beats of one window: int ``[L]`` → ``L / in_lanes`` words, sample ``p`` in lane
    ``p % in_lanes`` (two's complement, ``bits`` each)."""
    if in_lanes * bits <= 64:
        return [int(v) for v in pack_inputs(np.asarray(x)[None], in_lanes, bits)[0]]
    mask = (1 << bits) - 1
    v = np.asarray(x, dtype=np.int64).reshape(-1, in_lanes) & mask
    shifts = np.arange(in_lanes, dtype=np.int64) * bits
    return [int(sum(int(s) << int(sh) for s, sh in zip(row, shifts, strict=True))) for row in v]


def pack_inputs(x: np.ndarray, in_lanes: int, bits: int = 8) -> np.ndarray:
    """:func:`pack_input` of many windows at once: int ``[N, L]`` (or ``[N, 1, L]``) → uint64
    ``[N, L / in_lanes]`` (vectorized; beats of at most 64 bits).

    Raises
    ------
    CoreConfigError
        ``in_lanes * bits`` above 64.
    """
    if in_lanes * bits > 64:
        raise CoreConfigError(f"{in_lanes} lanes of {bits} bits do not fit a 64-bit word")
    x = np.asarray(x, dtype=np.int64)
    v = (x.reshape(len(x), -1, in_lanes) & ((1 << bits) - 1)).astype(np.uint64)
    shifts = np.arange(in_lanes, dtype=np.uint64) * np.uint64(bits)
    return np.bitwise_or.reduce(v << shifts, axis=-1)
