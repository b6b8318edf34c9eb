"""``ecgaccel verify``: one hardware back end against the integer reference, word for word.

Simulates the chosen back end (``core``: the hand-written core; ``dataflow``: the streaming
pipeline) on Verilator with ``--windows`` real bundled MIT-BIH windows (spread over the records,
quantized on the host as ``ecgaccel run`` does) and ``--random`` uniformly random int8 windows,
with random idle input cycles and output back-pressure, and compares every class score and the
class of every window with :func:`ecgaccel.models.reference.run`. Then streams the first few
windows back to back at full rate for the simulated latency and initiation interval. Prints a
short summary; exits 0 only when every window matched, 1 otherwise (4 when a testbench failed,
e.g. its deadlock watchdog fired).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ecgaccel.cliargs import (
    BACKENDS,
    DEFAULT_MODEL,
    DEFAULT_PROTOCOL,
    command_help,
    nonnegative_int,
    positive_int,
)
from ecgaccel.hw import CORE_DEFAULT

DEFAULT_IDLE = 0.3
"""Probability of an idle input cycle before a beat."""
DEFAULT_PAUSE = 0.5
"""Probability of a back-pressure cycle on the output."""
RATE_WINDOWS = 3
"""Windows streamed back to back at full rate for the latency and II figures."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``verify``."""
    v = sub.add_parser("verify", help=command_help("verify"))
    v.add_argument("--backend", choices=BACKENDS, default="core")
    v.add_argument("--model", default=DEFAULT_MODEL)
    v.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    v.add_argument("--windows", type=nonnegative_int, default=8,
                   help="real bundled windows, spread over the records (default 8)")  # fmt: skip
    v.add_argument(
        "--random", type=nonnegative_int, default=8, help="random int8 windows (default 8)"
    )
    v.add_argument("--fold", default=None,
                   help="dataflow folding: a FINN folding config JSON, or 'auto' (the folding "
                        "pass); default one column a cycle per block")  # fmt: skip
    v.add_argument("--pe", type=positive_int, default=None,
                   help=f"core PE (default {CORE_DEFAULT[0]})")  # fmt: skip
    v.add_argument("--simd", type=positive_int, default=None,
                   help=f"core SIMD (default {CORE_DEFAULT[1]})")  # fmt: skip
    v.add_argument("--seed", type=int, default=0, help="random windows and stalls")
    v.add_argument("--idle", type=float, default=DEFAULT_IDLE,
                   help=f"idle input cycle probability (default {DEFAULT_IDLE})")  # fmt: skip
    v.add_argument("--pause", type=float, default=DEFAULT_PAUSE,
                   help=f"output back-pressure probability (default {DEFAULT_PAUSE})")  # fmt: skip
    v.add_argument("--jobs", type=positive_int, default=2, help="parallel simulator processes")
    v.add_argument("--data-dir", type=Path, default=None,
                   help="records of the model's task (default the bundled MIT-BIH records; "
                        "PTB-XL's 12-lead records must be given: its test fold is "
                        "streamed)")  # fmt: skip
    v.add_argument("--random-nets", type=positive_int, default=None, metavar="N",
                   help="instead: the compiler's fuzzer, N random networks from --seed "
                        "(ecgaccel.models.fuzz: chain form, qonnx execution, reference "
                        "vs Brevitas)")  # fmt: skip
    v.add_argument("--graph-nets", action="store_true",
                   help="with --random-nets: random graph networks (ResNets with projection "
                        "shortcuts, lead x time nets with metadata and multi-label heads; "
                        "ecgaccel.models.graph_fuzz): qonnx == reference, reference vs "
                        "Brevitas")  # fmt: skip
    v.add_argument(
        "--rtl",
        type=nonnegative_int,
        default=0,
        metavar="K",
        help="with --graph-nets: the first K networks also through the dataflow "
        "RTL (stalls --idle / --pause), word for word against the reference",
    )
    v.add_argument("--checkpoint", type=Path, default=None,
                   help="a trained checkpoint whose exported description lies next to it "
                        "(ecgaccel export); default the shipped one")  # fmt: skip
    v.add_argument("--random-graphs", type=positive_int, default=None, metavar="N",
                   help="instead: N random residual integer graphs from --seed through the "
                        "dataflow RTL (ecgaccel.sim.graph_check), with stalls and back to "
                        "back")  # fmt: skip
    v.add_argument("--leads", type=positive_int, default=1,
                   help="with --random-graphs: lead x time graphs over this many leads "
                        "(kernels over 1, 3 or all leads)")  # fmt: skip
    v.set_defaults(func=_verify)


