"""ecgaccel.hw: the integer network description, the dataflow compiler and the Amaranth cores."""

BACKENDS = ("core", "dataflow")
"""The hardware back ends: the hand-written chain core and the dataflow pipeline."""
