"""The shapes of the trainable networks, without PyTorch: :class:`BnnConfig` (the ECG-BNN,
:mod:`.nets`), :class:`ResNetConfig` (:mod:`.resnet`) and :class:`LeadNetConfig`
(:mod:`.leadnet`). The registry, the checkpoints' shape check and the CLI read them without
importing the networks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .preprocess import INPUT_BITS, INPUT_FRAC_BITS

__all__ = ["INPUT_BITS", "INPUT_FRAC_BITS", "BnnConfig", "LeadNetConfig", "ResNetConfig"]

PAD = 5
"""Samples of constant padding on each side of an ECG-BNN convolution."""
KERNEL = 7
"""Taps of every ECG-BNN convolution."""
POOL_KERNEL = 7
POOL_STRIDE = 2
"""The ECG-BNN's max-pool: window 7, stride 2."""


@dataclass(frozen=True)
class BnnConfig:
    """Shape of an ECG-BNN.

    Attributes
    ----------
    n_classes:
        Output channels of the last block = number of classes.
    input_length:
        Samples per input window (3600 = 10 s at 360 Hz).
    channels:
        Output channels of blocks 1..5 (block 6 has ``n_classes``).
    binary:
        ``True``: quantized (int8 input, ``bits``-bit weights and activations); ``False``: the
        full-precision twin.
    bits:
        Weight and activation bits of a quantized network: 1 = binary (±1), n ≥ 2 = signed
        n-bit integers (WnAn).
    dropout:
        Dropout before the sum-pooling head (training only).
    """

    n_classes: int = 5
    input_length: int = 3600
    channels: tuple[int, ...] = (8, 16, 32, 32, 64)
    binary: bool = True
    dropout: float = 0.5
    bits: int = 1

    def __post_init__(self) -> None:
        if self.bits < 1 or self.bits > 8:
            raise ValueError(f"bits must be 1 (binary) .. 8, got {self.bits}")

    @property
    def all_channels(self) -> tuple[int, ...]:
        """Channels at every block boundary, input first: ``(1, 8, 16, 32, 32, 64, n)``."""
        return (1, *self.channels, self.n_classes)

    def block_lengths(self) -> list[int]:
        """Sequence length after each block (after its max-pool), e.g. 898 … 27 for 3600."""
        lengths, n = [], self.input_length
        for i in range(len(self.all_channels) - 1):
            stride = 2 if i == 0 else 1
            n = (n + 2 * PAD - KERNEL) // stride + 1
            n = (n - POOL_KERNEL) // POOL_STRIDE + 1
            if n < 1:
                raise ValueError(f"input_length {self.input_length} too short for 6 blocks")
            lengths.append(n)
        return lengths


@dataclass(frozen=True)
class ResNetConfig:
    """Shape of a :class:`QuantResNet1d`: ``n_classes``, ``input_length`` (samples),
    ``channels`` C (the stem's, and every block's unless ``widths`` gives one per block: a block
    that changes the width halves the time axis and has a 1x1 projection shortcut),
    ``blocks`` residual blocks, ``kernel`` K (odd), ``bits`` of weights and activations
    (2..8)."""

    n_classes: int = 5
    input_length: int = 720
    channels: int = 16
    blocks: int = 3
    kernel: int = 5
    bits: int = 4
    widths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))  # JSON lists
        if self.kernel % 2 == 0 or not 2 <= self.bits <= 8 or self.blocks < 1:
            raise ValueError(f"ResNetConfig: odd kernel, bits 2..8, blocks >= 1; got {self}")
        if self.widths and (len(self.widths) != self.blocks or min(self.widths) < 1):
            raise ValueError(f"ResNetConfig: one positive width per block; got {self}")

    @property
    def block_widths(self) -> tuple[int, ...]:
        """Output channels of each block: ``widths``, or ``channels`` for every block."""
        return self.widths or (self.channels,) * self.blocks

    def projected(self) -> list[bool]:
        """Per block: whether its width differs from its input's (stride 2 and a 1x1
        projection shortcut) rather than equal (identity shortcut)."""
        ins = (self.channels, *self.block_widths[:-1])
        return [a != b for a, b in zip(ins, self.block_widths, strict=True)]

    @property
    def binary(self) -> bool:
        """Always quantized (the registry's "has a QONNX export" flag; ECG-BNN twins say no)."""
        return True

    def storage_bits(self) -> int:
        """The BNN paper's storage formula applied to this network: ``bits`` per convolution
        weight, 8 per head weight, 16 per output channel of every layer (BatchNorm/PReLU, or
        the thresholds that replace them)."""
        k, ins, outs = self.kernel, (self.channels, *self.block_widths[:-1]), self.block_widths
        conv = self.channels * k
        channels = self.channels + self.n_classes
        for a, b, proj in zip(ins, outs, self.projected(), strict=True):
            conv += a * b * k + b * b * k + (a * b if proj else 0)
            channels += (4 if proj else 3) * b
        return conv * self.bits + 8 * outs[-1] * self.n_classes + 16 * channels

    @property
    def receptive_field(self) -> int:
        """Input samples one output position sees: the stem's K at stride 2, then 2 (K - 1)
        taps per block at the block's input stride (a projected block's first convolution has
        stride 2)."""
        rf, jump = self.kernel, 2
        for proj in self.projected():
            rf += (self.kernel - 1) * jump
            jump *= 2 if proj else 1
            rf += (self.kernel - 1) * jump
        return rf