def _random_graphs(args: argparse.Namespace) -> int:
    """``verify --random-graphs N``: :func:`ecgaccel.sim.graph_check.check_graph_rtl` for
    seeds ``seed .. seed + N - 1``; a line per graph, a summary; exit 1 on any mismatch, 4 when
    a testbench failed."""
    from ecgaccel.sim.graph_check import check_graph_rtl
    from ecgaccel.sim.runner import SimulationError

    t0 = time.time()
    bad, failed, windows = 0, [], 0
    for seed in range(args.seed, args.seed + args.random_graphs):
        try:
            r = check_graph_rtl(seed, idle=args.idle, pause=args.pause, leads=args.leads)
        except SimulationError as exc:
            failed.append(f"seed {seed}: {exc}")
            print(f"ecgaccel: random graph {seed}: testbench failed: {exc}", flush=True)
            continue
        bad += r.mismatches
        windows += r.windows
        print(f"random graph {seed}: {r.n_nodes} nodes, {r.mismatches} of {r.windows} windows "
              f"differ, II {r.ii} cycles (estimate {r.est_ii})", flush=True)  # fmt: skip
    print(f"verify --random-graphs {args.random_graphs} --seed {args.seed} --leads {args.leads}: "
          f"{bad} mismatching "
          f"of {windows} windows, {len(failed)} testbench failures, "
          f"{time.time() - t0:.0f} s")  # fmt: skip
    return 4 if failed else (1 if bad else 0)


RTL_MAX_BITS = 4
"""``verify --graph-nets --rtl K`` takes the first K networks of at most this many activation
bits to the RTL: an 8-bit network's thresholds (255 steps a channel) make its Verilog take
minutes to generate and build (measured: over 4 min for seed 0 before its simulation began)."""


def _random_graph_nets(args: argparse.Namespace) -> int:
    """``verify --random-nets N --graph-nets [--rtl K]``:
    :func:`ecgaccel.models.graph_fuzz.check_graph_network` for seeds ``seed .. seed + N - 1``,
    the first ``K`` of at most :data:`RTL_MAX_BITS` bits also on the RTL; a line per network,
    a summary; exit 1 on any failure."""
    from ecgaccel.hw.compile import CompileError
    from ecgaccel.hw.graph import GraphError
    from ecgaccel.hw.graph_dataflow import plan_graph
    from ecgaccel.hw.layers.common import LayerConfigError
    from ecgaccel.measure import mismatched_windows
    from ecgaccel.models import reference
    from ecgaccel.models.graph_fuzz import check_graph_network, describe
    from ecgaccel.sim.core_sim import simulate_core
    from ecgaccel.sim.runner import SimulationError

    t0 = time.time()
    failed, worst, rtl_windows, rtl_nets = [], 0.0, 0, 0
    for seed in range(args.seed, args.seed + args.random_nets):
        try:
            r, g, ints = check_graph_network(seed)
        except (AssertionError, CompileError, GraphError, ValueError) as exc:
            failed.append(f"seed {seed}: {exc}")
            print(f"random graph network {seed}: FAILED {exc}", flush=True)
            continue
        line = (f"random graph network {seed}: {describe(r.config)}, {len(r.ops)} nodes, "
                f"{r.decision_mismatches} decisions differ from Brevitas, score error "
                f"{r.max_score_error:.2f} units")  # fmt: skip
        if r.decision_mismatches:
            failed.append(f"seed {seed}: {r.decision_mismatches} decision mismatches")
        worst = max(worst, r.max_score_error)
        if rtl_nets < args.rtl and r.config.bits <= RTL_MAX_BITS:
            rtl_nets += 1
            ref = reference.run(g, ints)
            meta = ints["meta"][:, :, 0, 0] if "meta" in ints else None
            try:
                hw = simulate_core(plan_graph(g, in_lanes=4), ints["x"], meta=meta,
                                   idle=args.idle, pause=args.pause, seed=seed)  # fmt: skip
            except (SimulationError, LayerConfigError) as exc:
                failed.append(f"seed {seed}: testbench failed: {exc}")
                print(f"{line}; RTL testbench failed: {exc}", flush=True)
                continue
            bad = len(mismatched_windows(hw, ref))
            rtl_windows += len(hw.scores)
            line += f"; RTL: {bad} of {len(hw.scores)} windows differ"
            if bad:
                failed.append(f"seed {seed}: {bad} RTL windows differ from the reference")
        print(line, flush=True)
    print(f"verify --random-nets {args.random_nets} --graph-nets --rtl {args.rtl} --seed "
          f"{args.seed}: {args.random_nets - len({f.split(':')[0] for f in failed})} of "
          f"{args.random_nets} networks passed (qonnx == reference, decisions == Brevitas; "
          f"largest score error {worst:.2f} units; {rtl_nets} networks, {rtl_windows} windows "
          f"on the RTL) in {time.time() - t0:.0f} s")  # fmt: skip
    return 1 if failed else 0


