"""Training on the CPU: seeded, deterministic, resumable, with model selection on validation.

Every epoch the full training state (model, optimizer, scheduler, shuffling generator, best model
so far, history) is written atomically to ``<work>/<model>-<protocol>-s<seed>.state.pt``; a
rerun with ``resume=True`` continues from it. The best epoch is chosen on the validation part of
the protocol (accuracy for ``paper``, macro-F1 otherwise), never on the test part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import FORMAT, atomic_save, config_to_dict, load_checkpoint
from .ecgset import EcgSet
from .metrics import choose_tau, classification_report, logit, multilabel_report
from .nets import EcgBnn, zscore
from .registry import ModelSpec, build_network
from .tasks import ProtocolSplit


@dataclass
class TrainResult:
    """Outcome of :func:`train`: the best model (eval mode), its epoch and validation metrics."""

    model: EcgBnn
    best_epoch: int
    val: dict
    history: list[dict]
    checkpoint: dict


def set_determinism(seed: int, threads: int = 1) -> None:
    """Seed torch and fix its CPU thread count and algorithms so reruns are identical."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


@torch.no_grad()
def predict_scores(model: EcgBnn, x: np.ndarray, batch: int = 512,
                   meta: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Class scores float32 ``[N, n_classes]`` of z-scored inputs ``x`` float32 ``[N, 1, L]``
    (and, for a network with a metadata input, its features ``meta`` float32 ``[N, M]``)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        inputs = [x[i : i + batch]] + ([] if meta is None else [meta[i : i + batch]])
        out.append(model(*(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs)).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.n_classes), np.float32)


def metadata_inputs(config, data: EcgSet) -> np.ndarray | None:
    """The metadata features float32 ``[N, M]`` a network with a metadata input takes
    (``config.metadata`` > 0): a beat set's RR features (``data.meta["rr"]``,
    :func:`~.rr.rr_features`), else PTB-XL's age and sex (:func:`~.ptbxl.age_sex_features`);
    ``None`` for a network without one.

    Raises
    ------
    ValueError
        The network wants metadata that ``data`` does not have, or of another width.
    """
    m = getattr(config, "metadata", 0)
    if not m:
        return None
    if "rr" in data.meta:
        feats, what = np.asarray(data.meta["rr"], np.float32), "RR features"
    else:
        from .ptbxl import age_sex_features

        feats, what = age_sex_features(data), "age, age missing, sex"
    if feats.shape[1] != m:
        raise ValueError(f"the network takes {m} metadata features, the data gives "
                         f"{feats.shape[1]} ({what})")  # fmt: skip
    return feats


def augment(
    x: torch.Tensor, gen: torch.Generator, shift: int = 4, gain: float = 0.2, noise: float = 0.05
) -> torch.Tensor:
    """A training batch of z-scored inputs ``[B, C, L]`` (or ``[B, C, H, L]``) randomly
    varied per example, drawn from ``gen`` (so a run stays deterministic): shifted in time by
    up to ``shift`` samples (circularly), scaled by a gain in ``[1 - gain, 1 + gain]`` and
    given white noise of standard deviation ``noise`` (z-score units). What a beat's
    morphology may vary by between patients and leads placements, so the network learns it
    from the training patients' shapes less literally."""
    b = x.shape[0]
    s = torch.randint(-shift, shift + 1, (b,), generator=gen)
    idx = (torch.arange(x.shape[-1])[None, :] - s[:, None]) % x.shape[-1]  # [B, L]
    shifted = torch.gather(x, -1, idx.view(b, *([1] * (x.dim() - 2)), -1).expand_as(x))
    g = 1 + gain * (2 * torch.rand(b, *([1] * (x.dim() - 1)), generator=gen) - 1)
    return shifted * g + noise * torch.randn(x.shape, generator=gen)


def _class_weights(y: np.ndarray, n: int, power: float = 0.5, cap: float = 0.0) -> torch.Tensor:
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    if cap:  # no class weighs more than cap times the most frequent one
        w = np.minimum(w, cap * w[counts > 0].min())
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


