"""cocotb bench of the dataflow layers (:mod:`ecgaccel.hw.layers`) against their Python models.

Several layers share one Verilator build: :class:`LayerBench` puts them side by side in one top
with ports ``<name>_s__*`` / ``<name>_m__*`` (the shared clock and reset), and
:func:`run_layer_bench` builds it, writes the stimulus and runs :func:`layer_streams`, which
drives every layer at once. Per layer, with its own seeded random generator:

1. two frames back to back with idle input cycles (probability ``idle``) and output
   back-pressure (``pause``): every output word must equal the expected words (the Python
   model's), ``tlast`` exactly on each frame's last word;
2. one frame with no stalls: the words again, and the cycles from the first input transfer to
   the last output transfer (both counted), returned for the caller to compare with
   ``estimate_cycles()``.

Configured by ``ECGACCEL_STIM`` (JSON: ``clock_ns`` and ``duts``: per layer ``name``,
``in`` and ``out`` (words of one frame per port), ``idle``, ``pause``, ``seed``, ``watchdog``
(cycles a pass may take before it fails as a deadlock)) and
``ECGACCEL_RESULT`` (JSON written: ``{name: cycles}``).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cocotb
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, SimTimeoutError, with_timeout

from ecgaccel.hw.stream import AxiStreamSignature

from .axis import StreamSink, StreamSource

CLOCK_NS = 10
"""Clock period of the bench."""


def stream_ports(dut: wiring.Component) -> dict[str, tuple[str, wiring.Member]]:
    """The bench port suffix of each stream member of ``dut``: ``s_axis`` → ``s``,
    ``s_axis_1`` → ``s1``, ``m_axis`` → ``m``, ``m_axis_2`` → ``m2``: ``{suffix: (member name,
    member)}``, inputs first."""
    ports = {}
    for key, member in dut.signature.members.items():
        head, _, index = key.partition("_axis")
        if head in ("s", "m") and member.is_signature:
            ports[head + index.lstrip("_")] = (key, member)
    return dict(sorted(ports.items(), key=lambda kv: (kv[0][0] != "s", kv[0])))


class LayerBench(wiring.Component):
    """Independent stream components side by side in one top (one Verilator build).

    Members
    -------
    <name>_s, <name>_s1, … : In(AxiStreamSignature(...))
        The inputs of the layer ``name`` (Verilog ``<name>_s__tdata`` …; :func:`stream_ports`).
    <name>_m, <name>_m1, … : Out(AxiStreamSignature(...))
        Its outputs.
    """

    def __init__(self, duts: Mapping[str, wiring.Component]) -> None:
        self.duts = dict(duts)
        members = {}
        for name, dut in self.duts.items():
            for suffix, (key, _) in stream_ports(dut).items():
                width = getattr(dut, key).tdata.shape().width
                members[f"{name}_{suffix}"] = (In if suffix[0] == "s" else Out)(
                    AxiStreamSignature(width)
                )
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        for name, dut in self.duts.items():
            m.submodules[name] = dut
            for suffix, (key, _) in stream_ports(dut).items():
                port = getattr(self, f"{name}_{suffix}")
                if suffix[0] == "s":
                    wiring.connect(m, wiring.flipped(port), getattr(dut, key))
                else:
                    wiring.connect(m, getattr(dut, key), wiring.flipped(port))
        return m


def mark_ports_public(source: str) -> str:
    """Mark the top module's ports (the first module of Amaranth's output) public for
    Verilator, so the bench builds with :class:`~.runner.PortsOnlyVerilator` (every other
    signal private: a faster build and simulation)."""
    end = source.index("endmodule")
    head = re.sub(
        r"^(  (?:input|output) (?:\[[^\]]*\] )?\w+);$",
        r"\1 /*verilator public_flat_rw*/;",
        source[:end],
        flags=re.MULTILINE,
    )
    return head + source[end:]


@dataclass(frozen=True)
class BenchCase:
    """One layer on the bench: the component, one frame of input words and the expected output
    words (from the Python model), and the stall probabilities of the first pass. A layer with
    several streams takes ``{port suffix: words}`` (:func:`stream_ports`: ``s``, ``s1``, …,
    ``m``, ``m1``, …); a list stands for ``s`` / ``m``."""

    dut: wiring.Component
    words_in: Sequence[int] | Mapping[str, Sequence[int]]
    words_out: Sequence[int] | Mapping[str, Sequence[int]]
    idle: float = 0.3
    pause: float = 0.3
    watchdog: int | None = None

    def ports(self, words, kind: str) -> dict[str, list[int]]:
        """``{suffix: words}`` of ``words_in`` (``kind`` ``s``) or ``words_out`` (``m``)."""
        given = words if isinstance(words, Mapping) else {kind: words}
        return {k: [int(w) for w in v] for k, v in given.items()}


def run_layer_bench(cases: Mapping[str, BenchCase], build_dir: Path, seed: int = 0
                    ) -> dict[str, int]:  # fmt: skip
    """Build a :class:`LayerBench` of ``cases`` in ``build_dir``, run :func:`layer_streams`.

    Returns
    -------
    dict
        Per layer name, the simulated cycles of the no-stall frame (first input transfer to
        last output transfer, both counted).

    Raises
    ------
    ecgaccel.sim.runner.SimulationError
        An output word differed (the cocotb log names the layer, the index and both words).
    """
    from .runner import run_cocotb

    build_dir.mkdir(parents=True, exist_ok=True)
    top = LayerBench({name: c.dut for name, c in cases.items()})
    src = build_dir / "layer_bench.v"
    src.write_text(mark_ports_public(verilog.convert(top, name="layer_bench")))
    stim = {
        "clock_ns": CLOCK_NS,
        "duts": [
            {"name": name, "in": c.ports(c.words_in, "s"), "out": c.ports(c.words_out, "m"),
             "idle": c.idle, "pause": c.pause, "seed": seed * 1000 + i,
             "watchdog": c.watchdog}
            for i, (name, c) in enumerate(cases.items())
        ],
    }  # fmt: skip
    stim_path, result_path = build_dir / "stim.json", build_dir / "result.json"
    stim_path.write_text(json.dumps(stim))
    run_cocotb([src], "layer_bench", "ecgaccel.sim.layers_tb", build_dir / "sim",
               testcase="layer_streams", ports_only=True,
               log_file=build_dir / "sim.log", build_log=build_dir / "build.log",
               extra_env={"ECGACCEL_STIM": str(stim_path),
                          "ECGACCEL_RESULT": str(result_path)})  # fmt: skip
    return {k: int(v) for k, v in json.loads(result_path.read_text()).items()}


def _check(name: str, what: str, got: list[int], want: list[int]) -> None:
    if got == want:
        return
    if len(got) != len(want):
        raise AssertionError(f"{name} {what}: {len(got)} output words, expected {len(want)}")
    i = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
    raise AssertionError(f"{name} {what}: word {i} is {got[i]:#x}, expected {want[i]:#x}")


async def _send_frames(src: StreamSource, words: list[int], frames: int) -> None:
    for _ in range(frames):
        await src.send(words)


async def _receive_frames(sink: StreamSink, name: str, what: str, want: list[int],
                          frames: int) -> None:  # fmt: skip
    for frame in range(frames):
        _check(name, f"{what} {frame}", await sink.receive(), want)


async def _all(tasks: list) -> None:
    for t in tasks:
        await t


async def _pass(dut, d: dict, srcs: dict, sinks: dict, frames: int, what: str,
                clock_ns: int) -> None:  # fmt: skip
    """Send ``frames`` frames on every input and check them on every output, all at once (a
    fork stalls unless all its readers take beats). The watchdog: a pass that has not ended
    after ``watchdog`` cycles (stimulus; default 50 per word of the longest stream + 1,000)
    fails, naming the layer, instead of hanging (a deadlock)."""
    tasks = [cocotb.start_soon(_send_frames(src, d["in"][k], frames)) for k, src in srcs.items()]
    tasks += [cocotb.start_soon(_receive_frames(sink, f"{d['name']} {k}", what, d["out"][k],
                                                frames)) for k, sink in sinks.items()]  # fmt: skip
    longest = max(len(w) for w in [*d["in"].values(), *d["out"].values()])
    limit = int(d.get("watchdog") or 50 * longest * frames + 1000)
    try:
        await with_timeout(_all(tasks), limit * clock_ns, "ns")
    except SimTimeoutError:
        for t in tasks:
            t.cancel()
        raise AssertionError(
            f"{d['name']} {what}: watchdog: no complete frame after {limit} cycles (a deadlock?)"
        ) from None


async def _drive(dut, d: dict, clock_ns: int) -> int:
    name = d["name"]
    rng = random.Random(d["seed"])
    srcs = {k: StreamSource(dut, dut.clk, f"{name}_{k}", idle=d["idle"], rng=rng,
                            sample_at_edge=True) for k in d["in"]}  # fmt: skip
    sinks = {k: StreamSink(dut, dut.clk, f"{name}_{k}", pause=d["pause"], rng=rng)
             for k in d["out"]}  # fmt: skip
    # pass 1: two frames with idle input cycles and output back-pressure
    await _pass(dut, d, srcs, sinks, 2, "stalled frame", clock_ns)
    await ClockCycles(dut.clk, 4)
    await FallingEdge(dut.clk)
    # pass 2: one frame at full rate; cycles from the first input to the last output transfer
    for src in srcs.values():
        src.idle = 0.0
    for sink in sinks.values():
        sink.pause = 0.0
    await _pass(dut, d, srcs, sinks, 1, "full-rate frame", clock_ns)
    first = min(src.first_accept_ns for src in srcs.values())
    last = max(sink.last_accept_ns for sink in sinks.values())
    return round((last - first) / clock_ns) + 1


@cocotb.test()
async def layer_streams(dut):
    """Every layer of the stimulus: stalled frames and a full-rate frame vs expected words."""
    stim = json.loads(Path(os.environ["ECGACCEL_STIM"]).read_text())
    clock_ns = int(stim["clock_ns"])
    cocotb.start_soon(Clock(dut.clk, clock_ns, unit="ns").start())
    for d in stim["duts"]:
        for k in d["in"]:
            getattr(dut, f"{d['name']}_{k}__tvalid").value = 0
        for k in d["out"]:
            getattr(dut, f"{d['name']}_{k}__tready").value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    tasks = {d["name"]: cocotb.start_soon(_drive(dut, d, clock_ns)) for d in stim["duts"]}
    cycles = {name: await task for name, task in tasks.items()}
    Path(os.environ["ECGACCEL_RESULT"]).write_text(json.dumps(cycles))