def lead_time_example(leads: int, length: int, metadata: int):
    """A zero input ``[1, 1, leads, length]`` of a lead x time network (an export's trace),
    with zero metadata ``[1, metadata]`` beside it when the network takes some."""
    import torch

    x = torch.zeros(1, 1, leads, length)
    return (x, torch.zeros(1, metadata)) if metadata else x


@dataclass(frozen=True)
class LeadNetConfig:
    """Shape of a :class:`QuantLeadNet`: ``n_classes`` outputs (labels), ``leads`` H,
    ``input_length`` L (samples), ``channels`` C, ``temporal_blocks`` (each halves the time
    axis), ``kernel`` K (odd, time taps), ``bits`` of weights and activations (2..8),
    ``multilabel`` (sigmoid per label, else one class), ``metadata`` M (features fused after
    the pooling), ``fuse_bits`` of the quantizer after that fusion (0: ``bits``; more keeps
    the metadata's resolution, e.g. RR ratios, that 2 bits would erase), ``morph_dropout``:
    in training, the share of examples whose pooled ECG features are zeroed before the fusion
    (modality dropout), so that the head also learns to decide from the metadata alone (RR
    intervals transfer across patients better than a training patient's beat shapes);
    inference is unchanged."""

    n_classes: int = 5
    leads: int = 12
    input_length: int = 1000
    channels: int = 8
    temporal_blocks: int = 3
    kernel: int = 7
    bits: int = 4
    multilabel: bool = True
    metadata: int = 0
    fuse_bits: int = 0
    morph_dropout: float = 0.0

    def __post_init__(self) -> None:
        fuse_ok = self.fuse_bits == 0 or 2 <= self.fuse_bits <= 8
        if (self.kernel % 2 == 0 or not 2 <= self.bits <= 8 or self.temporal_blocks < 1
                or self.metadata < 0 or not fuse_ok
                or not 0.0 <= self.morph_dropout < 1.0):  # fmt: skip
            raise ValueError("LeadNetConfig: odd kernel, bits 2..8, blocks >= 1, metadata >= 0, "
                             "fuse_bits 0 or 2..8, morph_dropout in [0, 1); "
                             f"got {self}")  # fmt: skip

    @property
    def binary(self) -> bool:
        """Always quantized (the registry's "has a QONNX export" flag)."""
        return True

    def example_input(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The export's trace input (:func:`lead_time_example`)."""
        return lead_time_example(self.leads, self.input_length, self.metadata)

    def storage_bits(self) -> int:
        """``bits`` per convolution weight, 8 per head weight, 16 per output channel (the BNN
        paper's storage formula, as :meth:`.resnet.ResNetConfig.storage_bits`)."""
        c, k, b = self.channels, self.kernel, self.temporal_blocks
        conv = c * k + (b - 1) * c * c * k + c * c * self.leads
        head = 8 * (c + self.metadata) * self.n_classes
        return conv * self.bits + head + 16 * (c * (b + 1) + self.n_classes)


ZOO_ARCHS = ("attianet", "deepresidualcnn", "parallelcnn", "parallelcnnew", "simplenet")
"""The efficient-architectures paper's 12-lead zoo (../shared/docs/SEEDS.md §2; :mod:`.zoo`)."""

ZOO_PRECISIONS = {"fp": 0, "int8": 8, "int4": 4, "w2a2": 2}
"""Precision suffixes of a zoo model's name and their bits (0: float32, no quantizer)."""


@dataclass(frozen=True)
class ZooConfig:
    """Shape of a 12-lead zoo network (:mod:`.zoo`): ``arch`` (:data:`ZOO_ARCHS`),
    ``n_classes`` outputs, ``leads`` H, ``input_length`` L (samples at 100 Hz), ``width`` (the
    base channel count each architecture scales), ``bits`` of weights and activations (0: float,
    else 2..8; the head keeps 8-bit weights), ``multilabel`` (sigmoid per label, else one
    class), ``metadata`` M (late-fused features, PTB-XL's age, age-missing and sex: 3).

    Raises ``ValueError`` for an unknown ``arch``, ``bits`` other than 0 or 2..8, ``width``
    below 4, negative ``metadata`` or fewer than 2 classes."""

    arch: str = "attianet"
    n_classes: int = 5
    leads: int = 12
    input_length: int = 1000
    width: int = 16
    bits: int = 8
    multilabel: bool = True
    metadata: int = 0

    def __post_init__(self) -> None:
        if (self.arch not in ZOO_ARCHS or not (self.bits == 0 or 2 <= self.bits <= 8)
                or self.width < 4 or self.metadata < 0 or self.n_classes < 2):  # fmt: skip
            raise ValueError(f"ZooConfig: arch in {ZOO_ARCHS}, bits 0 or 2..8, width >= 4, "
                             f"metadata >= 0, n_classes >= 2; got {self}")  # fmt: skip

    @property
    def binary(self) -> bool:
        """Whether it is quantized (the registry's "has a QONNX export" flag)."""
        return self.bits > 0

    def example_input(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The export's trace input (:func:`lead_time_example`)."""
        return lead_time_example(self.leads, self.input_length, self.metadata)

    def storage_bits(self) -> int:
        """Weights at ``bits`` (32 for float), head weights at 8 (32 for float), 16 bits per
        output channel of every layer (its BatchNorm / thresholds): the BNN paper's storage
        formula applied to the built network (:func:`.zoo.storage_bits`)."""
        from .zoo import storage_bits

        return storage_bits(self)
