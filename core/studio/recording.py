"""Render a studio take into a session folder (videos, timestamps, calibration and ground truth)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from core.session.folder import SessionWriter
from core.studio.studio import Studio

log = logging.getLogger(__name__)


def check_output_folder(out, overwrite: bool) -> Path:
    """Refuse an existing output folder unless ``overwrite`` (raises FileExistsError before any work)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"output folder {out} already exists; choose another folder or pass --overwrite "
                              "to replace it")
    return out


def render_session(studio: Studio, out, frames: int, *, overwrite: bool = False, settings: dict | None = None,
                   progress: Callable[[int], None] | None = None) -> Path:
    """Render frames ``0..frames-1`` of ``studio`` into the session folder ``out``.

    Stamps: ``t_capture_ns`` = scene time of each camera's capture in nanoseconds (from 0); ``t_wall`` = the
    session's creation time plus that scene time. ``progress(n)`` is called after each frame set.

    Raises:
        ValueError: ``frames`` < 1.
        FileExistsError: ``out`` exists and not ``overwrite``.
    """
    if int(frames) != frames or frames < 1:
        raise ValueError(f"frames must be a whole number >= 1, got {frames}")
    out = check_output_folder(out, overwrite)
    meta = {"people": studio.scene.num_people, "imperfections": asdict(studio.imperfections),
            "motions": [sa.motion.name for sa in studio.scene.actors],
            "heights_m": [round(sa.actor.shape.height, 3) for sa in studio.scene.actors]}
    meta.update(settings or {})
    t_start = time.time()
    with SessionWriter(out, studio.rig, studio.fps, "studio", seed=studio.seed, settings=meta,
                       overwrite=overwrite) as writer:
        for index in range(int(frames)):
            shot = studio.render(index)
            truth = shot.truth
            stamps = {n: int(round(float(truth.t_capture[c]) * 1e9)) for c, n in enumerate(studio.camera_names)}
            walls = {n: t_start + float(truth.t_capture[c]) for c, n in enumerate(studio.camera_names)}
            writer.write(index, shot.images, stamps, walls)
            writer.add_truth(truth)
            if progress is not None:
                progress(index + 1)
    log.info("rendered %d frame sets of %d cameras into %s in %.1f s", frames, len(studio.rig), out,
             time.time() - t_start)
    return out
