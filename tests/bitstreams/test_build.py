"""``ecgaccel.bitstreams.build``: pin constraints from the amaranth-boards platforms, and a whole
Amaranth → Yosys → nextpnr → icepack build of the smallest real design (the core at PE 1 /
SIMD 32 on the iCE40 UP5K)."""

from __future__ import annotations

import json

import pytest

from ecgaccel.artifacts import load_description
from ecgaccel.bitstreams.boards import BOARDS
from ecgaccel.bitstreams.build import (
    BuildRequest,
    DoesNotFitError,
    build,
    prepare_top,
    set_clock_constraint,
    slowest_clock,
)
from ecgaccel.hw.core_plan import plan_core


@pytest.fixture(scope="module")
def small_plan():
    return plan_core(load_description("ecgbnn5", "patient"), pe=1, simd=32)


@pytest.mark.parametrize(
    ("target", "lines"),
    [
        ("ice40-up5k", ["set_io clk12_0__io 35", "set_io uart_0__rx__io 6",
                        "set_io uart_0__tx__io 9", "set_frequency clk12_0__io 20"]),
        ("ecp5-25f", ['LOCATE COMP "clk25_0__io" SITE "G2";',
                      'LOCATE COMP "uart_0__rx__io" SITE "M1";',
                      'LOCATE COMP "uart_0__tx__io" SITE "L4";',
                      'FREQUENCY PORT "clk25_0__io" 20000000.0 HZ;']),
    ],
)  # fmt: skip
def test_pins_come_from_the_board_file(small_plan, target, lines):
    board = BOARDS[target]
    files, divider = prepare_top(small_plan, board, 115_200)
    assert divider == round(board.clk_hz / 115_200)
    name = next(n for n in files if n.endswith((".pcf", ".lpf")))
    text = set_clock_constraint(files[name], board.family, 20.0)
    for line in lines:
        assert line in text.splitlines()
    leds = [f"led_{i}__io" for i in (*board.class_leds, board.done_led, board.error_led)]
    assert all(led in text for led in leds)
    assert "module" not in files[name]
    assert files["ecg_top.il"].lstrip().startswith(("#", "attribute", "module", "autoidx"))


def test_constant_nets_are_not_clocks():
    clocks = {"$PACKER_GND_NET_$glb_clk": {"achieved_mhz": 256.0, "constraint_mhz": 12.0},
              "cd_sync.clk": {"achieved_mhz": 19.9, "constraint_mhz": 12.0}}  # fmt: skip
    assert slowest_clock(clocks) == 19.9
    assert slowest_clock({}) is None


def test_build_smallest_core_for_ice40(tmp_path):
    """The whole flow: measured 2-3 min on a busy 2-core machine (YoWASP cache warm)."""
    req = BuildRequest(target="ice40-up5k", model="ecgbnn5", protocol="patient", pe=1, simd=32)
    report, out = build(req, load_description("ecgbnn5", "patient"), tmp_path, command=["pytest"])
    assert out == tmp_path / "ice40-up5k" / "ecgbnn5-core"
    bitstream = out / "ecg_top.bin"
    assert bitstream.is_file() and bitstream.stat().st_size > 0
    assert report["bitstream"]["bytes"] == bitstream.stat().st_size
    assert json.loads((out / "report.json").read_text()) == report
    for name in ("report.md", "yosys.log", "nextpnr.log", "ecg_top.pcf"):
        assert (out / name).stat().st_size > 0, name
    assert report["status"] == "ok"
    util = report["utilization"]
    assert set(util) == {"lc", "ff", "bram", "dsp", "io"}
    for key, u in util.items():
        assert 0 < u["used"] <= u["available"], key
    assert util["io"]["available"] == 39 and util["io"]["used"] == 8  # clk, rx, tx, 5 LEDs
    assert report["fmax"]["achieved_mhz"] > 0
    assert "cd_sync.clk" in report["fmax"]["per_clock"]
    assert report["design"]["pe"] == 1 and report["design"]["simd"] == 32
    assert report["tool_versions"]["yosys"].startswith("Yosys ")
    assert not [p for p in (tmp_path / "ice40-up5k").iterdir() if p.name.startswith(".")]
    asic = json.loads((out / "asic.json").read_text())
    assert asic["transistors"] == report["asic"]["transistors"] > asic["cells"] > 0
    assert asic["memory_bits"] > 0 and (out / "yosys-asic.log").is_file()
    assert not (out / "asic").exists()


