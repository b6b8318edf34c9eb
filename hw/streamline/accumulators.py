"""Accumulator ranges of the integer convolutions: ±1 weights (XNOR-popcount layers when the
input is bipolar too) and the n-bit integer weights of the WnAn variants."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation

from ..compile import CompileError
from ._graph import attr, const, int_bounds, signed_type

ACCUMULATORS_KEY = "ecgaccel.accumulators"
"""Metadata key: JSON ``{conv node name: AccumulatorRange fields}``."""

MAX_RANGE = 1 << 20
"""Widest integer range a threshold is derived over (``derive_thresholds`` enumerates it)."""


@dataclass(frozen=True)
class AccumulatorRange:
    """What one integer-weight ``Conv`` can accumulate.

    Attributes
    ----------
    conv:
        Node name.
    fan_in:
        Products per output: ``C_in * K`` (``W.shape[1:]``).
    input_min, input_max:
        Range of the values it multiplies (input datatype and pad value together).
    xnor:
        Bipolar input and ±1 weights: the hardware computes ``p = popcount(xnor(x, w))`` in
        ``[0, fan_in]`` and the graph's value is ``2 * p - fan_in``.
    acc_min, acc_max:
        Range of the graph's (±1-domain) sum: ``∓ fan_in * max|x| * max|w|``
        (= ``ConvLayer.acc_min/max``).
    weight_min, weight_max:
        Range of the weights: of their datatype annotation (``INTn``: ``[-2^(n-1), 2^(n-1) -
        1]``, as ``description.weight_max`` bounds narrow-range weights too), or ``[-1, 1]``
        for ±1 weights.
    """

    conv: str
    fan_in: int
    input_min: int
    input_max: int
    xnor: bool
    acc_min: int
    acc_max: int
    weight_min: int = -1
    weight_max: int = 1

    @property
    def acc_type(self) -> DataType:
        """Signed type of the ±1-domain sum, sized like ``description.acc_width``."""
        return signed_type(self.acc_min, self.acc_max)

    @property
    def popcount_type(self) -> DataType | None:
        """``UINTn`` covering the popcount range ``[0, fan_in]`` (XNOR layers only).

        A register sized from thresholds or from the ±1 range but read as signed can wrap: a
        popcount of 1028 in an 11-bit signed register reads as -1020.
        """
        return DataType[f"UINT{self.fan_in.bit_length()}"] if self.xnor else None

    def to_json(self) -> dict:
        """Fields plus the type names (``popcount_type`` is ``None`` unless ``xnor``)."""
        pc = self.popcount_type
        return {
            **asdict(self),
            "acc_type": self.acc_type.get_canonical_name(),
            "popcount_min": 0 if self.xnor else None,
            "popcount_max": self.fan_in if self.xnor else None,
            "popcount_type": None if pc is None else pc.get_canonical_name(),
        }


def weight_range(model, conv) -> tuple[int, int]:
    """``(min, max)`` of ``conv``'s constant weights: their integer datatype annotation's range
    (after :class:`~.tidy.FoldQuantWeights`, ``INTn``), else ``(-1, 1)`` for ±1 values.

    Raises
    ------
    CompileError
        Weights that are neither ±1 nor integers within their annotated type.
    """
    w = const(model, conv, 1)
    dtype = model.get_tensor_datatype(conv.input[1])
    bounds = int_bounds(dtype)
    if bounds is not None and np.all(dtype.allowed(w)):
        return bounds
    if np.all(np.abs(w) == 1):
        return -1, 1
    raise CompileError(
        f"{conv.name}: weights are not ±1 or integer-annotated constants "
        "(run FoldBinaryWeights / FoldQuantWeights)"
    )


def accumulator_range(model, conv) -> AccumulatorRange:
    """The :class:`AccumulatorRange` of ``conv`` (a ``Conv`` node with ±1 or integer-annotated
    constant weights and an integer-annotated input, optionally produced by a constant ``Pad``;
    zero padding held in the ``Conv``'s ``pads`` attribute is covered by any signed range).

    Raises
    ------
    CompileError
        Weights neither ±1 nor integer constants, an input without an integer datatype, or a
        bipolar input padded with something other than ±1.
    """
    w_lo, w_hi = weight_range(model, conv)
    w = const(model, conv, 1)
    if len(conv.input) > 2:
        raise CompileError(f"{conv.name}: an integer convolution must be bias-free")
    x = conv.input[0]
    pad = model.find_producer(x)
    src = pad.input[0] if pad is not None and pad.op_type == "Pad" else x
    dtype = model.get_tensor_datatype(src)
    bounds = int_bounds(dtype)
    if bounds is None:
        raise CompileError(
            f"{conv.name}: input {src} is {dtype.get_canonical_name()}, not an "
            "integer (was the input integerized and the scales moved?)"
        )
    lo, hi = bounds
    if src != x:
        value = 0.0
        if len(pad.input) > 2 and pad.input[2]:
            value = float(const(model, pad, 2).reshape(-1)[0])
        if attr(pad, "mode", "constant") != "constant" or value != round(value):
            raise CompileError(f"{pad.name}: needs constant mode and an integer value, got {value}")
        if dtype == DataType["BIPOLAR"] and value not in (-1.0, 1.0):
            raise CompileError(f"{pad.name}: a bipolar input can only be padded with -1 or +1")
        lo, hi = min(lo, round(value)), max(hi, round(value))
    if dtype == DataType["BIPOLAR"] and any(attr(conv, "pads", [0])):
        raise CompileError(f"{conv.name}: a bipolar input cannot be zero-padded by the Conv")
    fan_in = int(np.prod(w.shape[1:]))
    biggest = fan_in * max(abs(lo), abs(hi)) * max(abs(w_lo), abs(w_hi))
    return AccumulatorRange(
        conv=conv.name,
        fan_in=fan_in,
        input_min=lo,
        input_max=hi,
        xnor=dtype == DataType["BIPOLAR"] and (w_lo, w_hi) == (-1, 1),
        acc_min=-biggest,
        acc_max=biggest,
        weight_min=w_lo,
        weight_max=w_hi,
    )


def integer_range(model, tensor: str) -> tuple[int, int]:
    """``(min, max)`` of integer ``tensor``: through ``MaxPool`` to a ``Conv``'s accumulator range,
    else its datatype annotation.

    Raises
    ------
    CompileError
        Not an integer tensor, or a range wider than :data:`MAX_RANGE`.
    """
    prod = model.find_producer(tensor)
    while prod is not None and prod.op_type == "MaxPool":
        prod = model.find_producer(prod.input[0])
    if prod is not None and prod.op_type == "Conv":
        r = accumulator_range(model, prod)
        return r.acc_min, r.acc_max
    bounds = int_bounds(model.get_tensor_datatype(tensor))
    if bounds is None or bounds[1] - bounds[0] > MAX_RANGE:
        raise CompileError(
            f"tensor {tensor}: no integer range of at most {MAX_RANGE} values (a scale that "
            "could not move past a max-pool or conv?)"
        )
    return bounds


class AnnotateAccumulatorRanges(Transformation):
    """Annotate each integer-weight ``Conv`` output (and the ``MaxPool`` after it) with the
    signed type of its ±1-domain range, and record every :class:`AccumulatorRange` (with the
    popcount range ``[0, fan_in]`` and its ``UINTn`` for XNOR layers) as JSON under the metadata
    key :data:`ACCUMULATORS_KEY`. FINN counterpart: ``MinimizeAccumulatorWidth``, without its wrap
    trap (see :attr:`AccumulatorRange.popcount_type`).

    Raises
    ------
    CompileError
        From :func:`accumulator_range`.
    """

    def apply(self, model):
        """Annotate all convolutions."""
        found = {}
        for conv in model.graph.node:
            if conv.op_type != "Conv":
                continue
            r = accumulator_range(model, conv)
            found[conv.name] = r.to_json()
            out = conv.output[0]
            while out is not None:
                model.set_tensor_datatype(out, r.acc_type)
                pool = model.find_consumer(out)
                out = pool.output[0] if pool is not None and pool.op_type == "MaxPool" else None
        model.set_metadata_prop(ACCUMULATORS_KEY, json.dumps(found))
        return model, False


def recorded_ranges(model) -> dict[str, dict]:
    """The JSON written by :class:`AnnotateAccumulatorRanges` (empty if it has not run)."""
    text = model.get_metadata_prop(ACCUMULATORS_KEY)
    return json.loads(text) if text else {}
