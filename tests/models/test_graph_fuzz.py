"""The graph compiler's fuzzer (models/graph_fuzz.py): random Brevitas graph networks through
export, streamlining and the graph reference, against qonnx and Brevitas. A few seeds here
(a widening ResNet, a lead x time net with metadata and a multi-label head, a 2-bit net); the
300-network run and the RTL runs are commands (``ecgaccel verify --random-nets N --graph-nets
--rtl K``)."""

from __future__ import annotations

import pytest

from ecgaccel.cli import main
from ecgaccel.models.graph_fuzz import (
    SCORE_TOLERANCE,
    check_graph_network,
    describe,
    random_graph_config,
)


@pytest.mark.parametrize(
    ("seed", "kind"),
    [(25, "ResNet 4-bit, K 5, widths 4:8-16"),
     (4, "lead x time 8-bit, 6 leads, metadata 2, multi-label"),
     (11, "lead x time 2-bit, 5 leads, one class")],
)  # fmt: skip
def test_random_graph_networks_equal_qonnx_and_brevitas(seed, kind):
    assert describe(random_graph_config(seed)) == kind
    r, graph, ints = check_graph_network(seed)
    assert r.decision_mismatches == 0
    assert 0 <= r.max_score_error <= SCORE_TOLERANCE + 0.05
    ops = set(r.ops)
    if kind.startswith("ResNet"):
        assert {"AddStreams", "DuplicateStreams", "GlobalAccPool", "LinearHead"} <= ops
        assert any(n.op == "Conv" and n.kernel == (1, 1) for n in graph.nodes)  # projection
    if "metadata" in kind:
        assert "Concat" in ops and set(ints) == {"x", "meta"}
    if "multi-label" in kind:
        assert graph.node(graph.decision).op == "MultiLabel"


def test_the_fuzzer_command_says_what_it_checked(capsys):
    assert main(["verify", "--random-nets", "1", "--graph-nets", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "random graph network 11: lead x time 2-bit" in out
    assert "1 of 1 networks passed (qonnx == reference, decisions == Brevitas" in out
