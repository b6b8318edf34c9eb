"""ecgaccel.models: ECG data (wfdb loaders, beats, windows, splits), the Brevitas networks
(nets, registry), training, QONNX export, the integer reference (reference), metrics and the
shipped checkpoints (``checkpoints/``)."""