def _random_nets(args: argparse.Namespace) -> int:
    """``verify --random-nets N``: :func:`ecgaccel.models.fuzz.check_network` for seeds
    ``seed .. seed + N - 1``; a summary line; exit 1 when any network failed."""
    from tqdm import tqdm

    from ecgaccel.hw.compile import CompileError
    from ecgaccel.models.fuzz import check_network

    t0 = time.time()
    failed, worst = [], 0.0
    seeds = range(args.seed, args.seed + args.random_nets)
    for seed in tqdm(seeds, desc="random networks", unit="net"):
        try:
            r = check_network(seed)
        except (AssertionError, CompileError) as exc:
            failed.append(f"seed {seed}: {exc}")
            continue
        if r.class_mismatches:
            failed.append(f"seed {seed}: {r.class_mismatches} class mismatches")
        worst = max(worst, r.max_score_error / r.score_bound)
    for f in failed:
        print(f"ecgaccel: {f}")
    print(f"verify --random-nets {args.random_nets} --seed {args.seed}: "
          f"{args.random_nets - len(failed)} of {args.random_nets} networks passed (chain form "
          f"round-trips, qonnx == reference, classes == Brevitas; largest score error "
          f"{worst:.2f} of its bound) in {time.time() - t0:.0f} s")  # fmt: skip
    return 1 if failed else 0


