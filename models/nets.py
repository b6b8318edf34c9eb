"""The ECG-BNN network of Zhang et al. 2024 in Brevitas, and its full-precision twin.

Source: Zhang et al. 2024, "Compact and Accurate Binary Neural Network for Real-Time ECG
Classification on AIoT Devices", and the authors' public code (github xpww/ECG_BNN_Net):
6 identical blocks, each = constant pad 5 samples (value +1) → bias-free Conv1d k=7 →
MaxPool1d(7, stride 2) → PReLU → BatchNorm1d; channels 1→8 (stride 2)→16→32→32→64→n_classes;
head = sum over time of the last block's output (the class scores), no FC layer (dropout 0.5
before the sum in training).

Quantization of the binary network (``binary=True``):

* input: the window is z-scored on the host (per window, mean 0 / std 1; :func:`zscore`), then
  quantized by the first layer to int8 with the fixed scale 2^-5 (range ±4 standard deviations,
  round half to even, clipped to [-128, 127]). The z-scoring stays on the host because it needs the
  whole window's mean and standard deviation before the first sample can be processed, and it is
  a per-window affine map that a streaming core would otherwise need a division for. The pad value
  +1 is then exactly the integer 32;
* weights: binary ±1 in every block (``SignedBinaryWeightPerTensorConst``, scale 1);
* activations: binary ±1 (sign, 0 → +1) at the input of blocks 2..6.

The int-n variants (``bits`` = n ≥ 2, e.g. W2A2 and W4A4; FINN's naming) keep the topology and
the int8 input and change two quantizers: weights are signed n-bit integers on the narrow range
``[-(2^(n-1) - 1), 2^(n-1) - 1]`` with a learned per-tensor scale
(``Int8WeightPerTensorFloat`` with ``bit_width`` n), and the activations feeding blocks 2..6 are
signed n-bit integers ``[-2^(n-1), 2^(n-1) - 1]`` with a learned per-tensor scale
(``Int8ActPerTensorFloat`` with ``bit_width`` n). Blocks 2..6 pad with 0, a value on every
activation grid (+1 is on the grid only of the binary one).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # brevitas warns about an optional CUDA kernel package
    from brevitas.inject.enum import ScalingImplType
    from brevitas.nn import QuantConv1d, QuantIdentity
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8ActPerTensorFloat,
        Int8WeightPerTensorFloat,
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
    )

from .configs import KERNEL, PAD, POOL_KERNEL, POOL_STRIDE, BnnConfig
from .preprocess import INPUT_BITS, INPUT_FRAC_BITS, quantize_input, zscore

__all__ = ["INPUT_BITS", "INPUT_FRAC_BITS", "BnnConfig", "EcgBnn", "quantize_input", "zscore"]


class InputQuant(Int8ActPerTensorFixedPoint):
    """int8 with the constant power-of-two scale 2^-5 (``max_val`` 4.0)."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 4.0
    max_val = 4.0
    min_val = -4.0


class Block(nn.Module):
    """pad 5 (``pad_value``) → Conv1d k=7 (no bias) → MaxPool1d(7, 2) → PReLU → BatchNorm1d.

    Input float ``[N, C_in, L]``, output float ``[N, C_out, L']``. ``bits``: weight bits of a
    quantized block (1 = binary), ``None`` for a full-precision one.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, bits: int | None,
                 pad_value: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        self.pad_value = pad_value
        if bits == 1:
            self.conv = QuantConv1d(
                c_in, c_out, KERNEL, stride=stride, bias=False,
                weight_quant=SignedBinaryWeightPerTensorConst,
            )  # fmt: skip
        elif bits is not None:
            self.conv = QuantConv1d(
                c_in, c_out, KERNEL, stride=stride, bias=False,
                weight_quant=Int8WeightPerTensorFloat, weight_bit_width=bits,
            )  # fmt: skip
        else:
            self.conv = nn.Conv1d(c_in, c_out, KERNEL, stride=stride, bias=False)
        self.pool = nn.MaxPool1d(POOL_KERNEL, POOL_STRIDE)
        self.act = nn.PReLU(c_out)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (PAD, PAD), value=self.pad_value)
        return self.bn(self.act(self.pool(self.conv(x))))


class EcgBnn(nn.Module):
    """ECG-BNN: 6 blocks and a global-sum-pooling head.

    Input: float32 ``[N, 1, L]`` z-scored windows (:func:`zscore`); output: float32
    ``[N, n_classes]`` class scores (logits).
    """

    def __init__(self, config: BnnConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.all_channels
        binary = config.binary
        self.input_quant = (
            QuantIdentity(act_quant=InputQuant, return_quant_tensor=False) if binary else None
        )
        bits = config.bits if binary else None
        pad = 1.0 if bits in (None, 1) else 0.0  # first block: +1 is 32 on the int8 grid
        self.blocks = nn.ModuleList(
            Block(ch[i], ch[i + 1], 2 if i == 0 else 1, bits, 1.0 if i == 0 else pad)
            for i in range(len(ch) - 1)
        )
        self.sign = nn.ModuleList(_act_quant(bits) for _ in range(len(ch) - 2))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, n_classes]``; raises ``ValueError`` unless ``x`` is ``[N, 1, L]``."""
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[2] != self.config.input_length:
            raise ValueError(
                f"{type(self).__name__} expects input [N, 1, {self.config.input_length}], "
                f"got {list(x.shape)}"
            )
        if self.input_quant is not None:
            x = self.input_quant(x)
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = self.sign[i - 1](x)
            x = block(x)
        return self.dropout(x).sum(dim=-1)


def _act_quant(bits: int | None) -> nn.Module:
    """The activation quantizer in front of blocks 2..6 (see the module docstring)."""
    if bits is None:
        return nn.Identity()
    if bits == 1:
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=False)
    # the scale starts from runtime statistics of the first training batches, then is learned
    return QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits,
                         return_quant_tensor=False)  # fmt: skip


def storage_bits_paper(config: BnnConfig) -> int:
    """Storage by the paper's formula: weight bits + 16 bits per output channel.

    Weights are ``bits`` bits in the quantized networks, 32 bits (float32) in the full-precision
    twins.
    For the 5-class binary shape: 28,280 weight bits + 157 channels x 16 = 30,792 bits = 3,849 B.
    """
    if hasattr(config, "storage_bits"):  # another architecture states its own
        return config.storage_bits()
    ch = config.all_channels
    n_weights = sum(ch[i] * ch[i + 1] * KERNEL for i in range(len(ch) - 1))
    return n_weights * (config.bits if config.binary else 32) + 16 * sum(ch[1:])
