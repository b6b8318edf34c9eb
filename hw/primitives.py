"""Small combinational building blocks of the BNN datapaths, each with a Python model.

* :class:`Popcount`: number of ones of a bit vector (balanced adder tree);
  model :func:`popcount_model`.
* :class:`ThresholdUnit`: ``bit = invert XOR (m >= hi OR m <= lo)`` on signed integers;
  model :meth:`ecgaccel.hw.description.Thresholds.apply`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def adder_tree(terms: list[Value]) -> Value:
    """Amaranth expression: the sum of ``terms`` as a balanced tree of two-input adds (depth
    ``ceil(log2(len(terms)))``); 0 for no terms."""
    if not terms:
        return Value.cast(0)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


def shift_add_product(x: Value, w: Value) -> Value:
    """Amaranth expression: the signed product ``x * w`` of a signed ``x`` and a signed
    (two's complement) ``w``, built as shifted copies of ``x`` selected by the bits of ``w``
    (the sign bit weighs ``-2^(len(w) - 1)``), summed by :func:`adder_tree`.

    Meant for narrow weights (2 to 4 bits): the logic is ``len(w)`` multiplexers and an adder
    tree, and there is no ``*`` operator for synthesis to map onto a DSP block (Yosys maps even
    2-bit × 8-bit products to ECP5 ``MULT18X18D``s otherwise, more than any ECP5 has).
    """
    n = len(w)
    zero = Value.cast(0)
    terms = [Mux(w[j], x.as_signed() << j, zero) for j in range(n - 1)]
    terms.append(Mux(w[n - 1], -(x.as_signed() << (n - 1)), zero))
    return adder_tree(terms)


def popcount_tree(bits: Value) -> Value:
    """Amaranth expression: the number of ones of ``bits`` (balanced adder tree)."""
    return adder_tree([bits[i] for i in range(len(bits))])


def popcount_model(value: int, width: int) -> int:
    """Python model of :class:`Popcount`: ones among the low ``width`` bits of ``value``."""
    return bin(value & ((1 << width) - 1)).count("1")


class Popcount(wiring.Component):
    """Combinational popcount.

    Members
    -------
    i : In(width)
        The bit vector.
    o : Out(bits(width) + 1)
        Number of ones in ``i``.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        super().__init__({"i": In(width), "o": Out(unsigned(width.bit_length()))})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.o.eq(popcount_tree(self.i))
        return m


class ThresholdUnit(wiring.Component):
    """Combinational two-threshold compare of one channel (see ``Thresholds``).

    Members
    -------
    m : In(signed(width))
        Pooled accumulator.
    lo, hi : In(signed(width))
        Thresholds.
    invert : In(1)
        Output inversion.
    bit : Out(1)
        ``invert XOR (m >= hi OR m <= lo)``.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        super().__init__(
            {
                "m": In(signed(width)),
                "lo": In(signed(width)),
                "hi": In(signed(width)),
                "invert": In(1),
                "bit": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.bit.eq(threshold_bit(self.m, self.lo, self.hi, self.invert))
        return m


def threshold_bit(m: Value, lo: Value, hi: Value, invert: Value) -> Value:
    """The :class:`ThresholdUnit` function as an expression (used inside the cores)."""
    return ((m >= hi) | (m <= lo)) ^ invert
