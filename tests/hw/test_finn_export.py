"""FINN hand-off (hw/finn_export.py, ecgaccel/finncli.py): field names, enum values, node
names, atomic writes, the CLI, and the real build where FINN is installed."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import pytest

from ecgaccel import finncli
from ecgaccel.hw import files as hw_files
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.finn_export import (
    FILES,
    FinnExportError,
    build_config,
    finn_available,
    run_finn_build,
    write_finn_build_dir,
)
from ecgaccel.hw.folding import finn_node_names, set_folding

REPO = Path(__file__).resolve().parents[2]
CKPT = REPO / "models" / "checkpoints"
QONNX = CKPT / "ecgbnn5-patient.onnx"
DESC_PATH = CKPT / "ecgbnn5-patient.intnet.json"

# Transcribed from FINN src/finn/builder/build_dataflow_config.py, class DataflowBuildConfig
# (Xilinx/finn dev branch after v0.10, commit 00779226d41f8e79507c3f2089c8da55e12f9fd8).
DATAFLOW_BUILD_CONFIG_FIELDS = frozenset(
    {
        "output_dir",
        "synth_clk_period_ns",
        "generate_outputs",
        "specialize_layers_config_file",
        "folding_config_file",
        "target_fps",
        "folding_two_pass_relaxation",
        "verify_steps",
        "verify_input_npy",
        "verify_expected_output_npy",
        "verify_save_full_context",
        "verify_save_rtlsim_waveforms",
        "stitched_ip_gen_dcp",
        "signature",
        "mvau_wwidth_max",
        "standalone_thresholds",
        "minimize_bit_width",
        "board",
        "shell_flow_type",
        "fpga_part",
        "auto_fifo_depths",
        "split_large_fifos",
        "auto_fifo_strategy",
        "force_python_rtlsim",
        "large_fifo_mem_style",
        "fifosim_input_throttle",
        "fifosim_save_waveform",
        "hls_clk_period_ns",
        "default_swg_exception",
        "vitis_platform",
        "vitis_floorplan_file",
        "vitis_opt_strategy",
        "save_intermediate_models",
        "enable_hw_debug",
        "enable_build_pdb_debug",
        "verbose",
        "steps",
        "start_step",
        "stop_step",
        "max_multithreshold_bit_width",
        "rtlsim_batch_size",
        "rtlsim_use_vivado_comps",
        "input_range_info",
    }
)
REQUIRED_FIELDS = {"output_dir", "synth_clk_period_ns", "generate_outputs"}  # no default there
# Fields an older DataflowBuildConfig (same file, commit 415f44a5d997, before v0.10) already had
# and the current one keeps: we write only these, so the config loads in v0.10 and later.
LONG_STANDING_FIELDS = frozenset(
    {
        "output_dir",
        "synth_clk_period_ns",
        "generate_outputs",
        "folding_config_file",
        "target_fps",
        "verify_steps",
        "verify_input_npy",
        "verify_expected_output_npy",
        "mvau_wwidth_max",
        "standalone_thresholds",
        "board",
        "shell_flow_type",
        "fpga_part",
        "auto_fifo_depths",
        "large_fifo_mem_style",
        "hls_clk_period_ns",
        "vitis_platform",
        "vitis_floorplan_file",
        "vitis_opt_strategy",
        "save_intermediate_models",
        "enable_hw_debug",
        "enable_build_pdb_debug",
        "steps",
    }
)
# Same file: enum ShellFlowType, DataflowOutputType.
SHELL_FLOW_TYPE = {"vivado_zynq", "vitis_alveo"}
DATAFLOW_OUTPUT_TYPE = {
    "stitched_ip",
    "estimate_reports",
    "out_of_context_synth",
    "rtlsim_performance",
    "bitfile",
    "pynq_driver",
    "deployment_package",
}
# FINN v0.10+ op types of the nodes our blocks lower to (src/finn/custom_op/fpgadataflow/{hls,rtl})
FINN_NODE = re.compile(
    r"^(MVAU_hls|ConvolutionInputGenerator_rtl|Thresholding_rtl|Pool_hls|"
    r"StreamingMaxPool_hls|FMPadding_rtl)_\d+$"
)
# attribute names of those ops (get_nodeattr_types of each, plus HWCustomOp's inFIFODepths)
FINN_ATTRS = {
    "MVAU_hls": {"PE", "SIMD", "ram_style", "resType", "mem_mode", "inFIFODepths"},
    "ConvolutionInputGenerator_rtl": {"SIMD", "ram_style", "inFIFODepths"},
    "FMPadding_rtl": {"SIMD"},
    "Pool_hls": {"PE"},
    "StreamingMaxPool_hls": {"PE"},
    "Thresholding_rtl": {"PE"},
}


@pytest.fixture(scope="module")
def desc() -> NetworkDescription:
    return NetworkDescription.load(DESC_PATH)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"board": "Pynq-Z1"},
        {"board": "U250"},
        {"auto_fifo_depths": False},
        {"fpga_part": "xcvu9p-flga2104-2-i", "synth_clk_period_ns": 5},
    ],
)
def test_build_config_uses_finn_field_names_and_enums(options):
    cfg = build_config(**options)
    assert set(cfg) <= DATAFLOW_BUILD_CONFIG_FIELDS
    assert set(cfg) <= LONG_STANDING_FIELDS
    assert set(cfg) >= REQUIRED_FIELDS
    assert set(cfg["generate_outputs"]) <= DATAFLOW_OUTPUT_TYPE
    assert cfg.get("shell_flow_type", "vivado_zynq") in SHELL_FLOW_TYPE
    assert "board" in cfg or "fpga_part" in cfg
    assert isinstance(cfg["synth_clk_period_ns"], float)
    if "board" in options:
        assert "bitfile" in cfg["generate_outputs"] and "shell_flow_type" in cfg
    assert cfg.get("shell_flow_type") != "vitis_alveo" or options.get("board") == "U250"


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"generate_outputs": ["bitstream"]}, "unknown FINN output"),
        ({"generate_outputs": ["bitfile"]}, "need a board"),
        ({"board": "Pynq-Z1", "shell_flow_type": "zynq"}, "unknown shell_flow_type"),
        ({"synth_clk_period_ns": 0}, "synth_clk_period_ns"),
    ],
)
def test_bad_build_options(options, pattern):
    with pytest.raises(FinnExportError, match=pattern):
        build_config(**options)


def test_build_folder(desc, tmp_path):
    out = tmp_path / "finn"
    paths = write_finn_build_dir(out, QONNX, desc)
    assert sorted(paths) == sorted(FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no temporary files left
    assert (out / "model.onnx").read_bytes() == QONNX.read_bytes()
    cfg = json.loads((out / "dataflow_build_config.json").read_text())
    assert cfg["folding_config_file"] == "folding_config.json"
    assert (out / cfg["folding_config_file"]).is_file()
    folding = json.loads((out / "folding_config.json").read_text())
    assert folding.pop("Defaults") == {}
    expected = {n.name for n in finn_node_names(desc)}
    assert set(folding) == expected
    for name, attrs in folding.items():
        assert FINN_NODE.match(name), name
        assert set(attrs) <= FINN_ATTRS[name.rsplit("_", 1)[0]], name
    for i in range(len(desc.layers)):
        assert f"MVAU_hls_{i}" in folding
    readme = (out / "README.md").read_text()
    assert "python -m finn.builder.build_dataflow" in readme and "ecgaccel finn-build" in readme


def test_build_folder_is_written_atomically(desc, tmp_path, monkeypatch):
    out = tmp_path / "finn"
    write_finn_build_dir(out, QONNX, desc)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_finn_build_dir(out, QONNX, desc, set_folding(desc, target_cycles=100_000))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old files intact, no temp
    assert hw_files.write_text_atomic  # the writer the module uses


def test_missing_qonnx(desc, tmp_path):
    with pytest.raises(FinnExportError, match="not found"):
        write_finn_build_dir(tmp_path / "o", tmp_path / "nope.onnx", desc)


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgaccel")
    finncli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_finn_export(tmp_path, capsys):
    out = tmp_path / "build"
    args = _cli().parse_args(
        [
            "finn-export",
            str(out),
            "--model",
            "ecgbnn5",
            "--protocol",
            "patient",
            "--target-cycles",
            "30000",
            "--fixed-fifos",
        ]
    )
    assert args.func(args) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    cfg = json.loads((out / "dataflow_build_config.json").read_text())
    assert cfg["auto_fifo_depths"] is False
    assert "II " in capsys.readouterr().out


def test_cli_unknown_model_is_one_line_exit_1(tmp_path, capsys):
    args = _cli().parse_args(["finn-export", str(tmp_path / "o"), "--model", "nosuchnet"])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ecgaccel: error:") and "ecgbnn5-patient" in err


@pytest.mark.skipif(finn_available(), reason="FINN is installed here")
def test_cli_finn_build_without_finn(tmp_path, capsys, desc):
    write_finn_build_dir(tmp_path, QONNX, desc)
    args = _cli().parse_args(["finn-build", str(tmp_path)])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "FINN is not installed" in err


def test_cli_finn_build_needs_an_export_folder(tmp_path, capsys):
    args = _cli().parse_args(["finn-build", str(tmp_path)])
    assert args.func(args) == 1
    assert "finn-export" in capsys.readouterr().err


@pytest.mark.finn
def test_real_finn_build_estimates(desc, tmp_path):
    pytest.importorskip("finn.builder")
    write_finn_build_dir(tmp_path, QONNX, desc, generate_outputs=["estimate_reports"])
    assert run_finn_build(tmp_path) == 0
    assert (tmp_path / "output" / "report" / "estimate_layer_cycles.json").is_file()
