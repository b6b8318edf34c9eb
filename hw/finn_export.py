"""Hand-off of a network to the real FINN: a build folder FINN's builder takes to hardware.

:func:`write_finn_build_dir` writes::

    OUT/model.onnx                  the network as FINN-dialect ONNX (:mod:`.finn_graph`)
    OUT/finn_steps.py               runs FINN's builder on it (FINN's steps + one conversion
                                    step, :mod:`.finn_steps`); imports only FINN and qonnx
    OUT/dataflow_build_config.json  FINN's DataflowBuildConfig as JSON
    OUT/folding_config.json         PE / SIMD per FINN node, FINN's node names
                                    (:mod:`.finn_folding`)
    OUT/ecgaccel_estimates.json     ecgaccel's prediction of FINN's cycles per node and II
    OUT/qonnx_source.onnx           the Brevitas QONNX the description was compiled from
    OUT/verify/input.npy, expected.npy   windows and the reference's outputs (optional)
    OUT/README.md                   how to run it, what runs on the host, what needs Vivado

FINN is not on PyPI and lives in a Python environment of its own (its qonnx pins onnx 1.17,
ecgaccel onnx 1.22): :func:`run_finn_build` runs ``finn_steps.py`` with FINN's interpreter
(``--finn-python``), so the two environments never mix. Field names and enum values of
``dataflow_build_config.json`` are FINN's (``src/finn/builder/build_dataflow_config.py``,
Xilinx/finn 39f0c9a).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .description import NetworkDescription
from .files import write_bytes_atomic, write_text_atomic
from .finn_folding import FinnFolding, set_finn_folding
from .finn_graph import FinnGraphError, finn_graph, host_input, lower_layers, padded_input_length

if TYPE_CHECKING:
    from .folding import FoldingResult

SHELL_FLOW_TYPES = ("vivado_zynq", "vitis_alveo")
"""FINN ``ShellFlowType`` values."""

DATAFLOW_OUTPUT_TYPES = (
    "stitched_ip",
    "estimate_reports",
    "out_of_context_synth",
    "rtlsim_performance",
    "bitfile",
    "pynq_driver",
    "deployment_package",
)
"""FINN ``DataflowOutputType`` values."""

DEFAULT_OUTPUTS = ("estimate_reports",)
"""What FINN's Python side makes without Vivado / Vitis."""

BOARD_OUTPUTS = ("bitfile", "pynq_driver", "deployment_package")
"""Added when a ``board`` is given (they need a shell)."""

DEFAULT_FPGA_PART = "xc7z020clg400-1"
"""Zynq-7020 (Pynq-Z1 / Pynq-Z2), used when no board is given."""

DEFAULT_CLK_NS = 10.0
"""100 MHz."""

DEFAULT_TARGET_CYCLES = 20_000
"""Cycles a window the export folds for (ecgaccel's own pipeline at this target; FINN's graph
is then folded for that pipeline's II): 200 µs at 100 MHz, far beyond the real-time need of a
10-s window; the one-channel first SWG bounds the II at about 12.6k."""

FINN_PYTHON_ENV = "ECGACCEL_FINN_PYTHON"
"""Environment variable naming FINN's Python interpreter (default of ``--finn-python``)."""

FILES = (
    "model.onnx",
    "finn_steps.py",
    "dataflow_build_config.json",
    "folding_config.json",
    "ecgaccel_estimates.json",
    "qonnx_source.onnx",
    "README.md",
)
"""What :func:`write_finn_build_dir` always writes (``verify/`` only with windows)."""


class FinnExportError(ValueError):
    """A FINN hand-off that cannot be written or run (the message says why, in one line)."""


class FinnNotInstalledError(FinnExportError):
    """No FINN interpreter given, or the one given cannot import ``finn.builder``."""


