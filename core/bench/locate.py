"""``ppt-mocap bench locate``: how well the localisation stage finds the person (:mod:`core.train.localisation`).

Held-out studio sessions (seeds never used in training, presets ``ring4`` and ``high-low4``, a second person in
each) are rendered once into ``--sessions`` and reused. On each, the stage runs on every frame set in order, as
live, the subject being selected on the first frame set as a user's click would; the 2D fed back is the truth 2D
inside each located crop plus 2 px noise (``--pose truth``: the stage with a good 2D model, independent of the
weights) and/or the demo model on the located crops (``--pose model``). Real data: the Pose2Sim recording
(4 cameras, boxes of its OpenPose keypoints) and the Human3.6M frames (one camera each: detection alone).

With ``--stride N`` the stage and the model see only every N-th frame set, as a live loop on a loaded CPU keeps up
with a fraction of the cameras' rate (every start offset run and pooled).

Figures per session and view: box recall (IoU >= 0.5 with the truth box), share of visible truth joints inside the
crop, the stage's ms per frame set while tracking and while searching. Targets (issue 13): recall >= 97 % per view
and >= 99 % joints inside on the studio sessions, recall >= 95 % on real frames.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

NAME = "locate"
HELP = "person localisation: box recall and joints inside the crop on held-out studio sessions and real frames"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: Held-out sessions: (preset, motion, seed); two people each, 300 frame sets at 30 fps.
SESSIONS = (("ring4", "walk", 7201), ("high-low4", "mix", 7202), ("ring4", "squat", 7203),
            ("high-low4", "reach", 7204))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=Path, default=Path("out/bench_locate"),
                        help="folder of the held-out sessions (rendered there when missing)")
    parser.add_argument("--frames", type=int, default=300, help="frame sets per held-out session (default 300)")
    parser.add_argument("--pose", choices=("truth", "model", "both"), default="truth",
                        help="2D fed back to the stage: truth 2D in the crops, the demo model, or both")
    parser.add_argument("--weights", type=Path, default=None, help="weights for --pose model / the real data "
                        "(default: the demo weights)")
    parser.add_argument("--detectors", default="auto", help="person detectors (auto, mog2, knn, mediapipe, ...)")
    parser.add_argument("--no-real", action="store_true", help="skip the real recordings of ../shared/data")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--stride", type=int, default=1,
                        help="run on every N-th frame set, as a live loop keeping up with 1/N of the camera rate "
                        "(a loaded CPU); every start offset is run and the figures pooled (default 1)")


def held_out_sessions(folder: Path, frames: int) -> list[Path]:
    """The held-out sessions in ``folder``, rendered if missing (deterministic: same seeds, same sessions)."""
    from core.studio.recording import render_session
    from core.studio.rig_presets import make_rig
    from core.studio.studio import make_studio

    out = []
    for preset, motion, seed in SESSIONS:
        path = Path(folder) / f"{preset}_{motion}_{seed}_{frames}"
        if not (path / "session.json").exists():
            log.info("rendering held-out session %s", path)
            studio = make_studio(rig=make_rig(preset), motion=motion, people=2, seed=seed, fps=30.0)
            render_session(studio, path, frames, overwrite=True,
                           settings={"preset": preset, "motion": motion, "held_out": True})
        out.append(path)
    return out


def run(args: argparse.Namespace) -> dict:
    import platform

    import torch

    from core.train.localisation import locate_h36m_frames, locate_pose2sim, locate_session

    torch.set_num_threads(args.torch_threads)
    estimator = None
    if args.pose in ("model", "both") or not args.no_real:
        from core.inference.weights import DEMO_WEIGHTS, load_demo_estimator

        estimator = load_demo_estimator(args.weights or DEMO_WEIGHTS, device="cpu", num_threads=args.torch_threads)
    poses = ("truth", "model") if args.pose == "both" else (args.pose,)
    figures: dict = {"machine": f"{platform.machine()}, torch threads {torch.get_num_threads()}",
                     "weights": str(args.weights or "assets/weights/multiview_ppt_demo.pth")}
    worst: dict = {}
    for path in held_out_sessions(args.sessions, args.frames):
        for pose in poses:
            r = locate_session(path, pose=pose, estimator=estimator, detectors=args.detectors,
                               stride=args.stride)
            key = f"{path.name} ({pose} 2D)" + (f" every {args.stride}th set" if args.stride > 1 else "")
            figures[key] = {"recall": r["recall"], "min_view_recall": r["min_view_recall"],
                            "recall_per_view": r["recall_per_view"], "joints_inside": r["joints_inside"],
                            "iou_median": r["iou_median"], "events": " ".join(r["events"]) or "-",
                            "ms_tracking_median": r["ms_tracking_median"],
                            "ms_searching_mean": r["ms_searching_mean"], "detectors": ",".join(r["detectors"])}
            w = worst.setdefault(pose, {"min_view_recall": 1.0, "min_joints_inside": 1.0})
            w["min_view_recall"] = min(w["min_view_recall"], r["min_view_recall"])
            w["min_joints_inside"] = min(w["min_joints_inside"], r["joints_inside"])
    for pose, w in worst.items():
        figures[f"studio worst ({pose} 2D)"] = {**w, "targets": "view recall >= 0.97, joints inside >= 0.99",
                                                "reached": bool(w["min_view_recall"] >= 0.97
                                                                and w["min_joints_inside"] >= 0.99)}
    if not args.no_real:
        p2s = SHARED / "sessions" / "pose2sim_balancing"
        if p2s.exists():
            r = locate_pose2sim(p2s, estimator=estimator, detectors=args.detectors)
            for mode in ("tracked_openpose_2d", "tracked_model_2d", "detection"):
                if mode in r:
                    figures[f"pose2sim ({mode})"] = {k: r[mode][k] for k in ("recall", "recall_per_view",
                                                                             "joints_inside", "iou_median")}
        else:
            figures["pose2sim"] = f"skipped ({p2s} not found)"
        h36m = SHARED / "poses" / "h36m"
        if h36m.exists():
            try:
                r = locate_h36m_frames(h36m)
                figures["h36m frames (mediapipe detection)"] = {k: r[k] for k in ("frames", "recall", "iou_median")}
            except (ImportError, FileNotFoundError) as exc:
                figures["h36m frames"] = f"skipped: {exc}"
        else:
            figures["h36m frames"] = f"skipped ({h36m} not found)"
    figures["note"] = "recall = IoU >= 0.5 with the box of the 17 truth joints; " + \
        ("truth 2D = truth joints inside the located crops + 2 px noise" if "truth" in poses else "")
    return figures
