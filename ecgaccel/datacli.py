"""``ecgaccel data ...``: summary of a data directory, and database download (the readers,
wfdb among them, are imported when a sub-command runs, not for ``--help``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgaccel.cliargs import command_help


def summarize(data_dir: Path) -> dict:
    """Beats per AAMI class in DS1 and DS2 and the paper's 10-s window counts, for the MIT-BIH
    records present in ``data_dir``.

    Beats are all annotated beats (R peaks) of the records, as de Chazal 2004 counts them.

    Returns
    -------
    dict
        ``{"data_dir", "records", "beats": {"DS1"|"DS2": {"records", "missing", "total", class:
        count}}, "windows": {"records", "missing", "total", class: count}}``.
    """
    from ecgaccel.models.beats import load_beats
    from ecgaccel.models.mitdb import DS1, DS2, PAPER_5CLASS_RECORDS, available_records
    from ecgaccel.models.windows import load_windows

    present = set(available_records(data_dir))
    out: dict = {"data_dir": str(data_dir), "records": len(present), "beats": {}}
    for name, split in (("DS1", DS1), ("DS2", DS2)):
        have = [r for r in split if r in present]
        entry: dict = {"records": len(have), "missing": len(split) - len(have)}
        if have:
            # a 1-sample window keeps every annotated beat, even the first and last
            counts = load_beats(data_dir, have, pre_s=0.0, post_s=1 / 360).class_counts()
            entry.update(total=sum(counts.values()), **counts)
        out["beats"][name] = entry
    have = [r for r in PAPER_5CLASS_RECORDS if r in present]
    windows: dict = {"records": len(have), "missing": len(PAPER_5CLASS_RECORDS) - len(have)}
    if have:
        counts = load_windows(data_dir, have).class_counts()
        windows.update(total=sum(counts.values()), **counts)
    out["windows"] = windows
    return out


def format_summary(s: dict) -> str:
    """The summary of :func:`summarize` as a plain-text table."""
    from ecgaccel.models.aami import AAMI_CLASSES

    head = f"{'':<22}{'records':>8}" + "".join(f"{c:>8}" for c in AAMI_CLASSES) + f"{'total':>8}"
    lines = [f"data dir: {s['data_dir']} ({s['records']} records)", head]
    rows = [(f"beats {k}", v) for k, v in s["beats"].items()]
    rows.append(("10-s windows (paper)", s["windows"]))
    for label, v in rows:
        have = f"{v['records']}" + (f"(-{v['missing']})" if v["missing"] else "")
        counts = "".join(f"{v.get(c, 0):>8}" for c in AAMI_CLASSES)
        lines.append(f"{label:<22}{have:>8}{counts}{v.get('total', 0):>8}")
    if any(v["missing"] for _, v in rows):
        lines.append("(-k): k records of that set are not in this data dir")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``data summary`` and ``data download``."""
    p = sub.add_parser("data", help=command_help("data"))
    dsub = p.add_subparsers(dest="data_command", required=True,
                            metavar="{summary,download,detect}")  # fmt: skip
    s = dsub.add_parser("summary", help="beats per AAMI class (DS1, DS2) and 10-s window counts")
    s.add_argument(
        "--data-dir", type=Path, default=None, help="MIT-BIH folder (default: the bundled records)"
    )
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=_summary)
    d = dsub.add_parser("download", help="download a PhysioNet database with wfdb")
    d.add_argument("database", help="PhysioNet database name, e.g. mitdb")
    d.add_argument("dest", type=Path, help="destination folder (then usable as --data-dir)")
    d.add_argument("--records", nargs="*", default=None, help="only these records")
    d.set_defaults(func=_download)
    q = dsub.add_parser("detect", help="R peaks by XQRS, scored against the beat annotations "
                        "(ANSI/AAMI EC57: 150 ms match window, Se and +P)")  # fmt: skip
    q.add_argument("--data-dir", type=Path, default=None,
                   help="MIT-BIH folder (default: the bundled records)")  # fmt: skip
    q.add_argument("--records", nargs="+", default=None,
                   help="record names (default: the DS2 records present)")  # fmt: skip
    q.add_argument("--lead", default="MLII", help="the lead to detect in (default MLII)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=_detect)


def _summary(args: argparse.Namespace) -> int:
    from ecgaccel.models.mitdb import bundled_data_dir

    s = summarize(args.data_dir or bundled_data_dir())
    print(json.dumps(s, indent=2) if args.json else format_summary(s))
    return 0


def detection_scores(data_dir: Path, records: list[str] | None, lead: str) -> dict:
    """XQRS detection scored against the annotations, per record and gross (EC57).

    Returns
    -------
    dict
        ``{"data_dir", "lead", "match_window_ms", "records": {name: {tp, fp, fn, se, ppv}},
        "gross": {tp, fp, fn, se, ppv}}``.

    Raises
    ------
    EcgDataError
        A record is missing, lacks ``lead`` or its annotations, or the detector finds no beat.
    """
    from tqdm import tqdm

    from ecgaccel.models.detect import (
        MATCH_WINDOW_S,
        annotated_r_peaks,
        detect_r_peaks,
        gross_score,
        score_detection,
    )
    from ecgaccel.models.mitdb import DS2, available_records
    from ecgaccel.models.records import read_record, record_path

    names = records or [r for r in DS2 if r in set(available_records(data_dir))]
    per: dict[str, dict] = {}
    for name in tqdm(names, desc="XQRS", disable=len(names) < 2):
        rec = read_record(record_path(data_dir, name), leads=(lead,))
        per[name] = score_detection(annotated_r_peaks(rec), detect_r_peaks(rec), rec.fs)
    return {"data_dir": str(data_dir), "lead": lead, "match_window_ms": 1000 * MATCH_WINDOW_S,
            "records": per, "gross": gross_score(list(per.values()))}  # fmt: skip


def format_detection(s: dict) -> str:
    """The result of :func:`detection_scores` as a plain-text table."""
    from ecgaccel.models.metrics import rate

    lines = [f"QRS detection (XQRS, lead {s['lead']}), {s['match_window_ms']:g} ms match window",
             f"{'record':<8}{'TP':>8}{'FP':>6}{'FN':>6}{'Se':>8}{'+P':>8}"]  # fmt: skip
    for name, r in [*s["records"].items(), ("gross", s["gross"])]:
        lines.append(f"{name:<8}{r['tp']:>8}{r['fp']:>6}{r['fn']:>6}{rate(r['se']):>8}"
                     f"{rate(r['ppv']):>8}")  # fmt: skip
    return "\n".join(lines)


def _detect(args: argparse.Namespace) -> int:
    from ecgaccel.models.mitdb import bundled_data_dir

    s = detection_scores(args.data_dir or bundled_data_dir(), args.records, args.lead)
    print(json.dumps(s, indent=2) if args.json else format_detection(s))
    return 0


def _download(args: argparse.Namespace) -> int:
    from ecgaccel.models.download import download_database

    dest = download_database(args.database, args.dest, args.records)
    print(f"downloaded {args.database} into {dest}")
    return 0
