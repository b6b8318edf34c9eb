"""Random integer network graphs for the dataflow back end's fuzzer.

:func:`random_graph` draws, from a seed, a small 1-D residual network directly as an
:class:`~.graph.IntGraph` (no training, no torch): a stem convolution, one to three residual
blocks (identity shortcut, or a strided main path with a 1x1 strided projection), an optional
max-pool, and a head (global sum pooling + fully connected, or a class-per-channel sum head),
with weight bits among 1 (after a binary activation), 2, 3, 4 and activation bits among 1, 2, 3,
4. Thresholds are quantiles of the accumulators a batch of random windows reaches, so the
levels spread. The graphs are what the compiler front end emits for such networks
(:mod:`.graph`), and :func:`ecgaccel.sim.core_sim.simulate_core` checks the RTL of their
:class:`~.graph_dataflow.GraphPipeline` against :meth:`~.graph.IntGraph.run`.
"""

from __future__ import annotations

import numpy as np

from .graph import (
    AddStreams,
    Conv,
    DuplicateStreams,
    GlobalAccPool,
    GraphInput,
    IntGraph,
    LabelSelect,
    LinearHead,
    MaxPool,
    MultiThreshold,
    Node,
    SumHead,
    TensorType,
    signed,
)


class _Builder:
    """Nodes appended one by one, each run at once on a sample batch (for the thresholds)."""

    def __init__(self, rng: np.random.Generator, x: np.ndarray, gin: GraphInput) -> None:
        self.rng = rng
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {gin.name: gin.type}
        self.vals: dict[str, np.ndarray] = {gin.name: x}

    def add(self, node: Node) -> str:
        types = [self.types[t] for t in node.inputs]
        self.types[node.name] = node.infer(types)
        self.vals[node.name] = node.run([self.vals[t] for t in node.inputs], types)
        self.nodes.append(node)
        return node.name

    def conv(self, name: str, src: str, c_out: int, k: int, stride: int = 1,
             pad: int | None = None, kh: int = 1, pad_rows: int = 0) -> str:  # fmt: skip
        t = self.types[src]
        wb = 1 if t.bipolar else int(self.rng.choice([2, 3, 4]))
        lim = 1 << (wb - 1)
        if wb == 1:
            w = self.rng.choice([-1, 1], size=(c_out, t.shape[0], kh, k))
        else:
            w = self.rng.integers(-lim, lim, size=(c_out, t.shape[0], kh, k))
        pad = k // 2 if pad is None else pad
        pad_value = 1 if t.bipolar else 0
        return self.add(
            Conv(
                name,
                (src,),
                weights=w.astype(np.int8),
                weight_bits=wb,
                stride=(1, stride),
                pads=(pad_rows, pad_rows, pad, pad),
                pad_value=pad_value,
            )
        )

    def act(self, name: str, src: str, bits: int) -> str:
        """Thresholds at quantiles of ``src``'s sample values: binary (``bits`` 1) or signed
        ``bits``-bit levels from ``-2^(bits-1)``."""
        v = self.vals[src]
        c = v.shape[1]
        steps = 1 if bits == 1 else (1 << bits) - 1
        q = np.linspace(0.1, 0.9, steps) if steps > 1 else np.array([0.5])
        t = np.stack([np.quantile(v[:, ch], q) for ch in range(c)]).round().astype(np.int64)
        t = np.sort(t + self.rng.integers(-1, 2, size=t.shape), axis=1)
        sign = np.ones_like(t, dtype=np.int8)
        if bits == 1:
            base = np.zeros(c, np.int64)
            flip = self.rng.random(c) < 0.25  # a decreasing channel (BatchNorm gamma < 0)
            sign[flip] = -1
            base[flip] = 1
            return self.add(MultiThreshold(name, (src,), thresholds=t, sign=sign, base=base))
        base = np.full(c, -(1 << (bits - 1)), np.int64)
        return self.add(MultiThreshold(name, (src,), thresholds=t, sign=sign, base=base,
                                       out_bits=bits))  # fmt: skip


