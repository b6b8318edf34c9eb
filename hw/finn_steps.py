"""FINN build of an ``ecgaccel finn-export`` folder: FINN's own steps plus one conversion step.

This file is copied into the build folder and runs in FINN's Python environment, never in
ecgaccel's: it imports only FINN, qonnx, numpy and the standard library. From the folder::

    python finn_steps.py                 # FINN's estimate-only flow (no Vivado / Vitis needed)
    python finn_steps.py --steps codegen # ... + step_hw_codegen (needs Vitis HLS for HLS layers)
    python finn_steps.py --verify        # FINN's execute_onnx of each saved step model, compared
                                         # with verify/expected.npy on verify/input.npy

FINN's ``step_convert_to_hw`` infers no ``Pool`` (overlapping max-pools), no ``ChannelwiseOp``
and makes ``FMPadding`` only out of ``Im2Col`` padding; :func:`step_ecgaccel_convert_to_hw`
runs FINN's own ``InferPool`` and ``InferChannelwiseLinearLayer``, turns the graph's ``Pad``
nodes into FINN's ``FMPadding``, then FINN's ``step_convert_to_hw``.
:func:`step_ecgaccel_minimize_bit_width` follows FINN's ``step_minimize_bit_width`` (see
there why). Every other step is FINN's, unmodified.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

HERE = os.path.dirname(os.path.abspath(__file__))


class InferFMPaddingFromPad(Transformation):
    """``Pad`` (constant 0, NHWC ``[1, H, W, C]``, spatial axes only) → FINN's ``FMPadding``."""

    def apply(self, model):
        for i, node in enumerate(model.graph.node):
            if node.op_type != "Pad":
                continue
            pads = model.get_initializer(node.input[1])
            value = model.get_initializer(node.input[2]) if len(node.input) > 2 else None
            shape = model.get_tensor_shape(node.input[0])
            dt = model.get_tensor_datatype(node.input[0])
            if pads is None or len(shape) != 4 or not dt.is_integer():
                continue
            if value is not None and float(np.asarray(value).reshape(-1)[0]) != 0.0:
                continue
            p = [int(v) for v in np.asarray(pads).reshape(-1)]
            if p[0] or p[3] or p[4] or p[7]:
                continue  # batch or channel padding
            new = helper.make_node(
                "FMPadding",
                [node.input[0]],
                [node.output[0]],
                domain="finn.custom_op.fpgadataflow",
                backend="fpgadataflow",
                ImgDim=[shape[1], shape[2]],
                Padding=[p[1], p[2], p[5], p[6]],
                NumChannels=shape[3],
                SIMD=1,
                inputDataType=dt.name,
                name="FMPadding_" + (node.name or f"pad{i}"),
            )
            model.graph.node.insert(i, new)
            model.graph.node.remove(node)
            model = model.transform(InferShapes())
            return model.transform(InferDataTypes()), True
        return model, False


def step_ecgaccel_convert_to_hw(model, cfg):
    """FINN's ``InferPool``, ``InferChannelwiseLinearLayer`` and ``Pad`` → ``FMPadding``, then
    FINN's ``step_convert_to_hw``."""
    from finn.builder.build_dataflow_steps import step_convert_to_hw
    from finn.transformation.fpgadataflow import convert_to_hw_layers as to_hw

    model = model.transform(InferDataLayouts())
    model = model.transform(InferFMPaddingFromPad())
    model = model.transform(to_hw.InferChannelwiseLinearLayer())
    model = model.transform(to_hw.InferPool())
    return step_convert_to_hw(model, cfg)


