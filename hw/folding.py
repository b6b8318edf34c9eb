# amaranth: UnusedElaboratable=no
# (layer objects are built here only to ask them for their estimates, never elaborated)
"""Folding of the dataflow back end (FINN's ``SetFolding``) and FIFO sizing (FINN's
``InsertAndSetFIFODepths``, here analytical), with FINN's folding-config JSON.

Folding of block ``i`` (one :class:`~ecgaccel.hw.description.ConvLayer`) is a
:class:`BlockFold`: the MVAU's ``PE`` (output channels a cycle) and ``SIMD`` (fan-in elements a
cycle) and the SWG's ``SIMD`` (channels a beat). Max-pool, thresholds and head run at the MVAU's
``PE`` (:func:`~ecgaccel.hw.layers.chain.conv_block_layers` ties them). Between differing lane
counts a :class:`~ecgaccel.hw.layers.StreamWidthConverter` re-packs the stream, as FINN inserts
``StreamingDataWidthConverter`` nodes: SWG ``SIMD`` → MVAU ``SIMD`` (the MVAU's is a multiple of
the SWG's: a one-channel first layer streams one sample a beat into an MVAU taking a whole
``K``-tap window), and the previous block's ``PE`` (or the input's ``in_lanes``) → the SWG's
``SIMD`` (one must divide the other).

Cycle and resource figures come from the layers' own ``estimate_cycles()`` /
``estimate_resources()`` (FINN's ``get_exp_cycles`` and resource estimates): the components
are constructed from their parameter dataclasses, never elaborated. As in FINN's
``dataflow_performance`` analysis, the initiation interval (II) is the slowest layer's cycles
and the latency estimate is the sum over the layers (a conservative critical path); width
converters and FIFOs are listed but, passing one beat a cycle of a stream their neighbours
produce at most as fast, left out of both (as :mod:`ecgaccel.hw.dataflow` does).

Sources (read, not copied): FINN ``src/finn/transformation/fpgadataflow/set_folding.py``
(``SetFolding``: per node, raise ``SIMD`` then ``PE`` over the divisors until the node's
expected cycles meet the target; the optional second pass at the achieved target), FINN
``src/finn/custom_op/fpgadataflow/matrixvectoractivation.py`` and
``rtl/convolutioninputgenerator_rtl.py`` / ``rtl/thresholding_rtl.py`` (node attribute names and
allowed values), qonnx/FINN ``ApplyConfig`` (folding-config format: ``"Defaults"`` plus one
entry per node name), FINN ``GiveUniqueNodeNames`` naming (``<op_type>_<n>``, ``n`` counted per
op type in graph order), FINN v0.10+ op types (``MVAU_hls``, ``ConvolutionInputGenerator_rtl``,
``Thresholding_rtl``, ``Pool_hls``, ``StreamingMaxPool_hls``, ``FMPadding_rtl``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .description import NetworkDescription
from .files import write_text_atomic
from .layers.fifo import StreamFifo, StreamWidthConverter
from .layers.head import HeadLayer, HeadParams
from .layers.mvau import MVAU, MvauParams, conv_weight_matrix
from .layers.pool import MaxPoolLayer, PoolParams
from .layers.swg import SlidingWindowGenerator, SwgParams
from .layers.threshold import threshold_stage

ICE40_UP5K_BUDGET: dict[str, int] = {"lut": 5280, "bram": 6, "dsp": 8}
"""Lattice iCE40 UP5K as a budget for :func:`set_folding`: 5280 logic cells (LUT4 + FF), 8 DSPs
(SB_MAC16), and its 30 block RAMs of 4 kbit (120 kbit) expressed in the 18-kbit blocks the layer
estimates count (``bram18``): ``floor(120 / 18)`` = 6. The layer LUT estimates are rough
(6-input-LUT style), so treat a fit as an estimate, not a place-and-route result."""

DEFAULT_IN_LANES = 8
"""Samples a beat of the network's input stream (as :class:`~ecgaccel.hw.dataflow.DataflowPlan`)."""

RAM_STYLES = ("auto", "block", "distributed", "ultra")
"""FINN ``ram_style`` values (MVAU and ConvolutionInputGenerator_rtl)."""
RES_TYPES = ("auto", "lut", "dsp")
"""FINN MVAU ``resType`` values."""
MEM_MODES = ("internal_embedded", "internal_decoupled", "external")
"""FINN (v0.10+) MVAU ``mem_mode`` values."""

SHALLOW_FIFO = 2
"""FINN's shallow FIFO depth (``RemoveShallowFIFOs`` drops FIFOs this deep): no buffering
beyond the layers' own register slices is needed at that joint."""

RESOURCE_KEYS = ("lut", "ff", "bram", "dsp")


