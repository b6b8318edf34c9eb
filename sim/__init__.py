"""ecgaccel.sim: cocotb testbenches on Verilator, stream drivers and the simulator runner."""