def build_config(
    *,
    output_dir: str = "output",
    folding_config_file: str = "folding_config.json",
    synth_clk_period_ns: float = DEFAULT_CLK_NS,
    fpga_part: str | None = None,
    board: str | None = None,
    shell_flow_type: str | None = None,
    generate_outputs: Sequence[str] | None = None,
    auto_fifo_depths: bool = True,
) -> dict:
    """A FINN ``DataflowBuildConfig`` as a JSON-ready dict (no ``steps``: ``finn_steps.py``
    sets them, since FINN's JSON names only its own steps).

    Without ``board``: ``fpga_part`` (default :data:`DEFAULT_FPGA_PART`) and
    :data:`DEFAULT_OUTPUTS`. With ``board`` (e.g. ``"Pynq-Z1"``): FINN resolves the part from
    it, ``shell_flow_type`` defaults to ``vitis_alveo`` for Alveo boards (``U…``) and
    ``vivado_zynq`` otherwise, and :data:`BOARD_OUTPUTS` are added. Thresholds stay separate
    layers (``standalone_thresholds``: a max-pool sits between each MVAU and its thresholds);
    ``minimize_bit_width`` is off: FINN would size an XNOR-popcount MVAU without fused
    activation from the ±1 range, below the popcount's; ``finn_steps.py`` minimizes the widths
    itself with FINN's transformations (``step_ecgaccel_minimize_bit_width``).

    Raises
    ------
    FinnExportError
        An unknown output type or shell flow, a non-positive clock period.
    """
    if synth_clk_period_ns <= 0:
        raise FinnExportError(f"synth_clk_period_ns must be > 0, got {synth_clk_period_ns}")
    outputs = list(generate_outputs) if generate_outputs is not None else list(DEFAULT_OUTPUTS)
    if board is not None and generate_outputs is None:
        outputs += [o for o in BOARD_OUTPUTS if o not in outputs]
    bad = [o for o in outputs if o not in DATAFLOW_OUTPUT_TYPES]
    if bad:
        raise FinnExportError(
            f"unknown FINN output type(s) {bad}; use {list(DATAFLOW_OUTPUT_TYPES)}"
        )
    cfg: dict = {
        "output_dir": output_dir,
        "synth_clk_period_ns": float(synth_clk_period_ns),
        "generate_outputs": outputs,
        "folding_config_file": folding_config_file,
        "auto_fifo_depths": bool(auto_fifo_depths),
        "standalone_thresholds": True,
        "minimize_bit_width": False,
        "save_intermediate_models": True,
        "enable_build_pdb_debug": False,
    }
    if board is not None:
        flow = shell_flow_type or (
            "vitis_alveo" if board.upper().startswith("U") else "vivado_zynq"
        )
        cfg["board"] = board
        cfg["shell_flow_type"] = flow
    else:
        flow = shell_flow_type
        if flow is not None:
            cfg["shell_flow_type"] = flow
        if any(o in BOARD_OUTPUTS for o in outputs):
            raise FinnExportError(
                f"outputs {[o for o in outputs if o in BOARD_OUTPUTS]} need a board (and its shell)"
            )
    if flow is not None and flow not in SHELL_FLOW_TYPES:
        raise FinnExportError(f"unknown shell_flow_type {flow!r}; use {list(SHELL_FLOW_TYPES)}")
    if board is None or fpga_part is not None:
        cfg["fpga_part"] = fpga_part or DEFAULT_FPGA_PART
    return cfg


