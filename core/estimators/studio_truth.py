"""The virtual studio's exact 2D keypoints (H36M-17) as a 2D backend: the pipeline's triangulation and filtering
can then be checked against the ground-truth 3D (tests, soak, the app's "studio-truth" backend)."""

from __future__ import annotations

import numpy as np

from core.estimators.base import Estimator, check_frame_set
from core.geometry import CameraRig, get_skeleton
from core.records import FrameSet, Poses2D
from core.studio.virtual_rig import VirtualRig


class StudioTruthEstimator(Estimator):
    """The studio's exact 2D keypoints of the first person (H36M-17 joints), as a 2D backend (tests, soak).

    Joints hidden by the depth test get confidence ``hidden_confidence`` (0 drops them).
    """

    name = "studio-truth"

    def __init__(self, vrig: VirtualRig, hidden_confidence: float = 0.0) -> None:
        self.vrig = vrig
        self.skeleton = get_skeleton("h36m17")
        self.hidden_confidence = hidden_confidence
        self.description = "exact 2D keypoints of the virtual studio (ground truth, no model)"

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        kp = np.full((C, J, 2), np.nan)
        conf = np.zeros((C, J))
        names = self.vrig.camera_names
        for c, cam in enumerate(rig.names):
            frame = frame_set.frames.get(cam)
            if frame is None:
                continue
            truth = self.vrig.truth(frame.index)
            i = names.index(cam)
            kp[c] = truth.joints_2d[i, 0, :J]
            conf[c] = np.where(truth.visible[i, 0, :J], 1.0, self.hidden_confidence)
        return Poses2D(rig.names, kp, conf, self.skeleton, frame_index=frame_set.index)
