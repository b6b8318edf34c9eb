"""Per-stage simulated cycles of a dataflow plan, FINN's way: every stage of the pipeline
simulated alone with free-flowing streams (FINN's per-node ``rtlsim`` cycles, compared with each
node's ``get_exp_cycles``).

:func:`stage_streams` pushes one real window through the chain of the stages' Python models
(:mod:`ecgaccel.hw.layers`), which gives every stage's input and expected output words;
:func:`simulate_stage_cycles` then puts all stages side by side in one Verilator build
(:func:`~ecgaccel.sim.layers_tb.run_layer_bench`), drives each with its own input words (two
frames with idle input cycles and output back-pressure, then one frame at full rate) and checks
every output word against the model (bit-exact per stage; a difference raises). The full-rate
frame's cycles, first input transfer to last output transfer, are the stage's simulated cycles.

Estimates: a compute layer's ``estimate_cycles()``; a FIFO's or width converter's
``estimate_cycles(n_in_beats)`` (their own figure, although the pipeline's II and latency leave
them out, see :meth:`~ecgaccel.hw.dataflow.DataflowPipeline.estimate_cycles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.lib import wiring

from ecgaccel.hw.dataflow import DataflowPlan, build_stages, layer_specs
from ecgaccel.hw.folding import SHALLOW_FIFO
from ecgaccel.hw.layers import (
    MVAU,
    HeadLayer,
    MaxPoolLayer,
    SlidingWindowGenerator,
    StreamFifo,
    StreamWidthConverter,
    ThresholdLayer,
    fifo_model,
    head_model,
    head_output_words,
    mvau_model,
    pack_lanes,
    pool_model,
    swg_model,
    threshold_model,
    width_converter_model,
)
from ecgaccel.hw.layers.common import beats_to_columns
from ecgaccel.hw.layers.threshold import MultiThresholdLayer, multithreshold_model

FINN_OPS: dict[type, str] = {
    SlidingWindowGenerator: "ConvolutionInputGenerator1D",
    MVAU: "MVAU",
    MaxPoolLayer: "StreamingMaxPool",
    ThresholdLayer: "Thresholding",
    MultiThresholdLayer: "Thresholding",
    HeadLayer: "GlobalAccPool+LabelSelect",
    StreamFifo: "StreamingFIFO",
    StreamWidthConverter: "StreamingDataWidthConverter",
}
"""The FINN op each stage class stands for (the table's ``op`` column)."""


@dataclass(frozen=True)
class StageStream:
    """One stage of a plan with one frame of its streams.

    Attributes
    ----------
    index:
        Position in :func:`~ecgaccel.hw.dataflow.stage_specs` order.
    name:
        The folding table's name (``block2.mvau``; a FIFO: ``block2.swg->mvau (FIFO)``).
    stage:
        The component (fresh, not elaborated).
    words_in, words_out:
        Input words of the frame and the Python model's output words.
    """

    index: int
    name: str
    stage: wiring.Component
    words_in: list[int]
    words_out: list[int]

    @property
    def op(self) -> str:
        """FINN's name of the op (:data:`FINN_OPS`)."""
        return FINN_OPS[type(self.stage)]

    @property
    def pe(self) -> int | None:
        """Output lanes a cycle (MVAU, max-pool, thresholds, head)."""
        return getattr(getattr(self.stage, "p", None), "pe", None)

    @property
    def simd(self) -> int | None:
        """Input lanes a cycle (SWG, MVAU)."""
        if isinstance(self.stage, SlidingWindowGenerator | MVAU):
            return self.stage.p.simd
        return None

    @property
    def params(self) -> str:
        """The folding in words (``PE=8 SIMD=16``, ``8->1 lanes``, ``depth=9``)."""
        st = self.stage
        if isinstance(st, StreamWidthConverter):
            return f"{st.in_lanes}->{st.out_lanes} lanes"
        if isinstance(st, StreamFifo):
            return f"depth={st.depth}"
        return " ".join(f"{k}={v}" for k, v in (("PE", self.pe), ("SIMD", self.simd)) if v)

    def estimate_cycles(self) -> int:
        """The stage's own estimate of one frame at full rate."""
        if isinstance(self.stage, StreamFifo | StreamWidthConverter):
            return self.stage.estimate_cycles(len(self.words_in))
        return self.stage.estimate_cycles()


def stage_model(stage: wiring.Component, lanes: np.ndarray) -> tuple[np.ndarray | None, list[int]]:
    """One frame of ``stage``'s Python model: input lanes int ``[n_beats, n_lanes]`` → output
    lanes (``None`` for the head, whose output is scores and a class) and output words."""
    out_width = stage.m_axis.tdata.shape().width
    if isinstance(stage, HeadLayer):
        scores, cls = head_model(lanes, stage.p)
        return None, head_output_words(scores, cls, stage.p.width)
    if isinstance(stage, StreamFifo):
        out = np.asarray(fifo_model(list(lanes))).reshape(lanes.shape)
    elif isinstance(stage, StreamWidthConverter):
        out = width_converter_model(lanes, stage.out_lanes)
    elif isinstance(stage, SlidingWindowGenerator):
        out = swg_model(beats_to_columns(lanes, stage.p.channels), stage.p)
    elif isinstance(stage, MVAU):
        out = mvau_model(lanes.reshape(-1, stage.p.simd), stage.p)
    elif isinstance(stage, MaxPoolLayer):
        out = pool_model(lanes, stage.p)
    elif isinstance(stage, ThresholdLayer):
        out = threshold_model(lanes, stage.p)
    elif isinstance(stage, MultiThresholdLayer):
        out = multithreshold_model(lanes, stage.p)
    else:
        raise TypeError(f"no Python model for {type(stage).__name__}")
    out = np.asarray(out, dtype=np.int64)
    return out, pack_lanes(out, out_width // out.shape[1])


def stage_names(plan: DataflowPlan) -> list[str]:
    """Names of :func:`~ecgaccel.hw.dataflow.stage_specs`' stages, as the folding table of
    :meth:`~ecgaccel.hw.dataflow.DataflowPlan.estimates` names its layers and FIFOs."""
    est = plan.estimates()
    if len(est.layers) != len(layer_specs(plan)):
        raise AssertionError("the folding pass and the pipeline disagree on the layers")
    names = []
    for layer, fifo, depth in zip(est.layers, est.fifos, plan.joint_depths(), strict=True):
        if depth > SHALLOW_FIFO:
            names.append(f"{fifo.name} (FIFO)")
        names.append(layer.name)
    return names


def stage_streams(plan: DataflowPlan, window: np.ndarray) -> list[StageStream]:
    """Every stage of ``plan`` with its input and expected output words for ``window`` (int8
    ``[1, L]`` or ``[L]``), from the chain of the stages' Python models."""
    x = np.asarray(window, dtype=np.int64).reshape(-1)
    if x.size != plan.desc.input_length:
        raise ValueError(f"window has {x.size} samples, the network takes "
                         f"{plan.desc.input_length}")  # fmt: skip
    lanes = x.reshape(-1, plan.in_lanes)  # sample p in lane p % in_lanes (the core's packing)
    out: list[StageStream] = []
    for i, (name, stage) in enumerate(zip(stage_names(plan), build_stages(plan), strict=True)):
        in_width = stage.s_axis.tdata.shape().width
        words_in = pack_lanes(lanes, in_width // lanes.shape[1])
        nxt, words_out = stage_model(stage, lanes)
        out.append(StageStream(i, name, stage, words_in, words_out))
        if nxt is not None:
            lanes = nxt
    return out


def simulate_stage_cycles(plan: DataflowPlan, window: np.ndarray, work_dir: Path, *,
                          idle: float = 0.3, pause: float = 0.3, seed: int = 0,
                          streams: Sequence[StageStream] | None = None
                          ) -> list[dict]:  # fmt: skip
    """Simulate every stage of ``plan`` alone (one Verilator build for all, in ``work_dir``).

    Each stage gets its input words of ``window`` (:func:`stage_streams`): two frames with
    idle input cycles (probability ``idle``) and output back-pressure (``pause``), then one
    frame with free-flowing streams; every output word of all three must equal the model's.

    Returns
    -------
    list[dict]
        Per stage in stream order: ``index``, ``name``, ``op``, ``pe``, ``simd``, ``params``,
        ``in_beats``, ``out_beats``, ``estimated`` and ``simulated`` cycles (full-rate frame,
        first input transfer to last output transfer, both counted), ``ratio``
        (simulated / estimated) and ``counts_for_ii`` (compute layers; FIFOs and width
        converters do not count for the pipeline's II and latency).

    Raises
    ------
    ecgaccel.sim.runner.SimulationError
        An output word differed from the model's (the cocotb log names stage and word).
    """
    from .layers_tb import BenchCase, run_layer_bench

    streams = list(streams) if streams is not None else stage_streams(plan, window)
    keys = [f"st{s.index:02d}" for s in streams]
    cases = {k: BenchCase(s.stage, s.words_in, s.words_out, idle=idle, pause=pause)
             for k, s in zip(keys, streams, strict=True)}  # fmt: skip
    cycles = run_layer_bench(cases, Path(work_dir).resolve(), seed=seed)  # cocotb runs elsewhere
    rows = []
    for k, s in zip(keys, streams, strict=True):
        est = s.estimate_cycles()
        rows.append({
            "index": s.index, "name": s.name, "op": s.op, "pe": s.pe, "simd": s.simd,
            "params": s.params, "in_beats": len(s.words_in), "out_beats": len(s.words_out),
            "estimated": est, "simulated": cycles[k], "ratio": cycles[k] / est,
            "counts_for_ii": not isinstance(s.stage, StreamFifo | StreamWidthConverter),
        })  # fmt: skip
    return rows


def stage_summary(rows: Sequence[dict]) -> dict[str, int]:
    """Pipeline figures from per-stage rows (compute layers only, as FINN's
    ``dataflow_performance``): ``ii_estimated`` / ``ii_simulated`` (the slowest layer) and
    ``latency_estimated`` / ``latency_simulated`` (the sum over the layers)."""
    comp = [r for r in rows if r["counts_for_ii"]]
    return {
        "ii_estimated": max(r["estimated"] for r in comp),
        "ii_simulated": max(r["simulated"] for r in comp),
        "latency_estimated": sum(r["estimated"] for r in comp),
        "latency_simulated": sum(r["simulated"] for r in comp),
    }


def stage_cycles_table(rows: Sequence[dict]) -> str:
    """A markdown table: layer, op, PE, SIMD, cycles estimated / simulated, and their ratio
    (cycles of FIFOs and width converters in parentheses: not part of II and latency)."""
    lines = ["| layer | op | PE | SIMD | cycles estimated | cycles simulated | sim/est |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        est, sim = r["estimated"], r["simulated"]
        if not r["counts_for_ii"]:
            est, sim = f"({est})", f"({sim})"
        op = r["op"] if r["pe"] or r["simd"] else f"{r['op']} ({r['params']})"
        lines.append(f"| {r['name']} | {op} | {r['pe'] or ''} | {r['simd'] or ''} | {est} "
                     f"| {sim} | {r['ratio']:.3f} |")  # fmt: skip
    return "\n".join(lines)
