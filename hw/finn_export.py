"""Hand-off of a network to the real FINN: a build folder for ``build_dataflow``.

:func:`write_finn_build_dir` writes what FINN's "simple dataflow build mode" reads from a folder
(``finn.builder.build_dataflow.build_dataflow_directory``)::

    OUT/model.onnx                  the shipped QONNX (copied)
    OUT/folding_config.json         our folding (FINN node names, see :mod:`.folding`)
    OUT/dataflow_build_config.json  a DataflowBuildConfig as JSON
    OUT/README.md                   how to run it, the estimates, what may not lower

Field names and enum values of ``dataflow_build_config.json`` are FINN's, read from
``src/finn/builder/build_dataflow_config.py`` (``DataflowBuildConfig``, ``ShellFlowType``,
``DataflowOutputType``, ``AutoFIFOSizingMethod``, ``LargeFIFOMemStyle``; Xilinx/finn ``dev``
after v0.10, commit ``00779226``), using only fields that v0.10 has too. FINN changes
the working directory to the build folder, so relative paths (``output_dir``,
``folding_config_file``) are relative to ``OUT``.

FINN is not on PyPI (the ``finn`` package there is an empty placeholder) and needs Vivado /
Vitis HLS; :func:`run_finn_build` therefore runs only where ``finn.builder`` imports and
otherwise raises :class:`FinnNotInstalledError`. Nothing of the default flow needs FINN.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .description import NetworkDescription
from .files import write_text_atomic
from .folding import SHALLOW_FIFO, FoldingResult, set_folding

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

AUTO_FIFO_STRATEGIES = ("characterize", "largefifo_rtlsim")
"""FINN ``AutoFIFOSizingMethod`` values."""

LARGE_FIFO_MEM_STYLES = ("auto", "block", "distributed", "ultra")
"""FINN ``LargeFIFOMemStyle`` values."""

DEFAULT_OUTPUTS = ("estimate_reports", "stitched_ip", "rtlsim_performance", "out_of_context_synth")
"""Outputs without a board shell: estimates, stitched IP, its rtlsim throughput, OOC synthesis."""

BOARD_OUTPUTS = ("bitfile", "pynq_driver", "deployment_package")
"""Added when a ``board`` is given (they need a shell)."""

DEFAULT_FPGA_PART = "xc7z020clg400-1"
"""Zynq-7020 (Pynq-Z1 / Pynq-Z2), used when no board is given."""

DEFAULT_CLK_NS = 10.0
"""100 MHz."""

DEFAULT_TARGET_CYCLES = 20_000
"""Cycles a window the exported folding aims at: 200 µs at 100 MHz, 5000 windows/s, far beyond
the real-time need of one 10-s window; the one-channel first SWG bounds the II at ~12.6k."""

FILES = ("model.onnx", "folding_config.json", "dataflow_build_config.json", "README.md")
"""What :func:`write_finn_build_dir` writes."""


class FinnExportError(ValueError):
    """A FINN hand-off that cannot be written or run (the message says why, in one line)."""


class FinnNotInstalledError(FinnExportError):
    """``finn.builder`` is not importable."""


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
    """A FINN ``DataflowBuildConfig`` as a JSON-ready dict.

    Without ``board``: ``fpga_part`` (default :data:`DEFAULT_FPGA_PART`) and
    :data:`DEFAULT_OUTPUTS`. With ``board`` (e.g. ``"Pynq-Z1"``): FINN resolves the part from
    it, ``shell_flow_type`` defaults to ``vitis_alveo`` for Alveo boards (``U…``) and
    ``vivado_zynq`` otherwise, and :data:`BOARD_OUTPUTS` are added. Thresholds stay separate
    layers (``standalone_thresholds``), as in our pipeline (max-pool sits between MVAU and
    thresholds). ``auto_fifo_depths`` off makes FINN take FIFO depths from the folding config
    (our :func:`~.folding.fifo_depths` as ``inFIFODepths``).

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
    qonnx_path: Path | str,
    desc: NetworkDescription,
    result: FoldingResult | None = None,
    **build_options,
) -> dict[str, Path]:
    """Write FINN's build folder ``out`` (see the module docstring); every file atomically.

    Parameters
    ----------
    out:
        The build folder (created).
    qonnx_path:
        The QONNX model to hand over (``models/checkpoints/<model>-<protocol>.onnx``).
    desc:
        Its integer description (shapes for the folding and FINN node names).
    result:
        The folding; default :func:`~.folding.set_folding` at :data:`DEFAULT_TARGET_CYCLES`.
    **build_options:
        Keyword arguments of :func:`build_config`.

    Returns
    -------
    dict[str, Path]
        File name → path written.

    Raises
    ------
    FinnExportError
        ``qonnx_path`` missing, or bad build options.
    """
    out, qonnx_path = Path(out), Path(qonnx_path)
    if not qonnx_path.is_file():
        raise FinnExportError(f"{qonnx_path}: QONNX model not found")
    if result is None:
        result = set_folding(desc, target_cycles=DEFAULT_TARGET_CYCLES)
    cfg = build_config(**build_options)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "model.onnx": _copy_atomic(qonnx_path, out / "model.onnx"),
        "folding_config.json": result.config.save(
            out / cfg["folding_config_file"], desc, result.fifos
        ),
        "dataflow_build_config.json": write_text_atomic(
            out / "dataflow_build_config.json", json.dumps(cfg, indent=2) + "\n"
        ),
    }
    paths["README.md"] = write_text_atomic(
        out / "README.md", _readme(desc, qonnx_path, result, cfg)
    )
    return paths


