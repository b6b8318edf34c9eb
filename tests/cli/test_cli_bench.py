"""``ecgaccel bench``: ``sim`` still parses; ``swhw`` measures software (PyTorch, onnxruntime)
and hardware (simulated cycles at a committed build's Fmax) in one run, its ratios are the
quotients of its own figures, and a missing or unusable build report is a one-line error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ecgaccel import bench
from ecgaccel.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
CORE_UP5K = Path("ice40-up5k") / "ecgbnn5-core" / "report.json"
DATAFLOW_UP5K = Path("ice40-up5k") / "ecgbnn5-dataflow" / "report.json"
SOFTWARE = ("pytorch", "pytorch_folded", "onnxruntime")


def _bitstreams(tmp_path: Path, *reports: Path) -> Path:
    """A bitstreams folder holding copies of the committed build ``reports``."""
    root = tmp_path / "bitstreams"
    for rel in reports:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "bitstreams" / rel, root / rel)
    return root


def test_bench_sim_still_parses():
    args = build_parser().parse_args(["bench", "sim", "--windows", "3", "--pe", "4"])
    assert (args.what, args.windows, args.pe, args.func) == ("sim", 3, 4, bench._bench)


@pytest.mark.slow  # a Verilator build of the UP5K core when not cached (about a minute)
def test_swhw_core_up5k(tmp_path, capsys):
    root = _bitstreams(tmp_path, CORE_UP5K)
    out = tmp_path / "swhw.json"
    args = ["bench", "swhw", "--backend", "core", "--target", "ice40-up5k",
            "--bitstreams", str(root), "--windows", "2", "--batch", "4", "--threads", "1",
            "--repeats", "2", "--rep-seconds", "0.01", "--cache", str(tmp_path / "onnx"),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    r = json.loads(out.read_text())
    captured = capsys.readouterr()
    assert "ecgaccel: timing PyTorch and onnxruntime" in captured.err  # not minutes of silence
    assert "ecgaccel: simulating the build's RTL" in captured.err
    lines = captured.out.strip().splitlines()
    assert lines[-1] == f"wrote {out}" and lines[-2].startswith("bench swhw: hardware ")
    assert "bit-exact: yes" in lines[-2] and "hardware / onnxruntime" in lines[-2]
    assert (r["bench"], r["model"], r["backend"], r["target"], r["windows"]["n"]) == (
        "swhw", "ecgbnn5", "core", "ice40-up5k", 2
    )  # fmt: skip

    hw = r["hardware"]
    built = json.loads((root / CORE_UP5K).read_text())
    assert hw["bit_exact"] is True
    assert hw["fmax_mhz"] == built["fmax"]["achieved_mhz"]
    assert hw["design"]["pe"] == built["design"]["pe"] == 2
    # hw.core_plan's exact cycles: the core takes no window while one runs, so its II measured
    # back to back is its latency alone
    exact = built["design"]["cycles_per_inference"]
    assert hw["latency_each"] == [exact] * 2 and hw["intervals_each"] == [exact]
    assert hw["interval_cycles"] == hw["latency_cycles"] == exact
    assert hw["basis"].startswith("initiation interval") and hw["inferences_per_s"] > 0

    sw = r["software"]
    assert sw["agreement_with_pytorch"]["onnxruntime"]["classes"] == 1.0
    assert sw["agreement_with_pytorch"]["pytorch_folded"]["max_abs_score_diff"] == 0.0
    assert r["reference_classes_vs_pytorch"] == 1.0
    assert not [op for op in sw["onnxruntime"]["ops"] if "Quant" in op]
    for name in SOFTWARE:
        rows = sw[name]["batches"]
        assert [row["batch"] for row in rows] == [1, 4]
        assert all(row["inferences_per_s"] > 0 and row["repeats"] == 2 for row in rows)
        assert all(r["inferences_per_s_fastest_repeat"] >= r["inferences_per_s"] for r in rows)
        assert sw[name]["best"]["inferences_per_s"] == max(row["inferences_per_s"] for row in rows)
        assert r["ratios"][f"hardware_over_{name}_batch1"] == (
            hw["inferences_per_s"] / sw[name]["batch1_inferences_per_s"]
        )
        assert r["ratios"][f"hardware_over_{name}_best_batch"] == (
            hw["inferences_per_s"] / sw[name]["best"]["inferences_per_s"]
        )
    assert r["machine"]["threads_used"] == sw["threads"] == 1
    assert r["machine"]["cpus"] >= 1 and r["machine"]["cpu_model"]
    assert r["versions"]["onnxruntime"] == "1.31.1" and r["versions"]["torch"]
    assert len(list((tmp_path / "onnx").glob("ecgbnn5-patient-*.onnx"))) == 1


@pytest.mark.parametrize(
    ("reports", "args", "message"),
    [
        ((), ["--target", "ecp5-25f"], "ecp5-25f/ecgbnn5-core/report.json: no build report"),
        ((DATAFLOW_UP5K,), ["--backend", "dataflow"], "'does-not-fit' has no achieved Fmax"),
        ((CORE_UP5K,), ["--protocol", "paper"], "built for protocol 'patient', not 'paper'"),
    ],
)
def test_swhw_bad_input_is_one_line_error(tmp_path, capsys, reports, args, message):
    root = _bitstreams(tmp_path, *reports)
    if "does-not-fit" in message:  # the committed UP5K dataflow build fits: unfit a copy
        path = root / DATAFLOW_UP5K
        r = json.loads(path.read_text())
        r.update(status="does-not-fit", error="Yosys maps it to 41 block RAMs > 30")
        r.pop("fmax", None)
        path.write_text(json.dumps(r))
    assert main(["bench", "swhw", "--bitstreams", str(root), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


def test_plan_from_report_takes_the_builds_folding():
    """A dataflow build folded otherwise than its target's default (here the UP5K's folding
    under an ECP5 target, as ``--fold`` would give) is rebuilt from the report's folding; a
    report whose cycles the rebuilt plan does not reproduce is refused."""
    from ecgaccel.artifacts import load_description
    from ecgaccel.bitstreams.build import BuildError, plan_from_report

    report = json.loads((REPO / "bitstreams" / DATAFLOW_UP5K).read_text())
    report["target"] = "ecp5-25f"
    desc = load_description("ecgbnn5", "patient")
    plan = plan_from_report(report, desc, Path("report.json"))
    assert [(f.pe, f.simd, f.swg) for f in plan.folding] == [
        (b["pe"], b["simd"], b["swg_simd"]) for b in report["design"]["folding"]
    ]
    assert list(plan.fifo_depths) == report["design"]["fifo_depths"]
    report["design"]["cycles_per_inference"] += 1
    with pytest.raises(BuildError, match=r"report\.json: the build's design has"):
        plan_from_report(report, desc, Path("report.json"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["swhw", "--windows", "0"], "argument --windows: must be at least 1, got 0"),
        (["swhw", "--batch", "0"], "argument --batch: must be at least 1, got 0"),
        (["sim", "--windows", "0"], "argument --windows: must be at least 1, got 0"),
        (["sim", "--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
        (["sim", "--out", "/proc/ecgaccel-test/b.json"], "argument --out: /proc/ecgaccel-test"),
    ],
)
def test_bench_bad_ranges_and_outputs_stop_at_parsing(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgaccel: error:") and message in err and len(err.splitlines()) == 1


def test_bench_prints_json_then_one_summary_line(capsys):
    from ecgaccel.bench import emit

    emit({"a": 1}, None, "bench x: one line")
    out = capsys.readouterr().out
    assert out.endswith("bench x: one line\n") and json.loads(out[: out.rindex("bench x")]) == {
        "a": 1
    }
