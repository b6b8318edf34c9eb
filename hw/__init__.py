"""ecgaccel.hw: the integer network description, the dataflow compiler and the Amaranth cores."""

BACKENDS = ("core", "dataflow")
"""The hardware back ends: the hand-written chain core and the dataflow pipeline."""

CORE_DEFAULT = (8, 32)
"""PE, SIMD of the core on targets it fits at its default folding."""

CORE_UP5K = (2, 64)
"""PE, SIMD of the core on the UP5K: 5,047 of 5,280 logic cells, 22 of 30 RAMs (PE 8 / SIMD 32
needs 5,607 LUT4 and does not place); ``ecgaccel run``'s default."""