def _copy_atomic(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` through a temporary file in ``dst``'s folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def finn_available() -> bool:
    """Whether FINN's builder imports (the PyPI placeholder ``finn`` does not count)."""
    try:
        import finn.builder.build_dataflow
        import finn.builder.build_dataflow_config  # noqa: F401
    except ImportError:
        return False
    return True


def run_finn_build(out: Path | str) -> int:
    """Run FINN's ``build_dataflow_cfg`` on a folder written by :func:`write_finn_build_dir`,
    as ``build_dataflow_directory`` does (read the config, enter the folder, build
    ``model.onnx``). Returns FINN's status (0 = success).

    Raises
    ------
    FinnNotInstalledError
        ``finn.builder`` is not importable.
    FinnExportError
        ``out`` lacks ``model.onnx`` or ``dataflow_build_config.json``.
    """
    out = Path(out).resolve()
    for name in ("model.onnx", "dataflow_build_config.json"):
        if not (out / name).is_file():
            raise FinnExportError(
                f"{out / name}: not found (write the folder with `ecgaccel finn-export` first)"
            )
    try:
        from finn.builder.build_dataflow import build_dataflow_cfg
        from finn.builder.build_dataflow_config import DataflowBuildConfig
    except ImportError as exc:
        raise FinnNotInstalledError(
            "FINN is not installed (finn.builder does not import; FINN is not on PyPI: install "
            "it from github.com/Xilinx/finn with Vivado/Vitis HLS, or run its Docker "
            f"container on {out})"
        ) from exc
    cfg = DataflowBuildConfig.from_json((out / "dataflow_build_config.json").read_text())
    old = os.getcwd()
    os.chdir(out)  # FINN resolves output_dir and folding_config_file against the build folder
    try:
        return int(build_dataflow_cfg(str(out / "model.onnx"), cfg))
    finally:
        os.chdir(old)


def _readme(desc: NetworkDescription, qonnx: Path, result: FoldingResult, cfg: dict) -> str:
    deep = [f for f in result.fifos if f.depth > SHALLOW_FIFO and f.finn_consumer]
    fifo_lines = (
        "\n".join(f"- `{f.finn_consumer}`: `inFIFODepths` = [{f.depth}] ({f.reason})" for f in deep)
        or "- none deeper than the shallow default"
    )
    outputs = ", ".join(cfg["generate_outputs"])
    target = (
        f"target {result.target_cycles} cycles a window"
        if result.target_cycles is not None
        else f"budget {result.budget}"
    )
    return f"""# FINN build folder for `{desc.name}`

Written by `ecgaccel finn-export` from `{qonnx.name}` (QONNX). FINN reads this folder in its
"simple dataflow build mode":

| file | what |
|---|---|
| `model.onnx` | the QONNX model (a copy of `{qonnx.name}`) |
| `folding_config.json` | PE / SIMD / ram_style per FINN node (`set_folding`, {target}) |
| `dataflow_build_config.json` | FINN `DataflowBuildConfig` (outputs: {outputs}) |

## Run it

FINN is not on PyPI and needs Vivado / Vitis HLS. With FINN's Docker container
(from a FINN checkout):

    ./run-docker.sh build_dataflow <path to this folder>

inside a FINN environment:

    python -m finn.builder.build_dataflow <path to this folder>

from Python:

    from finn.builder.build_dataflow import build_dataflow_directory
    build_dataflow_directory("<path to this folder>")

or, where both ecgaccel and FINN are installed: `ecgaccel finn-build <this folder>`.
Outputs go to `{cfg["output_dir"]}/` inside this folder (`report/estimate_layer_cycles.json`,
`stitched_ip/`, ...).

## The folding (ecgaccel's own estimates, cycles of one window)

{result.table()}

FIFO depths (used by FINN only with `"auto_fifo_depths": false`; now
`{str(cfg["auto_fifo_depths"]).lower()}`):

{fifo_lines}

## What may not lower

- Node names assume FINN v0.10+ lowers each block to `FMPadding_rtl` →
  `ConvolutionInputGenerator_rtl` → `MVAU_hls` → (overlapping max-pool:) depthwise
  `ConvolutionInputGenerator_rtl` + `Pool_hls` → `Thresholding_rtl`. FINN's `ApplyConfig`
  warns about names it does not find; check `final_hw_config.json`.
- The thresholds are two-sided (`bit = invert XOR (m >= hi OR m <= lo)`, from BatchNorm ∘ PReLU
  ∘ sign). Channels with a negative PReLU slope are not monotone, and FINN's `MultiThreshold`
  is; streamlining may stop there.
- The head (global sum of max(m, 0) / min(m, 0) with folded coefficients) has no FINN layer;
  it stays outside the dataflow partition (run on the host).
- ecgaccel's own dataflow back end (`ecgaccel.hw.dataflow`) implements all of this and is
  verified bit-exactly against the integer reference without FINN.
"""
