"""``ppt-mocap finetune``: teach the model a studio from its own recordings.

    ppt-mocap finetune label takes/t1 --teacher mediapipe          # bootstrapped labels in takes/t1/labels/
    ppt-mocap finetune label takes/t1 --teacher recorded --result live
    ppt-mocap finetune train takes/t1 takes/t2 --init assets/weights/multiview_ppt_demo.pth --epochs 20
    ppt-mocap finetune status takes/t1                             # label sets and fine-tuning runs

``train`` resumes an interrupted run when run again; with several GPUs it re-launches itself under ``torchrun``
(one process per GPU, DDP). See ``docs/FINETUNE.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("finetune", help="bootstrapped labels from a session and fine-tuning on them",
                              description="Teach the model a studio: label recorded sessions with a teacher's 2D "
                              "triangulated and projected into every view, then fine-tune PPT weights on them.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    lab = sub.add_parser("label", help="bootstrapped multi-view labels of a session",
                         description="Run a teacher (MediaPipe BlazePose, or a result set already in the session) "
                         "on every view, triangulate robustly, reject unreliable frames, project into every view "
                         "and store labels, quality and crops in SESSION/labels/<name>/.")
    lab.add_argument("session", type=Path, help="session folder (with calibration.toml)")
    lab.add_argument("--teacher", choices=("mediapipe", "recorded"), default="mediapipe")
    lab.add_argument("--result", default=None,
                     help="mediapipe: result set to write (default mediapipe); recorded: result set that teaches "
                     "(default live, or the only one)")
    lab.add_argument("--name", default=None, help="label set name (default: the teacher's result set)")
    lab.add_argument("--overwrite", action="store_true", help="run the teacher again and replace the label set")
    lab.add_argument("--min-frames", type=int, default=10, help="fewer reliable frame sets stop with an error")
    lab.add_argument("--min-joints", type=int, default=12, help="joints (of 17) a reliable frame needs")
    lab.add_argument("--max-frame-error", type=float, default=0.03,
                     help="largest median reprojection error of a reliable frame, x the person's height")
    lab.add_argument("--offset-window", type=float, default=1.0, metavar="SECONDS",
                     help="window of the per-view teacher offsets added to the projections (0: pure projections)")
    lab.add_argument("--json", action="store_true", help="print the counts as JSON")
    lab.set_defaults(func=run_label)

    tr = sub.add_parser("train", help="fine-tune weights on the labels of one or more sessions",
                        description="Fine-tune our weights file or an official checkpoint on the sessions' labels; "
                        "the last part of each session (by time) is held out and evaluated after every epoch. "
                        "Running the same command again resumes; the weights file is written when the run ends.")
    tr.add_argument("sessions", type=Path, nargs="+", help="session folders with label sets")
    tr.add_argument("--init", type=Path, required=True, help="weights to start from (ours or an official checkpoint)")
    tr.add_argument("--preset", default="multiview_ppt_s", help="architecture of an official checkpoint")
    tr.add_argument("--labels", default=None, help="label set name in every session (default: the only one)")
    tr.add_argument("--name", default=None, help="run name (default: the init file's stem)")
    tr.add_argument("--run-dir", type=Path, default=None, help="run folder (default FIRST_SESSION/finetune/NAME)")
    tr.add_argument("--out", type=Path, default=None, help="weights file to write (default RUN_DIR/weights.pth)")
    tr.add_argument("--holdout", type=float, default=0.3, help="share of each session held out at its end")
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--lr", type=float, default=3e-4)
    tr.add_argument("--batch-size", type=int, default=0, help="frame sets (multi-view) or crops (default 4 / 16)")
    tr.add_argument("--max-minutes", type=float, default=0.0, help="stop after this wall time (resumable)")
    tr.add_argument("--device", default="auto", help="auto, cpu or cuda")
    tr.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    tr.add_argument("--workers", type=int, default=0, help="data loader workers")
    tr.add_argument("--visible-only", action="store_true", help="train only on joints visible in each view")
    tr.add_argument("--rotation", type=float, default=30.0,
                    help="in-plane rotation of the training crops, degrees (std; 0: none; default 30)")
    tr.add_argument("--no-flip", dest="flip", action="store_false",
                    help="do not mirror training frame sets (default: half of them, all views together, left/right "
                    "labels swapped)")
    tr.add_argument("--fuse", action="store_true",
                    help="the fine-tuned weights run their views fused (default: each view alone, triangulated; "
                    "measured better on a real session's held-out frames, docs/FINETUNE.md)")
    tr.add_argument("--fresh", action="store_true", help="start again instead of resuming the run folder")
    tr.add_argument("--processes", type=int, default=None,
                    help="DDP processes (default: the number of GPUs when there are several, else 1)")
    tr.add_argument("--json", action="store_true", help="print the summary as JSON")
    tr.set_defaults(func=run_train)

    st = sub.add_parser("status", help="label sets and fine-tuning runs of a session")
    st.add_argument("session", type=Path)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=run_status)


def run_label(args: argparse.Namespace) -> int:
    from core.finetune.labels import LabelSettings, make_labels

    settings = LabelSettings(min_frames=args.min_frames, min_joints=args.min_joints,
                             max_frame_error=args.max_frame_error, offset_window_s=args.offset_window)
    last = [-1]

    def progress(text: str, fraction: float) -> None:
        step = int(fraction * 10)
        if step != last[0]:
            last[0] = step
            print(f"  {100 * fraction:5.1f} %  {text}", flush=True)

    labels = make_labels(args.session, args.teacher, args.result, args.name, settings, overwrite=args.overwrite,
                         on_progress=None if args.json else progress)
    counts = labels.info["counts"]
    if args.json:
        print(json.dumps({"labels": str(labels.folder), "minutes": labels.info["minutes"], **counts}))
    else:
        print(f"labels written to {labels.folder} in {labels.info['minutes']:.2f} min: {counts['reliable']} of "
              f"{counts['frames']} frame sets reliable (rejected: {counts['rejected_no_person']} without the person "
              f"in 2 views, {counts['rejected_few_joints']} with too few joints, "
              f"{counts['rejected_reprojection_error']} with a large reprojection error); "
              f"{counts['joints_filled']} joint labels where the teacher had none, {counts['joints_corrected']} "
              "where its observation was an outlier")
    return 0


def default_processes(device: str) -> int:
    """DDP processes for ``device``: the number of GPUs when several are present, else 1."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return max(1, torch.cuda.device_count())
    return 1


