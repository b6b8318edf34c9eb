"""Chaining dataflow layers: :class:`StreamChain` connects stream components in order, and
:func:`conv_block_layers` makes the layers of one :class:`~ecgaccel.hw.description.ConvLayer`
(SWG → MVAU → max-pool → thresholds, or → head for the last layer), FINN's dataflow partition
of one block: the stages of :func:`~ecgaccel.hw.dataflow.lower_block`, the pipeline's own
lowering, built."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..description import ConvLayer, SumHead
from ..stream import AxiStreamSignature
from .common import check
from .fifo import StreamFifo


class StreamChain(wiring.Component):
    """Stream components in series: ``m_axis`` of stage ``i`` drives ``s_axis`` of stage
    ``i + 1`` (widths must match).

    Members
    -------
    s_axis : In(AxiStreamSignature(first stage's input width))
        Input of the first stage.
    m_axis : Out(AxiStreamSignature(last stage's output width))
        Output of the last stage.
    """

    def __init__(self, stages: Sequence[wiring.Component]) -> None:
        check(len(stages) >= 1, "a stream chain needs at least one stage")
        for i, (a, b) in enumerate(pairwise(stages)):
            wa, wb = a.m_axis.tdata.shape().width, b.s_axis.tdata.shape().width
            check(wa == wb, f"stage {i} outputs {wa}-bit beats, stage {i + 1} takes {wb}-bit")
        self.stages = list(stages)
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(stages[0].s_axis.tdata.shape().width)),
                "m_axis": Out(AxiStreamSignature(stages[-1].m_axis.tdata.shape().width)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        for i, st in enumerate(self.stages):
            m.submodules[f"stage{i}"] = st
        wiring.connect(m, wiring.flipped(self.s_axis), self.stages[0].s_axis)
        for a, b in pairwise(self.stages):
            wiring.connect(m, a.m_axis, b.s_axis)
        wiring.connect(m, self.stages[-1].m_axis, wiring.flipped(self.m_axis))
        return m

    def estimate_resources(self) -> dict[str, int]:
        """Sum over the stages."""
        total = {"lut": 0, "ff": 0, "bram": 0, "dsp": 0}
        for st in self.stages:
            for k, v in st.estimate_resources().items():
                total[k] += v
        return total


def conv_block_layers(layer: ConvLayer, simd: int, pe: int, head: SumHead | None = None,
                      fifo_depth: int = 0) -> list[wiring.Component]:  # fmt: skip
    """The dataflow layers of one block, in order: SWG (``simd``) → MVAU (``simd``, ``pe``) →
    max-pool (``pe``) → thresholds (``pe``), or → head for the last layer (``head`` given).
    With ``fifo_depth`` > 0, a :class:`~.fifo.StreamFifo` of that depth follows the MVAU.

    The input is the block's input stream (``simd`` channels a beat; ``input_bits``-bit
    integers or bits); the output ``pe`` bits (binary) or n-bit levels (WnAn) a beat, or the
    head's scores and class.

    Raises
    ------
    LayerConfigError
        ``simd`` / ``pe`` do not divide the channels, or a head is missing / superfluous.
    """
    from ..dataflow import BlockFolding, lower_block

    check((layer.thresholds is None) == (head is not None),
          f"{layer.name}: pass a head exactly when the layer has no thresholds")  # fmt: skip
    lowered = lower_block(layer, 0, BlockFolding(pe, simd), simd, layer.input_bits, 0, head)
    stages = [st.build() for st in lowered]
    if fifo_depth:
        stages.insert(2, StreamFifo(pe * stages[1].p.width, fifo_depth))
    return stages
