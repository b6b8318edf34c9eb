"""``ecgaccel train``, ``ecgaccel evaluate`` and ``ecgaccel export``.

The jobs (PyTorch, Brevitas, the data loaders) are imported inside the handlers, so that the
sub-commands' ``--help`` does not wait for them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgaccel.cliargs import command_help, model_name, positive_int
from ecgaccel.hw.files import check_output_file
from ecgaccel.models.metrics import rate
from ecgaccel.models.registry import PROTOCOLS, get_spec


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``evaluate`` and ``export``."""
    t = sub.add_parser("train", help=command_help("train"))
    t.add_argument("--model", required=True, type=model_name)
    t.add_argument("--protocol", required=True, choices=PROTOCOLS)
    t.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="MIT-BIH folder (windows, beats), Plawiak folder (17-class) or PTB-XL folder "
        "(records100/ and its label table; PTB-XL tasks)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=positive_int, default=None, help="default: the registry's")
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
        help="checkpoint to write (default: runs/train/<model>-<protocol>.pt)",
    )
    t.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out to replace a shipped checkpoint")  # fmt: skip
    t.add_argument("--no-resume", action="store_true", help="start over even if a state exists")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help=command_help("evaluate"))
    e.add_argument("--model", required=True, type=model_name)
    e.add_argument("--protocol", required=True, choices=PROTOCOLS)
    e.add_argument("--data-dir", type=Path, default=None)
    e.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped one")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "--integer-all",
        action="store_true",
        help="also compare the integer reference with the float model on ALL examples "
        "of the task (train + val + test), not only the test part",
    )
    e.add_argument(
        "--peaks",
        choices=("annotations", "detect"),
        default="annotations",
        help="beats-rr models: R peaks of the test records from the annotations (default) or "
        "from the XQRS detector (beats, median beats and RR features from the detected peaks; "
        "each labelled by the annotated beat within 150 ms)",
    )
    e.set_defaults(func=_evaluate)
    x = sub.add_parser("export", help=command_help("export"))
    x.add_argument("--model", required=True, type=model_name)
    x.add_argument(
        "--protocol",
        default=None,
        choices=PROTOCOLS,
        help="which shipped checkpoint (default: the model's first protocol)",
    )
    x.add_argument("--checkpoint", type=Path, default=None)
    x.add_argument(
        "--out",
        type=Path,
        default=None,
        help="QONNX path (default: next to --checkpoint, or runs/export/<model>-<protocol>.onnx "
        "for a shipped one); the .intnet.json goes next to it",
    )
    x.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out to replace shipped files")  # fmt: skip
    x.set_defaults(func=_export)  # fmt: skip