@pytest.mark.slow
def test_too_big_a_core_reports_does_not_fit(tmp_path):
    """PE 8 / SIMD 32 needs more LUT4s than the UP5K has logic cells: the report says so."""
    with pytest.raises(DoesNotFitError, match="does not fit ice40-up5k: Yosys maps it to"):
        build(
            BuildRequest(target="ice40-up5k", model="ecgbnn5", protocol="patient", pe=8, simd=32),
            load_description("ecgbnn5", "patient"),
            tmp_path,
        )
    out = tmp_path / "ice40-up5k" / "ecgbnn5-core"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "does-not-fit"
    assert (out / "yosys.log").is_file() and not (out / "ecg_top.bin").exists()
    assert not (out / "asic.json").exists()  # said as soon as Yosys knows, before the estimate


def test_bitstreams_and_hw_import_neither_models_nor_torch():
    """DESIGN.md's one-way dependencies: ``bitstreams`` imports ``hw``, ``hw`` imports nothing
    of the PyTorch side; reading a shipped description needs no PyTorch either."""
    import subprocess
    import sys

    code = ("import sys, ecgaccel.bitstreams.build, ecgaccel.bitstreams.asic\n"
            "import ecgaccel.hw.dataflow, ecgaccel.hw.graph, ecgaccel.hw.folding\n"
            "from ecgaccel.artifacts import load_description\n"
            "load_description('ecgbnn5', 'patient')\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m == 'brevitas' or "
            "m.startswith('ecgaccel.models.') and m != 'ecgaccel.models.shipped'))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_graph_network_builds_on_the_dataflow_back_end_only():
    """The shipped beat-rr graph takes the graph pipeline at its default folding; the core
    and ``--fold`` refuse it; the recorded design rebuilds the same plan
    (``plan_from_report``), and a changed folding is caught by its cycles; the report page
    names each node's PE / SIMD."""
    import dataclasses
    from pathlib import Path

    from ecgaccel.artifacts import load_network
    from ecgaccel.bitstreams.build import BuildError, format_markdown, make_plan, plan_from_report
    from ecgaccel.hw.byte_stream import ByteStreamPlan
    from ecgaccel.hw.graph_dataflow import GraphPlan

    graph = load_network("ecgbnn-beat-rr", "interpatient")
    req = BuildRequest("ecp5-85f", "ecgbnn-beat-rr", "interpatient", "dataflow")
    plan, design = make_plan(req, graph)
    assert isinstance(plan, GraphPlan) and design["graph"]
    assert design["cycles_per_inference"] == plan.estimates().ii
    assert ByteStreamPlan(plan).in_beats == 8 + 2 * 252  # the RR header beat, then two leads
    for bad, message in (({"backend": "core"}, "graph network: the hand-written core"),
                         ({"fold": Path("f.json")}, "takes the default folding")):  # fmt: skip
        with pytest.raises(BuildError, match=message):
            make_plan(dataclasses.replace(req, **bad), graph)
    report = {"backend": "dataflow", "target": "ecp5-85f", "model": "ecgbnn-beat-rr",
              "protocol": "interpatient", "design": json.loads(json.dumps(design))}  # fmt: skip
    again = plan_from_report(report, graph, Path("report.json"))
    assert again.folding == plan.folding and again.fifo_depths == plan.fifo_depths
    first = next(iter(report["design"]["folding"].values()))
    first["PE"] = 1
    with pytest.raises(BuildError, match=r"report\.json: the build's design has"):
        plan_from_report(report, graph, Path("report.json"))
    page = format_markdown({**report, "board": "ULX3S", "status": "does-not-fit", "error": "x",
                            "uart": {"baud": 115200, "divider": 217},
                            "leds": {"class": [0, 1, 2], "done": 6, "error": 7},
                            "utilization": {}, "command": ["ecgaccel", "build"]})  # fmt: skip
    assert "(PE/SIMD per node)" in page and f"{next(iter(design['folding']))} 1/" in page
