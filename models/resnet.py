"""A quantized 1-D ResNet in Brevitas whose integer form is a graph (residual adds, global
average pooling, a fully connected head): the compiler's residual network.

Topology (He et al. 2016, "Deep Residual Learning for Image Recognition", 1-D, basic blocks
with identity shortcuts; the block tail is the ECG-BNN's PReLU → BatchNorm → quantizer so that
every activation is one set of integer thresholds)::

    int8 input (2^-5) → stem: Conv(1→C, K, stride 2) → PReLU → BN → int-n
      → [ Conv(K) → PReLU → BN → int-n → Conv(K) → PReLU → BN → int-n ─┐
          └──────────────── identity ──────────────────────────── + ─┘ → PReLU → BN → int-n ]
        x blocks (a block that widens C → C': its first Conv at stride 2, and the shortcut a
        1x1 projection unit Conv(1, stride 2) → PReLU → BN → int-n)
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

import torch
from torch import nn

from .configs import ResNetConfig
from .nets import InputQuant
from .qblocks import ConvUnit, quant_act

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8WeightPerTensorFloat


class _Block(nn.Module):
    """Two conv units and a shortcut; the sum → PReLU → BN → int-n. The shortcut is the
    identity, or, when the width changes (``c_in != c``), a 1x1 projection at stride 2 beside a
    first convolution of stride 2: a unit of its own (Conv(1x1) → PReLU → BN → int-n, so that
    it is one set of thresholds and its output lies on a power-of-two grid, as the add needs;
    He et al.'s option B with the block tail of every unit here)."""

    def __init__(self, c_in: int, c: int, k: int, bits: int) -> None:
        super().__init__()
        stride = 1 if c_in == c else 2
        self.unit1 = ConvUnit(c_in, c, k, stride, bits)
        self.unit2 = ConvUnit(c, c, k, 1, bits)
        self.shortcut = ConvUnit(c_in, c, 1, stride, bits) if c_in != c else nn.Identity()
        self.act = nn.PReLU(c)
        self.bn = nn.BatchNorm1d(c)
        self.quant = quant_act(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant(self.bn(self.act(self.unit2(self.unit1(x)) + self.shortcut(x))))


class QuantResNet1d(nn.Module):
    """The quantized 1-D ResNet (module docstring). Raises ``ValueError`` unless the input is
    ``[N, 1, input_length]``."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_quant = QuantIdentity(act_quant=InputQuant, return_quant_tensor=False)
        self.stem = ConvUnit(1, c.channels, c.kernel, 2, c.bits)
        ins = (c.channels, *c.block_widths[:-1])
        self.blocks = nn.ModuleList(_Block(a, b, c.kernel, c.bits)
                                    for a, b in zip(ins, c.block_widths, strict=True))  # fmt: skip
        self.fc = QuantLinear(
            c.block_widths[-1],
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