def _summary_line(r: dict) -> str:
    if "exact" in r:  # multi-label
        per = " ".join(f"{c}:AUC={rate(v['auc'])}/F1={rate(v['f1'])}(n={v['support']})"
                       for c, v in r["per_class"].items())  # fmt: skip
        return (f"n={r['n']} macro_auc={r['macro_auc']:.4f} macro_f1={r['macro_f1']:.4f} "
                f"exact={r['exact']:.4f} storage={r['storage_bytes']} B\n{per}")  # fmt: skip
    per = " ".join(
        f"{c}:Se={rate(v['se'])}/+P={rate(v['ppv'])}(n={v['support']})"
        for c, v in r["per_class"].items()
    )
    auc = "none" if r.get("macro_auc") is None else f"{r['macro_auc']:.4f}"
    return (f"n={r['n']} accuracy={r['accuracy']:.4f} macro_f1={r['macro_f1']:.4f} "
            f"kappa={r['kappa']:.4f} macro_auc={auc} storage={r['storage_bytes']} B"
            f"\n{per}")  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    from ecgaccel.artifacts import refuse_shipped
    from ecgaccel.models.checkpoint import atomic_save
    from ecgaccel.models.evaluate import evaluate_model
    from ecgaccel.models.tasks import load_task, protocol_split
    from ecgaccel.models.train import train

    out = args.out or Path("runs") / "train" / f"{args.model}-{args.protocol}.pt"
    check_output_file(refuse_shipped(out, args.overwrite_shipped))
    spec = get_spec(args.model)
    data = load_task(spec.task, args.data_dir)
    split = protocol_split(spec.task, args.protocol, data, args.seed)
    result = train(spec, data, split, args.work_dir, args.epochs, resume=not args.no_resume)
    test = evaluate_model(result.model, data, split.test, result.checkpoint.get("tau"))
    ckpt = dict(result.checkpoint)
    keys = ("accuracy", "macro_f1", "kappa", "macro_auc", "exact", "n")
    ckpt["test"] = {k: test[k] for k in keys if k in test}
    atomic_save(ckpt, out)
    print(f"best epoch {result.best_epoch} (validation {ckpt['val']}); wrote {out}")
    print("test: " + _summary_line(test))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from ecgaccel.artifacts import artifact_paths
    from ecgaccel.hw.graph import load_network
    from ecgaccel.models.checkpoint import build_model, load_checkpoint
    from ecgaccel.models.evaluate import compare_integer, evaluate
    from ecgaccel.models.tasks import load_task, protocol_split

    if args.peaks == "detect":
        from ecgaccel.hw.description import DescriptionError
        from ecgaccel.models.evaluate import evaluate_detected

        if get_spec(args.model).task != "beats-rr":
            raise DescriptionError(f"--peaks detect applies to beats-rr models; {args.model} "
                                   f"reads {get_spec(args.model).task}")  # fmt: skip

        r = evaluate_detected(args.model, args.protocol, args.data_dir, args.checkpoint)
        d = r["detection"]
        print(json.dumps(r, indent=2) if args.json else _summary_line(r) + (
            f"\ndetected R peaks: {d['detected']} ({d['matched']} matched, {d['unmatched']} "
            f"false), annotated beats {d['annotated']} ({d['missed']} missed)"))  # fmt: skip
        return 0
    r = evaluate(args.model, args.protocol, args.data_dir, args.checkpoint)
    desc_path = artifact_paths(args.model, args.protocol, args.checkpoint)["description"]
    spec = get_spec(args.model)
    if spec.config.binary and not getattr(spec.config, "multilabel", False) and desc_path.is_file():
        path = Path(r["checkpoint"])
        model = build_model(load_checkpoint(path), path, expect_model=args.model)
        data = load_task(spec.task, args.data_dir)
        split = protocol_split(spec.task, args.protocol, data, r["seed"])
        desc = load_network(desc_path)
        r["integer"] = {"test": compare_integer(model, desc, data, split.test)}
        if args.integer_all:
            r["integer"]["all"] = compare_integer(model, desc, data, np.arange(len(data)))
    print(json.dumps(r, indent=2) if args.json else _summary_line(r))
    if "integer" in r and not args.json:
        for part, v in r["integer"].items():
            print(
                f"integer reference vs float ({part}): agreement {v['agreement']:.6f} "
                f"({v['mismatches']} mismatches of {v['n']}), integer accuracy "
                f"{v['accuracy_integer']:.4f}"
            )
    return 0


def _export(args: argparse.Namespace) -> int:
    from ecgaccel.artifacts import artifact_paths, export_and_compile, refuse_shipped

    spec = get_spec(args.model)
    protocol = args.protocol or spec.protocols[0]
    out = args.out
    if out is None:
        out = (artifact_paths(args.model, protocol, args.checkpoint)["qonnx"] if args.checkpoint
               else Path("runs") / "export" / f"{args.model}-{protocol}.onnx")  # fmt: skip
    check_output_file(refuse_shipped(out, args.overwrite_shipped))
    qonnx_path, desc_path, desc = export_and_compile(args.model, protocol, args.checkpoint, out)
    bits = desc.storage_bits()
    print(f"QONNX: {qonnx_path}\ninteger description: {desc_path}")
    print(
        f"hardware storage: {bits['weights']} weight bits + {bits['thresholds']} threshold bits "
        f"+ {bits['head']} head bits = {bits['total']} bits ({bits['total'] / 8:.0f} B)"
    )
    return 0