def step_ecgaccel_minimize_bit_width(model, cfg):
    """FINN's width minimization, node by node in graph order, with two corrections.

    FINN's ``MinimizeWeightBitWidth`` and each node's ``minimize_accumulator_width`` (FINN's
    ``MinimizeAccumulatorWidth``), except for an XNOR-popcount MVAU without fused activation:
    FINN sizes its accumulator from the ±1 range, ``[-#(w = 0), #(w = 1)]``, but the popcount
    it computes ranges over ``0 .. MW`` (ecgbnn5's block 5: INT9, up to 255, for ``MW`` 266),
    so it gets ``UINT<bits(MW)>``. And ``Pool`` and the depthwise SWG before it keep the
    datatypes they were made with (their ``infer_node_datatype`` does not update their
    attributes), so the narrowed widths would stop there: they take their input's. FINN's own
    ``step_minimize_bit_width`` runs too, a no-op with ``minimize_bit_width`` false in
    ``dataflow_build_config.json``, which is what keeps FINN from shrinking the popcount.
    """
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import (
        MinimizeWeightBitWidth,
    )
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    model = model.transform(MinimizeWeightBitWidth())
    keep = {"Pool": ("InputDataType", "OutputDataType"),
            "ConvolutionInputGenerator": ("inputDataType", "outputDataType")}  # fmt: skip
    for i in range(len(model.graph.node)):
        node = model.graph.node[i]  # the current model's node (each transform copies it)
        inst = getCustomOp(node)
        base = node.op_type.rsplit("_", 1)[0]
        if (
            base == "MVAU"
            and inst.get_nodeattr("binaryXnorMode")
            and inst.get_nodeattr("noActivation")
        ):
            dt = DataType[f"UINT{int(inst.get_nodeattr('MW')).bit_length()}"]
            inst.set_nodeattr("accDataType", dt.name)
            inst.set_nodeattr("outputDataType", dt.name)
        elif base in keep:
            dt = model.get_tensor_datatype(node.input[0]).name
            for name in keep[base]:
                inst.set_nodeattr(name, dt)
        elif hasattr(inst, "minimize_accumulator_width"):
            inst.minimize_accumulator_width(model)
        model = model.transform(InferDataTypes())
    return model


ESTIMATE_STEPS = [
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    step_ecgaccel_convert_to_hw,
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_target_fps_parallelization",
    "step_apply_folding_config",
    "step_minimize_bit_width",
    step_ecgaccel_minimize_bit_width,
    "step_generate_estimate_reports",
]
"""FINN's ``estimate_only_dataflow_steps`` with the conversion step replaced and the width
minimization step after ``step_minimize_bit_width``."""

STEP_LISTS = {"estimate": ESTIMATE_STEPS, "codegen": [*ESTIMATE_STEPS, "step_hw_codegen"]}


def build(steps: str = "estimate") -> int:
    """Run FINN's ``build_dataflow_cfg`` on ``model.onnx`` with ``dataflow_build_config.json``
    (as ``build_dataflow_directory`` does) and the step list ``steps``. Returns FINN's status."""
    from finn.builder.build_dataflow import build_dataflow_cfg
    from finn.builder.build_dataflow_config import DataflowBuildConfig

    with open(os.path.join(HERE, "dataflow_build_config.json")) as f:
        cfg = DataflowBuildConfig.from_json(f.read())
    cfg.steps = STEP_LISTS[steps]
    os.environ.setdefault("FINN_BUILD_DIR", tempfile.mkdtemp(prefix="finn_build_"))
    # step_hw_codegen reads RTL templates under $FINN_ROOT (a source checkout: src/finn/..)
    import finn

    pkg = os.path.abspath(next(iter(finn.__path__)))  # a namespace package: no __file__
    os.environ.setdefault("FINN_ROOT", os.path.dirname(os.path.dirname(pkg)))
    old = os.getcwd()
    os.chdir(HERE)
    try:
        return int(build_dataflow_cfg(os.path.join(HERE, "model.onnx"), cfg))
    finally:
        os.chdir(old)


HW_DOMAIN = "finn.custom_op.fpgadataflow"


