"""QONNX → integer network: the compiler's entry points and its threshold arithmetic.

:func:`compile_qonnx` is the one front end: the Brevitas QONNX (``ecgaccel.models.export``)
goes through the qonnx transformations of :mod:`ecgaccel.hw.streamline` to a streamlined integer
graph and from there to an :class:`~.graph.IntGraph`; :func:`compile_chain` gives an ECG-BNN's
graph as the chain description (:class:`~.description.NetworkDescription`) the hand-written core
reads. Every network, chain or not, takes that one road.

This module also holds what the passes share: :class:`CompileError`, :func:`load_qonnx`, the
per-channel map ``BatchNorm ∘ PReLU`` of a block (:func:`block_affine`) and the exact integer
forms of what follows it. Thresholds are found by evaluating the block's real-valued map
``v = s * m → PReLU → BatchNorm → (>= 0)`` (:func:`derive_thresholds`) or ``→ Quant``
(:func:`derive_multithresholds`) on every integer ``m`` the accumulator can hold (``s`` = input
scale x weight scale > 0) and reading off where the output changes; a map with more changes than
BatchNorm ∘ PReLU can make is rejected. This is exact on the accumulator range, whatever the signs
of the BatchNorm γ and the PReLU slope. :func:`derive_head` gives the fixed-point sum head.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .description import MultiThresholds, NetworkDescription, SumHead, Thresholds

if TYPE_CHECKING:
    from .graph import IntGraph


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


def block_affine(model, prelu, bn, channels: int) -> _Affine:
    """The per-channel real map ``BatchNorm(PReLU(v))`` of one block, read from its nodes.

    ``prelu`` and ``bn`` are the block's ``PRelu`` and ``BatchNormalization`` nodes of the qonnx
    ``ModelWrapper`` ``model``; ``channels`` is C, the number of output channels (a per-tensor
    PReLU slope is broadcast to C); the streamlining passes read it.

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
    n = len(scale)
    changes = _level_changes(f, scale, quant, acc_min, acc_max)  # (channel, m, d), m ascending
    counts = np.zeros(n, np.int64)
    np.add.at(counts, changes[:, 0], np.abs(changes[:, 2]))
    if counts.size and counts.max() > 2 * (2**quant.bits - 1):
        c = int(counts.argmax())
        raise CompileError(f"channel {c}: {int(counts[c])} level steps; not BN∘PReLU")
    j = max(1, int(counts.max(initial=0)))
    th = np.full((n, j), acc_max + 1, dtype=np.int64)
    sign = np.ones((n, j), dtype=np.int8)
    filled = np.zeros(n, np.int64)
    for c, at, d in changes.tolist():
        k = filled[c]
        th[c, k : k + abs(d)], sign[c, k : k + abs(d)] = at, 1 if d > 0 else -1
        filled[c] += abs(d)
    base = _levels_at(f, scale, quant, np.arange(n), np.full(n, acc_min, np.int64))
    mt = MultiThresholds(thresholds=th, sign=sign, base=base, out_bits=quant.bits)
    _check_levels(mt, f, scale, quant, changes, acc_min, acc_max)
    return mt


def _levels_at(f: _Affine, scale: np.ndarray, quant: ActQuant, c: np.ndarray,
               m: np.ndarray) -> np.ndarray:  # fmt: skip
    """``quant.levels(f(scale * m))`` of channel ``c[i]`` at accumulator ``m[i]`` (int64
    ``[K]``): the same float64 operations as ``f`` on a ``[C, M]`` grid, one element each."""
    v = scale[c] * m.astype(np.float64)
    p = np.where(v < 0, f.slope[c] * v, v)
    return quant.levels(f.a[c] * (p - f.mean[c]) + f.beta[c])


