"""Streamlining: the Brevitas QONNX of an ECG-BNN → an integer graph (FINN's front end).

Each pass is a qonnx :class:`~qonnx.transformation.base.Transformation` (``model.transform(P())``)
and keeps what ``qonnx.core.onnx_exec.execute_onnx`` computes (apart from the input contract of
:class:`IntegerizeInput` and the fixed-point scores of :class:`LowerSumHead`). :func:`streamline`
applies them in order::

    Quant → Pad(1.0) → Conv(BipolarQuant(W)) → MaxPool → PRelu → BatchNorm → BipolarQuant → ...
        → PRelu → BatchNorm → ReduceSum
  ⇒ (int8 input) Mul(2^-5) → ...                                   (IntegerizeInput)
  ⇒ Pad(32) → Conv(±1) → MaxPool → Mul(s) → PRelu → BatchNorm → ... (MoveScaleMulsDown)
  ⇒ Pad(32) → Conv(±1) → MaxPool → MultiThreshold | BipolarThreshold → Pad(+1) → ...
        → FixedPointSumHead → ArgMax                                 (thresholds, head)

The WnAn variants (n-bit weights and activations) take the same road with ``Quant`` nodes::

    ... → Conv(Quant(W)) → MaxPool → PRelu → BatchNorm → Quant(a) → [Pad(0)] → Conv(Quant(W')) ...
  ⇒ Conv(INTn) → Mul(w) → ...                                       (FoldQuantWeights)
  ⇒ ... → BatchNorm → Div(a) → Quant(1) → Mul(a) → Conv → ...       (ExtractActivationScales)
  ⇒ Conv(INTn) → MaxPool → Mul(a) → Mul(w') → PRelu → BatchNorm → Div(a') → Quant(1)
                                                                     (MoveScaleMulsDown)
  ⇒ Conv(INTn) → MaxPool → MultiThreshold | SignedMultiThreshold → Conv(INTn) → ...
                                                          (AbsorbAffineIntoMultiThresholds)

The integer semantics are those of :mod:`ecgaccel.hw.description`; thresholds and head
coefficients come from ``compile.derive_thresholds`` / ``compile.derive_multithresholds`` /
``compile.derive_head`` (one source of truth), so the streamlined graph's scores equal
``models.reference.run`` bit for bit.
"""

from __future__ import annotations

from qonnx.transformation.base import Transformation

from ..compile import CompileError
from .accumulators import (
    ACCUMULATORS_KEY,
    AccumulatorRange,
    AnnotateAccumulatorRanges,
    accumulator_range,
    recorded_ranges,
)
from .fusion import LowerFusedFeatures
from .head import HEAD_KEY, LowerLinearHead, LowerSumHead
from .layout import ConvertTo4DLayout
from .ops import DOMAIN, BipolarThreshold, FixedPointSumHead, SignedMultiThreshold
from .residual import FactorScalesOutOfAdd, SplitFanOutMuls
from .scales import ExtractActivationScales, MoveScaleMulsDown
from .thresholds import (
    THRESHOLD_OPS,
    AbsorbAffineIntoMultiThresholds,
    AbsorbAffineIntoThresholds,
    MoveMaxPoolPastMonotoneThresholds,
)
from .tidy import INPUT_QUANT_KEY, FoldBinaryWeights, FoldQuantWeights, IntegerizeInput, TidyUp

__all__ = [
    "ACCUMULATORS_KEY",
    "DOMAIN",
    "HEAD_KEY",
    "INPUT_QUANT_KEY",
    "THRESHOLD_OPS",
    "AbsorbAffineIntoMultiThresholds",
    "AbsorbAffineIntoThresholds",
    "AccumulatorRange",
    "AnnotateAccumulatorRanges",
    "BipolarThreshold",
    "ConvertTo4DLayout",
    "ExtractActivationScales",
    "FactorScalesOutOfAdd",
    "FixedPointSumHead",
    "FoldBinaryWeights",
    "FoldQuantWeights",
    "IntegerizeInput",
    "LowerFusedFeatures",
    "LowerLinearHead",
    "LowerSumHead",
    "MoveMaxPoolPastMonotoneThresholds",
    "MoveScaleMulsDown",
    "SignedMultiThreshold",
    "SplitFanOutMuls",
    "TidyUp",
    "accumulator_range",
    "recorded_ranges",
    "streamline",
]


LEFTOVERS = ("Quant", "BipolarQuant", "PRelu", "BatchNormalization", "ReduceSum", "Div")
"""Float ops that must not survive :func:`streamline`."""


def passes(reorder_pool: bool = False, layout_4d: bool = False) -> list[Transformation]:
    """The transformations :func:`streamline` applies, in order (fresh instances)."""
    seq = [
        TidyUp(),
        FoldBinaryWeights(),
        FoldQuantWeights(),
        IntegerizeInput(),
        ExtractActivationScales(),
        TidyUp(readable_names=False),
        SplitFanOutMuls(),
        FactorScalesOutOfAdd(),
        MoveScaleMulsDown(),
        AnnotateAccumulatorRanges(),
        AbsorbAffineIntoThresholds(),
        AbsorbAffineIntoMultiThresholds(),
        LowerFusedFeatures(),
        LowerSumHead(),
        LowerLinearHead(),
    ]
    if reorder_pool:
        seq.append(MoveMaxPoolPastMonotoneThresholds())
    if layout_4d:
        seq.append(ConvertTo4DLayout())
    return [*seq, TidyUp(), AnnotateAccumulatorRanges()]


def streamline(model, reorder_pool: bool = False, layout_4d: bool = False):
    """Streamline the QONNX ``ModelWrapper`` ``model`` (not modified) into an integer graph.

    Parameters
    ----------
    model:
        Brevitas QONNX of an ECG-BNN (``models.export.export_qonnx``; binary or WnAn), input
        float32 ``[N, 1, L]`` z-scored.
    reorder_pool:
        Move max-pools behind thresholds where that is provably exact (all channels monotone
        increasing); by default pools stay on the integer accumulators, as in
        :mod:`ecgaccel.hw.description`.
    layout_4d:
        Convert to FINN's ``[N, C, 1, L]`` layout with ``(1, k)`` kernels.

    Returns
    -------
    ModelWrapper
        Input ``global_in``: integers (``INT8`` for the ECG-BNN; quantize on the host with
        ``models.nets.quantize_input``, recorded under :data:`INPUT_QUANT_KEY`), float32
        ``[N, 1, L]`` (``[N, 1, 1, L]`` with ``layout_4d``). Outputs ``global_out``: float64
        ``[N, n_classes]`` integer scores (real value ``score * 2^-frac_bits``, see
        :data:`HEAD_KEY`) and ``global_out_1``: int64 ``[N]`` labels.

    Raises
    ------
    CompileError
        A node the passes cannot lower, or a float op (:data:`LEFTOVERS`) left over; the
        message names it.
    """
    for p in passes(reorder_pool, layout_4d):
        model = model.transform(p)
    for node in model.graph.node:
        if node.op_type in LEFTOVERS:
            raise CompileError(
                f"{node.name} ({node.op_type}): left in the streamlined graph; "
                "its block does not match conv → max-pool → scale → PReLU → "
                "BatchNorm → sign / n-bit quantizer / sum over time"
            )
    return model