class FoldingError(ValueError):
    """A folding the hardware cannot implement, or a malformed folding config; the message names
    the block (``block <n> (<layer name>)``) or the FINN node, and the parameter."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class BlockFold:
    """Folding of one block.

    Attributes
    ----------
    pe:
        MVAU output channels a cycle (also the max-pool's, thresholds' and head's lanes); must
        divide ``C_out``.
    simd:
        MVAU fan-in elements a cycle; must divide ``MW = K * C_in`` and be a multiple of
        ``swg_simd``.
    swg_simd:
        SWG channels a beat; must divide ``C_in``.
    ram_style:
        FINN ``ram_style`` of the MVAU's weight memory (one of :data:`RAM_STYLES`).
    swg_ram_style:
        FINN ``ram_style`` of the SWG's line buffer.
    res_type:
        FINN MVAU ``resType`` (one of :data:`RES_TYPES`): ``lut`` for XNOR-popcount.
    mem_mode:
        FINN MVAU ``mem_mode`` (one of :data:`MEM_MODES`).
    pool_serial:
        The max-pool updates its open windows one a cycle from one shared memory
        (:attr:`~ecgaccel.hw.layers.pool.PoolParams.serial`). Not a FINN attribute: the FINN
        JSON leaves it out (FINN picks its own pooling), and a loaded config has it off.
    """

    pe: int
    simd: int
    swg_simd: int
    ram_style: str = "auto"
    swg_ram_style: str = "auto"
    res_type: str = "lut"
    mem_mode: str = "internal_decoupled"
    pool_serial: bool = False


@dataclass(frozen=True)
class FoldingConfig:
    """Folding of a whole network: one :class:`BlockFold` per
    :class:`~ecgaccel.hw.description.ConvLayer`, in order."""

    blocks: tuple[BlockFold, ...]

    def validate(self, desc: NetworkDescription, in_lanes: int = DEFAULT_IN_LANES) -> None:
        """Check every constraint of the dataflow layers against ``desc``.

        Raises
        ------
        FoldingError
            Wrong number of blocks; ``PE`` not dividing ``C_out``; SWG ``SIMD`` not dividing
            ``C_in``; MVAU ``SIMD`` not dividing ``MW`` or not a multiple of the SWG's; lane
            counts of consecutive stages where neither divides the other; an unknown
            ``ram_style`` / ``resType`` / ``mem_mode``. The message names the block.
        """
        if len(self.blocks) != len(desc.layers):
            raise FoldingError(
                f"folding has {len(self.blocks)} blocks, the network {len(desc.layers)}"
            )
        prev = in_lanes
        for i, (layer, b) in enumerate(zip(desc.layers, self.blocks, strict=True)):
            where = block_label(desc, i)
            mw, mh = layer.fan_in, layer.out_channels
            for name in ("pe", "simd", "swg_simd"):
                v = getattr(b, name)
                if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                    raise FoldingError(f"{where}: {_PARAM[name]}={v!r} must be an integer ≥ 1")
            if mh % b.pe:
                raise FoldingError(f"{where}: MVAU PE={b.pe} does not divide C_out={mh}")
            if layer.in_channels % b.swg_simd:
                raise FoldingError(
                    f"{where}: SWG SIMD={b.swg_simd} does not divide C_in={layer.in_channels}"
                )
            if mw % b.simd:
                raise FoldingError(f"{where}: MVAU SIMD={b.simd} does not divide MW=K*C_in={mw}")
            if b.simd % b.swg_simd:
                raise FoldingError(
                    f"{where}: MVAU SIMD={b.simd} is not a multiple of SWG SIMD={b.swg_simd}"
                )
            if not _compatible(prev, b.swg_simd):
                src = "the input's in_lanes" if i == 0 else "the previous block's PE"
                raise FoldingError(
                    f"{where}: SWG SIMD={b.swg_simd} and {src}={prev}: one must "
                    "divide the other (width converter)"
                )
            for name, allowed in (
                ("ram_style", RAM_STYLES),
                ("swg_ram_style", RAM_STYLES),
                ("res_type", RES_TYPES),
                ("mem_mode", MEM_MODES),
            ):
                if getattr(b, name) not in allowed:
                    raise FoldingError(
                        f"{where}: {_PARAM[name]}={getattr(b, name)!r} not one of {list(allowed)}"
                    )
            prev = b.pe

    # ---- FINN folding-config JSON

    def to_finn_json(
        self, desc: NetworkDescription, fifos: Sequence[FifoSpec] | None = None
    ) -> dict:
        """FINN's folding config (``folding_config_file``, applied by ``ApplyConfig``):
        ``{"Defaults": {}, "<node name>": {attribute: value}, ...}``.

        Node names follow :func:`finn_node_names` (the nodes FINN v0.10+ makes of each block).
        ``fifos`` (from :func:`fifo_depths`): each deeper than :data:`SHALLOW_FIFO` becomes its
        consumer node's ``inFIFODepths`` (used by FINN when ``auto_fifo_depths`` is off).
        """
        self.validate(desc)
        cfg: dict[str, dict] = {"Defaults": {}}
        for node in finn_node_names(desc):
            b = self.blocks[node.block]
            cfg[node.name] = _node_attrs(node.role, b)
        for f in fifos or ():
            if f.depth > SHALLOW_FIFO and f.finn_consumer:
                cfg[f.finn_consumer]["inFIFODepths"] = [f.depth]
        return cfg

    @classmethod
    def from_finn_json(cls, cfg: Mapping, desc: NetworkDescription) -> FoldingConfig:
        """Inverse of :meth:`to_finn_json`.

        The MVAU (``MVAU_hls_<i>``) and conv-SWG entries of every block are required; the pool,
        padding and threshold entries are optional but, when present, must equal what this
        hardware ties them to (pool SWG ``SIMD``, ``Pool_hls`` / ``Thresholding_rtl`` ``PE`` =
        the MVAU's ``PE``; ``FMPadding_rtl`` ``SIMD`` = the SWG's). ``inFIFODepths`` /
        ``outFIFODepths`` are accepted and ignored (:func:`fifo_depths` recomputes them).

        Raises
        ------
        FoldingError
            Not a dict, unknown node names or attributes, missing entries, mismatched tied
            values, or a folding :meth:`validate` refuses; the message names node and block.
        """
        if not isinstance(cfg, Mapping):
            raise FoldingError("folding config must be a JSON object")
        nodes = {n.name: n for n in finn_node_names(desc)}
        unknown = sorted(set(cfg) - set(nodes) - {"Defaults"})
        if unknown:
            raise FoldingError(
                f"unknown FINN node(s) in folding config: {unknown}; this network "
                f"has {sorted(nodes)}"
            )
        defaults = cfg.get("Defaults", {})
        if not isinstance(defaults, Mapping):
            raise FoldingError('folding config "Defaults" must be an object')
        vals: list[dict] = [{} for _ in desc.layers]
        tied: list[tuple[str, FinnNode, str, object]] = []
        for name, node in nodes.items():
            entry = cfg.get(name)
            where = f"{name} ({block_label(desc, node.block)})"
            if entry is None:
                if node.role in ("mvau", "swg"):
                    raise FoldingError(f"{where}: missing from the folding config")
                continue
            if not isinstance(entry, Mapping):
                raise FoldingError(f"{where}: entry must be an object")
            allowed = _ROLE_ATTRS[node.role] | {"inFIFODepths", "outFIFODepths"}
            bad = sorted(set(entry) - allowed)
            if bad:
                raise FoldingError(
                    f"{where}: unknown attribute(s) {bad}; allowed {sorted(allowed)}"
                )
            for attr, v in entry.items():
                if attr in ("inFIFODepths", "outFIFODepths"):
                    continue
                if node.role in ("mvau", "swg"):
                    vals[node.block][_ATTR_FIELD[node.role][attr]] = v
                else:
                    tied.append((where, node, attr, v))
        blocks = []
        for i, v in enumerate(vals):
            try:
                blocks.append(BlockFold(**v))
            except TypeError as exc:
                raise FoldingError(
                    f"{block_label(desc, i)}: incomplete folding: MVAU needs PE "
                    f"and SIMD, the SWG SIMD ({exc})"
                ) from exc
        out = cls(tuple(blocks))
        out.validate(desc)
        for where, node, attr, v in tied:
            fld = _ATTR_FIELD[node.role][attr]
            want = getattr(out.blocks[node.block], fld)
            if v != want:
                raise FoldingError(
                    f"{where}: {attr}={v!r} differs from {_PARAM[fld]}={want!r} "
                    "(this hardware ties them)"
                )
        return out

    def save(
        self, path: Path | str, desc: NetworkDescription, fifos: Sequence[FifoSpec] | None = None
    ) -> Path:
        """Write :meth:`to_finn_json` atomically (indented JSON)."""
        return write_text_atomic(path, json.dumps(self.to_finn_json(desc, fifos), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path | str, desc: NetworkDescription) -> FoldingConfig:
        """Read a FINN folding config written by :meth:`save` (or by hand).

        Raises
        ------
        FoldingError
            Missing file, invalid JSON, or what :meth:`from_finn_json` refuses (with the path).
        """
        path = Path(path)
        if not path.is_file():
            raise FoldingError(f"{path}: folding config not found")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise FoldingError(f"{path}: invalid JSON ({exc})") from exc
        try:
            return cls.from_finn_json(data, desc)
        except FoldingError as exc:
            raise FoldingError(f"{path}: {exc}") from exc

    def to_block_foldings(self) -> tuple:
        """The same folding as :class:`ecgaccel.hw.dataflow.BlockFolding` tuples (for
        :func:`ecgaccel.hw.dataflow.plan_dataflow`)."""
        from .dataflow import BlockFolding

        return tuple(BlockFolding(pe=b.pe, simd=b.simd, swg_simd=b.swg_simd,
                                  pool_serial=b.pool_serial) for b in self.blocks)  # fmt: skip


_PARAM = {
    "pe": "MVAU PE",
    "simd": "MVAU SIMD",
    "swg_simd": "SWG SIMD",
    "ram_style": "MVAU ram_style",
    "swg_ram_style": "SWG ram_style",
    "res_type": "MVAU resType",
    "mem_mode": "MVAU mem_mode",
}

# FINN attribute → BlockFold field, per node role
_ATTR_FIELD: dict[str, dict[str, str]] = {
    "mvau": {
        "PE": "pe",
        "SIMD": "simd",
        "ram_style": "ram_style",
        "resType": "res_type",
        "mem_mode": "mem_mode",
    },
    "swg": {"SIMD": "swg_simd", "ram_style": "swg_ram_style"},
    "pad": {"SIMD": "swg_simd"},
    "pool_swg": {"SIMD": "pe"},
    "pool": {"PE": "pe"},
    "threshold": {"PE": "pe"},
}
_ROLE_ATTRS = {role: set(m) for role, m in _ATTR_FIELD.items()}


def _node_attrs(role: str, b: BlockFold) -> dict:
    return {attr: getattr(b, fld) for attr, fld in _ATTR_FIELD[role].items()}


@dataclass(frozen=True)
class FinnNode:
    """A FINN node a block becomes: ``name`` (``<op_type>_<n>``), ``block`` index, ``role``
    (``pad``, ``swg``, ``mvau``, ``pool_swg``, ``pool``, ``threshold``)."""

    name: str
    block: int
    role: str


def finn_node_names(desc: NetworkDescription) -> list[FinnNode]:
    """FINN-style names of the stages of ecgaccel's own dataflow pipeline
    (:mod:`ecgaccel.hw.dataflow`), in graph order, as ``GiveUniqueNodeNames`` would name them
    (``<op_type>_<n>``, ``n`` counted per op type): the keys of ecgaccel's folding files
    (``--fold``). They are not the nodes of the FINN hand-off, whose graph differs (split
    channels, padding in front of the thresholds, ``ChannelwiseOp`` layers): those names and
    that folding come from :mod:`ecgaccel.hw.finn_folding`.

    Per block: ``FMPadding_rtl`` (when padded; FINN pads in a separate node) →
    ``ConvolutionInputGenerator_rtl`` → ``MVAU_hls`` (``standalone_thresholds``) → pooling:
    ``StreamingMaxPool_hls`` when ``pool_kernel == pool_stride``, else (overlapping windows,
    FINN's ``InferPool``) a depthwise ``ConvolutionInputGenerator_rtl`` + ``Pool_hls`` →
    ``Thresholding_rtl`` (not in the last block: the head stays outside FINN's dataflow
    partition). This is the expected lowering, not a guarantee: if FINN lowers the graph
    differently, ``ApplyConfig`` warns about the names it does not find.
    """
    counts: dict[str, int] = {}
    out: list[FinnNode] = []

    def add(op: str, i: int, role: str) -> None:
        n = counts.get(op, 0)
        counts[op] = n + 1
        out.append(FinnNode(f"{op}_{n}", i, role))

    for i, layer in enumerate(desc.layers):
        if layer.pad_left or layer.pad_right:
            add("FMPadding_rtl", i, "pad")
        add("ConvolutionInputGenerator_rtl", i, "swg")
        add("MVAU_hls", i, "mvau")
        if layer.pool_kernel == layer.pool_stride:
            add("StreamingMaxPool_hls", i, "pool")
        else:
            add("ConvolutionInputGenerator_rtl", i, "pool_swg")
            add("Pool_hls", i, "pool")
        if layer.thresholds is not None:
            add("Thresholding_rtl", i, "threshold")
    return out


def block_label(desc: NetworkDescription, i: int) -> str:
    """``block <i + 1> (<layer name>)``: how errors name a block."""
    return f"block {i + 1} ({desc.layers[i].name})"


# --------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class LayerEstimate:
    """One hardware layer of the pipeline with its estimates.

    Attributes
    ----------
    block:
        Block index (0-based).
    name:
        ``<layer>.<kind>``, e.g. ``block2.mvau``.
    kind:
        ``wc_in`` (width converter before the SWG), ``swg``, ``wc`` (SWG → MVAU converter),
        ``mvau``, ``pool``, ``threshold`` or ``head``.
    params:
        The folding that matters for it, e.g. ``"PE=4 SIMD=32"``.
    cycles:
        Cycles of one frame (window) at full rate (the layer's ``estimate_cycles``).
    resources:
        ``{"lut", "ff", "bram", "dsp"}`` (the layer's ``estimate_resources``; ``bram`` in
        18-kbit blocks).
    """

    block: int
    name: str
    kind: str
    params: str
    cycles: int
    resources: dict[str, int]

    @property
    def counts_for_ii(self) -> bool:
        """Compute layers count for II and latency; width converters do not."""
        return self.kind not in ("wc_in", "wc")


@dataclass(frozen=True)
class FifoSpec:
    """A joint between two stages and the FIFO depth it needs (:func:`fifo_depths`).

    Attributes
    ----------
    name:
        ``<layer>.<producer>-><consumer>``.
    block:
        Block of the consumer.
    producer, consumer:
        Stage kinds (see :class:`LayerEstimate`), ``input`` for the network input.
    width:
        Bits of a beat.
    depth:
        Beats; :data:`SHALLOW_FIFO` means no FIFO beyond the register slices is needed.
    reason:
        The bound's terms in words.
    finn_consumer:
        FINN node name of the consumer (where ``inFIFODepths`` goes), or ``None``.
    """

    name: str
    block: int
    producer: str
    consumer: str
    width: int
    depth: int
    reason: str
    finn_consumer: str | None = None

    def resources(self) -> dict[str, int]:
        """Estimated resources of a :class:`~ecgaccel.hw.layers.StreamFifo` this deep (zero
        when shallow: the joint needs none)."""
        if self.depth <= SHALLOW_FIFO:
            return dict.fromkeys(RESOURCE_KEYS, 0)
        return StreamFifo(self.width, self.depth).estimate_resources()


class _Estimator:
    """Layer estimates of one description, cached by (block, kind, parameters)."""

    def __init__(self, desc: NetworkDescription, in_lanes: int) -> None:
        self.desc, self.in_lanes = desc, in_lanes
        self._w = [conv_weight_matrix(layer.weights) for layer in desc.layers]
        self._cache: dict[tuple, tuple[int, dict[str, int]]] = {}

    def _get(
        self, key: tuple, make: Callable[[], object], *cyc_args: int
    ) -> tuple[int, dict[str, int]]:
        if key not in self._cache:
            comp = make()
            self._cache[key] = (comp.estimate_cycles(*cyc_args), comp.estimate_resources())
        return self._cache[key]

    def swg_params(self, i: int, s: int) -> SwgParams:
        return SwgParams.of_layer(self.desc.layers[i], s)

    def mvau_params(self, i: int, simd: int, pe: int) -> MvauParams:
        lay = self.desc.layers[i]
        return MvauParams(
            self._w[i], lay.conv_length, pe, simd, lay.input_bits, weight_bits=lay.weight_bits
        )

    def swg(self, i: int, s: int) -> tuple[int, dict[str, int]]:
        return self._get(("swg", i, s), lambda: SlidingWindowGenerator(self.swg_params(i, s)))

    def mvau(self, i: int, simd: int, pe: int) -> tuple[int, dict[str, int]]:
        return self._get(("mvau", i, simd, pe), lambda: MVAU(self.mvau_params(i, simd, pe)))

    def pool_params(self, i: int, pe: int, serial: bool = False) -> PoolParams:
        lay = self.desc.layers[i]
        width = self.mvau_params(i, 1, 1).width
        return PoolParams(lay.out_channels, lay.conv_length, lay.pool_kernel, lay.pool_stride,
                          pe, width, serial)  # fmt: skip

    def pool(self, i: int, pe: int, serial: bool = False) -> tuple[int, dict[str, int]]:
        return self._get(("pool", i, pe, serial),
                         lambda: MaxPoolLayer(self.pool_params(i, pe, serial)))  # fmt: skip

    def out_layer(self, i: int, pe: int) -> tuple[int, dict[str, int]]:
        lay = self.desc.layers[i]
        pp = self.pool_params(i, pe)
        if lay.thresholds is not None:
            th_cls, tp = threshold_stage(lay.thresholds, pp.out_length, pe, pp.width)
            return self._get(("thr", i, pe), lambda: th_cls(tp))
        hp = HeadParams(self.desc.head, pp.out_length, pe, pp.width)
        return self._get(("head", i, pe), lambda: HeadLayer(hp))

    def wc(self, n_in: int, a: int, b: int, lane: int) -> tuple[int, dict[str, int]]:
        return self._get(("wc", n_in, a, b, lane), lambda: StreamWidthConverter(a, b, lane), n_in)

    def block_cycles(self, i: int, b: BlockFold) -> dict[str, int]:
        """Cycles of the block's compute layers by kind (for the folding searches)."""
        return {
            "swg": self.swg(i, b.swg_simd)[0],
            "mvau": self.mvau(i, b.simd, b.pe)[0],
            "pool": self.pool(i, b.pe, b.pool_serial)[0],
            "out": self.out_layer(i, b.pe)[0],
        }

    def stages(self, cfg: FoldingConfig) -> list:
        """:func:`~ecgaccel.hw.dataflow.lower` of ``cfg``: the pipeline's stages."""
        from .dataflow import lower

        return lower(self.desc, cfg.to_block_foldings(), self.in_lanes)

    def layers(self, cfg: FoldingConfig, stages: list | None = None) -> list[LayerEstimate]:
        """The estimates of every stage of ``cfg`` (``stages``: :meth:`stages` of it), each
        from the component itself (cached by block, kind, folding and input beats)."""
        out: list[LayerEstimate] = []
        for st in stages if stages is not None else self.stages(cfg):
            key = ("stage", st.block, st.kind, st.params, st.beats_in)
            if key not in self._cache:
                comp = st.build()
                self._cache[key] = (st.estimate_cycles(comp), comp.estimate_resources())
            cyc, res = self._cache[key]
            name = f"{self.desc.layers[st.block].name}.{st.kind}"
            out.append(LayerEstimate(st.block, name, st.kind, st.params, cyc, dict(res)))
        return out


@dataclass(frozen=True)
class FoldingResult:
    """A folding with its per-layer estimates (returned by :func:`set_folding` and
    :func:`estimate_folding`).

    Attributes
    ----------
    config:
        The folding.
    layers:
        Per-layer estimates in stream order.
    fifos:
        The joints and their FIFO depths (:func:`fifo_depths`).
    target_cycles, budget:
        What :func:`set_folding` was asked for (``None`` when not).
    """

    config: FoldingConfig
    layers: tuple[LayerEstimate, ...]
    fifos: tuple[FifoSpec, ...]
    target_cycles: int | None = None
    budget: dict[str, int] | None = field(default=None)

    @property
    def ii(self) -> int:
        """Initiation interval in cycles: the slowest compute layer (FINN's ``max_cycles``)."""
        return max(e.cycles for e in self.layers if e.counts_for_ii)

    @property
    def bottleneck(self) -> LayerEstimate:
        """The slowest compute layer."""
        return max((e for e in self.layers if e.counts_for_ii), key=lambda e: e.cycles)

    @property
    def latency(self) -> int:
        """Latency estimate in cycles: the sum of the compute layers' cycles (FINN's
        conservative ``critical_path_cycles``; overlapping layers make the real one shorter)."""
        return sum(e.cycles for e in self.layers if e.counts_for_ii)

    def resources(self, include_fifos: bool = True) -> dict[str, int]:
        """Summed estimates of every layer (and the non-shallow FIFOs): LUT, FF, BRAM (18 kbit),
        DSP."""
        total = dict.fromkeys(RESOURCE_KEYS, 0)
        items: list[dict[str, int]] = [e.resources for e in self.layers]
        if include_fifos:
            items += [f.resources() for f in self.fifos]
        for r in items:
            for k in RESOURCE_KEYS:
                total[k] += int(r.get(k, 0))
        return total

    def fits(self, budget: Mapping[str, int]) -> bool:
        """Whether :meth:`resources` is within ``budget`` (keys it names only)."""
        res = self.resources()
        return all(res[k] <= v for k, v in budget.items())

    def table(self) -> str:
        """A markdown table: one row per layer and per non-shallow FIFO, then the totals, II
        and latency (cycles)."""
        rows = [
            "| layer | folding | cycles | LUT | FF | BRAM18 | DSP |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for e in self.layers:
            r = e.resources
            cyc = str(e.cycles) if e.counts_for_ii else f"({e.cycles})"
            rows.append(
                f"| {e.name} | {e.params} | {cyc} | {r['lut']} | {r['ff']} | {r['bram']} "
                f"| {r['dsp']} |"
            )
        for f in self.fifos:
            if f.depth > SHALLOW_FIFO:
                r = f.resources()
                rows.append(
                    f"| {f.name} (FIFO) | depth={f.depth} | | {r['lut']} | {r['ff']} | "
                    f"{r['bram']} | {r['dsp']} |"
                )
        t = self.resources()
        rows.append(
            f"| **total** | II={self.ii} latency={self.latency} | | {t['lut']} | "
            f"{t['ff']} | {t['bram']} | {t['dsp']} |"
        )
        return "\n".join(rows)

    def summary(self) -> dict:
        """A JSON-serializable summary: ``ii``, ``latency``, ``bottleneck``, ``resources``,
        ``layers`` (name, params, cycles, resources), ``fifos`` (name, width, depth)."""
        return {
            "ii": self.ii,
            "latency": self.latency,
            "bottleneck": self.bottleneck.name,
            "target_cycles": self.target_cycles,
            "budget": self.budget,
            "resources": self.resources(),
            "layers": [
                {"name": e.name, "params": e.params, "cycles": e.cycles, "resources": e.resources}
                for e in self.layers
            ],
            "fifos": [
                {"name": f.name, "width": f.width, "depth": f.depth, "reason": f.reason}
                for f in self.fifos
            ],
        }


def estimate_folding(
    desc: NetworkDescription,
    config: FoldingConfig,
    in_lanes: int = DEFAULT_IN_LANES,
    *,
    _est: _Estimator | None = None,
    target_cycles: int | None = None,
    budget: Mapping[str, int] | None = None,
    depths: Sequence[int] | None = None,
) -> FoldingResult:
    """Per-layer cycles and resources, FIFO depths, II and latency of ``config``.

    ``depths``: one FIFO depth per joint (as :attr:`ecgaccel.hw.dataflow.DataflowPlan.fifo_depths`)
    instead of :func:`fifo_depths`' bound (the joints' reasons then say so).

    Raises
    ------
    FoldingError
        ``config`` does not fit ``desc`` (see :meth:`FoldingConfig.validate`), or ``depths``
        is not one per joint.
    """
    config.validate(desc, in_lanes)
    est = _est or _Estimator(desc, in_lanes)
    fifos = _fifo_depths(desc, config, in_lanes, est)
    if depths is not None:
        if len(depths) != len(fifos):
            raise FoldingError(f"{len(depths)} FIFO depths for {len(fifos)} joints")
        fifos = [
            f if int(d) == f.depth else replace(f, depth=int(d), reason=f"given (bound: {f.depth})")
            for f, d in zip(fifos, depths, strict=True)
        ]
    return FoldingResult(
        config,
        tuple(est.layers(config)),
        tuple(fifos),
        target_cycles,
        dict(budget) if budget is not None else None,
    )


# --------------------------------------------------------------------------- folding search


def divisors(n: int) -> list[int]:
    """Divisors of ``n`` in increasing order (FINN's ``divisors``)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def _compatible(a: int, b: int) -> bool:
    return a % b == 0 or b % a == 0


def _first_meeting(cands: Sequence[int], cycles: Callable[[int], int], target: int) -> int:
    """The smallest candidate whose cycles are ≤ ``target``, else the last (fastest)."""
    for c in cands:
        if cycles(c) <= target:
            return c
    return cands[-1]


def _fold_for_target(desc: NetworkDescription, est: _Estimator, target: int) -> FoldingConfig:
    """FINN's ``SetFolding`` pass at ``target`` cycles, block by block in stream order."""
    blocks = []
    prev = est.in_lanes
    for i, lay in enumerate(desc.layers):
        swg_c = [d for d in divisors(lay.in_channels) if _compatible(d, prev)]
        s = _first_meeting(swg_c, lambda d: est.swg(i, d)[0], target)  # noqa: B023
        simd_c = [d for d in divisors(lay.fan_in) if d % s == 0]
        simd = _first_meeting(simd_c, lambda d: est.mvau(i, d, 1)[0], target)  # noqa: B023
        pe = _first_meeting(
            divisors(lay.out_channels),
            lambda d: max(est.mvau(i, simd, d)[0], est.pool(i, d)[0], est.out_layer(i, d)[0]),  # noqa: B023
            target,
        )
        blocks.append(BlockFold(pe=pe, simd=simd, swg_simd=s))
        prev = pe
    return FoldingConfig(tuple(blocks))


def _repair(desc: NetworkDescription, blocks: list[BlockFold], in_lanes: int) -> list[BlockFold]:
    """Make lane counts legal after one parameter was raised: each SWG ``SIMD`` compatible with
    the lanes before it (the smallest legal value ≥ the current, else the largest), each MVAU
    ``SIMD`` a multiple of its SWG's (the smallest ≥ the current)."""
    out, prev = [], in_lanes
    for lay, b in zip(desc.layers, blocks, strict=True):
        s = b.swg_simd
        if not _compatible(s, prev):
            legal = [d for d in divisors(lay.in_channels) if _compatible(d, prev)]
            s = next((d for d in legal if d >= s), legal[-1])
        simd = b.simd
        if simd % s:
            simd = next(d for d in divisors(lay.fan_in) if d % s == 0 and d >= simd)
        out.append(replace(b, swg_simd=s, simd=simd))
        prev = b.pe
    return out


def _speedups(
    desc: NetworkDescription, cfg: FoldingConfig, i: int, kind: str, in_lanes: int
) -> list[FoldingConfig]:
    """Candidate foldings that raise one parameter of block ``i`` (the one that speeds up a
    layer of ``kind``) to its next legal value, repaired (:func:`_repair`)."""
    lay, b = desc.layers[i], cfg.blocks[i]
    changes: list[BlockFold] = []
    if kind == "swg":
        nxt = [d for d in divisors(lay.in_channels) if d > b.swg_simd]
        if nxt:
            changes.append(replace(b, swg_simd=nxt[0]))
    if kind == "mvau":
        nxt = [d for d in divisors(lay.fan_in) if d > b.simd and d % b.swg_simd == 0]
        if nxt:
            changes.append(replace(b, simd=nxt[0]))
    if kind in ("mvau", "pool", "threshold", "head"):
        nxt = [d for d in divisors(lay.out_channels) if d > b.pe]
        if nxt:
            changes.append(replace(b, pe=nxt[0]))
    out = []
    for nb in changes:
        blocks = list(cfg.blocks)
        blocks[i] = nb
        cand = FoldingConfig(tuple(_repair(desc, blocks, in_lanes)))
        try:
            cand.validate(desc, in_lanes)
        except FoldingError:
            continue
        out.append(cand)
    return out


def set_folding(
    desc: NetworkDescription,
    target_cycles: int | None = None,
    budget: Mapping[str, int] | None = None,
    in_lanes: int = DEFAULT_IN_LANES,
    two_pass_relaxation: bool = True,
) -> FoldingResult:
    """Choose the folding (FINN's ``SetFolding``), for a cycle target or a resource budget.

    ``target_cycles`` (FINN's ``target_cycles_per_frame``): block by block in stream order, the
    SWG's ``SIMD`` is raised over the divisors of ``C_in`` (compatible with the lanes before
    it), then the MVAU's ``SIMD`` over the divisors of ``MW`` (multiples of the SWG's), then
    ``PE`` over the divisors of ``C_out``, each to the smallest value whose layer estimate is
    ≤ ``target_cycles`` (else the largest). With ``two_pass_relaxation`` and an unreachable
    target (a layer cannot go faster, e.g. the one-channel first SWG), the pass runs again at
    the achieved II, so that the other layers are not folded more than the bottleneck needs
    (FINN's second pass).

    ``budget`` (e.g. :data:`ICE40_UP5K_BUDGET`, keys of ``estimate_resources``): start from the
    slowest folding (everything 1) and repeatedly speed up the slowest layer by one step of one
    parameter (the candidate leaving that layer fastest, fewest LUTs on ties) while the summed
    estimates (layers and FIFOs) stay within the budget; stop when the slowest layer cannot be
    sped up within it.

    Parameters
    ----------
    desc:
        The integer network.
    target_cycles:
        Cycles a frame (window) each layer should meet; exclusive with ``budget``.
    budget:
        ``{"lut": …, "bram": …, "dsp": …}`` upper bounds (LUT, 18-kbit BRAM, DSP).
    in_lanes:
        Samples a beat of the network input (a width converter feeds the first SWG).

    Returns
    -------
    FoldingResult
        The folding with per-layer cycles and resources, FIFO depths, II and latency.

    Raises
    ------
    FoldingError
        Neither or both of ``target_cycles`` / ``budget``; a target < 1; a budget even the
        slowest folding exceeds (the message gives its estimate).
    """
    if (target_cycles is None) == (budget is None):
        raise FoldingError("give exactly one of target_cycles or budget")
    est = _Estimator(desc, in_lanes)
    if target_cycles is not None:
        if target_cycles < 1:
            raise FoldingError(f"target_cycles must be ≥ 1, got {target_cycles}")
        cfg = _fold_for_target(desc, est, target_cycles)
        res = estimate_folding(desc, cfg, in_lanes, _est=est, target_cycles=target_cycles)
        if two_pass_relaxation and res.ii > target_cycles:
            cfg = _fold_for_target(desc, est, res.ii)
            res = estimate_folding(desc, cfg, in_lanes, _est=est, target_cycles=target_cycles)
        return res

    budget = dict(budget)  # type: ignore[arg-type]
    bad = sorted(set(budget) - set(RESOURCE_KEYS))
    if bad:
        raise FoldingError(f"unknown budget key(s) {bad}; use {list(RESOURCE_KEYS)}")
    cfg = _fold_for_target(desc, est, 2**62)  # slowest: everything 1 where legal
    res = estimate_folding(desc, cfg, in_lanes, _est=est, budget=budget)
    if not res.fits(budget):
        raise FoldingError(
            f"even the slowest folding needs {res.resources()}, over the budget {budget}"
        )
    while True:
        slow = res.bottleneck
        best: tuple[tuple[int, int], FoldingResult] | None = None
        for cand in _speedups(desc, res.config, slow.block, slow.kind, in_lanes):
            r = estimate_folding(desc, cand, in_lanes, _est=est, budget=budget)
            new = next(e for e in r.layers if e.name == slow.name).cycles
            if new >= slow.cycles or not r.fits(budget):
                continue
            key = (new, r.resources()["lut"])
            if best is None or key < best[0]:
                best = (key, r)
        if best is None:
            return res
        res = best[1]


AUTO_TARGET_CYCLES = 13_000
"""Cycle target of ``--fold auto`` (the shipped ECG-BNN's one-channel first SWG's floor is
~12,600 cycles)."""


def resolve_fold_config(desc: NetworkDescription, fold: str | Path | None,
                        target_cycles: int = AUTO_TARGET_CYCLES,
                        in_lanes: int = DEFAULT_IN_LANES) -> FoldingConfig:  # fmt: skip
    """The one meaning of every command's ``--fold``: ``None`` → the default folding (each
    block's MVAU takes a column a cycle, :func:`~ecgaccel.hw.dataflow.default_folding`);
    ``"auto"`` → :func:`set_folding` at ``target_cycles``; anything else → the FINN folding
    config JSON at that path (:meth:`FoldingConfig.load`, FINN's attributes kept).

    Raises
    ------
    FoldingError
        An unreadable file, or a folding that does not fit ``desc``.
    """
    if fold is None:
        from .dataflow import _folding_config, default_folding

        cfg = _folding_config(default_folding(desc))
        cfg.validate(desc, in_lanes)
        return cfg
    if str(fold) == "auto":
        return set_folding(desc, target_cycles=target_cycles, in_lanes=in_lanes).config
    return FoldingConfig.load(Path(fold), desc)


def resolve_fold(desc: NetworkDescription, fold: str | Path | None,
                 target_cycles: int = AUTO_TARGET_CYCLES,
                 in_lanes: int = DEFAULT_IN_LANES) -> tuple:  # fmt: skip
    """:func:`resolve_fold_config` as the per-block
    :class:`~ecgaccel.hw.dataflow.BlockFolding` tuple
    :func:`~ecgaccel.hw.dataflow.plan_dataflow` takes (``None``: exactly
    :func:`~ecgaccel.hw.dataflow.default_folding`, so that the plan's key does not change).

    Raises
    ------
    FoldingError
        As :func:`resolve_fold_config`.
    """
    if fold is None:
        from .dataflow import default_folding

        return default_folding(desc)
    return resolve_fold_config(desc, fold, target_cycles, in_lanes).to_block_foldings()


def serial_pools(
    desc: NetworkDescription, config: FoldingConfig, in_lanes: int = DEFAULT_IN_LANES
) -> FoldingConfig:
    """``config`` with every max-pool serial
    (:attr:`~ecgaccel.hw.layers.pool.PoolParams.serial`) whose serial cycles stay within the
    II: the same II, one memory per max-pool instead of one per open window, one comparator
    per lane instead of one per window.

    For devices without LUT RAM (the iCE40), where every memory, however shallow, takes a whole
    block RAM (or flip-flops): there the parallel max-pools of the ECG-BNN alone need 20 of the
    UP5K's 30 block RAMs. The layer estimates assume LUT RAM for memories up to
    :data:`~ecgaccel.hw.layers.common.LUTRAM_BITS` bits, so they may count a serial memory
    as block RAM where they count the parallel ones as LUT RAM; :func:`set_folding` therefore
    never makes this choice itself.

    Raises
    ------
    FoldingError
        ``config`` does not fit ``desc``.
    """
    est = _Estimator(desc, in_lanes)
    ii = estimate_folding(desc, config, in_lanes, _est=est).ii
    return FoldingConfig(tuple(
        replace(b, pool_serial=True) if est.pool(i, b.pe, True)[0] <= ii else b
        for i, b in enumerate(config.blocks)
    ))  # fmt: skip


# --------------------------------------------------------------------------- FIFO depths


def fifo_depths(
    desc: NetworkDescription, folding: FoldingConfig, in_lanes: int = DEFAULT_IN_LANES
) -> list[FifoSpec]:
    """FIFO depth of every joint of the pipeline (in front of each layer and width converter),
    by an analytical bound confirmed by simulation.

    Method (instead of FINN's ``InsertAndSetFIFODepths``, which simulates the stitched design
    with deep FIFOs and keeps each FIFO's maximum occupancy). A straight pipeline of
    valid/ready stages cannot deadlock, whatever its FIFO depths (no stage waits on a stage
    after it except through ``tready``, and nothing forks or joins), so FIFOs only buy
    throughput. A consumer that, per unit of work, accepts ``a`` beats and then refuses input
    for ``r`` cycles stalls its producer unless the beats arriving meanwhile can wait somewhere:

    * at most ``ceil(rate * r)`` beats arrive during a refusal, where ``rate`` is the fastest
      average rate the upstream can deliver at this joint: its beats per frame over the cycles
      of the slowest layer upstream (1 beat a cycle at the network input, whose producer is
      unknown);
    * buffering more than one unit (``a`` beats) cannot speed up a consumer that takes one unit
      at a time, so the joint needs ``need = min(a, ceil(rate * r))`` beats;
    * the producer side already holds ``held`` beats: 2 in every layer's output register slice
      (:data:`SHALLOW_FIFO`); a whole unit for an MVAU fed by its SWG (directly or through the
      width converter), whose line buffer keeps ``B - K ≥ S`` spare columns, i.e. the next
      position's window of ``SF`` beats; nothing at the network input.

    The joint gets a FIFO of ``need - held + SHALLOW_FIFO`` beats when ``need > held`` (the FIFO's
    own two cycles of latency stay free), else none (depth :data:`SHALLOW_FIFO`). Per consumer:

    * MVAU with ``NF > 1``: ``a = SF``, ``r = (NF - 1) * SF``: held by the SWG → none; but
      behind a width converter (SWG ``SIMD`` < MVAU ``SIMD``) the SWG makes one MVAU beat
      every ``SIMD / SWG SIMD`` cycles, too slow for the MVAU's burst of ``SF`` beats, so only
      the converter's slice holds anything (``held = 2``: measured on the UP5K folding, windows
      back to back: 141,421 cycles apart without these FIFOs, 101,696 with them, estimate
      101,698); with ``NF = 1`` it takes a beat every cycle;
    * SWG: its own line buffer holds ``B - K ≥ S`` spare columns → none;
    * width converter: upsizing never refuses; downsizing by ``n``: ``a = 1``, ``r = n - 1``
      → none behind a layer, ``1 + 2`` at the network input;
    * max-pool and thresholds take a beat every cycle → none; a serial max-pool: ``a = 1``,
      ``r = slots - 1`` → none (``need`` ≤ 1 beat, held by the MVAU's slice);
    * head: ``a`` = a frame, ``r = n_classes + 1`` (scores and class), but its input arrives at
      a few beats a frame → none unless the last layers are the bottleneck.

    Confirmed by simulation (``tests/sim/test_dataflow_fifos.py`` and ``docs/architecture.md``;
    shipped ECG-BNN, default folding, windows back to back at full rate): the II is 12,656
    cycles (estimate 12,658) with these depths (one 3-deep FIFO at the network input), with no
    FIFO at all, with the former bound (``SF + 2`` before every MVAU with ``NF > 1``,
    ``n_classes + 3`` before the head: 202 more LUTs and 203 more FFs) and with every joint a
    frame deep (FINN's starting point); only the latency of one window changes (13,385 /
    13,383 / 13,395 / 13,443 cycles: a FIFO adds its two cycles of latency).

    Returns
    -------
    list[FifoSpec]
        One per joint in stream order (network input → first stage included).
    """
    folding.validate(desc, in_lanes)
    return _fifo_depths(desc, folding, in_lanes, _Estimator(desc, in_lanes))


def _fifo_depths(
    desc: NetworkDescription, folding: FoldingConfig, in_lanes: int, est: _Estimator
) -> list[FifoSpec]:
    """:func:`fifo_depths`' rule at every joint of the lowered pipeline (the consumer of joint
    ``j`` is stage ``j`` of :func:`~ecgaccel.hw.dataflow.lower`)."""
    finn = {(n.block, n.role): n.name for n in finn_node_names(desc)}
    stages = est.stages(folding)
    layers = est.layers(folding, stages)
    specs: list[FifoSpec] = []
    prev_kind = "input"
    for j, st in enumerate(stages):
        a, r, held, why = _joint_rule(st, stages[j - 1] if j else None, len(desc.classes))
        t_up = max((e.cycles for e in layers[:j]), default=0)
        rate = 1.0 if t_up == 0 else min(1.0, st.beats_in / t_up)
        need = min(a, math.ceil(rate * r)) if r else 0
        depth = SHALLOW_FIFO if need <= held else need - held + SHALLOW_FIFO
        if r:
            why += (f"; ≤ {need} beats wait ({rate:.3g} beats/cycle arrive), "
                    f"the producer holds {held}")  # fmt: skip
        role = st.kind if st.kind in ("swg", "mvau", "pool", "threshold") else None
        specs.append(FifoSpec(f"{desc.layers[st.block].name}.{prev_kind}->{st.kind}", st.block,
                              prev_kind, st.kind, st.lanes_in * st.bits_in, depth, why,
                              finn.get((st.block, role)) if role else None))  # fmt: skip
        prev_kind = st.kind
    return specs


def _joint_rule(st, prev, n_classes: int) -> tuple[int, int, int, str]:
    """``(a, r, held, why)`` of the joint in front of stage ``st`` (:func:`fifo_depths`): the
    consumer accepts ``a`` beats, then refuses ``r`` cycles; the producer side (stage ``prev``,
    None at the network input) holds ``held`` beats."""
    held = 0 if prev is None else SHALLOW_FIFO  # the network input / a slice
    if st.kind == "wc_in":
        n_in, n_out = st.args[0], st.args[1]
        if n_in > n_out:
            n = n_in // n_out
            why = f"downsizing width converter takes 1 beat, refuses {n - 1} cycles"
            return 1, n - 1, held, why
        return 1, 0, held, "upsizing width converter never refuses"
    if st.kind == "swg":
        spare = st.p.buffer_columns - st.p.kernel
        why = f"SWG line buffer holds {spare} spare columns ≥ stride {st.p.stride}"
        return 1, 0, SHALLOW_FIFO, why
    if st.kind == "wc":
        return 1, 0, SHALLOW_FIFO, "upsizing width converter never refuses"
    if st.kind == "mvau":
        mp = st.p
        if mp.nf == 1:
            return 1, 0, SHALLOW_FIFO, "MVAU with NF=1 takes a beat every cycle"
        refuse = (mp.nf - 1) * mp.sf
        why = f"MVAU takes SF={mp.sf} beats, then refuses (NF-1)*SF={refuse} cycles; "
        if prev is not None and prev.kind == "wc":
            n = prev.args[1] // prev.args[0]  # MVAU SIMD / SWG SIMD
            return (mp.sf, refuse, SHALLOW_FIFO, why + f"its SWG makes a beat every {n} cycles "
                    "(width converter), so the next window must wait in a FIFO")  # fmt: skip
        return mp.sf, refuse, mp.sf, why + "the SWG's spare columns hold the next window"
    if st.kind == "pool":
        if st.p.serial:
            n = st.p.beat_cycles
            return 1, n - 1, SHALLOW_FIFO, f"serial max-pool takes a beat, refuses {n - 1} cycles"
        return 1, 0, SHALLOW_FIFO, "max-pool takes a beat every cycle"
    if st.kind == "threshold":
        return 1, 0, SHALLOW_FIFO, "thresholds take a beat every cycle"
    return (st.beats_in, n_classes + 1, SHALLOW_FIFO,
            f"head takes a frame, refuses {n_classes + 1} cycles (scores and class)")  # fmt: skip


def mvau_output_fifo_depth(fifos: Iterable[FifoSpec], block: int) -> int:
    """Depth for the FIFO :func:`~ecgaccel.hw.layers.chain.conv_block_layers` puts after the MVAU
    of ``block``: the MVAU → max-pool joint's depth, 0 (no FIFO) when shallow."""
    for f in fifos:
        if f.block == block and f.consumer == "pool":
            return 0 if f.depth <= SHALLOW_FIFO else f.depth
    raise FoldingError(f"no MVAU → max-pool joint for block index {block}")


def folding_from_arrays(
    desc: NetworkDescription,
    pe: Sequence[int],
    simd: Sequence[int],
    swg_simd: Sequence[int] | None = None,
) -> FoldingConfig:
    """A :class:`FoldingConfig` from per-block lists (SWG ``SIMD`` defaults to the largest
    divisor of ``C_in`` dividing the MVAU's ``SIMD``), validated.

    Raises
    ------
    FoldingError
        Lists of the wrong length or a folding :meth:`FoldingConfig.validate` refuses.
    """
    n = len(desc.layers)
    if len(pe) != n or len(simd) != n or (swg_simd is not None and len(swg_simd) != n):
        raise FoldingError(f"give one PE and SIMD per block ({n} blocks)")
    blocks = []
    for i, lay in enumerate(desc.layers):
        s = swg_simd[i] if swg_simd is not None else int(np.gcd(lay.in_channels, simd[i]))
        blocks.append(BlockFold(pe=int(pe[i]), simd=int(simd[i]), swg_simd=int(s)))
    cfg = FoldingConfig(tuple(blocks))
    cfg.validate(desc)
    return cfg
