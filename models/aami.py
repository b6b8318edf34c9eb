"""AAMI EC57 beat classes and the WFDB annotation symbols they come from.

Source: ANSI/AAMI EC57:1998/(R)2008 as applied to MIT-BIH by de Chazal et al., IEEE TBME 51(7),
2004: N = {N, L, R, e, j}, S = {A, a, J, S}, V = {V, E}, F = {F}, Q = {/, f, Q}. The three
standard WFDB beat symbols that MIT-BIH never uses are mapped by their WFDB meaning (``B`` bundle
branch block beat → N, ``n`` supraventricular escape → S, ``r`` R-on-T premature ventricular
contraction → V), so other WFDB databases load too.
"""

from __future__ import annotations

from wfdb.io.annotation import ann_label_table

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
"""The five AAMI EC57 classes in their conventional order; a class index is a position here."""

SYMBOL_TO_AAMI: dict[str, str] = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
    # standard WFDB beat symbols absent from MIT-BIH, mapped by their WFDB meaning
    "B": "N",
    "n": "S",
    "r": "V",
}
"""WFDB beat annotation symbol → AAMI class letter."""

BEAT_SYMBOLS: frozenset[str] = frozenset(SYMBOL_TO_AAMI)
"""Every WFDB symbol that marks a beat (an R-peak position)."""

KNOWN_SYMBOLS: frozenset[str] = frozenset(
    str(s) for s in ann_label_table["symbol"] if str(s).strip()
)
"""Every symbol of the WFDB standard annotation table (``wfdb.io.annotation.ann_label_table``);
any other symbol is an :class:`~ecgaccel.models.errors.UnknownAnnotationError`."""

NON_BEAT_SYMBOLS: frozenset[str] = KNOWN_SYMBOLS - BEAT_SYMBOLS
"""Standard symbols that do not mark a beat (rhythm changes, noise, flutter waves, ``?`` learning,
comments, P/T waves, ...); they are dropped from beat lists."""


def aami_index(symbol: str) -> int:
    """Class index (0..4, order of :data:`AAMI_CLASSES`) of a WFDB beat symbol.

    Raises
    ------
    KeyError
        ``symbol`` is not a beat symbol (see :data:`BEAT_SYMBOLS`).
    """
    return AAMI_CLASSES.index(SYMBOL_TO_AAMI[symbol])
