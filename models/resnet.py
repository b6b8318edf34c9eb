"""A quantized 1-D ResNet in Brevitas whose integer form is a graph (residual adds, global
average pooling, a fully connected head): the compiler's residual network.

Topology (He et al. 2016, "Deep Residual Learning for Image Recognition", 1-D, basic blocks
with identity shortcuts; the block tail is the ECG-BNN's PReLU → BatchNorm → quantizer so that
every activation is one set of integer thresholds)::

    int8 input (2^-5) → stem: Conv(1→C, K, stride 2) → PReLU → BN → int-n
      → [ Conv(K) → PReLU → BN → int-n → Conv(K) → PReLU → BN → int-n ─┐
          └──────────────── identity ──────────────────────────── + ─┘ → PReLU → BN → int-n ]
        x blocks
      → global average pool → Linear(C → classes, int8 bias-quantized) → logits

Quantization: weights signed ``bits``-bit per tensor (learned scale), activations signed
``bits``-bit with a learned **power-of-two** scale (``Int8ActPerTensorFixedPoint``), so the two
inputs of every add differ in scale by a power of two and the add is an integer
``AddStreams(ka, kb)`` exactly; the head (8-bit weights, float bias) takes the pooled average:
its logits are ``s_w * s_x / L'`` times the integer product with the pooled sum, plus the bias,
which the compiler rounds to that unit (the only rounding of the integer form). Convolutions
pad with 0 (on every activation grid). Input ``[N, 1, L]`` z-scored (:func:`~.nets.zscore`),
output ``[N, classes]``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from .nets import InputQuant
from .qblocks import ConvUnit, quant_act

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8WeightPerTensorFloat


@dataclass(frozen=True)
class ResNetConfig:
    """Shape of a :class:`QuantResNet1d`: ``n_classes``, ``input_length`` (samples),
    ``channels`` C of every block, ``blocks`` residual blocks, ``kernel`` K (odd), ``bits`` of
    weights and activations (2..8)."""

    n_classes: int = 5
    input_length: int = 720
    channels: int = 16
    blocks: int = 3
    kernel: int = 5
    bits: int = 4

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0 or not 2 <= self.bits <= 8 or self.blocks < 1:
            raise ValueError(f"ResNetConfig: odd kernel, bits 2..8, blocks >= 1; got {self}")

    @property
    def binary(self) -> bool:
        """Always quantized (the registry's "has a QONNX export" flag; ECG-BNN twins say no)."""
        return True

    def storage_bits(self) -> int:
        """The BNN paper's storage formula applied to this network: ``bits`` per convolution
        weight, 8 per head weight, 16 per output channel of every layer (BatchNorm/PReLU, or
        the thresholds that replace them)."""
        c, k = self.channels, self.kernel
        conv = c * k + 2 * self.blocks * c * c * k
        channels = c * (1 + 3 * self.blocks) + self.n_classes
        return conv * self.bits + 8 * c * self.n_classes + 16 * channels

    @property
    def receptive_field(self) -> int:
        """Input samples one output position sees: the stem's K, then 2 (K - 1) per block at
        stride 2."""
        return self.kernel + 2 * self.blocks * (self.kernel - 1) * 2


class _Block(nn.Module):
    """Two conv units and an identity shortcut; the sum → PReLU → BN → int-n."""

    def __init__(self, c: int, k: int, bits: int) -> None:
        super().__init__()
        self.unit1 = ConvUnit(c, c, k, 1, bits)
        self.unit2 = ConvUnit(c, c, k, 1, bits)
        self.act = nn.PReLU(c)
        self.bn = nn.BatchNorm1d(c)
        self.quant = quant_act(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant(self.bn(self.act(self.unit2(self.unit1(x)) + x)))


class QuantResNet1d(nn.Module):
    """The quantized 1-D ResNet (module docstring). Raises ``ValueError`` unless the input is
    ``[N, 1, input_length]``."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_quant = QuantIdentity(act_quant=InputQuant, return_quant_tensor=False)
        self.stem = ConvUnit(1, c.channels, c.kernel, 2, c.bits)
        self.blocks = nn.ModuleList(_Block(c.channels, c.kernel, c.bits) for _ in range(c.blocks))
        self.fc = QuantLinear(
            c.channels,
            c.n_classes,
            bias=True,
            weight_quant=Int8WeightPerTensorFloat,
            weight_bit_width=8,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits float32 ``[N, n_classes]`` of z-scored windows ``[N, 1, L]``."""
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[2] != self.config.input_length:
            raise ValueError(f"QuantResNet1d expects input [N, 1, {self.config.input_length}], "
                             f"got {list(x.shape)}")  # fmt: skip
        x = self.stem(self.input_quant(x))
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=-1))  # global average pooling