def _level_changes(f: _Affine, scale: np.ndarray, quant: ActQuant, acc_min: int,
                   acc_max: int) -> np.ndarray:  # fmt: skip
    """Every ``(channel, m, d)`` (int64 ``[K, 3]``, sorted by channel, then ``m``) where the
    level at ``m`` differs by ``d`` from the level at ``m - 1``, for ``m`` in ``(acc_min,
    acc_max]``. The level is monotone in ``m`` on each side of 0 (BatchNorm ∘ PReLU is linear
    on each side), so bisecting every interval whose two ends differ finds each change in
    ``log2(range)`` steps, all channels at once, without a ``[C, range]`` grid (an int8
    accumulator of a wide layer spans millions of values)."""
    n = len(scale)
    cuts = sorted({acc_min, acc_max, *((-1, 0) if acc_min < 0 < acc_max else ())})
    cuts = [m for m in cuts if acc_min <= m <= acc_max]
    ch = np.arange(n)
    at = {m: _levels_at(f, scale, quant, ch, np.full(n, m, np.int64)) for m in cuts}
    pairs = list(itertools.pairwise(cuts))
    if not pairs:
        return np.zeros((0, 3), np.int64)
    lo = np.concatenate([np.full(n, a, np.int64) for a, _ in pairs])
    hi = np.concatenate([np.full(n, b, np.int64) for _, b in pairs])
    llo = np.concatenate([at[a] for a, _ in pairs])
    lhi = np.concatenate([at[b] for _, b in pairs])
    cc = np.tile(ch, len(pairs))
    found = []
    while len(cc):
        live = llo != lhi
        lo, hi, llo, lhi, cc = lo[live], hi[live], llo[live], lhi[live], cc[live]
        unit = hi - lo == 1
        found.append(np.stack([cc[unit], hi[unit], lhi[unit] - llo[unit]], axis=1))
        lo, hi, llo, lhi, cc = lo[~unit], hi[~unit], llo[~unit], lhi[~unit], cc[~unit]
        mid = (lo + hi) // 2
        lm = _levels_at(f, scale, quant, cc, mid)
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
        llo, lhi = np.concatenate([llo, lm]), np.concatenate([lm, lhi])
        cc = np.concatenate([cc, cc])
    out = np.concatenate(found) if found else np.zeros((0, 3), np.int64)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def _check_levels(mt: MultiThresholds, f: _Affine, scale: np.ndarray, quant: ActQuant,
                  changes: np.ndarray, acc_min: int, acc_max: int) -> None:  # fmt: skip
    """Assert that ``mt`` gives the levels of ``f`` at every change point and its left
    neighbour, at both ends and at 4,096 seeded random accumulators per channel (every value
    when the range has at most 65,536)."""
    n = len(scale)
    if acc_max - acc_min < 65_536:
        grid = np.arange(acc_min, acc_max + 1, dtype=np.int64)
    else:
        rng = np.random.default_rng(0)
        grid = np.unique(np.concatenate([
            [acc_min, acc_max], changes[:, 1], changes[:, 1] - 1,
            rng.integers(acc_min, acc_max + 1, 4096)]))  # fmt: skip
    c = np.repeat(np.arange(n), len(grid))
    m = np.tile(grid, n)
    want = _levels_at(f, scale, quant, c, m).reshape(n, len(grid))
    assert np.array_equal(mt.apply(np.broadcast_to(grid, (n, len(grid)))), want)


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


def compile_qonnx(path: Path | str, name: str, classes: tuple[str, ...] | list[str]) -> IntGraph:
    """The integer graph of the Brevitas QONNX at ``path``: the one front end.

    :func:`ecgaccel.hw.streamline.streamline` (qonnx transformations: integer input, weights
    folded, scale multiplications moved into thresholds, the head lowered), then
    :func:`graph_of_streamlined`. ECG-BNN chains, residual networks, 2-D lead × time networks,
    metadata inputs and multi-label heads all take this road (FINN's front end to its dataflow
    partition). The graph's inputs are integers ``[C, H, W]`` (the ECG int8 ``[leads or 1, 1 or
    leads, samples]``, a metadata vector ``[M, 1, 1]``) with their fractional bits; ``name``
    names the graph, ``classes`` its K scores (a :class:`CompileError` when K differs).

    Raises
    ------
    CompileError
        An unreadable file, or a node the passes cannot lower (naming the node and the op).
    """
    from .streamline import streamline

    return graph_of_streamlined(streamline(load_qonnx(path)), name, classes)


def graph_of_streamlined(model, name: str, classes: tuple[str, ...] | list[str]) -> IntGraph:
    """The :class:`~.graph.IntGraph` of a streamlined qonnx ``ModelWrapper``: one :mod:`~.graph`
    node per streamlined op (:func:`~.streamline.to_graph.graph_from_streamlined`), every
    :class:`~.graph.MultiThreshold` in its canonical form (:meth:`~.graph.IntGraph.canonical`:
    the same function on the accumulator range, unreachable steps dropped).

    Raises
    ------
    CompileError
        An op without a graph node, or a tensor type the graph cannot hold (naming the node).
    """
    from .streamline.to_graph import graph_from_streamlined

    return graph_from_streamlined(model, name, classes).canonical()


def chain_of(graph: IntGraph, where: Path | str) -> NetworkDescription:
    """``graph`` as a chain description (``ecgaccel-intnet-1``, blocks named ``block1``,
    ``block2``, …), the form the hand-written core and the chain back ends read
    (:func:`~.chain_graph.chain_from_graph`).

    Raises
    ------
    CompileError
        A graph that is not a chain of convolution blocks and a sum head (naming ``where`` and
        the first node that breaks the pattern).
    """
    from .chain_graph import chain_from_graph
    from .graph import GraphError

    try:
        chain = chain_from_graph(graph)
    except GraphError as exc:
        raise CompileError(f"{where}: not a chain network: {exc}") from exc
    blocks = tuple(replace(layer, name=f"block{i + 1}") for i, layer in enumerate(chain.layers))
    return replace(chain, layers=blocks)


def compile_chain(path: Path | str, name: str, classes: tuple[str, ...] | list[str]
                  ) -> NetworkDescription:  # fmt: skip
    """:func:`compile_qonnx` as a chain description (:func:`chain_of`): per block the ±1 or
    int-n weights int8 ``[C_out, C_in, K]`` and its thresholds, then the sum head's int64
    coefficients ``[K]``; the input is int8 ``[1, samples]`` at ``2^-input_frac_bits`` (z-score
    units).

    Raises
    ------
    CompileError
        What :func:`compile_qonnx` raises, or a graph that is not a chain.
    """
    return chain_of(compile_qonnx(path, name, classes), path)