def random_graph(seed: int, length: int = 64, n_classes: int = 4, batch: int = 64,
                 leads: int = 1) -> IntGraph:  # fmt: skip
    """A random residual integer graph (see the module docstring) of an int8 window
    ``[1, leads, length]``, ``n_classes`` classes, from ``seed``; ``batch`` random windows set
    the thresholds. Deterministic in its arguments.

    With ``leads`` > 1 the graph is lead x time: each convolution's kernel spans 1 or 3 leads
    (padded by one lead), and before the head either a convolution over all leads collapses
    them or the global pooling sums over leads and time (the 12-lead networks' two ways)."""
    rng = np.random.default_rng(seed)
    gin = GraphInput("x", signed((1, leads, length), 8), frac_bits=5)
    x = rng.integers(-128, 128, size=(batch, 1, leads, length))
    b = _Builder(rng, x, gin)
    bits = int(rng.choice([1, 2, 3, 4]))
    ch = int(rng.choice([2, 4, 8]))

    def rows() -> dict:  # a kernel over 1 or 3 leads (none drawn for one lead)
        kh = int(rng.choice([1, 3])) if leads > 1 else 1
        return {"kh": kh, "pad_rows": kh // 2}

    cur = b.act("stem.act", b.conv("stem.conv", "x", ch, int(rng.choice([3, 5, 7])), **rows()),
                bits)  # fmt: skip
    for i in range(int(rng.integers(1, 4))):
        p = f"res{i + 1}"
        stride = 2 if rng.random() < 0.35 and b.types[cur].shape[2] >= 16 else 1
        k = int(rng.choice([3, 5]))
        fork = b.add(DuplicateStreams(f"{p}.fork", (cur,)))
        main = b.act(f"{p}.act1", b.conv(f"{p}.conv1", fork, ch, k, stride, **rows()), bits)
        main = b.act(f"{p}.act2", b.conv(f"{p}.conv2", main, ch, k, **rows()), max(bits, 2))
        skip = fork
        if stride != 1:
            skip = b.act(f"{p}.proj.act", b.conv(f"{p}.proj", fork, ch, 1, stride, pad=0),
                         max(bits, 2))  # fmt: skip
        elif bits == 1:  # a bipolar skip cannot be added: requantize it
            skip = b.act(f"{p}.skip.act", b.conv(f"{p}.skip", fork, ch, 1, pad=0), 2)
        add = b.add(AddStreams(f"{p}.add", (main, skip), ka=1, kb=int(rng.choice([1, 2]))))
        cur = b.act(f"{p}.act", add, bits)
        if rng.random() < 0.3 and b.types[cur].shape[2] >= 8 and not b.types[cur].bipolar:
            cur = b.add(MaxPool(f"{p}.pool", (cur,), kernel=(1, 2), stride=(1, 2)))
    if leads > 1 and rng.random() < 0.5:  # one convolution over all leads
        cur = b.act("leads.act", b.conv("leads.conv", cur, ch, 1, pad=0, kh=leads), max(bits, 2))
    if rng.random() < 0.5 and not b.types[cur].bipolar:
        gap = b.add(GlobalAccPool("gap", (cur,)))
        w = rng.integers(-7, 8, size=(n_classes, b.types[gap].shape[0]))
        head = b.add(
            LinearHead(
                "head",
                (gap,),
                weights=w.astype(np.int8),
                weight_bits=4,
                bias=rng.integers(-64, 64, size=n_classes),
                frac_bits=0,
            )
        )
    else:
        last = b.conv("last.conv", cur, n_classes, 3)
        head = b.add(SumHead("head", (last,), a_pos=rng.integers(1, 512, size=n_classes),
                             a_neg=rng.integers(1, 512, size=n_classes),
                             bias=rng.integers(-4096, 4096, size=n_classes), frac_bits=8,
                             coef_bits=16))  # fmt: skip
    label = b.add(LabelSelect("label", (head,), k=1))
    classes = tuple(f"c{i}" for i in range(n_classes))
    return IntGraph(f"random-graph-{seed}", classes, (gin,), tuple(b.nodes), head, label)
