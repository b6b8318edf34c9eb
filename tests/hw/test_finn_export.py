"""FINN hand-off (hw/finn_export.py, ecgaccel/finncli.py): field names, enum values, node
names, atomic writes, the CLI, and, where FINN is installed ($ECGACCEL_FINN_PYTHON), FINN's
own build of both shipped models with its estimates and its execution of every step."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import numpy as np
import onnx
import pytest

from ecgaccel import finncli
from ecgaccel.hw.description import NetworkDescription
from ecgaccel.hw.finn_export import (
    FILES,
    FINN_PYTHON_ENV,
    FinnExportError,
    build_config,
    read_finn_report,
    write_finn_build_dir,
)
from ecgaccel.hw.finn_folding import finn_nodes
from ecgaccel.models import reference
from tests.helpers import bundled_windows

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
# FINN's op types of the nodes the hand-off graph lowers to (src/finn/custom_op/fpgadataflow/
# {hls,rtl}) and the folding attribute of each (get_nodeattr_types)
FINN_NODE = re.compile(
    r"^(MVAU_hls|ConvolutionInputGenerator_rtl|Thresholding_rtl|Pool_hls|ChannelwiseOp_hls|"
    r"FMPadding_rtl)_\d+$"
)
FINN_ATTRS = {
    "MVAU_hls": {"PE", "SIMD"},
    "ConvolutionInputGenerator_rtl": {"SIMD"},
    "FMPadding_rtl": {"SIMD"},
    "Pool_hls": {"PE"},
    "ChannelwiseOp_hls": {"PE"},
    "Thresholding_rtl": {"PE"},
}
FINN_PYTHON = os.environ.get(FINN_PYTHON_ENV)


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
    assert set(cfg) - {"minimize_bit_width"} <= LONG_STANDING_FIELDS  # that one is newer
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


def _write(desc, out, **kw):
    return write_finn_build_dir(out, desc, QONNX, target_cycles=16_522, **kw)


def test_build_folder(desc, tmp_path):
    out = tmp_path / "finn"
    x = bundled_windows(("200", "233"))
    paths = _write(desc, out, verify=(x, reference.run(desc, x, keep=True).activations[-1]))
    assert sorted(paths) == sorted([*FILES, "verify/input.npy", "verify/expected.npy"])
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "verify"])  # no temp files
    assert (out / "qonnx_source.onnx").read_bytes() == QONNX.read_bytes()
    assert (out / "finn_steps.py").read_bytes() == (REPO / "hw" / "finn_steps.py").read_bytes()
    cfg = json.loads((out / "dataflow_build_config.json").read_text())
    assert cfg["folding_config_file"] == "folding_config.json" and "steps" not in cfg
    folding = json.loads((out / "folding_config.json").read_text())
    assert folding.pop("Defaults") == {}
    assert set(folding) == {n.name for n in finn_nodes(desc)}
    for name, attrs in folding.items():
        assert FINN_NODE.match(name), name
        assert set(attrs) <= FINN_ATTRS[name.rsplit("_", 1)[0]], name
    est = json.loads((out / "ecgaccel_estimates.json").read_text())
    assert set(est["cycles"]) == set(folding) and est["ii"] == max(est["cycles"].values())
    assert est["ii"] <= 16_522
    got = np.load(out / "verify" / "input.npy")
    assert got.shape == (2, 1, 3610, 1) and got.dtype == np.float32
    assert np.all(got[:, 0, :5, 0] == desc.layers[0].pad_value)  # the host's padding
    readme = (out / "README.md").read_text()
    assert "python finn_steps.py" in readme and "ecgaccel finn-build" in readme
    assert "Vivado" in readme and "Host side" in readme


def test_verify_data_must_fit(desc, tmp_path):
    x = bundled_windows(("200",))
    with pytest.raises(FinnExportError, match="do not fit"):
        _write(desc, tmp_path, verify=(x, np.zeros((1, 3, 27), dtype=np.int64)))


def test_build_folder_is_written_atomically(desc, tmp_path, monkeypatch):
    out = tmp_path / "finn"
    _write(desc, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_finn_build_dir(out, desc, QONNX, target_cycles=100_000)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old files intact, no temp


def test_missing_qonnx(desc, tmp_path):
    with pytest.raises(FinnExportError, match="not found"):
        write_finn_build_dir(tmp_path / "o", desc, tmp_path / "nope.onnx", target_cycles=1000)


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
            "--target-cycles",
            "30000",
            "--fixed-fifos",
            "--windows",
            "3",
        ]
    )
    assert args.func(args) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "verify"])
    cfg = json.loads((out / "dataflow_build_config.json").read_text())
    assert cfg["auto_fifo_depths"] is False
    assert np.load(out / "verify" / "expected.npy").shape == (3, 1, 27, 5)
    text = capsys.readouterr().out
    assert "predicted II" in text and "finn-build --finn-python" in text


def test_cli_finn_export_unknown_model_is_one_line_exit_1(tmp_path, capsys):
    args = _cli().parse_args(["finn-export", str(tmp_path / "o"), "--model", "nosuchnet"])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ecgaccel: error:") and "ecgbnn5-patient" in err


def test_cli_finn_export_of_a_graph_network_is_one_line_exit_1(tmp_path, capsys):
    argv = ["finn-export", str(tmp_path / "o"), "--model", "ecgbnn-beat-rr"]
    args = _cli().parse_args([*argv, "--protocol", "interpatient"])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is a graph network" in err and "chain networks only" in err
    assert not any((tmp_path / "o").glob("*"))  # nothing written


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--target-cycles", "0"], "argument --target-cycles: must be at least 1, got 0"),
        (["--windows", "-1"], "argument --windows: must be at least 0, got -1"),
        (["--clk-ns", "-2"], "argument --clk-ns: must be greater than 0, got -2"),
    ],
)
def test_cli_finn_export_bad_ranges_stop_at_parsing(tmp_path, capsys, argv, pattern):
    with pytest.raises(SystemExit) as exc:
        _cli().parse_args(["finn-export", str(tmp_path / "o"), "--model", "ecgbnn5", *argv])
    assert exc.value.code == 2 and pattern in capsys.readouterr().err


def test_cli_finn_export_out_that_is_a_file_stops_at_parsing(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit):
        _cli().parse_args(["finn-export", str(afile), "--model", "ecgbnn5"])
    assert f"{afile}: exists and is not a folder" in capsys.readouterr().err


def test_cli_finn_build_without_finn(tmp_path, capsys, desc, monkeypatch):
    monkeypatch.delenv(FINN_PYTHON_ENV, raising=False)
    _write(desc, tmp_path)
    args = _cli().parse_args(["finn-build", str(tmp_path)])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--finn-python" in err
    args = _cli().parse_args(["finn-build", str(tmp_path), "--finn-python", str(tmp_path / "no")])
    assert args.func(args) == 1
    assert "not found" in capsys.readouterr().err


def test_cli_finn_build_needs_an_export_folder(tmp_path, capsys):
    args = _cli().parse_args(["finn-build", str(tmp_path), "--finn-python", "/bin/true"])
    assert args.func(args) == 1
    assert "finn-export" in capsys.readouterr().err


# --------------------------------------------------------------------------- the real FINN

needs_finn = pytest.mark.skipif(
    not (FINN_PYTHON and Path(FINN_PYTHON).is_file()),
    reason=f"FINN is not installed here (set ${FINN_PYTHON_ENV} to FINN's Python; docs/finn.md)",
)


@pytest.fixture(scope="module", params=["ecgbnn5", "ecgbnn5-w2a2"])
def finn_build(request, tmp_path_factory):
    """A folder written by ``ecgaccel finn-export`` and built by FINN's estimate-only steps and
    ``step_hw_codegen`` (HLS C++ and filled RTL templates; no Vitis run), then verified by
    FINN's execution of every step's model on the first ``$ECGACCEL_FINN_WINDOWS`` bundled
    windows (default: all 720)."""
    if not (FINN_PYTHON and Path(FINN_PYTHON).is_file()):
        pytest.skip(f"FINN is not installed here (set ${FINN_PYTHON_ENV})")
    out = tmp_path_factory.mktemp(request.param)
    n = os.environ.get("ECGACCEL_FINN_WINDOWS")
    argv = ["finn-export", str(out), "--model", request.param, *(["--windows", n] if n else [])]
    args = _cli().parse_args(argv)
    assert args.func(args) == 0
    args = _cli().parse_args(
        ["finn-build", str(out), "--finn-python", FINN_PYTHON, "--steps", "codegen", "--verify"]
    )
    status = args.func(args)
    return out, status


@needs_finn
@pytest.mark.finn
def test_real_finn_builds_every_layer_in_one_partition(finn_build):
    out, status = finn_build
    assert status == 0
    inter = out / "output" / "intermediate_models"
    parent = onnx.load(inter / "dataflow_parent.onnx")
    assert [n.op_type for n in parent.graph.node] == ["StreamingDataflowPartition"]
    final = onnx.load(inter / "step_hw_codegen.onnx")
    assert all(n.domain.startswith("finn.custom_op.fpgadataflow.") for n in final.graph.node)
    folding = json.loads((out / "folding_config.json").read_text())
    assert sorted(n.name for n in final.graph.node) == sorted(k for k in folding if k != "Defaults")


@needs_finn
@pytest.mark.finn
def test_real_finn_estimates_equal_ecgaccels(finn_build):
    out, _ = finn_build
    rep = read_finn_report(out)
    ours = rep["ecgaccel"]
    assert rep["finn"]["cycles"] == ours["cycles"]  # every node, exactly
    assert rep["finn"]["performance"]["max_cycles"] == ours["ii"]
    assert abs(ours["ii"] - ours["pipeline_ii"]) <= 0.03 * ours["pipeline_ii"]


@needs_finn
@pytest.mark.finn
def test_real_finn_execution_equals_the_reference_after_every_step(finn_build):
    out, _ = finn_build
    verify = read_finn_report(out)["verify"]
    assert len(verify) == 14  # model.onnx, the parent and every step (codegen included)
    for name, v in verify.items():
        assert v["windows"] >= 1 and v["mismatches"] == 0, name
        assert v["values_outside_datatype"] == 0, name
