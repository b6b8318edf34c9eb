"""A plain ONNX of a quantized network that onnxruntime runs (the shipped QONNX cannot).

The shipped ``.onnx`` is QONNX: its ``Quant`` and ``BipolarQuant`` nodes are custom ops that
onnxruntime does not have. Brevitas's own QCDQ export (``QuantizeLinear`` / ``DequantizeLinear``)
refuses 1-bit quantizers (``'Binary quant not supported'``) and qonnx's ``QuantToQCDQ`` leaves
``BipolarQuant`` alone, so neither gives a runnable graph of the binary ECG-BNN.

:func:`fold_quantizers` therefore turns the Brevitas network into the same function in plain
PyTorch: every convolution gets its quantized weights as float constants (Brevitas's
``quant_weight()``: ±0.1 in the binary network, ``k * scale`` in WnAn), and every activation
quantizer becomes its fake-quantization written in standard ops (:class:`FakeQuant`, the
arithmetic of Brevitas's ``IntQuant`` and ``BinaryQuant``). :func:`export_runnable_onnx` exports
that module with ``torch.onnx.export`` (opset :data:`OPSET`, dynamic batch); the graph computes
the float model's scores from z-scored windows, with only standard ONNX ops.
"""

from __future__ import annotations

import copy
import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgaccel.hw.files import write_bytes_atomic

from .export import quiet_export
from .nets import EcgBnn

OPSET = 18
"""ONNX opset of the runnable export."""


class FakeQuant(nn.Module):
    """A Brevitas activation quantizer in standard ops, for float ``[N, C, L]`` tensors.

    ``bit_width`` 1: ``scale * (x >= 0 ? 1 : -1)`` (Brevitas ``binary_sign``: 0 maps to +1).
    Otherwise ``(clamp(round(x / scale + zero_point), lo, hi) - zero_point) * scale`` with round
    half to even and ``lo``, ``hi`` the signed / narrow integer range of ``bit_width`` bits
    (Brevitas ``IntQuant``).
    """

    def __init__(
        self, scale: float, zero_point: float, bit_width: int, signed: bool, narrow: bool
    ) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(zero_point, dtype=torch.float32))
        self.bipolar = bit_width == 1
        hi = 2 ** (bit_width - 1) - 1 if signed else 2**bit_width - 1
        lo = (-hi if narrow else -hi - 1) if signed else 0
        self.lo, self.hi = float(lo), float(hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The fake-quantized ``x`` (same shape)."""
        if self.bipolar:
            return ((x >= 0).to(x.dtype) * 2.0 - 1.0) * self.scale
        y = torch.clamp(torch.round(x / self.scale + self.zero_point), self.lo, self.hi)
        return (y - self.zero_point) * self.scale

    @classmethod
    def of(cls, quant_identity: nn.Module) -> FakeQuant:
        """The fake-quantization of a Brevitas ``QuantIdentity`` (its scale, zero point, bit
        width, signedness and narrow range, read once)."""
        proxy = quant_identity.act_quant
        with torch.no_grad():
            return cls(
                float(proxy.scale()),
                float(proxy.zero_point()),
                int(proxy.bit_width()),
                bool(proxy.is_signed),
                bool(proxy.is_narrow_range),
            )


def fold_quantizers(model: EcgBnn) -> EcgBnn:
    """A copy of ``model`` in plain PyTorch computing the same scores: each ``QuantConv1d``
    becomes an ``nn.Conv1d`` holding its quantized weights, each ``QuantIdentity`` a
    :class:`FakeQuant`. Eval mode; ``model`` is left unchanged. A full-precision twin is only
    copied."""
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for block in folded.blocks:
            quant_weight = getattr(block.conv, "quant_weight", None)
            if quant_weight is None:
                continue
            conv = block.conv
            plain = nn.Conv1d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                stride=conv.stride,
                bias=False,
            )
            plain.weight.copy_(quant_weight().value)
            block.conv = plain
        if folded.input_quant is not None:
            folded.input_quant = FakeQuant.of(model.input_quant)
        folded.sign = nn.ModuleList(
            FakeQuant.of(s) if hasattr(s, "act_quant") else s for s in model.sign
        )
    return folded.eval()


def onnx_cache_path(model: EcgBnn, name: str, cache: Path) -> Path:
    """``<cache>/<name>-<digest>.onnx``: the digest covers the folded module's tensors, the
    torch version and :data:`OPSET`, so a retrained checkpoint never reuses an old export."""
    h = hashlib.sha256(f"{torch.__version__} {OPSET}".encode())
    for key, value in fold_quantizers(model).state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().numpy().tobytes())
    return Path(cache) / f"{name}-{h.hexdigest()[:16]}.onnx"


def export_runnable_onnx(model: EcgBnn, path: Path | str) -> Path:
    """Write :func:`fold_quantizers` of ``model`` as a plain ONNX (input ``global_in`` float32
    ``[batch, 1, L]`` z-scored windows, output ``global_out`` float32 ``[batch, n_classes]``
    scores, batch dynamic) to ``path`` atomically; returns ``path``. An existing ``path`` is
    kept (see :func:`onnx_cache_path` for a name that changes with the model)."""
    path = Path(path)
    if path.is_file():
        return path
    buf = io.BytesIO()
    with quiet_export():
        torch.onnx.export(
            fold_quantizers(model),
            (torch.zeros(2, 1, model.config.input_length),),
            buf,
            input_names=["global_in"],
            output_names=["global_out"],
            opset_version=OPSET,
            dynamo=False,
            external_data=False,
            dynamic_axes={"global_in": {0: "batch"}, "global_out": {0: "batch"}},
        )
    return write_bytes_atomic(path, buf.getvalue())


def onnx_ops(path: Path | str) -> list[str]:
    """The sorted distinct op types of an ONNX file's graph (e.g. to show it is plain ONNX)."""
    import onnx

    graph = onnx.load(str(path)).graph
    return sorted({f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in graph.node})


def scores_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """How two score arrays ``[N, n_classes]`` agree: ``classes`` (fraction of equal argmax),
    ``mismatches`` (count) and ``max_abs_score_diff``."""
    same = a.argmax(axis=1) == b.argmax(axis=1)
    return {
        "classes": float(same.mean()) if len(same) else 1.0,
        "mismatches": int((~same).sum()),
        "max_abs_score_diff": float(np.abs(a - b).max()) if a.size else 0.0,
    }
