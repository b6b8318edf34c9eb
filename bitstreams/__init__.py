"""ecgaccel.bitstreams: Yosys + nextpnr flows per target, and report parsing."""
