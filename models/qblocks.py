"""Quantized building blocks of the graph networks (:mod:`.resnet`, :mod:`.leadnet`): the unit
whose integer form is one convolution and one set of thresholds (the ECG-BNN's block tail,
PReLU → BatchNorm → quantizer), 1-D over time or 2-D over leads x time."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantIdentity
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFloat


def quant_act(bits: int) -> QuantIdentity | nn.Identity:
    """Signed ``bits``-bit activations with a learned power-of-two scale (so that the two
    inputs of an add differ in scale by a power of two, and thresholds are integers); ``bits``
    0: float, no quantizer (a full-precision twin)."""
    if bits == 0:
        return nn.Identity()
    return QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=bits,
                         return_quant_tensor=False)  # fmt: skip


class ConvUnit(nn.Module):
    """zero pad (time: K // 2 each side) → Conv (no bias, signed ``bits``-bit weights per
    tensor) → PReLU → BatchNorm → int-n (:func:`quant_act`).

    ``kernel`` / ``stride``: an int (1-D, input ``[N, C, L]``) or ``(kh, kw)`` (2-D over leads x
    time, input ``[N, C, leads, L]``; only the time axis is padded; ``pad`` False: not at all).
    ``bits`` 0: a float convolution and no quantizer (a full-precision twin)."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int],
                 stride: int | tuple[int, int], bits: int, pad: bool = True) -> None:  # fmt: skip
        super().__init__()
        two_d = isinstance(kernel, tuple)
        self.pad = (kernel[1] if two_d else kernel) // 2 if pad else 0
        if bits:
            conv = QuantConv2d if two_d else QuantConv1d
            self.conv = conv(c_in, c_out, kernel, stride=stride, bias=False,
                             weight_quant=Int8WeightPerTensorFloat,
                             weight_bit_width=bits)  # fmt: skip
        else:
            conv = nn.Conv2d if two_d else nn.Conv1d
            self.conv = conv(c_in, c_out, kernel, stride=stride, bias=False)
        self.act = nn.PReLU(c_out)
        self.bn = (nn.BatchNorm2d if two_d else nn.BatchNorm1d)(c_out)
        self.quant = quant_act(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, self.pad), value=0.0)
        return self.quant(self.bn(self.act(self.conv(x))))


def lead_time_input(name: str, config, x: torch.Tensor, meta: torch.Tensor | None) -> torch.Tensor:
    """``x`` as ``[N, 1, leads, L]`` (given so, or ``[N, leads, L]`` as an
    :class:`~.ecgset.EcgSet` holds it) for a lead x time network ``name`` of ``config``
    (``leads``, ``input_length``, ``metadata``).

    Raises
    ------
    ValueError
        Another input shape, or metadata missing or not ``[N, metadata]`` where the network
        fuses some.
    """
    c = config
    if c.metadata and (meta is None or tuple(meta.shape) != (len(x), c.metadata)):
        got = None if meta is None else list(meta.shape)
        raise ValueError(f"{name} expects metadata [N, {c.metadata}], got {got}")
    if x.dim() == 3:
        x = x[:, None]
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, c.leads, c.input_length):
        raise ValueError(f"{name} expects input [N, 1, {c.leads}, {c.input_length}], "
                         f"got {list(x.shape)}")  # fmt: skip
    return x
