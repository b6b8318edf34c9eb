"""The bitstream top (:class:`~ecgaccel.hw.uart_top.UartTop`) on Verilator: real bundled windows
in as UART frames, the answer out as UART frames equal to the integer reference, the class on the
LEDs."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.artifacts import load_description
from ecgaccel.hw.core_plan import plan_core
from ecgaccel.hw.uart import UartConfigError, uart_divider
from ecgaccel.hw.uart_top import UartTop, class_bits
from ecgaccel.models import reference
from ecgaccel.models.mitdb import bundled_data_dir
from ecgaccel.models.nets import quantize_input, zscore
from ecgaccel.models.windows import load_windows
from ecgaccel.sim.uart_tb import run_uart_top


def decode_answer(answer: bytes, n_classes: int, word_bytes: int) -> tuple[list[int], int]:
    """Scores (two's complement) and class of one answer: little-endian words."""
    assert len(answer) == (n_classes + 1) * word_bytes
    words = [int.from_bytes(answer[i : i + word_bytes], "little", signed=True)
             for i in range(0, len(answer), word_bytes)]  # fmt: skip
    return words[:n_classes], words[n_classes]


def test_uart_top_answers_reference_on_real_windows(tmp_path):
    desc = load_description("ecgbnn5", "patient")
    w = load_windows(bundled_data_dir(), ["200", "233"])
    ref_all = reference.run(desc, quantize_input(zscore(w.x)))
    # two real windows of different classes, so the LEDs must change between them
    first = 0
    second = int(np.flatnonzero(ref_all.pred != ref_all.pred[first])[0])
    pick = [first, second]
    q = quantize_input(zscore(w.x[pick]))
    ref = reference.run(desc, q)
    plan = plan_core(desc, pe=16, simd=64)
    top = UartTop(plan, clk_hz=1e6, baud=250_000)  # 4 cycles a bit
    assert top.divider == 4
    answers = run_uart_top(top, q, tmp_path, seed=3)
    assert len(answers) == len(pick)
    for k, a in enumerate(answers):
        scores, cls = decode_answer(a.answer, plan.n_classes, plan.out_width // 8)
        assert scores == ref.scores[k].tolist(), f"window {pick[k]}"
        assert cls == int(ref.pred[k])
        assert a.leds == cls
        assert a.done == 1
        assert a.error == 0


def test_uart_divider_and_class_bits():
    assert uart_divider(12e6, 115_200) == 104
    assert uart_divider(25e6, 115_200) == 217
    with pytest.raises(UartConfigError, match="at least"):
        uart_divider(12e6, 6_000_000)
    with pytest.raises(UartConfigError, match="off by"):
        uart_divider(1e6, 180_000)  # 5.6 cycles a bit: 6 is 7 % off
    assert [class_bits(n) for n in (1, 2, 5, 8, 17)] == [1, 1, 3, 3, 5]
