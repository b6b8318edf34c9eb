"""A quantized 12-lead network over ``[N, 1, leads, time]`` whose integer form is a lead x time
graph: the compiler's 2-D network (the efficient-architectures paper's compact baseline,
../shared/docs/SEEDS.md §2: temporal convolution blocks applied to every lead, then a spatial
block across all leads, AttiaNet's layout, here quantized).

Topology::

    int8 input (2^-5) [N, 1, 12, L]
      → temporal: [ Conv(1 x K, stride (1, 2)) → PReLU → BN → int-n ] x temporal_blocks
                    (the first from 1 channel, then C → C; each lead on its own, shared weights)
      → spatial:  Conv(leads x 1) across all leads → PReLU → BN → int-n        [N, C, 1, L']
      → global average pool → Linear(C → labels, int8 weights, float bias) → logits

Quantization as :mod:`.resnet`: signed ``bits``-bit weights per tensor, signed ``bits``-bit
activations with a learned power-of-two scale, zero padding. The logits are the multi-label
scores (``sigmoid(logit) >= tau`` per label, PTB-XL's five diagnostic superclasses) or the class
scores (argmax); :func:`~.export.export_qonnx` appends the ``Sigmoid`` for a multi-label
network, which the compiler lowers to per-label integer thresholds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from .nets import InputQuant
from .qblocks import ConvUnit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8WeightPerTensorFloat


@dataclass(frozen=True)
class LeadNetConfig:
    """Shape of a :class:`QuantLeadNet`: ``n_classes`` outputs (labels), ``leads`` H,
    ``input_length`` L (samples), ``channels`` C, ``temporal_blocks`` (each halves the time
    axis), ``kernel`` K (odd, time taps), ``bits`` of weights and activations (2..8),
    ``multilabel`` (sigmoid per label, else one class)."""

    n_classes: int = 5
    leads: int = 12
    input_length: int = 1000
    channels: int = 8
    temporal_blocks: int = 3
    kernel: int = 7
    bits: int = 4
    multilabel: bool = True

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0 or not 2 <= self.bits <= 8 or self.temporal_blocks < 1:
            raise ValueError(f"LeadNetConfig: odd kernel, bits 2..8, blocks >= 1; got {self}")

    @property
    def binary(self) -> bool:
        """Always quantized (the registry's "has a QONNX export" flag)."""
        return True

    def example_input(self) -> torch.Tensor:
        """A zero input ``[1, 1, leads, input_length]`` (the export's trace)."""
        return torch.zeros(1, 1, self.leads, self.input_length)

    def storage_bits(self) -> int:
        """``bits`` per convolution weight, 8 per head weight, 16 per output channel (the BNN
        paper's storage formula, as :meth:`.resnet.ResNetConfig.storage_bits`)."""
        c, k, b = self.channels, self.kernel, self.temporal_blocks
        conv = c * k + (b - 1) * c * c * k + c * c * self.leads
        return conv * self.bits + 8 * c * self.n_classes + 16 * (c * (b + 1) + self.n_classes)


class QuantLeadNet(nn.Module):
    """The quantized lead x time network (module docstring). Raises ``ValueError`` unless the
    input is ``[N, 1, leads, input_length]``."""

    def __init__(self, config: LeadNetConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_quant = QuantIdentity(act_quant=InputQuant, return_quant_tensor=False)
        ch, k = c.channels, c.kernel
        blocks = range(c.temporal_blocks)
        self.temporal = nn.ModuleList(
            ConvUnit(1 if i == 0 else ch, ch, (1, k), (1, 2), c.bits) for i in blocks
        )
        self.spatial = ConvUnit(ch, ch, (c.leads, 1), (1, 1), c.bits)
        self.fc = QuantLinear(ch, c.n_classes, bias=True, weight_quant=Int8WeightPerTensorFloat,
                              weight_bit_width=8)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits float32 ``[N, n_classes]`` of z-scored windows ``[N, 1, leads, L]`` (or
        ``[N, leads, L]``, as an :class:`~.ecgset.EcgSet` holds them)."""
        c = self.config
        if x.dim() == 3:
            x = x[:, None]
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, c.leads, c.input_length):
            raise ValueError(f"QuantLeadNet expects input [N, 1, {c.leads}, {c.input_length}], "
                             f"got {list(x.shape)}")  # fmt: skip
        x = self.input_quant(x)
        for unit in self.temporal:
            x = unit(x)
        x = self.spatial(x)
        return self.fc(x.mean(dim=(-2, -1)))  # global average pooling
