"""The report's figures (``ecgaccel.figures``): a panel per device family on full-range axes,
every design drawn and named, row-normalized confusion matrices, one per distinct matrix."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ecgaccel import figures


def _result(name: str, key: str, logic: int, available: int, acc: float, cm, backend="core",
            fits=True, ips=1000.0):  # fmt: skip
    build = SimpleNamespace(name=name, fits=fits, logic=logic, logic_key=key,
                            available=lambda k, a=available: a,
                            report={"backend": backend})  # fmt: skip
    return SimpleNamespace(build=build, acc={"hw": acc}, inferences_per_s=ips if fits else None,
                           confusion=np.asarray(cm), classes=("N", "A"))  # fmt: skip


CM1 = [[8, 2], [1, 3]]
CM2 = [[5, 5], [0, 4]]
RESULTS = [
    _result("ice40-up5k/a-core", "lc", 5047, 5280, 0.79, CM1),
    _result("ice40-up5k/a-dataflow", "lc", 4635, 5280, 0.79, CM1, "dataflow"),
    _result("ecp5-25f/a-core", "lut4", 7134, 24288, 0.79, CM1),
    _result("ecp5-85f/b-dataflow", "lut4", 44242, 83640, 0.64, CM2, "dataflow"),
    _result("ice40-up5k/a-pe8", "lc", 7021, 5280, 0.79, CM1, fits=False),
]


@pytest.fixture
def captured(monkeypatch):
    """The figure each plot function would write, kept open for inspection."""
    figs = []
    monkeypatch.setattr(figures, "save_png", lambda fig, path: figs.append(fig) or path)
    yield figs
    figures._pyplot().close("all")


def test_families_are_separate_and_in_order():
    groups = figures.by_family(RESULTS)
    assert list(groups) == ["lc", "lut4"]
    assert [r.build.name for r in groups["lut4"]] == ["ecp5-25f/a-core", "ecp5-85f/b-dataflow"]
    assert list(figures.by_family(RESULTS[2:4])) == ["lut4"]


def test_accuracy_panels_span_the_device_and_zero_to_one(captured, tmp_path):
    figures.plot_accuracy_vs_logic(RESULTS, tmp_path / "a.png", {"ice40-up5k/a-dataflow"})
    axes = captured[0].axes
    assert len(axes) == 2
    ice, ecp = axes
    assert "logic cells" in ice.get_xlabel() and "LUT4" in ecp.get_xlabel()
    assert ice.get_xlim()[0] == 0 and ice.get_xlim()[1] >= 7021  # the unfit design shows
    assert ecp.get_xlim()[1] >= 83640
    assert ice.get_ylim() == (0.0, 1.0) and ecp.get_ylim() == (0.0, 1.0)
    # every design drawn (the unfit one too, hollow) and named
    assert len(ice.collections) == 3 and len(ecp.collections) == 2
    assert {t.get_text() for t in ice.texts} == {"a-core", "a-dataflow", "a-pe8"}


def test_markers_at_one_place_never_hide_each_other(captured, tmp_path):
    twins = [_result("ice40-up5k/x-core", "lc", 4000, 5280, 0.5, CM1),
             _result("ice40-up5k/y-core", "lc", 4000, 5280, 0.5, CM1)]  # fmt: skip
    figures.plot_accuracy_vs_logic(twins, tmp_path / "a.png", set())
    first, second = captured[0].axes[0].collections
    assert second.get_sizes()[0] < first.get_sizes()[0]
    assert second.get_zorder() > first.get_zorder()


def test_throughput_leaves_out_designs_without_fmax(captured, tmp_path):
    figures.plot_throughput_vs_logic(RESULTS, tmp_path / "t.png")
    ice, _ = captured[0].axes
    assert ice.get_yscale() == "log" and len(ice.collections) == 2


def test_row_normalized_sums_rows_to_one_and_marks_empty_classes():
    frac = figures.row_normalized([[3, 1], [0, 0]])
    assert frac[0].tolist() == [0.75, 0.25]
    assert np.isnan(frac[1]).all()


def test_equal_confusions_share_one_panel_named_after_every_design(captured, tmp_path):
    groups = figures.distinct_confusions(RESULTS)
    assert [names for names, _ in groups] == [
        ["ice40-up5k/a-core", "ice40-up5k/a-dataflow", "ecp5-25f/a-core", "ice40-up5k/a-pe8"],
        ["ecp5-85f/b-dataflow"],
    ]
    figures.plot_confusions(RESULTS, tmp_path / "c.png")
    shown = [ax for ax in captured[0].axes if ax.axison]
    assert len(shown) == 2
    assert "ecp5-25f/a-core" in shown[0].get_title()
    cells = {t.get_text() for t in shown[0].texts}
    assert "0.80\n(8)" in cells and "0.75\n(3)" in cells
