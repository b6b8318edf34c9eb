"""Host-side preprocessing every model shares, without PyTorch: the per-window z-score and
the int8 input quantizer (see :mod:`.nets` for why it stays off chip)."""

from __future__ import annotations

import numpy as np

INPUT_BITS = 8
INPUT_FRAC_BITS = 5
"""The int8 input has 5 fractional bits: scale 2^-5, range [-4, 3.97] standard deviations."""


def zscore(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Per-example, per-lead z-score over time: float32 ``[N, C, L]`` → same shape, unitless.

    Host-side preprocessing of every model (see the module docstring for why it is not on chip).
    A flat signal (std < ``eps`` mV) maps to zeros.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, eps)).astype(np.float32)


def quantize_input(z: np.ndarray) -> np.ndarray:
    """The first layer's int8 input: ``clip(round_half_even(z * 2^5), -128, 127)``.

    ``z`` float32 ``[N, C, L]`` z-scored; returns int8 ``[N, C, L]`` (the integer the hardware
    receives; the value it stands for is ``q * 2^-5``). Matches Brevitas's ``InputQuant``.
    """
    q = np.rint(np.asarray(z, dtype=np.float32) * np.float32(2**INPUT_FRAC_BITS))
    lo, hi = -(2 ** (INPUT_BITS - 1)), 2 ** (INPUT_BITS - 1) - 1
    return np.clip(q, lo, hi).astype(np.int8)


METADATA_FRAC_BITS = 6
"""Fractional bits of the metadata input (:class:`~.leadnet.MetadataQuant`'s scale 2^-6)."""


def quantize_metadata(meta: np.ndarray) -> np.ndarray:
    """The integers int64 ``[N, M]`` the metadata input takes: ``clip(round(meta * 2^6), -128,
    127)`` of float ``[N, M]`` features (what :class:`~.leadnet.MetadataQuant` computes, half
    to even)."""
    q = np.rint(np.asarray(meta, np.float64) * 2**METADATA_FRAC_BITS)
    return np.clip(q, -128, 127).astype(np.int64)
