"""Folding of the FINN hand-off graph (:mod:`.finn_graph`): FINN's node names, FINN's cycle
formulas, and a ``SetFolding`` for a cycle target.

FINN lowers each layer of :func:`~.finn_graph.finn_graph` to these hardware nodes, in graph
order (measured on Xilinx/finn 39f0c9a; :data:`NODE_OPS`)::

    [FMPadding_rtl] → ConvolutionInputGenerator_rtl → MVAU_hls
      → ConvolutionInputGenerator_rtl (depthwise) → Pool_hls
      → binary:  [ChannelwiseOp_hls (Mul ±1)] → ChannelwiseOp_hls (Add) → FMPadding_rtl
                 → Thresholding_rtl
      → n-bit:   Thresholding_rtl              (the next layer starts with its FMPadding_rtl)
      → last:    [ChannelwiseOp_hls (Mul 2)] → [ChannelwiseOp_hls (Add bias)]

and ``step_apply_folding_config`` names them as qonnx's ``GiveUniqueNodeNames`` does,
``<op_type>_<n>`` with ``n`` counted per op type. The cycle formulas are FINN's
``get_exp_cycles`` of each op (``ConvolutionInputGenerator_rtl`` in its 1-D "default" style,
``MVAU`` ``MH/PE * MW/SIMD * positions``, ``Pool`` ``C * K / PE * positions``, the element-wise
ops ``C / PE * positions``), so the II this module predicts is the one FINN's
``estimate_network_performance.json`` reports (a ``finn`` test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .description import NetworkDescription
from .finn_graph import FinnLayer, LevelMap, lower_layers

NODE_OPS = (
    "ConvolutionInputGenerator_rtl",
    "MVAU_hls",
    "Pool_hls",
    "ChannelwiseOp_hls",
    "FMPadding_rtl",
    "Thresholding_rtl",
)
"""The op types FINN makes of the graph (after ``step_specialize_layers``)."""


@dataclass(frozen=True)
class FinnNode:
    """One FINN hardware node of the hand-off graph.

    Attributes
    ----------
    name:
        FINN's node name (``<op_type>_<n>``).
    op_type:
        One of :data:`NODE_OPS`.
    block:
        Index of the description layer it belongs to.
    role:
        ``in_pad``, ``swg``, ``mvau``, ``pool_swg``, ``pool``, ``sign``, ``shift``, ``scale``,
        ``bias``, ``pad``, ``threshold``.
    attr:
        The folding attribute FINN reads (``SIMD`` or ``PE``).
    dim:
        What ``attr`` must divide (channels, or ``MW`` for the MVAU's ``SIMD``).
    mh:
        The MVAU's ``MH`` (its ``PE`` must divide it), else 0.
    kernel, stride:
        Window of a SWG (convolution or pool) or ``Pool`` (samples).
    out_positions:
        Output positions a window (samples): what the node's cycles scale with.
    """

    name: str
    op_type: str
    block: int
    role: str
    attr: str
    dim: int
    mh: int = 0
    kernel: int = 1
    stride: int = 1
    out_positions: int = 0

    def cycles(self, p: int, pe: int = 1) -> int:
        """FINN's expected cycles a window at parallelism ``p`` (and ``pe`` for the MVAU)."""
        if self.role == "mvau":
            return (self.mh // pe) * (self.dim // p) * self.out_positions
        cf = self.dim // p
        if self.role == "swg":
            return self.out_positions * self.kernel * cf + 2
        if self.role == "pool_swg":
            k, s = self.kernel, self.stride
            return self.out_positions * k * cf + cf * (k - 1) * (s - 1) - (k - 1) + 2
        if self.role == "pool":
            return cf * self.kernel * self.out_positions
        return cf * self.out_positions


def finn_nodes(desc: NetworkDescription, layers: Sequence[FinnLayer] | None = None
               ) -> list[FinnNode]:  # fmt: skip
    """FINN's hardware nodes of :func:`~.finn_graph.finn_graph` ``(desc)``, in graph order."""
    layers = lower_layers(desc) if layers is None else layers
    counts: dict[str, int] = {}
    out: list[FinnNode] = []

    def add(op: str, block: int, role: str, attr: str, dim: int, **kw) -> None:
        n = counts.get(op, 0)
        counts[op] = n + 1
        out.append(FinnNode(f"{op}_{n}", op, block, role, attr, dim, **kw))

    in_ch = 1
    for i, fl in enumerate(layers):
        layer = fl.layer
        cols = fl.weights.shape[1]
        if any(fl.in_pad):  # FINN's InferConvInpGen: FMPadding in front of the SWG
            padded = layer.in_length + sum(fl.in_pad)
            add("FMPadding_rtl", i, "in_pad", "SIMD", in_ch, out_positions=padded)
        add("ConvolutionInputGenerator_rtl", i, "swg", "SIMD", in_ch, kernel=layer.kernel,
            stride=layer.stride, out_positions=layer.conv_length)  # fmt: skip
        add("MVAU_hls", i, "mvau", "SIMD", fl.weights.shape[0], mh=cols,
            out_positions=layer.conv_length)  # fmt: skip
        add(
            "ConvolutionInputGenerator_rtl",
            i,
            "pool_swg",
            "SIMD",
            cols,
            kernel=layer.pool_kernel,
            stride=layer.pool_stride,
            out_positions=layer.out_length,
        )
        add("Pool_hls", i, "pool", "PE", cols, kernel=layer.pool_kernel,
            out_positions=layer.out_length)  # fmt: skip
        if fl.out_map is None:
            if fl.factor != 1:
                add("ChannelwiseOp_hls", i, "scale", "PE", cols, out_positions=layer.out_length)
            if np.any(fl.bias):
                add("ChannelwiseOp_hls", i, "bias", "PE", cols, out_positions=layer.out_length)
            break
        if isinstance(fl.out_map, LevelMap):
            add("Thresholding_rtl", i, "threshold", "PE", cols, out_positions=layer.out_length)
            in_ch = cols
            continue
        if any(ch.sign != 1 for ch in fl.out_map.channels):
            add("ChannelwiseOp_hls", i, "sign", "PE", cols, out_positions=layer.out_length)
        add("ChannelwiseOp_hls", i, "shift", "PE", cols, out_positions=layer.out_length)
        nxt = desc.layers[i + 1]
        padded = nxt.in_length + nxt.pad_left + nxt.pad_right
        add("FMPadding_rtl", i, "pad", "SIMD", cols, out_positions=padded)
        add("Thresholding_rtl", i, "threshold", "PE", cols, out_positions=padded)
        in_ch = cols
    return out


def divisors(n: int) -> list[int]:
    """Divisors of ``n`` ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class FinnFolding:
    """A folding of the FINN graph: ``nodes``, ``values`` (``{name: {attr: value}}``, FINN's
    folding-config entries) and ``cycles`` (``{name: FINN's expected cycles}``)."""

    nodes: tuple[FinnNode, ...]
    values: dict[str, dict[str, int]]
    cycles: dict[str, int]
    target_cycles: int

    @property
    def ii(self) -> int:
        """The slowest node's cycles: FINN's ``max_cycles``."""
        return max(self.cycles.values())

    @property
    def bottleneck(self) -> str:
        """Name of the slowest node."""
        return max(self.cycles, key=lambda k: self.cycles[k])

    def config(self) -> dict:
        """FINN's folding config JSON (``{"Defaults": {}, name: {attr: value}}``)."""
        return {"Defaults": {}, **self.values}


def set_finn_folding(desc: NetworkDescription, target_cycles: int) -> FinnFolding:
    """FINN's ``SetFolding`` for the hand-off graph: per node the smallest parallelism (over
    the divisors FINN allows) whose cycles are ≤ ``target_cycles``, else the largest; the MVAU
    raises ``SIMD`` first, then ``PE`` (FINN's order), and a ``Pool_hls`` takes the ``SIMD``
    of the depthwise SWG before it (FINN requires them equal).

    Raises
    ------
    ValueError
        ``target_cycles`` < 1.
    """
    if target_cycles < 1:
        raise ValueError(f"target_cycles must be ≥ 1, got {target_cycles}")
    nodes = finn_nodes(desc)
    values: dict[str, dict[str, int]] = {}
    cycles: dict[str, int] = {}
    pool_simd = 1
    for node in nodes:
        if node.role == "mvau":  # FINN's SetFolding order: SIMD first, then PE
            ok = [d for d in divisors(node.dim) if node.cycles(d, 1) <= target_cycles]
            simd, pe = (ok[0], 1) if ok else (node.dim, 0)
            if not pe:
                ok = [d for d in divisors(node.mh) if node.cycles(simd, d) <= target_cycles]
                pe = ok[0] if ok else node.mh
            values[node.name] = {"PE": pe, "SIMD": simd}
            cycles[node.name] = node.cycles(simd, pe)
            continue
        if node.role == "pool":
            p = pool_simd
        else:
            ok = [d for d in divisors(node.dim) if node.cycles(d) <= target_cycles]
            p = ok[0] if ok else node.dim
            if node.role == "pool_swg":
                pool_after = next(n for n in nodes if n.block == node.block and n.role == "pool")
                ok = [d for d in divisors(node.dim)
                      if max(node.cycles(d), pool_after.cycles(d)) <= target_cycles]  # fmt: skip
                p = pool_simd = ok[0] if ok else node.dim
        values[node.name] = {node.attr: p}
        cycles[node.name] = node.cycles(p)
    return FinnFolding(tuple(nodes), values, cycles, target_cycles)
