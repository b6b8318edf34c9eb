"""The 12-lead model zoo of the efficient-architectures paper (../shared/docs/SEEDS.md §2):
AttiaNet, DeepResidualCNN, ParallelCNN, ParallelCNNew and SimpleNet, each in float or Brevitas
(int8, int4, W2A2), each with an optional late fusion of age and sex.

The paper publishes no code; where it gives no detail each network follows the cited original
or the SEEDS.md description, and the choice is stated in its docstring. All of them read
z-scored 10-s records ``[N, 1, 12, L]`` (or ``[N, 12, L]``) at 100 Hz (PTB-XL's ``records100``,
L = 1000) and build on the units of :mod:`.qblocks` (zero pad → Conv → PReLU → BatchNorm →
int-n), so that a quantized network's integer form is one convolution and one set of thresholds
per unit, as the compiler takes it (:mod:`ecgaccel.hw.streamline`). Max-pools act on the
quantized levels (after the unit: a max of integers).

Late fusion (every architecture): the pooled features ``[N, F]`` are concatenated with the
metadata ``[N, M]`` (PTB-XL's age / 100, age-missing flag and sex, :func:`.ptbxl.age_sex_features`;
int8 at 2^-6 through :class:`.leadnet.MetadataQuant` in a quantized network) and requantized
by one quantizer before the head, the paper's "late, low-cost" fusion: M x classes more head
weights. The head is a Linear layer (8-bit weights in a quantized network, float bias).

Precision (``ZooConfig.bits``): 0 float32 throughout; n > 0: signed n-bit weights per tensor and
signed n-bit activations with a learned power-of-two scale in every unit, 8-bit input (2^-5) and
head weights. DeepResidualCNN's attention is Brevitas' ``QuantMultiheadAttention`` at n bits.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import torch
from torch import nn

from .configs import ZooConfig
from .nets import InputQuant
from .qblocks import ConvUnit, lead_time_input, quant_act

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.nn import QuantIdentity, QuantLinear, QuantMultiheadAttention
    from brevitas.quant import Int8WeightPerTensorFloat

__all__ = ["ZooNet", "build_zoo", "storage_bits"]


def _linear(c_in: int, c_out: int, bits: int) -> nn.Module:
    """A Linear layer with bias: ``bits``-bit weights per tensor, or float for ``bits`` 0."""
    if not bits:
        return nn.Linear(c_in, c_out)
    return QuantLinear(c_in, c_out, bias=True, weight_quant=Int8WeightPerTensorFloat,
                       weight_bit_width=bits)  # fmt: skip


class TemporalBlock(nn.Module):
    """A unit over time only (kernel ``(1, k)``, every lead on its own with shared weights)
    followed by a max-pool of ``pool`` samples (1: none)."""

    def __init__(self, c_in: int, c_out: int, k: int, pool: int, bits: int) -> None:
        super().__init__()
        self.unit = ConvUnit(c_in, c_out, (1, k), (1, 1), bits)
        self.pool = nn.MaxPool2d((1, pool)) if pool > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.unit(x))


class ZooNet(nn.Module):
    """Common frame of the zoo: input checks and quantizer, the architecture's ``features``
    (``[N, 1, leads, L]`` → pooled ``[N, F]``), the late fusion and the head.

    Raises ``ValueError`` unless the input is ``[N, 1, leads, L]`` or ``[N, leads, L]``, and the
    metadata ``[N, M]`` when the network fuses some."""

    n_features: int
    lowering_refused: ClassVar[str] = ""
    """Why the network has no QONNX export / integer lowering ("" when it has one)."""

    def __init__(self, config: ZooConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_quant = (QuantIdentity(act_quant=InputQuant, return_quant_tensor=False)
                            if c.bits else nn.Identity())  # fmt: skip

    def _build_head(self) -> None:
        c = self.config
        if c.metadata:
            from .leadnet import MetadataQuant

            self.meta_quant = (QuantIdentity(act_quant=MetadataQuant, return_quant_tensor=False)
                               if c.bits else nn.Identity())  # fmt: skip
            self.fuse_quant = quant_act(c.bits)
        self.fc = _linear(self.n_features + c.metadata, c.n_classes, 8 if c.bits else 0)

    def features(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Pooled features float32 ``[N, n_features]`` of quantized input ``[N, 1, leads, L]``,
        or the pooled parts that :meth:`forward` concatenates (with the metadata, when fused)
        in one Concat and one quantizer (the compiler's fusion takes no nested Concat)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        """Logits float32 ``[N, n_classes]`` of z-scored records ``[N, 1, leads, L]`` (or
        ``[N, leads, L]``) and, for a network with metadata, its features ``[N, M]``."""
        c = self.config
        f = self.features(self.input_quant(lead_time_input(type(self).__name__, c, x, meta)))
        parts = list(f) if isinstance(f, tuple) else [f]
        if c.metadata:
            f = self.fuse_quant(torch.cat([*parts, self.meta_quant(meta)], dim=1))
        elif len(parts) > 1:
            f = self.join_quant(torch.cat(parts, dim=1))
        return self.fc(f)


class AttiaNet(ZooNet):
    """After Attia et al. 2019 (Nat. Med., the low-EF network; layout per third-party
    re-implementations, SEEDS.md §2): six temporal blocks per lead (filters w, w, 2w, 2w, 4w,
    4w; kernels 5, 5, 5, 3, 3, 3; max-pools 2, 2, 4, 2, 2, 4: 1000 → 3 samples), a spatial unit
    with kernel (12, 1) across the leads to 8w channels, then fully connected 4w → 2w (Attia:
    64 → 32 at w = 16) and the head. The flatten + first fully connected layer is one unpadded
    convolution over the whole remaining map (8w x 3: the same function), the second a 1 x 1
    convolution, so that both are the compiler's units. Differences from the original, and why:
    PReLU → BN → int-n units (the compiler's form) instead of BN → ReLU; one temporal block set
    for both the plain and the age/sex model (Attia's age/sex model has 8 blocks for 5,000-sample
    inputs at 500 Hz; at 100 Hz six already reach 3 samples)."""

    FILTERS = (1, 1, 2, 2, 4, 4)
    KERNELS = (5, 5, 5, 3, 3, 3)
    POOLS = (2, 2, 4, 2, 2, 4)

    def __init__(self, config: ZooConfig) -> None:
        super().__init__(config)
        c, w = config, config.width
        outs = [w * f for f in self.FILTERS]
        ins = [1, *outs[:-1]]
        self.temporal = nn.ModuleList(
            TemporalBlock(a, b, k, p, c.bits)
            for a, b, k, p in zip(ins, outs, self.KERNELS, self.POOLS, strict=True)
        )
        self.spatial = ConvUnit(outs[-1], 8 * w, (c.leads, 1), (1, 1), c.bits)
        left = c.input_length
        for p in self.POOLS:
            left //= p
        # flatten + Linear(8w x left -> 4w) as one unpadded convolution over the whole map,
        # then Linear(4w -> 2w) as a 1 x 1 convolution: the compiler's units
        self.dense = nn.Sequential(ConvUnit(8 * w, 4 * w, (1, left), (1, 1), c.bits, pad=False),
                                   ConvUnit(4 * w, 2 * w, (1, 1), (1, 1), c.bits))  # fmt: skip
        self.n_features = 2 * w
        self._build_head()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.temporal:
            x = block(x)
        return self.dense(self.spatial(x)).mean(dim=(-2, -1))  # [N, 2w, 1, 1] -> [N, 2w]


class SimpleNet(ZooNet):
    """Joint temporal-spatial processing (the paper's SimpleNet, SEEDS.md §2; no code
    published): one unit whose kernel (12, 7) spans all leads and 7 samples at once (2w
    channels, max-pool 4), then two temporal blocks (2w → 4w → 4w, kernel 5, max-pools 4 and 4:
    1000 → 15 samples), global average pooling and the head. Our reading of "joint": the first
    layer mixes leads and time in one kernel, where AttiaNet separates them."""

    def __init__(self, config: ZooConfig) -> None:
        super().__init__(config)
        c, w = config, config.width
        self.joint = ConvUnit(1, 2 * w, (c.leads, 7), (1, 1), c.bits)
        self.pool = nn.MaxPool2d((1, 4))
        self.temporal = nn.Sequential(TemporalBlock(2 * w, 4 * w, 5, 4, c.bits),
                                      TemporalBlock(4 * w, 4 * w, 5, 4, c.bits))  # fmt: skip
        self.n_features = 4 * w
        self._build_head()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.pool(self.joint(x))).mean(dim=(-2, -1))


class ParallelCNN(ZooNet):
    """Parallel temporal and spatial branches (the paper's ParallelCNN, SEEDS.md §2; no code
    published), both from the input, concatenated after pooling:

    * temporal first: temporal blocks 1 → w → 2w → 2w (kernels 5, 5, 3; max-pools 2, 4, 4),
      then a spatial unit (12, 1) → 4w, global average pooling;
    * spatial first: a spatial unit (12, 1) 1 → 2w, then temporal blocks 2w → 2w → 4w → 4w
      (kernels 5, 3, 3; max-pools 4, 4, 4), global average pooling;

    the two ``[N, 4w]`` vectors are concatenated (with the metadata, when fused) and
    requantized by one quantizer before the head (in a network without metadata, that quantizer
    alone: both branches on one scale)."""

    def __init__(self, config: ZooConfig) -> None:
        super().__init__(config)
        c, w, b = config, config.width, config.bits
        self.temporal = nn.Sequential(TemporalBlock(1, w, 5, 2, b),
                                      TemporalBlock(w, 2 * w, 5, 4, b),
                                      TemporalBlock(2 * w, 2 * w, 3, 4, b))  # fmt: skip
        self.temporal_spatial = ConvUnit(2 * w, 4 * w, (c.leads, 1), (1, 1), b)
        self.spatial = ConvUnit(1, 2 * w, (c.leads, 1), (1, 1), b)
        self.spatial_temporal = nn.Sequential(TemporalBlock(2 * w, 2 * w, 5, 4, b),
                                              TemporalBlock(2 * w, 4 * w, 3, 4, b),
                                              TemporalBlock(4 * w, 4 * w, 3, 4, b))  # fmt: skip
        if not c.metadata:  # the branches' concatenation on one scale (else: the fusion's)
            self.join_quant = quant_act(b)
        self.n_features = 8 * w
        self._build_head()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t = self.temporal_spatial(self.temporal(x)).mean(dim=(-2, -1))
        s = self.spatial_temporal(self.spatial(x)).mean(dim=(-2, -1))
        return t, s


class ParallelCNNew(ParallelCNN):
    """ParallelCNN with a symmetric weight initialization (the paper's ParallelCNNew; its exact
    scheme is unpublished). Our scheme: every convolution of both branches from one He-normal
    draw per shape, seeded alike in both branches, so that corresponding layers of the two
    branches start at the same scale; and the head's weights of the temporal branch's features
    mirror those of the spatial branch's (the same values), so neither branch dominates the
    logits at the start. Topology and training are ParallelCNN's."""

    def __init__(self, config: ZooConfig) -> None:
        super().__init__(config)
        self.symmetric_init()

    @torch.no_grad()
    def symmetric_init(self, seed: int = 0) -> None:
        """Re-draw the branch convolutions and the head's weights as the class docstring says."""
        branches = ((self.temporal, self.temporal_spatial), (self.spatial, self.spatial_temporal))
        for branch in branches:
            gen = torch.Generator().manual_seed(seed)
            for module in nn.Sequential(*branch).modules():
                if isinstance(module, nn.Conv2d):  # QuantConv2d is one too
                    w = module.weight
                    std = (2.0 / (w[0].numel())) ** 0.5
                    w.copy_(torch.randn(w.shape, generator=gen) * std)
        half = self.n_features // 2
        self.fc.weight[:, :half] = self.fc.weight[:, half : 2 * half]


class _ResidualBlock(nn.Module):
    """ISIBrno-AIMT's residual block, at the unit level: two units of kernel (1, 9) (the second
    at stride 2 in time) beside a shortcut of an average pool of 2 and a 1x1 unit; the sum →
    PReLU → BN → int-n."""

    def __init__(self, c: int, bits: int) -> None:
        super().__init__()
        self.unit1 = ConvUnit(c, c, (1, 9), (1, 1), bits)
        self.unit2 = ConvUnit(c, c, (1, 9), (1, 2), bits)
        self.pool = nn.AvgPool2d((1, 2), ceil_mode=True)
        self.shortcut = ConvUnit(c, c, (1, 1), (1, 1), bits)
        self.act = nn.PReLU(c)
        self.bn = nn.BatchNorm2d(c)
        self.quant = quant_act(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.unit2(self.unit1(x)) + self.shortcut(self.pool(x))
        return self.quant(self.bn(self.act(y)))


class DeepResidualCNN(ZooNet):
    """After Nejedly et al., ISIBrno-AIMT (CinC 2021, first of 39): a stem unit Conv(1 x 15,
    stride 2) with the 12 leads as input channels (12 → C), five residual blocks
    (:class:`_ResidualBlock`, each halving time: 1000 → 500 → 16 samples), 8-head self-attention
    over the remaining time steps, their mean, and the head.

    Parameters at the rate trained here, and why they differ from the original's: C = 4w
    (64 at w = 16) instead of 256, about 0.4 M parameters instead of about 6 M, so that a CPU
    trains it on PTB-XL's 100 Hz records in minutes; the input is 1,000 samples at 100 Hz
    instead of 8,192 at 500 Hz (the same stem and kernels thus see 5x more time each); no
    lead-indicator input (every PTB-XL record has all 12 leads). The compiler refuses it
    (:attr:`lowering_refused`)."""

    BLOCKS = 5
    lowering_refused: ClassVar[str] = (
        "its 8-head self-attention (a product of two activations, and a softmax) has no "
        "integer lowering in the compiler, and Brevitas' QuantMultiheadAttention does not "
        "trace to QONNX; the average-pool shortcuts would be refused too"
    )

    def __init__(self, config: ZooConfig) -> None:
        super().__init__(config)
        c, ch = config, 4 * config.width
        self.stem = ConvUnit(c.leads, ch, (1, 15), (1, 2), c.bits)
        self.blocks = nn.Sequential(*(_ResidualBlock(ch, c.bits) for _ in range(self.BLOCKS)))
        if c.bits:
            self.attention = QuantMultiheadAttention(ch, 8, batch_first=True,
                                                     weight_bit_width=c.bits)  # fmt: skip
        else:
            self.attention = nn.MultiheadAttention(ch, 8, batch_first=True)
        self.n_features = ch
        self._build_head()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x.transpose(1, 2)))  # leads as channels: [N, 12, 1, L]
        tokens = x.flatten(2).transpose(1, 2)  # [N, L', C]
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return attended.mean(dim=1)


ARCHITECTURES: dict[str, type[ZooNet]] = {
    "attianet": AttiaNet,
    "deepresidualcnn": DeepResidualCNN,
    "parallelcnn": ParallelCNN,
    "parallelcnnew": ParallelCNNew,
    "simplenet": SimpleNet,
}
"""The zoo's networks by :attr:`ZooConfig.arch`."""


def build_zoo(config: ZooConfig) -> ZooNet:
    """A fresh network of ``config``."""
    return ARCHITECTURES[config.arch](config)


def storage_bits(config: ZooConfig) -> int:
    """Storage of ``config``'s network by the BNN paper's formula: every convolution, hidden
    Linear and attention weight at ``bits`` (32 when float), the head's weights at 8 (32), 16
    bits per output channel of every layer (bias, BatchNorm, PReLU or the thresholds that
    replace them)."""
    net = build_zoo(config)
    bits = config.bits or 32
    total = 0
    for name, p in net.named_parameters():
        if p.dim() > 1:  # weights
            total += p.numel() * ((8 if config.bits else 32) if name.startswith("fc.") else bits)
        elif name.endswith(("bn.weight", "bias")):  # one 16-bit word per output channel
            total += 16 * p.numel()
    return total
