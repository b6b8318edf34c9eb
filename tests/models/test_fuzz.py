"""The compiler's fuzzer (``models.fuzz``): seeded configurations in their stated ranges,
random networks of every bit width through the front end, the chain form, qonnx and Brevitas, and a
reference that is off by one is caught."""

from __future__ import annotations

import numpy as np
import pytest

from ecgaccel.cli import main
from ecgaccel.models import fuzz


def test_configs_are_seeded_and_in_range():
    configs = [fuzz.random_config(s) for s in range(300)]
    assert configs[7] == fuzz.random_config(7)
    assert {c.bits for c in configs} == set(fuzz.BITS)
    for c in configs:
        assert 2 <= len(c.channels) + 1 <= 6 and 2 <= c.n_classes <= 6
        assert all(2 <= ch <= 16 for ch in c.channels) and min(c.block_lengths()) >= 2
        if c.bits == 8:
            assert len(c.channels) <= 2 and max(c.channels) <= 3


@pytest.mark.parametrize("seed", [0, 1, 4, 11, 14])  # bits 8, 2, 4, 1, 1
def test_random_networks_pass(seed):
    r = fuzz.check_network(seed)
    assert r.class_mismatches == 0 and r.max_score_error <= r.score_bound


def test_a_wrong_reference_is_caught(monkeypatch):
    from ecgaccel.models import reference

    real = reference.run

    def off_by_one(desc, x, **kw):
        out = real(desc, x, **kw)
        out.scores[0, 0] += 1
        return out

    monkeypatch.setattr(reference, "run", off_by_one)
    with pytest.raises(AssertionError, match="seed 4: qonnx execution != reference"):
        fuzz.check_network(4)


def test_cli_random_nets(capsys):
    assert main(["verify", "--random-nets", "2", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 networks passed" in out
    assert np.isfinite(float(out.split("largest score error ")[1].split()[0]))
