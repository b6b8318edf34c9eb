"""ecgaccel.hw: the integer network description, the dataflow compiler and the Amaranth cores."""
