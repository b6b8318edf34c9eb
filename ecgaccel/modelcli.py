"""``ecgaccel train`` and ``ecgaccel evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgaccel.models.checkpoint import atomic_save
from ecgaccel.models.evaluate import evaluate, evaluate_model, shipped_checkpoint
from ecgaccel.models.registry import REGISTRY, get_spec
from ecgaccel.models.tasks import PROTOCOLS, load_task, protocol_split
from ecgaccel.models.train import train


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``evaluate``."""
    t = sub.add_parser("train", help="train a registered model (CPU, deterministic, resumable)")
    t.add_argument("--model", required=True, choices=sorted(REGISTRY))
    t.add_argument("--protocol", required=True, choices=PROTOCOLS)
    t.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="MIT-BIH folder (windows, beats) or Plawiak folder (17-class)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="default: the registry's")
    t.add_argument(
        "--work-dir",
        type=Path,
        default=Path("runs/train"),
        help="where the resumable training state goes",
    )
    t.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint to write (default: the shipped models/checkpoints/ path)",
    )
    t.add_argument("--no-resume", action="store_true", help="start over even if a state exists")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a protocol's test part")
    e.add_argument("--model", required=True, choices=sorted(REGISTRY))
    e.add_argument("--protocol", required=True, choices=PROTOCOLS)
    e.add_argument("--data-dir", type=Path, default=None)
    e.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped one")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=_evaluate)  # fmt: skip


def _summary_line(r: dict) -> str:
    per = " ".join(
        f"{c}:Se={v['se']:.3f}/+P={v['ppv']:.3f}(n={v['support']})"
        for c, v in r["per_class"].items()
    )
    return (f"n={r['n']} accuracy={r['accuracy']:.4f} macro_f1={r['macro_f1']:.4f} "
            f"kappa={r['kappa']:.4f} storage={r['storage_bytes']} B\n{per}")  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    data = load_task(spec.task, args.data_dir)
    split = protocol_split(spec.task, args.protocol, data, args.seed)
    result = train(spec, data, split, args.work_dir, args.epochs, resume=not args.no_resume)
    test = evaluate_model(result.model, data, split.test)
    ckpt = dict(result.checkpoint)
    ckpt["test"] = {k: test[k] for k in ("accuracy", "macro_f1", "kappa", "n")}
    out = args.out or shipped_checkpoint(args.model, args.protocol)
    atomic_save(ckpt, out)
    print(f"best epoch {result.best_epoch} (validation {ckpt['val']}); wrote {out}")
    print("test: " + _summary_line(test))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    r = evaluate(args.model, args.protocol, args.data_dir, args.checkpoint)
    print(json.dumps(r, indent=2) if args.json else _summary_line(r))
    return 0