def write_finn_build_dir(
    out: Path | str,
    desc: NetworkDescription,
    qonnx_path: Path | str,
    target_cycles: int,
    pipeline: FoldingResult | None = None,
    verify: tuple[np.ndarray, np.ndarray] | None = None,
    **build_options,
) -> dict[str, Path]:
    """Write FINN's build folder ``out`` (see the module docstring); every file atomically.

    Parameters
    ----------
    out:
        The build folder (created).
    desc:
        The integer network (``models/checkpoints/<model>-<protocol>.intnet.json``).
    qonnx_path:
        The QONNX it was compiled from (copied as ``qonnx_source.onnx``, for reference).
    target_cycles:
        Cycles a window FINN's nodes are folded for (:func:`~.finn_folding.set_finn_folding`).
    pipeline:
        ecgaccel's own dataflow pipeline folded for the same network (its II and per-layer
        estimates are recorded in ``ecgaccel_estimates.json`` for comparison).
    verify:
        ``(windows, pooled)``: int ``[N, 1, L]`` input windows and the reference's last-layer
        pooled accumulators int ``[N, C, L_last]`` (``models.reference.run(..., keep=True)``),
        written by :func:`write_verify_data`.
    **build_options:
        Keyword arguments of :func:`build_config`.

    Returns
    -------
    dict[str, Path]
        File name → path written.

    Raises
    ------
    FinnExportError
        ``qonnx_path`` missing, a network the FINN graph does not cover, bad build options.
    """
    out, qonnx_path = Path(out), Path(qonnx_path)
    if not qonnx_path.is_file():
        raise FinnExportError(f"{qonnx_path}: QONNX model not found")
    cfg = build_config(**build_options)
    try:
        model = finn_graph(desc)
        folding = set_finn_folding(desc, target_cycles)
    except (FinnGraphError, ValueError) as exc:
        raise FinnExportError(f"{desc.name}: {exc}") from exc
    estimates = {
        "model": desc.name,
        "target_cycles": target_cycles,
        "ii": folding.ii,
        "bottleneck": folding.bottleneck,
        "pipeline_ii": pipeline.ii if pipeline is not None else None,
        "cycles": folding.cycles,
        "blocks": {n.name: n.block for n in folding.nodes},
        "pipeline_layers": [
            {
                "block": e.block,
                "name": e.name,
                "kind": e.kind,
                "params": e.params,
                "cycles": e.cycles,
                **e.resources,
            }
            for e in (pipeline.layers if pipeline is not None else ())
        ],
    }
    steps = resources.files("ecgaccel.hw").joinpath("finn_steps.py").read_bytes()
    paths = {
        "model.onnx": write_bytes_atomic(out / "model.onnx", model.model.SerializeToString()),
        "finn_steps.py": write_bytes_atomic(out / "finn_steps.py", steps),
        "dataflow_build_config.json": _write_json(out / "dataflow_build_config.json", cfg),
        "folding_config.json": _write_json(out / cfg["folding_config_file"], folding.config()),
        "ecgaccel_estimates.json": _write_json(out / "ecgaccel_estimates.json", estimates),
        "qonnx_source.onnx": write_bytes_atomic(out / "qonnx_source.onnx", qonnx_path.read_bytes()),
    }
    if verify is not None:
        paths.update(write_verify_data(out, desc, *verify))
    readme = _readme(desc, folding, cfg, estimates["pipeline_ii"])
    paths["README.md"] = write_text_atomic(out / "README.md", readme)
    return paths


def write_verify_data(out: Path | str, desc: NetworkDescription, windows: np.ndarray,
                      pooled: np.ndarray) -> dict[str, Path]:  # fmt: skip
    """``verify/input.npy`` (float32 ``[N, 1, L_pad, 1]``: ``windows`` int ``[N, 1, L]``
    host-padded) and ``verify/expected.npy`` (float32 ``[N, 1, L_last, C_last]``: ``pooled``
    int ``[N, C_last, L_last]`` in NHWC), atomically.

    Raises
    ------
    FinnExportError
        ``windows`` and ``pooled`` of different lengths or shapes that do not fit ``desc``.
    """
    out = Path(out)
    last = desc.layers[-1]
    if pooled.shape[1:] != (last.out_channels, last.out_length) or len(pooled) != len(windows):
        raise FinnExportError(f"reference outputs {list(pooled.shape)} do not fit "
                              f"{len(windows)} windows of {desc.name}")  # fmt: skip
    try:
        x = host_input(desc, windows)
    except ValueError as exc:
        raise FinnExportError(str(exc)) from exc
    expected = np.asarray(pooled).transpose(0, 2, 1)[:, None].astype(np.float32)
    return {
        "verify/input.npy": _write_npy(out / "verify" / "input.npy", x),
        "verify/expected.npy": _write_npy(out / "verify" / "expected.npy", expected),
    }


def _write_npy(path: Path, arr: np.ndarray) -> Path:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return write_bytes_atomic(path, buf.getvalue())


