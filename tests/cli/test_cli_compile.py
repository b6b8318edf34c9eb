"""``ecgaccel compile`` of a graph network: the default-folding plan's estimates per node."""

from __future__ import annotations

import json

from ecgaccel.cli import main


def test_compile_of_a_graph_network_writes_its_estimates(tmp_path, capsys):
    from ecgaccel.artifacts import load_network
    from ecgaccel.hw.graph_dataflow import plan_graph

    assert main(["compile", "--model", "ecgbnn-beat-rr", "--protocol", "interpatient",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    r = json.loads((tmp_path / "estimates.json").read_text())
    est = plan_graph(load_network("ecgbnn-beat-rr", "interpatient")).estimates()
    assert r["graph"] and r["ii_cycles"] == est.ii and r["resources"] == est.resources
    convs = [n for n in r["nodes"] if n["op"] == "Conv"]
    assert convs and all(n["PE"] >= 1 and n["cycles"] >= 1 for n in convs)
    assert max(n["cycles"] or 0 for n in r["nodes"]) == est.ii
    assert f"II {est.ii:,} cycles" in capsys.readouterr().out
    assert main(["compile", "--model", "ecgbnn-beat-rr", "--protocol", "interpatient",
                 "--fold", "f.json", "--out", str(tmp_path)]) == 1  # fmt: skip
    assert "graph network: compile takes its default folding" in capsys.readouterr().err