def spread_windows(records: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` windows spread over the records: round robin over the records, evenly
    spaced within each."""
    names = list(dict.fromkeys(records.tolist()))
    per = -(-n // len(names)) if n else 0
    picks = []
    for r in names:
        idx = np.flatnonzero(records == r)
        take = np.unique(np.linspace(0, len(idx) - 1, min(per, len(idx))).round().astype(int))
        picks.append(idx[take].tolist())
    out = [p[k] for k in range(per) for p in picks if k < len(p)]
    return np.asarray(out[:n], dtype=np.int64)


def _plan(args: argparse.Namespace, desc):
    """The back end's plan and its estimated initiation interval (cycles)."""
    from ecgaccel.hw.core_plan import CoreConfigError
    from ecgaccel.hw.graph import IntGraph

    pe = CORE_DEFAULT[0] if args.pe is None else args.pe
    simd = CORE_DEFAULT[1] if args.simd is None else args.simd

    if isinstance(desc, IntGraph):
        if args.backend == "core":
            from ecgaccel.hw.core_plan import plan_core

            plan_core(desc, pe, simd)  # a graph it cannot run: the one-line error
        if args.fold is not None:
            raise CoreConfigError("--fold: a graph takes its default folding so far")
        from ecgaccel.hw.graph_dataflow import plan_graph

        plan = plan_graph(desc)
        est = plan.estimates()
        return plan, est.ii, est.latency
    if args.backend == "core":
        if args.fold is not None:
            raise CoreConfigError("--fold applies to --backend dataflow")
        from ecgaccel.hw.core_plan import plan_core

        plan = plan_core(desc, pe, simd)
        return plan, plan.cycles_per_inference(), plan.cycles_per_inference()
    from ecgaccel.hw.dataflow import plan_dataflow
    from ecgaccel.hw.folding import resolve_fold

    plan = plan_dataflow(desc, resolve_fold(desc, args.fold))
    est = plan.estimates()
    return plan, est.ii, est.latency


def _verify(args: argparse.Namespace) -> int:
    from ecgaccel.artifacts import load_network
    from ecgaccel.hw.core_plan import CoreConfigError
    from ecgaccel.hw.description import DescriptionError
    from ecgaccel.hw.graph import IntGraph
    from ecgaccel.measure import mismatched_windows
    from ecgaccel.models import reference
    from ecgaccel.models.mitdb import bundled_data_dir
    from ecgaccel.models.preprocess import quantize_input, zscore
    from ecgaccel.models.registry import PTBXL_TASKS, get_spec
    from ecgaccel.models.windows import load_windows
    from ecgaccel.sim.core_sim import simulate_core

    if args.random_nets:
        return _random_graph_nets(args) if args.graph_nets else _random_nets(args)
    if args.random_graphs:
        return _random_graphs(args)
    t0 = time.time()
    for name in ("windows", "random"):
        if getattr(args, name) < 0:
            raise CoreConfigError(f"--{name} must be ≥ 0, got {getattr(args, name)}")
    if args.windows + args.random < 1:
        raise CoreConfigError("nothing to verify: give --windows or --random ≥ 1")
    for name in ("idle", "pause"):
        if not 0.0 <= getattr(args, name) < 1.0:
            raise CoreConfigError(f"--{name} must be in [0, 1), got {getattr(args, name)}")
    spec = get_spec(args.model)
    if spec.task not in ("windows5", "beats", "beats-rr", *PTBXL_TASKS):
        raise DescriptionError(f"ecgaccel verify streams MIT-BIH 10-s windows or beats, or "
                               f"PTB-XL records; {args.model} reads {spec.task}")  # fmt: skip
    desc = load_network(args.model, args.protocol, args.checkpoint)
    graph = isinstance(desc, IntGraph)
    # the input of one window: [1, L], or a graph's [C, leads, L]
    in_shape = desc.inputs[0].type.shape if graph else (1, 1, desc.input_length)
    length = in_shape[2]
    plan, est_ii, est_latency = _plan(args, desc)

    parts, source, metas = [], [], []
    meta_in = desc.inputs[1] if graph and len(desc.inputs) > 1 else None
    records: list[str] = []
    if args.windows:
        if spec.task in PTBXL_TASKS:
            from ecgaccel.models.leadnet import quantize_metadata
            from ecgaccel.models.ptbxl import TEST_FOLD, age_sex_features
            from ecgaccel.models.tasks import default_data_dir, load_task

            w = load_task(spec.task, args.data_dir or default_data_dir(spec.task))
            w = w.subset(w.meta["strat_fold"] == TEST_FOLD)
            idx = np.linspace(0, len(w) - 1, min(args.windows, len(w))).round().astype(int)
            parts.append(quantize_input(zscore(w.x[idx]))[:, None])  # [n, 1, 12, L]
            if meta_in is not None:  # the records' own age and sex
                metas.append(quantize_metadata(age_sex_features(w)[idx]))
            records = [str(r) for r in w.record[idx]]
            source += [f"PTB-XL record {w.record[i]} ({w.symbol[i]})" for i in idx]
        elif spec.task == "beats-rr":  # beat, record median beat and RR features, as trained
            from ecgaccel.models.beat_inputs import load_beat_records
            from ecgaccel.models.mitdb import available_records

            folder = args.data_dir or bundled_data_dir()
            b = load_beat_records(folder, list(available_records(folder)))
            idx = spread_windows(b.beats.record, args.windows)
            xq, mq = b.integer_inputs()
            parts.append(xq[idx])
            metas.append(mq[idx])
            records = sorted(set(b.beats.record[idx].tolist()))
            source += [f"beat at sample {b.beats.sample[i]} of record {b.beats.record[i]}"
                       for i in idx]  # fmt: skip
        elif spec.task == "beats":
            from ecgaccel.models.beats import load_beats

            w = load_beats(args.data_dir or bundled_data_dir(), pre_s=1.0, post_s=1.0)
            if w.x.shape[2] != length:
                raise DescriptionError(f"{args.model} takes {length} samples, the beats "
                                       f"{w.x.shape[2]}")  # fmt: skip
        else:
            w = load_windows(args.data_dir or bundled_data_dir())
        if spec.task not in ("beats-rr", *PTBXL_TASKS):
            if meta_in is not None:
                raise DescriptionError(
                    f"{args.model} takes metadata, which {spec.task} "
                    "records lack; verify it on --random windows"
                )
            idx = spread_windows(w.record, args.windows)
            parts.append(quantize_input(zscore(w.x[idx])).reshape(len(idx), *in_shape))
            records = sorted(set(w.record[idx].tolist()))
            source += [f"real window {int(i)} (record {w.record[i]})" for i in idx]
    if args.random:
        rng = np.random.default_rng(args.seed)
        parts.append(rng.integers(-128, 128, (args.random, *in_shape)).astype(np.int8))
        if meta_in is not None:  # random metadata too, over the input's whole range
            lo, hi = meta_in.type.lo, meta_in.type.hi
            metas.append(rng.integers(lo, hi + 1, (args.random, meta_in.type.shape[0])))
        source += [f"random window {k}" for k in range(args.random)]
    x = np.concatenate(parts)  # [N, 1, 1, L] or [N, C, leads, L]
    meta = np.concatenate(metas) if metas else None  # [N, M]
    inputs = x if meta is None else {"x": x, meta_in.name: meta[:, :, None, None]}
    ref = reference.run(desc, inputs if graph else x[:, :, 0])
    hw = simulate_core(plan, x, meta=meta, idle=args.idle, pause=args.pause, seed=args.seed,
                       jobs=args.jobs)  # fmt: skip
    bad = mismatched_windows(hw, ref)
    rate = simulate_core(plan, x[:RATE_WINDOWS], overlap=True,
                         meta=None if meta is None else meta[:RATE_WINDOWS])  # fmt: skip
    rate_bad = len(mismatched_windows(rate, ref.first(RATE_WINDOWS)))
    n = len(x)

    print(f"ecgaccel verify: {args.model} ({args.protocol}) on the {args.backend} back end")
    print(f"windows: {args.windows} real (records {', '.join(records) or '-'}) + "
          f"{args.random} random int8; idle {args.idle}, pause {args.pause}, "
          f"seed {args.seed}")  # fmt: skip
    print(
        f"mismatches: {len(bad)} of {n} windows (every class score and the class, word for "
        f"word vs models.reference){'' if rate_bad == 0 else f'; {rate_bad} more at full rate'}"
    )
    print(f"cycles/window with stalls: median {int(np.median(hw.cycles))} "
          f"(min {int(hw.cycles.min())}, max {int(hw.cycles.max())})")  # fmt: skip
    sim_ii = f"{int(np.median(rate.cycles[1:]))}" if len(rate.cycles) > 1 else "n/a"
    print(f"full rate, {len(rate.cycles)} windows back to back: latency {int(rate.cycles[0])}, "
          f"initiation interval {sim_ii} cycles; estimated II {est_ii}, "
          f"latency {est_latency}")  # fmt: skip
    if len(bad):
        k = int(bad[0])
        print(f"first mismatch: window {k} ({source[k]}): expected scores "
              f"{ref.scores[k].tolist()} class {int(ref.word[k])}, got {hw.scores[k].tolist()} "
              f"class {int(hw.classes[k])}")  # fmt: skip
    ok = not len(bad) and not rate_bad
    print(f"{'PASS' if ok else 'FAIL'} ({time.time() - t0:.0f} s)")
    return 0 if ok else 1