def _write_json(path: Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def finn_python(path: Path | str | None) -> Path:
    """FINN's interpreter: ``path``, else ``$ECGACCEL_FINN_PYTHON``.

    Raises
    ------
    FinnNotInstalledError
        Neither given, or the file does not exist.
    """
    given = path if path is not None else os.environ.get(FINN_PYTHON_ENV)
    if not given:
        raise FinnNotInstalledError(
            "FINN is not installed here: give its Python with --finn-python PATH (or "
            f"${FINN_PYTHON_ENV}); FINN is not on PyPI, see docs/finn.md to install it"
        )
    p = Path(given)
    if not p.is_file():
        raise FinnNotInstalledError(f"{p}: FINN's Python interpreter not found")
    return p


def run_finn_build(out: Path | str, python: Path | str | None = None, steps: str = "estimate",
                   verify: bool = False, limit: int | None = None) -> int:  # fmt: skip
    """Run ``OUT/finn_steps.py`` with FINN's interpreter (FINN's builder on ``OUT``; then, with
    ``verify``, FINN's execution of every step's model against ``verify/``). Returns the exit
    status (0 = success); FINN's output goes to the terminal and ``OUT/output/``.

    Raises
    ------
    FinnNotInstalledError
        No FINN interpreter (see :func:`finn_python`).
    FinnExportError
        ``out`` is not a folder written by :func:`write_finn_build_dir`.
    """
    out = Path(out).resolve()
    for name in ("model.onnx", "finn_steps.py", "dataflow_build_config.json"):
        if not (out / name).is_file():
            raise FinnExportError(
                f"{out / name}: not found (write the folder with `ecgaccel finn-export` first)"
            )
    py = finn_python(python)
    status = subprocess.run([str(py), str(out / "finn_steps.py"), "--steps", steps],
                            cwd=out).returncode  # fmt: skip
    if status == 0 and verify:
        if not (out / "verify" / "input.npy").is_file():
            raise FinnExportError(f"{out}/verify/input.npy: not found (export with --windows)")
        cmd = [str(py), str(out / "finn_steps.py"), "--verify"]
        cmd += ["--limit", str(limit)] if limit else []
        status = subprocess.run(cmd, cwd=out).returncode
    return status


def read_finn_report(out: Path | str) -> dict:
    """FINN's estimate reports of a built folder next to ecgaccel's prediction:
    ``{"finn": {"cycles", "resources", "performance"}, "ecgaccel": <ecgaccel_estimates.json>,
    "verify": <output/verify.json or None>}``.

    Raises
    ------
    FinnExportError
        A report file is missing or not JSON (names the file).
    """
    out = Path(out)

    def load(path: Path):
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise FinnExportError(f"{path}: cannot read it ({exc})") from exc

    cfg = load(out / "dataflow_build_config.json")
    rep = out / cfg["output_dir"] / "report"

    verify = out / cfg["output_dir"] / "verify.json"
    return {
        "finn": {
            "cycles": load(rep / "estimate_layer_cycles.json"),
            "resources": load(rep / "estimate_layer_resources.json"),
            "performance": load(rep / "estimate_network_performance.json"),
        },
        "ecgaccel": load(out / "ecgaccel_estimates.json"),
        "verify": load(verify) if verify.is_file() else None,
    }


def comparison_table(rep: dict) -> str:
    """Markdown: FINN's estimates per node (cycles, LUT, BRAM_18K) next to ecgaccel's
    prediction of the node's cycles, then per layer FINN's sums next to ecgaccel's own
    pipeline's estimates for the same layer (``rep`` from :func:`read_finn_report`)."""
    cyc, res, ours = rep["finn"]["cycles"], rep["finn"]["resources"], rep["ecgaccel"]
    lines = [
        "| FINN node | FINN cycles | ecgaccel's prediction | FINN LUT | FINN BRAM_18K |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, c in ours["cycles"].items():
        r = res.get(name, {})
        lut, bram = format_estimate(r.get("LUT")), format_estimate(r.get("BRAM_18K"))
        lines.append(f"| `{name}` | {cyc.get(name)} | {c} | {lut} | {bram} |")
    perf, total = rep["finn"]["performance"], res.get("total", {})
    lines.append(
        f"| **max (II)** | {perf['max_cycles']} | {ours['ii']} "
        f"| {format_estimate(total.get('LUT'))} | {format_estimate(total.get('BRAM_18K'))} |"
    )
    layers = ours.get("pipeline_layers") or []
    if not layers:
        return "\n".join(lines) + "\n"
    blocks = sorted({e["block"] for e in layers})
    by_block: dict[int, list[str]] = {}
    for name in ours["cycles"]:
        by_block.setdefault(ours["blocks"][name], []).append(name)
    lines += [
        "",
        "| layer | FINN: slowest node cycles | FINN LUT | FINN BRAM_18K | ecgaccel pipeline: "
        "cycles | LUT | BRAM_18K |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in blocks:
        mine = [e for e in layers if e["block"] == b]
        names = by_block.get(b, [])
        lines.append(
            f"| {b + 1} | {max((cyc[n] for n in names), default=0)} "
            f"| {sum(res.get(n, {}).get('LUT', 0) for n in names):.0f} "
            f"| {sum(res.get(n, {}).get('BRAM_18K', 0) for n in names):.0f} "
            f"| {max(e['cycles'] for e in mine if e['kind'] not in ('wc_in', 'wc'))} "
            f"| {sum(e['lut'] for e in mine)} | {sum(e['bram'] for e in mine)} |"
        )
    return "\n".join(lines) + "\n"


def format_estimate(v) -> str:
    """A FINN estimate (a float in its JSON) as an integer where it is one."""
    return f"{v:.0f}" if isinstance(v, float) and v == int(v) else str(v)


def _readme(desc: NetworkDescription, folding: FinnFolding, cfg: dict,
            pipeline_ii: int | None) -> str:  # fmt: skip
    layers = lower_layers(desc)
    split = sum(len(fl.out_map.channels) - fl.layer.out_channels for fl in layers if fl.out_map)
    rows = "\n".join(
        f"| `{n.name}` | {n.block + 1} | "
        + ", ".join(f"{k}={v}" for k, v in folding.values[n.name].items())
        + f" | {folding.cycles[n.name]} |"
        for n in folding.nodes
    )
    pipe = f"; ecgaccel's own dataflow pipeline: II {pipeline_ii}" if pipeline_ii else ""
    first = desc.layers[0]
    padded = padded_input_length(desc)
    return f"""# FINN build folder for `{desc.name}`

Written by `ecgaccel finn-export`. Run it with FINN's Python (FINN is not on PyPI; install it
from github.com/Xilinx/finn in an environment of its own, see ecgaccel's docs/finn.md):

    python finn_steps.py                  # FINN's estimate-only steps: no Vivado / Vitis needed
    python finn_steps.py --steps codegen  # ... then step_hw_codegen (HLS C++, RTL templates)
    python finn_steps.py --verify         # FINN's execute_onnx of every step's model vs verify/

or, from ecgaccel's environment: `ecgaccel finn-build --finn-python PATH <this folder>`.
`finn_steps.py` calls FINN's own `build_dataflow_cfg` with `dataflow_build_config.json` and
FINN's estimate-only step list with two steps of its own: `step_ecgaccel_convert_to_hw`
(instead of FINN's `step_convert_to_hw`, which it calls last) runs FINN's `InferPool`
(overlapping max-pools) and `InferChannelwiseLinearLayer` and turns the graph's `Pad` nodes
into FINN's `FMPadding`; `step_ecgaccel_minimize_bit_width`, after FINN's
`step_minimize_bit_width` (off in the config), minimizes the widths with FINN's
transformations but sizes the XNOR popcounts from their range, 0 .. MW, and carries the
narrowed widths through `Pool`.
(`python -m finn.builder.build_dataflow <folder>` runs FINN's default steps, which do not infer
those layers; use `finn_steps.py`.) Outputs go to
`{cfg["output_dir"]}/` (`report/estimate_layer_cycles.json`,
`report/estimate_network_performance.json`, `intermediate_models/`).

## What the graph is

`model.onnx` is `{desc.name}` as FINN-dialect ONNX (NHWC, `Im2Col` → `MatMul` →
`MaxPoolNHWC` → [`Mul` ±1] → `Add` → `Pad` → `MultiThreshold`), every layer a FINN hardware
layer in one dataflow partition. It computes exactly what ecgaccel's integer reference
computes (checked on every bundled window): the +1 padding of the binary activations moves in
front of the thresholds, and the {split} channels whose thresholds are not monotone (negative
PReLU slopes) are streamed as two monotone channels each. Layers with binary inputs are FINN's
XNOR-popcount MVAUs (`XnorPopcountMatMul`, `BINARY` bits and weights).

**Host side**: the input window is padded with {first.pad_left} + {first.pad_right} samples of
{first.pad_value} (the first layer's pad value; FINN's `FMPadding` pads zeros) and streamed as
INT{desc.input_bits} `[1, 1, {padded}, 1]`; the graph's output is the last layer's pooled
accumulators `[1, 1, L, C]`, from which the host computes the head (two sums over positions
and three multiply-adds per class: ecgaccel's `SumHead`).

## The folding (`folding_config.json`; ecgaccel's prediction of FINN's cycles)

II {folding.ii} cycles (bottleneck `{folding.bottleneck}`) at a target of
{folding.target_cycles}{pipe}.

| FINN node | layer | folding | cycles |
|---|---:|---|---:|
{rows}

## What needs Vivado / Vitis

FINN's `step_hw_codegen` (`finn_steps.py --steps codegen`) fills the RTL templates and writes
HLS C++; everything after it (`step_hw_ipgen` = Vitis HLS synthesis, `step_set_fifo_depths`
and `step_measure_rtlsim_performance` = RTL simulation of the stitched IP with Vivado's xsim,
`step_out_of_context_synthesis` and `step_synthesize_bitfile` = Vivado) needs Xilinx tools, as
do FINN's cppsim / rtlsim execution modes of its hardware layers.
"""
