"""ecgaccel.models: ECG data (wfdb loaders, beats, windows, splits); later the Brevitas networks,
training, QONNX export and the integer reference."""