def _python_model(model):
    """``model`` with every specialized layer (``<op>_hls`` / ``<op>_rtl``, which FINN executes
    only in cppsim / rtlsim, i.e. with Vitis HLS / Vivado) turned back into FINN's base op
    ``<op>``, whose ``execute_node`` is FINN's Python model of the layer."""
    for node in model.graph.node:
        if node.domain in (HW_DOMAIN + ".hls", HW_DOMAIN + ".rtl"):
            node.op_type, node.domain = node.op_type.rsplit("_", 1)[0], HW_DOMAIN
    return model


def _run(model, x: np.ndarray) -> tuple[np.ndarray, int]:
    """FINN's ``execute_onnx`` window by window: outputs and the number of tensor values that
    lie outside their FINN datatype (what the hardware would wrap)."""
    from finn.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    outs, outside = [], 0
    for i in range(len(x)):
        ctx = execute_onnx(model, {iname: x[i : i + 1]}, return_full_exec_context=True)
        outs.append(ctx[oname])
        for name, value in ctx.items():
            if model.get_initializer(name) is None:
                outside += _outside(model.get_tensor_datatype(name), value)
    return np.concatenate(outs), outside


def _outside(dt, value) -> int:
    """How many of ``value`` an integer FINN datatype ``dt`` cannot hold (0 for float types)."""
    if not dt.is_integer():
        return 0
    v = np.asarray(value, dtype=np.float64)
    if dt.name == "BIPOLAR":
        return int(np.sum((v != -1) & (v != 1)))
    return int(np.sum((v < dt.min()) | (v > dt.max()) | (v != np.round(v))))


def verify(output_dir: str, limit: int | None = None) -> dict:
    """FINN's ``execute_onnx`` of ``model.onnx`` and of each step's saved model on
    ``verify/input.npy`` (the first ``limit`` windows), compared exactly with
    ``verify/expected.npy``; specialized layers run as FINN's Python models
    (:func:`_python_model`). Returns ``{model: {"windows", "mismatches",
    "values_outside_datatype", "seconds"}}`` and writes it to ``<output_dir>/verify.json``."""
    # qonnx's per-value rounding pass (one Python call per value, 97 % of the time) is off:
    # every value here is an integer below 2^24, exact in float32, and _outside checks each
    # against its datatype, vectorized
    os.environ.setdefault("SANITIZE_QUANT_TENSORS", "0")
    x = np.load(os.path.join(HERE, "verify", "input.npy"))[:limit]
    want = np.load(os.path.join(HERE, "verify", "expected.npy"))[:limit]
    inter = os.path.join(HERE, output_dir, "intermediate_models")
    names = ["model.onnx", "dataflow_parent.onnx"] + [
        f"{s if isinstance(s, str) else s.__name__}.onnx" for s in STEP_LISTS["codegen"]
    ]
    report = {}
    for name in names:
        path = os.path.join(HERE, name) if name == "model.onnx" else os.path.join(inter, name)
        if not os.path.isfile(path):
            continue
        t = time.time()
        got, outside = _run(_python_model(ModelWrapper(path)), x)
        n = len(x)
        report[name] = {
            "windows": len(x),
            "mismatches": int(np.sum(np.any(got.reshape(n, -1) != want.reshape(n, -1), axis=1))),
            "values_outside_datatype": outside,
            "seconds": round(time.time() - t, 2),
        }
        print(f"{name}: {report[name]}", flush=True)
    with open(os.path.join(HERE, output_dir, "verify.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", choices=sorted(STEP_LISTS), default="estimate")
    p.add_argument("--verify", action="store_true", help="only verify the saved step models")
    p.add_argument("--limit", type=int, default=None, help="verify the first N windows only")
    args = p.parse_args(argv)
    with open(os.path.join(HERE, "dataflow_build_config.json")) as f:
        output_dir = json.load(f)["output_dir"]
    if args.verify:
        report = verify(output_dir, args.limit)
        bad = [k for k, v in report.items() if v["mismatches"] or v["values_outside_datatype"]]
        return 1 if bad else 0
    return build(args.steps)


if __name__ == "__main__":
    sys.exit(main())
