"""A quantized 12-lead network over ``[N, 1, leads, time]`` whose integer form is a lead x time
graph: the compiler's 2-D network (the efficient-architectures paper's compact baseline,
../shared/docs/SEEDS.md §2: temporal convolution blocks applied to every lead, then a spatial
block across all leads, AttiaNet's layout, here quantized).

Topology::

    int8 input (2^-5) [N, 1, 12, L]
      → temporal: [ Conv(1 x K, stride (1, 2)) → PReLU → BN → int-n ] x temporal_blocks
                    (the first from 1 channel, then C → C; each lead on its own, shared weights)
      → spatial:  Conv(leads x 1) across all leads → PReLU → BN → int-n        [N, C, 1, L']
      → global average pool                                                   [N, C]
      [→ with ``metadata`` M > 0: Concat(·, int8 metadata at 2^-6 [N, M]) → int-f (one
         learned power-of-two scale over both; f = fuse_bits or n)           [N, C + M]]
      → Linear(→ labels, int8 weights, float bias) → logits

The metadata (e.g. PTB-XL's age and sex, :func:`.ptbxl.age_sex_features`) joins late, after
the pooling, as in the efficient-architectures paper's fusion (SEEDS.md §2); its own quantizer
has a constant scale 2^-6 (the host quantizes it, :func:`quantize_metadata`), and the quantizer
after the Concat puts the pooled features and the metadata on one integer scale, so the head is
one integer matrix product.

Quantization as :mod:`.resnet`: signed ``bits``-bit weights per tensor, signed ``bits``-bit
activations with a learned power-of-two scale, zero padding. The logits are the multi-label
scores (``sigmoid(logit) >= tau`` per label, PTB-XL's five diagnostic superclasses) or the class
scores (argmax); :func:`~.export.export_qonnx` appends the ``Sigmoid`` for a multi-label
network, which the compiler lowers to per-label integer thresholds.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .configs import LeadNetConfig
from .nets import InputQuant
from .preprocess import METADATA_FRAC_BITS, quantize_metadata  # noqa: F401 (re-exported)
from .qblocks import ConvUnit, lead_time_input, quant_act

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brevitas.inject.enum import ScalingImplType
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFloat


class MetadataQuant(Int8ActPerTensorFixedPoint):
    """int8 with the constant power-of-two scale 2^-6 (``max_val`` 2.0): metadata features of
    magnitude below 2 (an age in years / 100, a 0/1 flag) at a step of 1/64."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 2.0
    max_val = 2.0
    min_val = -2.0


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
        if c.metadata:
            self.meta_quant = QuantIdentity(act_quant=MetadataQuant, return_quant_tensor=False)
            self.fuse_quant = quant_act(c.fuse_bits or c.bits)
        self.fc = QuantLinear(ch + c.metadata, c.n_classes, bias=True,
                              weight_quant=Int8WeightPerTensorFloat,
                              weight_bit_width=8)  # fmt: skip

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        """Logits float32 ``[N, n_classes]`` of z-scored windows ``[N, 1, leads, L]`` (or
        ``[N, leads, L]``, as an :class:`~.ecgset.EcgSet` holds them) and, for a network with
        metadata, its features float32 ``[N, metadata]``."""
        c = self.config
        x = self.input_quant(lead_time_input("QuantLeadNet", c, x, meta))
        for unit in self.temporal:
            x = unit(x)
        x = self.spatial(x).mean(dim=(-2, -1))  # global average pooling
        if c.metadata:
            if self.training and c.morph_dropout:  # modality dropout (LeadNetConfig)
                x = x * (torch.rand(len(x), 1) >= c.morph_dropout).to(x.dtype)
            x = self.fuse_quant(torch.cat([x, self.meta_quant(meta)], dim=1))
        return self.fc(x)
