"""ecgaccel: hardware/software co-design of ECG classification accelerators.

Sub-packages (each a top-level folder of the repository): :mod:`ecgaccel.models` (data, networks,
reference), :mod:`ecgaccel.hw` (compiler, Amaranth cores), :mod:`ecgaccel.sim` (cocotb on
Verilator), :mod:`ecgaccel.bitstreams` (Yosys + nextpnr).
"""

__version__ = "0.1.0"