def torchrun_command(args: argparse.Namespace, processes: int) -> list[str]:
    """The ``torchrun`` command that runs this ``finetune train`` in ``processes`` processes."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "app.cli", "finetune", "train", *[str(s) for s in args.sessions], "--init", str(args.init),
           "--processes", str(processes)]
    for flag in ("preset", "labels", "name", "run_dir", "out", "holdout", "epochs", "lr", "batch_size",
                 "max_minutes", "device", "threads", "workers", "rotation"):
        value = getattr(args, flag)
        if value is not None:
            cmd += [f"--{flag.replace('_', '-')}", str(value)]
    cmd += [f"--{flag.replace('_', '-')}" for flag in ("visible_only", "fuse", "fresh", "json") if getattr(args, flag)]
    cmd += [] if args.flip else ["--no-flip"]
    return cmd


def run_train(args: argparse.Namespace) -> int:
    from core.finetune.run import FinetuneOptions, finetune

    processes = args.processes or default_processes(args.device)
    if processes > 1 and "WORLD_SIZE" not in os.environ:
        cmd = torchrun_command(args, processes)
        print(f"launching {processes} DDP processes: {' '.join(cmd)}", flush=True)
        return subprocess.call(cmd)
    options = FinetuneOptions(
        sessions=[str(s) for s in args.sessions], init=str(args.init), labels=args.labels, name=args.name,
        run_dir=str(args.run_dir) if args.run_dir else None, out=str(args.out) if args.out else None,
        preset=args.preset, holdout=args.holdout, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
        max_minutes=args.max_minutes, device=args.device, threads=args.threads, workers=args.workers,
        visible_only=args.visible_only, rotation=args.rotation, flip=args.flip, fuse=args.fuse, fresh=args.fresh)
    quiet = args.json

    def progress(kind: str, info: dict) -> None:
        if quiet or kind == "step":
            return
        if kind == "start":
            b = info["before"] or {}
            split = ", ".join(f"{k}: {v['train']} training / {v['held_out']} held-out frame sets"
                              for k, v in info["split"].items())
            print(f"fine-tuning in {info['run_dir']} from epoch {info['epoch']} of {info['epochs']} ({split})")
            if b:
                print(f"  before: held-out 2D {b['median_px']:.1f} px, 3D median {b['median_mm']:.1f} mm "
                      f"(training mean pose: {b.get('baseline_median_px', float('nan')):.1f} px, "
                      f"{b.get('baseline_median_mm', float('nan')):.1f} mm), against the labels", flush=True)
        elif kind == "epoch":
            print(f"  epoch {int(info['epoch'])}: loss {info['train_loss']:.4f}, held-out 2D {info['median_px']:.1f} "
                  f"px, 3D median {info['median_mm']:.1f} mm, {info['minutes']:.1f} min", flush=True)

    summary = finetune(options, on_progress=progress)
    if not summary:  # a DDP rank other than 0
        return 0
    if quiet:
        print(json.dumps(summary, default=float))
    else:
        print(f"weights written to {summary['weights']} after {summary['epochs']} epochs, {summary['minutes']:.1f} "
              f"min; held-out 3D median {summary['before']['median_mm']:.1f} -> "
              f"{summary['after'].get('median_mm', float('nan')):.1f} mm against the labels")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from core.finetune.labels import LabelSet, list_label_sets
    from core.finetune.run import list_runs

    labels = {name: LabelSet(args.session, name).summary() for name in list_label_sets(args.session)}
    runs = list_runs(args.session)
    if args.json:
        print(json.dumps({"labels": labels, "runs": runs}, default=float))
        return 0
    if not labels:
        print(f"{args.session}: no label sets (ppt-mocap finetune label {args.session})")
    for name, s in labels.items():
        c = s["counts"]
        print(f"labels {name}: teacher {s['teacher']['kind']} ({s['teacher']['result']}), {c['reliable']} of "
              f"{c['frames']} frame sets reliable")
    for r in runs:
        state = "complete" if r["complete"] else f"{r['epochs']} epochs so far (resumable)"
        print(f"run {r['name']}: {state}; weights {r['weights'] or '(none yet)'}")
    return 0
