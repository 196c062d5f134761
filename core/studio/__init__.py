"""The virtual studio: calibrated virtual cameras filming animated synthetic people, with exact ground truth.

Main entry points: :func:`make_studio` / :class:`Studio` (render frames with :class:`FrameTruth`),
:class:`VirtualRig` (a live, timestamped capture source), :func:`make_rig` (camera presets),
:func:`random_scene` (actors, motions, room, props, lights), :mod:`core.studio.sources` (the studio as capture
sources), the camera-placement planner in :mod:`core.studio.planner`. Training data cut from the studio lives with
the trainer: :mod:`core.train.studio_crops` (on-the-fly crops) and :mod:`core.train.corpus_render` (the rendered
corpus).
"""

from core.studio.actor import Actor, Appearance, random_actor
from core.studio.body import STUDIO_JOINTS, STUDIO_SKELETON, BodyPose, BodyShape, Motion, joint_indices
from core.studio.motion import MOTIONS, make_motion
from core.studio.rig_presets import PRESETS, load_studio_rig, make_rig
from core.studio.scene import Scene, random_scene
from core.studio.studio import FrameTruth, Imperfections, Studio, StudioFrame, make_studio

__all__ = [
    "Actor", "Appearance", "random_actor", "STUDIO_JOINTS", "STUDIO_SKELETON", "BodyPose", "BodyShape",
    "joint_indices", "MOTIONS", "Motion", "make_motion", "PRESETS", "load_studio_rig", "make_rig", "Scene",
    "random_scene", "FrameTruth", "Imperfections", "Studio", "StudioFrame", "make_studio",
]
