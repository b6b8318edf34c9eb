"""Hardware layers of the dataflow back end (FINN's architecture: one streaming layer per
network layer, AXI-Stream between them).

Each layer is an Amaranth ``wiring.Component`` with ``s_axis`` / ``m_axis`` ports
(:class:`~ecgaccel.hw.stream.AxiStreamSignature`), a Python integer model of its stream, and
``estimate_cycles()`` / ``estimate_resources()`` (FINN's ``get_exp_cycles`` and resource
estimates). Beat layout (:mod:`.common`): lane ``i`` in bits ``[i * w, (i + 1) * w)``; a
feature map streams column by column, channels folded ``C / SIMD`` (or ``C / PE``) beats a
column.

=========================  ====================================  ==========================
layer                      FINN op                               model
=========================  ====================================  ==========================
:class:`SlidingWindowGenerator`  ConvolutionInputGenerator1D     :func:`swg_model`
:class:`MVAU`              MatrixVectorActivation (no activation) :func:`mvau_model`
:class:`MaxPoolLayer`      StreamingMaxPool (1-D, overlapping)   :func:`pool_model`
:class:`ThresholdLayer`    Thresholding                          :func:`threshold_model`
:class:`MultiThresholdLayer`  Thresholding (n-bit, out_bias)     :func:`multithreshold_model`
:class:`HeadLayer`         GlobalAccPool + LabelSelect           :func:`head_model`
:class:`StreamFifo`        StreamingFIFO                         :func:`fifo_model`
:class:`StreamWidthConverter`  StreamingDataWidthConverter       :func:`width_converter_model`
=========================  ====================================  ==========================
"""

from .chain import StreamChain, conv_block_layers
from .common import LayerConfigError, RegisterSlice, pack_lanes, unpack_lanes
from .fifo import StreamFifo, StreamWidthConverter, fifo_model, width_converter_model
from .head import HeadLayer, HeadParams, head_model, head_output_words
from .mvau import MVAU, MvauParams, conv_weight_matrix, mvau_model
from .pool import MaxPoolLayer, PoolParams, pool_model
from .swg import SlidingWindowGenerator, SwgParams, swg_input_beats, swg_model
from .threshold import (
    MultiThresholdLayer,
    MultiThresholdParams,
    ThresholdLayer,
    ThresholdParams,
    multithreshold_model,
    threshold_model,
    threshold_stage,
)

__all__ = [
    "MVAU",
    "HeadLayer",
    "HeadParams",
    "LayerConfigError",
    "MaxPoolLayer",
    "MultiThresholdLayer",
    "MultiThresholdParams",
    "MvauParams",
    "PoolParams",
    "RegisterSlice",
    "SlidingWindowGenerator",
    "StreamChain",
    "StreamFifo",
    "StreamWidthConverter",
    "SwgParams",
    "ThresholdLayer",
    "ThresholdParams",
    "conv_block_layers",
    "conv_weight_matrix",
    "fifo_model",
    "head_model",
    "head_output_words",
    "multithreshold_model",
    "mvau_model",
    "pack_lanes",
    "pool_model",
    "swg_input_beats",
    "swg_model",
    "threshold_model",
    "threshold_stage",
    "unpack_lanes",
    "width_converter_model",
]
