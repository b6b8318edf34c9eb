"""The figures of ``ecgaccel report``: accuracy and throughput against logic, one panel per
device family, and row-normalized confusion matrices, one per distinct matrix.

Logic is counted in the family's own unit (iCE40 logic cells, ECP5 LUT4s), so designs of two
families never share an x-axis; each axis spans the whole device (0 to the largest device of
the family among the designs) and accuracy spans 0 to 1, so a figure never magnifies a
difference of a few windows. Every point carries its design's name. Designs whose RTL gives
the same confusion matrix (the same model on two devices: the RTL equals the reference) share
one panel, named after all of them.

Inputs are :class:`ecgaccel.report.DesignResult` objects (duck-typed here: ``build`` with
``name``, ``fits``, ``logic``, ``logic_key``, ``available()``, ``report``; ``acc``,
``inferences_per_s``, ``confusion``, ``classes``). Functions take ``Sequence`` of them and write
PNG files atomically (:func:`save_png`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgaccel.hw.files import write_bytes_atomic

FAMILY_AXIS = {"lc": ("iCE40", "logic cells used"), "lut4": ("ECP5", "LUT4 used")}
"""Per logic unit (a build's ``logic_key``): the family's name and its x-axis label."""


def _thousands(value: float, _pos) -> str:
    """Tick label with thousands separators: ``24,000``."""
    return f"{value:,.0f}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path) -> Path:
    """Write matplotlib figure ``fig`` to ``path`` as PNG atomically, then close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return write_bytes_atomic(path, buf.getvalue())


def by_family(results: Sequence[Any]) -> dict[str, list[Any]]:
    """The results grouped by logic unit (``lc``, ``lut4``: :data:`FAMILY_AXIS` order), each
    group in the given order; families without a design are left out."""
    groups = {key: [r for r in results if r.build.logic_key == key] for key in FAMILY_AXIS}
    return {k: v for k, v in groups.items() if v}


def design_colors(results: Sequence[Any]) -> dict[str, str]:
    """One matplotlib color per design name, the same in every figure."""
    return {r.build.name: f"C{i % 10}" for i, r in enumerate(results)}


def _family_axes(results: Sequence[Any], ylabel: str, title: str):
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    groups = by_family(results)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.0), squeeze=False)
    for ax, (key, group) in zip(axes[0], groups.items(), strict=True):
        family, xlabel = FAMILY_AXIS[key]
        ax.set_xlim(0, max(max(r.build.available(key), r.build.logic) for r in group) * 1.05)
        ax.set_xlabel(f"{xlabel} (axis: the whole {family} device)")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(ylabel)
        ax.set_title(f"{family}: {title}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
    return fig, list(zip(axes[0], groups.values(), strict=True))


def _points(ax, group: Sequence[Any], y_of: Callable, colors: dict[str, str]) -> None:
    """One marker per design with a ``y_of`` (o core, □ dataflow; hollow: does not fit),
    labelled with its name; later markers drawn smaller so one never hides another."""
    drawn = [(r, y_of(r)) for r in group if y_of(r) is not None]
    for i, (r, y) in enumerate(drawn):
        color = colors[r.build.name]
        ax.scatter([r.build.logic], [y], s=max(70 - 12 * i, 20), edgecolors=color,
                   marker="o" if r.build.report["backend"] == "core" else "s",
                   facecolors=color if r.build.fits else "none", linewidths=1.5,
                   zorder=3 + i)  # fmt: skip
        ax.annotate(r.build.name.split("/", 1)[1], (r.build.logic, y), fontsize=7,
                    xytext=(6, 6 + 9 * (i % 2)), textcoords="offset points")  # fmt: skip


def plot_accuracy_vs_logic(results: Sequence[Any], path: Path, front: set[str]) -> Path:
    """RTL accuracy (0 to 1) against logic, a panel per family, with the designs named in
    ``front`` (each family's Pareto front) joined by a dashed step line."""
    colors = design_colors(results)
    title = "accuracy vs logic (o core, □ dataflow; hollow: does not fit)"
    fig, panels = _family_axes(results, "accuracy (RTL)", title)
    for ax, group in panels:
        ax.set_ylim(0, 1.0)
        _points(ax, group, lambda r: r.acc["hw"], colors)
        pts = sorted((r.build.logic, r.acc["hw"]) for r in group if r.build.name in front)
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.step(xs, ys, where="post", color="k", linestyle="--", linewidth=1,
                    label="Pareto front (placed designs)", zorder=2)  # fmt: skip
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_png(fig, path)


def plot_throughput_vs_logic(results: Sequence[Any], path: Path) -> Path:
    """Inferences a second at the achieved Fmax (log y) against logic, a panel per family;
    designs without an Fmax (not placed) are left out."""
    colors = design_colors(results)
    fig, panels = _family_axes(results, "inferences / s at Fmax (windows back to back)",
                               "throughput vs logic (o core, □ dataflow)")  # fmt: skip
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for ax, group in panels:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.yaxis.set_minor_formatter(NullFormatter())
        _points(ax, group, lambda r: r.inferences_per_s, colors)
    fig.tight_layout()
    return save_png(fig, path)


def row_normalized(cm: np.ndarray) -> np.ndarray:
    """float64 ``[K, K]``: each row of the count matrix ``cm`` over its sum (the per-class
    sensitivity on the diagonal); a class without windows gives a row of NaN."""
    cm = np.asarray(cm, np.float64)
    total = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, cm / total, np.nan)


def distinct_confusions(results: Sequence[Any]) -> list[tuple[list[str], Any]]:
    """``[(design names, a result)]``: the results grouped by equal confusion matrix and
    classes, in first-seen order."""
    groups: dict[tuple, tuple[list[str], Any]] = {}
    for r in results:
        key = (r.classes, r.confusion.shape, r.confusion.tobytes())
        groups.setdefault(key, ([], r))[0].append(r.build.name)
    return list(groups.values())


def plot_confusions(results: Sequence[Any], path: Path) -> Path:
    """One row-normalized confusion matrix (rows true, columns RTL class; color the fraction
    of the true class, text the fraction and the count) per distinct matrix
    (:func:`distinct_confusions`), titled with every design that gives it."""
    plt = _pyplot()
    groups = distinct_confusions(results)
    cols = min(3, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(groups) :]:
        ax.axis("off")
    for ax, (names, r) in zip(axes.ravel(), groups, strict=False):
        frac = row_normalized(r.confusion)
        ax.imshow(np.nan_to_num(frac), cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), v in np.ndenumerate(r.confusion):
            f = frac[i, j]
            text = "—" if np.isnan(f) else f"{f:.2f}\n({v})"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if f > 0.5 else "black")  # fmt: skip
        ticks = range(len(r.classes))
        ax.set_xticks(ticks, r.classes)
        ax.set_yticks(ticks, r.classes)
        ax.set_xlabel("RTL class", fontsize=8)
        ax.set_ylabel("true class (row sums to 1)", fontsize=8)
        ax.set_title("\n".join(names) + f"\naccuracy {r.acc['hw']:.4f}", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