def train(
    spec: ModelSpec,
    data: EcgSet,
    split: ProtocolSplit,
    work_dir: Path,
    epochs: int | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train ``spec``'s network on ``data[split.train]``, selecting the epoch on ``split.val``.

    Loss: cross-entropy; for the ``patient`` and ``interpatient`` protocols each class weighted
    by its frequency to the power ``-spec.class_power`` (0.5: inverse square root; 1: balanced;
    the class imbalance there is severe). With ``spec.augment`` every batch goes through
    :func:`augment` first, at most ``spec.class_cap`` times the most frequent
    class's weight when that is set (the beat task's training part has 8 Q beats: uncapped, each
    would weigh as much as 4,400 N beats). A multi-label task
    (``y`` ``[N, K]``): binary cross-entropy per label with positives weighted by
    ``sqrt(negatives / positives)``, the epoch chosen on the validation macro AUC. Adam with the
    spec's learning rate, cosine-annealed to 0 over ``epochs``.

    ``stop_after`` ends the run after that many epochs in total (the state file stays
    resumable); the schedule is still the one of ``epochs``.

    Returns
    -------
    TrainResult
        ``checkpoint`` is the shippable dict (``format``, ``model``, ``protocol``, ``seed``,
        ``config``, ``state_dict`` of the best epoch, ``best_epoch``, ``val``, ``epochs``).
    """
    epochs = epochs or spec.epochs
    set_determinism(split.seed)
    x = zscore(data.x)
    multilabel = data.y.ndim == 2
    yt = torch.from_numpy(data.y[split.train])
    xt, yt = torch.from_numpy(x[split.train]), yt.float() if multilabel else yt
    xv, yv = x[split.val], data.y[split.val]
    meta = metadata_inputs(spec.config, data)
    mt = None if meta is None else torch.from_numpy(meta[split.train])
    mv = None if meta is None else meta[split.val]
    model = build_network(spec.config)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(split.seed)
    weighted = split.protocol != "paper"
    if multilabel:  # a sigmoid per label, positives weighted by sqrt(negatives / positives)
        pos = np.clip(data.y[split.train].mean(axis=0), 1e-3, 1 - 1e-3)
        weight = torch.tensor(np.sqrt((1 - pos) / pos), dtype=torch.float32)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        metric = "macro_auc"
    else:
        loss_fn = torch.nn.CrossEntropyLoss(
            weight=_class_weights(
                data.y[split.train], spec.config.n_classes, spec.class_power, spec.class_cap
            )
            if weighted
            else None
        )
        metric = spec.select or ("macro_f1" if weighted else "accuracy")
    state_path = Path(work_dir) / f"{spec.name}-{split.protocol}-s{split.seed}.state.pt"
    start, best, history = 0, {"score": -1.0, "epoch": -1, "state": None, "val": {}}, []
    if resume and state_path.is_file():
        st = load_checkpoint(state_path)
        model.load_state_dict(st["model_state"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        gen.set_state(st["generator"])
        if "torch_rng" in st:  # the global generator (e.g. a model's dropout draws from it)
            torch.set_rng_state(st["torch_rng"])
        start, best, history = st["epoch"] + 1, st["best"], st["history"]
    last = epochs if stop_after is None else min(epochs, stop_after)
    bar = tqdm(range(start, last), desc=f"train {spec.name}/{split.protocol}",
               disable=not progress, initial=start, total=epochs)  # fmt: skip
    for epoch in bar:
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(perm), spec.batch_size):
            idx = perm[i : i + spec.batch_size]
            opt.zero_grad()
            xb = augment(xt[idx], gen) if spec.augment else xt[idx]
            loss = loss_fn(model(xb) if mt is None else model(xb, mt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        scores = predict_scores(model, xv, meta=mv)
        if multilabel:
            val = multilabel_report(yv, scores, data.classes)
        else:
            val = classification_report(yv, scores.argmax(axis=1), data.classes, scores)
        score = val[metric] if val[metric] is not None else 0.0
        history.append({"epoch": epoch, "loss": total / len(perm), "val_" + metric: score,
                        "seconds": time.time() - t0})  # fmt: skip
        if score > best["score"]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = {"score": score, "epoch": epoch, "state": state, "val": val}
        bar.set_postfix(loss=f"{total / len(perm):.3f}", val=f"{score:.4f}",
                        best=f"{best['score']:.4f}@{best['epoch']}")  # fmt: skip
        atomic_save(
            {"format": FORMAT, "model_state": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "generator": gen.get_state(),
             "torch_rng": torch.get_rng_state(), "epoch": epoch,
             "best": best, "history": history},
            state_path,
        )  # fmt: skip
    model.load_state_dict(best["state"])
    model.eval()
    extra = {}
    if multilabel:  # decision levels from the validation part, and its metrics at them
        scores = predict_scores(model, xv, meta=mv)
        extra["tau"] = choose_tau(yv, scores)
        best["val"] = multilabel_report(yv, scores, data.classes, logit(np.array(extra["tau"])))
    ckpt = {
        "format": FORMAT,
        "model": spec.name,
        "protocol": split.protocol,
        "seed": split.seed,
        "config": config_to_dict(spec.config),
        "state_dict": best["state"],
        "best_epoch": best["epoch"],
        "epochs": epochs,
        "val": {
            k: best["val"][k]
            for k in ("accuracy", "macro_f1", "kappa", "macro_auc", "exact", "n")
            if k in best["val"]
        },
        **extra,
    }
    return TrainResult(model, best["epoch"], best["val"], history, ckpt)
