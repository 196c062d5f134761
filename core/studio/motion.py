"""Motions for studio actors: smooth, joint-limited, deterministic by seed, defined for any time.

A :class:`Motion` maps times (T,) seconds to a :class:`core.studio.body.BodyPose` for a given body
shape: ``motion.sample(shape, times)``. Named motions (:data:`MOTIONS`):

* ``walk``: continuous walking along a smooth random path inside the capture volume;
* ``turn``: turning on the spot, stepping;
* ``squat``, ``arm_raise``, ``reach``, ``jump``, ``balance`` (one leg), ``sit_to_stand`` (on a stool);
* ``mix``: a random sequence of all of the above, cross-faded (walking segments go to random targets).

Motions are built from segments of joint-angle channels. In-place segments keep their feet planted
(the pelvis moves so that the planted foot stays put, and the feet touch the floor), walking segments
follow a path. Segments are generated lazily in time order, so a motion is defined forever and its
values at a time do not depend on which times were asked before. Real trajectories (a TRC file) play
back through :class:`core.studio.trajectory.TrajectoryMotion`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from core.studio.body import (DOF, DOF_NAMES, STUDIO_JOINTS, BodyPose, BodyShape, Motion, forward_kinematics,
                              standing_angles)
from core.studio.trajectory import TrajectoryMotion

MOTIONS = ("walk", "turn", "squat", "arm_raise", "reach", "jump", "balance", "sit_to_stand", "mix")
MIX_PARTS = ("walk", "turn", "squat", "arm_raise", "reach", "jump", "balance", "sit_to_stand")
FADE_S = 0.6  # cross-fade between segments, seconds

_L_ANKLE = STUDIO_JOINTS.index("left_ankle")
_R_ANKLE = STUDIO_JOINTS.index("right_ankle")
PLANT_NONE, PLANT_BOTH, PLANT_LEFT, PLANT_RIGHT = 0, 1, 2, 3


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance from point ``p`` to the segment ``a``-``b`` on the floor (metres)."""
    ab = b - a
    u = float(np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0, 1))
    return float(np.linalg.norm(p - (a + u * ab)))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, smooth (C1) in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _bump(t: np.ndarray, t0: float, t1: float, t2: float, t3: float) -> np.ndarray:
    """0 before t0, rises to 1 by t1, holds, falls to 0 from t2 to t3 (smooth)."""
    up = smoothstep((t - t0) / max(t1 - t0, 1e-6))
    down = 1.0 - smoothstep((t - t2) / max(t3 - t2, 1e-6))
    return np.minimum(up, down)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


@dataclass
class Channels:
    """Joint-angle channels of a segment over T frames.

    Attributes:
        anchor_xy: where the planted point is on the floor (T, 2) metres: the pelvis for PLANT_NONE, the
            feet midpoint for PLANT_BOTH, one ankle for PLANT_LEFT / PLANT_RIGHT.
        yaw: heading (T,) radians.
        angles: joint angles (T, D) degrees.
        pitch, roll: whole-body lean (T,) radians.
        lift: height of the lowest sole above the floor (T,) metres.
        plant: one of PLANT_NONE, PLANT_BOTH, PLANT_LEFT, PLANT_RIGHT.
    """

    anchor_xy: np.ndarray
    yaw: np.ndarray
    angles: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    lift: np.ndarray
    plant: int = PLANT_BOTH

    @staticmethod
    def standing(T: int, anchor_xy, yaw: float, plant: int = PLANT_BOTH) -> "Channels":
        return Channels(anchor_xy=np.tile(np.asarray(anchor_xy, dtype=np.float64), (T, 1)),
                        yaw=np.full(T, float(yaw)), angles=standing_angles(T), pitch=np.zeros(T),
                        roll=np.zeros(T), lift=np.zeros(T), plant=plant)


def resolve_root(shape: BodyShape, ch: Channels) -> tuple[np.ndarray, BodyPose]:
    """Pelvis floor position (T, 2) that puts the planted point on ``anchor_xy``; also the pose at the origin."""
    T = ch.yaw.shape[0]
    pose0 = forward_kinematics(shape, np.zeros((T, 2)), ch.yaw, ch.angles, pitch=ch.pitch, roll=ch.roll,
                               lift=ch.lift)
    if ch.plant == PLANT_NONE:
        return ch.anchor_xy.copy(), pose0
    left = pose0.joints[:, _L_ANKLE, :2]
    right = pose0.joints[:, _R_ANKLE, :2]
    foot = {PLANT_BOTH: (left + right) / 2, PLANT_LEFT: left, PLANT_RIGHT: right}[ch.plant]
    return ch.anchor_xy - foot, pose0


@dataclass(frozen=True)
class StartState:
    """Where a segment starts: the previous segment's end."""

    pelvis_xy: np.ndarray
    feet_xy: np.ndarray
    left_xy: np.ndarray
    right_xy: np.ndarray
    yaw: float


class Segment(ABC):
    """A piece of motion over local time ``tau`` in [0, duration] (values beyond stay defined)."""

    name = "segment"
    duration = math.inf
    plant = PLANT_BOTH

    def __init__(self, start: StartState, rng: np.random.Generator) -> None:
        self.start = start
        self.rng = rng

    def anchor(self) -> np.ndarray:
        s = self.start
        return {PLANT_NONE: s.pelvis_xy, PLANT_BOTH: s.feet_xy, PLANT_LEFT: s.left_xy, PLANT_RIGHT: s.right_xy}[self.plant]

    @abstractmethod
    def channels(self, tau: np.ndarray) -> Channels:
        """Joint-angle and root channels at local times ``tau`` (T,) seconds."""

    def seated_times(self) -> list[float]:
        """Local times at which the actor sits (sit-to-stand places a stool there)."""
        return []

    # Helpers ---------------------------------------------------------------------------------------
    def _base(self, tau: np.ndarray) -> Channels:
        return Channels.standing(tau.shape[0], self.anchor(), self.start.yaw, self.plant)


def _flat_feet(ch: Channels, side: str) -> None:
    """Set the ankle so that the foot stays flat: foot pitch = body pitch - hip + knee - ankle = 0."""
    a = ch.angles
    a[:, DOF[f"{side}_ankle_flex"]] = (np.degrees(ch.pitch) - a[:, DOF[f"{side}_hip_flex"]]
                                       + a[:, DOF[f"{side}_knee_flex"]])


# ------------------------------------------------------------------------------------------------
# Gait
def gait_angles(phase: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Walking joint angles (T, D) at gait phase (T,) radians; ``amplitude`` (T,) 0 = standing, 1 = full stride."""
    a = standing_angles(phase.shape[0])
    amp = np.asarray(amplitude, dtype=np.float64)
    for side, ph in (("l", phase), ("r", phase + np.pi)):
        hip = 10.0 + 21.0 * np.sin(ph)
        swing = np.maximum(0.0, np.cos(ph + np.pi / 5)) ** 2
        stance = np.maximum(0.0, np.cos(ph - np.pi / 2 - 0.5)) ** 4
        knee = 4.0 + 58.0 * swing + 14.0 * stance
        ankle = 6.0 * np.cos(ph) - 12.0 * np.maximum(0.0, np.sin(ph - np.pi)) ** 2
        a[:, DOF[f"{side}_hip_flex"]] = amp * hip
        a[:, DOF[f"{side}_knee_flex"]] = 3.0 + amp * (knee - 3.0)
        a[:, DOF[f"{side}_ankle_flex"]] = amp * ankle
        arm = np.sin(ph + np.pi)  # arms swing against the same-side leg
        a[:, DOF[f"{side}_shoulder_flex"]] = amp * 18.0 * arm
        a[:, DOF[f"{side}_elbow_flex"]] = 12.0 + amp * (10.0 + 8.0 * arm)
    a[:, DOF["lumbar_twist"]] = amp * 5.0 * np.sin(phase)
    a[:, DOF["chest_twist"]] = -amp * 7.0 * np.sin(phase)
    a[:, DOF["lumbar_bend"]] = amp * 3.0 * np.sin(2 * phase)
    a[:, DOF["lumbar_flex"]] = amp * 3.0
    return a


def stride_length(shape: BodyShape, speed: float) -> float:
    """Two-step stride length (m) for a walking speed (m/s)."""
    return 0.78 * shape.height * (speed / 1.25) ** 0.45


class WalkTo(Segment):
    """Turn toward a target, walk there (speed ramps up and down), stop."""

    name = "walk"
    plant = PLANT_NONE

    def __init__(self, start: StartState, rng: np.random.Generator, target: np.ndarray, shape: BodyShape) -> None:
        super().__init__(start, rng)
        self.p0 = np.asarray(start.pelvis_xy, dtype=np.float64)
        self.p1 = np.asarray(target, dtype=np.float64)
        d = self.p1 - self.p0
        self.length = float(np.linalg.norm(d))
        self.heading = float(np.arctan2(d[1], d[0])) if self.length > 1e-6 else start.yaw
        self.turn = float(_wrap(np.array(self.heading - start.yaw)))
        self.turn_time = 0.35 + abs(self.turn) / np.radians(120.0) if abs(self.turn) > np.radians(15) else 0.0
        self.speed = float(rng.uniform(0.9, 1.4))
        self.ramp = 0.8
        self.walk_time = self.length / self.speed + self.ramp
        self.duration = self.turn_time + self.walk_time
        steps = max(1, round(self.length / (stride_length(shape, self.speed) / 2)))
        self.step = self.length / steps  # an integer number of steps: ends standing

    def _raw_distance(self, tw: np.ndarray) -> np.ndarray:
        r, T = self.ramp, self.walk_time
        tw = np.clip(tw, 0.0, T)
        u_up = np.clip(tw / r, 0, 1)
        x_down = np.clip(tw - (T - r), 0, r)
        u_dn = x_down / r
        cruise = np.clip(np.minimum(tw, T - r) - r, 0, None)
        return r * (u_up ** 3 - u_up ** 4 / 2) + cruise + (x_down - r * (u_dn ** 3 - u_dn ** 4 / 2))

    def _distance(self, tw: np.ndarray) -> np.ndarray:
        """Distance walked (m) after ``tw`` s of walking: speed ramps up and down with smoothsteps of ``ramp`` s."""
        total = float(self._raw_distance(np.array([self.walk_time]))[0])
        return np.clip(self._raw_distance(tw) * self.length / max(total, 1e-9), 0.0, self.length)

    def channels(self, tau: np.ndarray) -> Channels:
        T = tau.shape[0]
        ch = self._base(tau)
        tt = np.clip(tau / max(self.turn_time, 1e-6), 0, 1) if self.turn_time > 0 else np.ones(T)
        yaw = self.start.yaw + self.turn * smoothstep(tt)
        tw = tau - self.turn_time
        dist = self._distance(tw)
        direction = np.array([np.cos(self.heading), np.sin(self.heading)])
        ch.anchor_xy = self.p0[None, :] + dist[:, None] * direction[None, :]
        ch.yaw = yaw
        phase = np.pi * dist / self.step
        walking = np.clip(self._speed_factor(tw), 0, 1)
        turning = (tau < self.turn_time) & (self.turn_time > 0)
        step_phase = 2 * np.pi * 1.6 * np.clip(tau, 0, None)
        amp = np.where(turning, 0.35 * np.sin(np.pi * tt), walking)
        ph = np.where(turning, step_phase, phase)
        ch.angles = gait_angles(ph, amp)
        ch.pitch = np.radians(3.0) * walking
        return ch

    def _speed_factor(self, tw: np.ndarray) -> np.ndarray:
        r, T = self.ramp, self.walk_time
        return np.minimum(smoothstep(tw / r), 1.0 - smoothstep((tw - (T - r)) / r)) * (tw >= 0) * (tw <= T)


class PathWalk(Segment):
    """Continuous walking along a smooth random path through waypoints inside a disc of ``radius``."""

    name = "walk"
    plant = PLANT_NONE

    def __init__(self, start: StartState, rng: np.random.Generator, shape: BodyShape, radius: float,
                 center=(0.0, 0.0)) -> None:
        super().__init__(start, rng)
        self.radius = radius
        self.center = np.asarray(center, dtype=np.float64)
        self.speed = float(rng.uniform(0.95, 1.35))
        self.stride = stride_length(shape, self.speed)
        p0 = np.asarray(start.pelvis_xy, dtype=np.float64)
        heading = np.array([np.cos(start.yaw), np.sin(start.yaw)])
        # Two points behind the start give the spline its initial tangent along the heading.
        self.points = [p0 - 1.0 * heading, p0]
        self._built = 0
        self._samples = np.zeros((0, 2))
        self._cum = np.zeros(0)
        self._extend_to(0.0)

    def _next_waypoint(self) -> np.ndarray:
        """A waypoint 1.2-2.4 m ahead, at most 65 degrees off the current heading, inside the disc."""
        last, prev = self.points[-1], self.points[-2]
        heading = np.arctan2(*(last - prev)[::-1])
        for _ in range(50):
            turn = self.rng.uniform(-1.15, 1.15)
            step = self.rng.uniform(1.2, 2.4)
            cand = last + step * np.array([np.cos(heading + turn), np.sin(heading + turn)])
            if np.linalg.norm(cand - self.center) <= self.radius:
                return cand
        # Near the edge: turn toward the centre as sharply as allowed, with a short step.
        to_centre = np.arctan2(*(self.center - last)[::-1])
        turn = float(np.clip(_wrap(np.array(to_centre - heading)), -1.15, 1.15))
        return last + 1.2 * np.array([np.cos(heading + turn), np.sin(heading + turn)])

    def _extend_to(self, distance: float) -> None:
        """Add Catmull-Rom spans through new waypoints until the path is ``distance`` + 5 m long."""
        while self._cum.size == 0 or self._cum[-1] < distance + 5.0:
            i = self._built
            while len(self.points) < i + 4:
                self.points.append(self._next_waypoint())
            p0, p1, p2, p3 = self.points[i:i + 4]
            s = np.linspace(0, 1, 48, endpoint=False)[:, None]
            seg = 0.5 * ((2 * p1) + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s ** 2
                         + (-p0 + 3 * p1 - 3 * p2 + p3) * s ** 3)
            if self._samples.size == 0:
                self._samples = seg
                self._cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(seg, axis=0), axis=1))])
            else:
                steps = np.linalg.norm(np.diff(np.vstack([self._samples[-1:], seg]), axis=0), axis=1)
                self._samples = np.vstack([self._samples, seg])
                self._cum = np.concatenate([self._cum, self._cum[-1] + np.cumsum(steps)])
            self._built = i + 1

    def _heading(self, dist: np.ndarray) -> np.ndarray:
        """Direction of the path (T,) radians at distances ``dist`` (central difference over 0.2 m)."""
        a, b = np.maximum(dist - 0.1, 0.0), dist + 0.1
        dx = np.interp(b, self._cum, self._samples[:, 0]) - np.interp(a, self._cum, self._samples[:, 0])
        dy = np.interp(b, self._cum, self._samples[:, 1]) - np.interp(a, self._cum, self._samples[:, 1])
        return np.arctan2(dy, dx)

    def _distance(self, tau: np.ndarray) -> np.ndarray:
        r = 1.0  # speed ramp from standing, seconds
        t = np.clip(tau, 0, None)
        u = np.clip(t / r, 0, 1)
        return self.speed * (r * (u ** 3 - u ** 4 / 2) + np.clip(t - r, 0, None))

    def channels(self, tau: np.ndarray) -> Channels:
        ch = self._base(tau)
        dist = self._distance(tau)
        self._extend_to(float(dist.max(initial=0.0)) + 1.0)
        x = np.interp(dist, self._cum, self._samples[:, 0])
        y = np.interp(dist, self._cum, self._samples[:, 1])
        ch.anchor_xy = np.stack([x, y], axis=1)
        ch.yaw = self._heading(dist)
        amp = smoothstep(np.clip(tau, 0, None) / 1.0)
        ch.angles = gait_angles(2 * np.pi * dist / self.stride, amp)
        ch.pitch = np.radians(3.0) * amp
        # Lean into curves: curvature from headings 0.3 m behind and ahead (independent of the sampling).
        curvature = _wrap(self._heading(dist + 0.3) - self._heading(np.maximum(dist - 0.3, 0.0))) / 0.6
        ch.roll = np.clip(np.arctan(self.speed ** 2 * curvature / 9.81), -0.08, 0.08) * amp
        return ch


# ------------------------------------------------------------------------------------------------
# In-place segments
class Stand(Segment):
    name = "stand"

    def channels(self, tau):
        ch = self._base(tau)
        ch.angles[:, DOF["lumbar_bend"]] += 1.5 * np.sin(2 * np.pi * 0.23 * tau)
        ch.angles[:, DOF["neck_twist"]] += 10 * np.sin(2 * np.pi * 0.11 * tau)
        return ch


class Turn(Segment):
    """Turn on the spot by +-90..200 degrees, back and forth, stepping."""

    name = "turn"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.angle = float(rng.uniform(np.radians(90), np.radians(200)) * rng.choice([-1, 1]))
        self.period = float(rng.uniform(2.4, 3.6))

    def channels(self, tau):
        ch = self._base(tau)
        n = np.floor(tau / self.period)
        frac = tau / self.period - n
        sign = np.where(n % 2 == 0, 1.0, -1.0)
        done = np.where(n % 2 == 0, 0.0, 1.0)  # progress at the start of this half cycle
        progress = done + sign * smoothstep((frac - 0.1) / 0.7)
        ch.yaw = self.start.yaw + self.angle * progress
        moving = _bump(frac, 0.05, 0.2, 0.7, 0.85)
        phase = 2 * np.pi * 1.7 * tau
        g = gait_angles(phase, 0.3 * moving)
        ch.angles = g
        ch.angles[:, DOF["neck_twist"]] = 20 * np.sign(self.angle) * sign * moving
        return ch


class TurnTo(Segment):
    """Turn on the spot to a given heading, stepping, then stand."""

    name = "turn"

    def __init__(self, start, rng, yaw: float):
        super().__init__(start, rng)
        self.turn = float(_wrap(np.array(yaw - start.yaw)))
        self.duration = 0.6 + abs(self.turn) / np.radians(110.0)

    def channels(self, tau):
        ch = self._base(tau)
        u = np.clip(tau / self.duration, 0, 1)
        ch.yaw = self.start.yaw + self.turn * smoothstep(u)
        ch.angles = gait_angles(2 * np.pi * 1.7 * tau, 0.3 * np.sin(np.pi * u))
        return ch


class Squat(Segment):
    name = "squat"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.period = float(rng.uniform(2.6, 4.0))
        self.depth = float(rng.uniform(0.6, 1.0))
        self.arms = int(rng.integers(3))

    def channels(self, tau):
        ch = self._base(tau)
        frac = (tau / self.period) % 1.0
        s = self.depth * _bump(frac, 0.05, 0.45, 0.6, 0.95)
        a = ch.angles
        ch.pitch = np.radians(28.0 * s)
        for side in ("l", "r"):
            a[:, DOF[f"{side}_knee_flex"]] = 3 + 105 * s
            a[:, DOF[f"{side}_hip_flex"]] = 3 + 100 * s
            a[:, DOF[f"{side}_hip_abd"]] = 3 + 12 * s
            a[:, DOF[f"{side}_hip_twist"]] = -12 * s
            if self.arms == 0:  # arms forward for balance
                a[:, DOF[f"{side}_shoulder_flex"]] = 85 * s
                a[:, DOF[f"{side}_elbow_flex"]] = 12 + 10 * s
            elif self.arms == 1:  # hands on hips-ish
                a[:, DOF[f"{side}_shoulder_abd"]] = 6 + 30 * s
                a[:, DOF[f"{side}_elbow_flex"]] = 12 + 90 * s
            else:  # arms crossed forward
                a[:, DOF[f"{side}_shoulder_flex"]] = 70 * s
                a[:, DOF[f"{side}_shoulder_abd"]] = 6 - 16 * s
                a[:, DOF[f"{side}_elbow_flex"]] = 12 + 60 * s
            _flat_feet(ch, side)
        a[:, DOF["lumbar_flex"]] = 8 * s
        a[:, DOF["neck_flex"]] = -15 * s
        return ch


class ArmRaise(Segment):
    name = "arm_raise"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.period = float(rng.uniform(2.2, 3.4))
        self.order = rng.permutation(4)

    def channels(self, tau):
        ch = self._base(tau)
        a = ch.angles
        n = np.floor(tau / self.period).astype(int)
        frac = tau / self.period - n
        s = _bump(frac, 0.05, 0.42, 0.58, 0.95)
        kind = self.order[n % 4]
        for side, sel in (("l", (kind == 0) | (kind == 1) | (kind == 2)), ("r", (kind == 0) | (kind == 1) | (kind == 3))):
            forward = sel & ((kind == 0) | (n % 2 == 1))
            sideways = sel & ~forward
            a[:, DOF[f"{side}_shoulder_flex"]] += np.where(forward, 170 * s, 0)
            a[:, DOF[f"{side}_shoulder_abd"]] += np.where(sideways, 165 * s, 0)
            a[:, DOF[f"{side}_elbow_flex"]] = np.where(sel, 12 - 8 * s, a[:, DOF[f"{side}_elbow_flex"]])
        a[:, DOF["neck_flex"]] = -15 * s
        return ch


class Reach(Segment):
    name = "reach"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.period = float(rng.uniform(2.5, 3.5))
        self.kinds = rng.integers(0, 4, size=64)
        self.sides = rng.integers(0, 2, size=64)

    def channels(self, tau):
        ch = self._base(tau)
        a = ch.angles
        n = np.floor(tau / self.period).astype(int)
        frac = tau / self.period - n
        s = _bump(frac, 0.05, 0.4, 0.6, 0.95)
        kind = self.kinds[n % 64]
        side_l = self.sides[n % 64] == 0
        for side, active in (("l", side_l), ("r", ~side_l)):
            sgn = 1.0 if side == "l" else -1.0
            on = active * s
            fwd = (kind == 0) * on
            lat = (kind == 1) * on
            down = (kind == 2) * on
            up = (kind == 3) * on
            a[:, DOF[f"{side}_shoulder_flex"]] += 95 * fwd + 30 * lat + 60 * down + 165 * up
            a[:, DOF[f"{side}_shoulder_abd"]] += 85 * lat + 10 * up
            a[:, DOF[f"{side}_elbow_flex"]] -= 8 * (fwd + lat + up)
            a[:, DOF["lumbar_twist"]] += sgn * 20 * fwd
            a[:, DOF["lumbar_bend"]] += -sgn * 15 * lat
            a[:, DOF["chest_bend"]] += -sgn * 10 * lat
            a[:, DOF["neck_twist"]] += sgn * 25 * (fwd + lat)
        downs = (kind == 2) * s
        ch.pitch = np.radians(45.0 * downs)
        a[:, DOF["lumbar_flex"]] += 25 * downs
        for side in ("l", "r"):
            a[:, DOF[f"{side}_hip_flex"]] += 45 * downs
            a[:, DOF[f"{side}_knee_flex"]] += 45 * downs
            _flat_feet(ch, side)
        ups = (kind == 3) * s
        a[:, DOF["neck_flex"]] -= 25 * ups
        return ch


class Jump(Segment):
    name = "jump"
    g = 9.81

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.height = float(rng.uniform(0.12, 0.32))
        self.flight = 2 * math.sqrt(2 * self.height / self.g)
        self.period = 1.6 + self.flight + float(rng.uniform(0.0, 0.8))

    def channels(self, tau):
        ch = self._base(tau)
        a = ch.angles
        t = tau % self.period
        t_crouch, t_push = 0.55, 0.25
        t_up = t_crouch + t_push
        t_down = t_up + self.flight
        crouch = _bump(t, 0.05, t_crouch, t_crouch, t_up)  # down, then extend quickly
        land = _bump(t, t_down, t_down + 0.18, t_down + 0.2, t_down + 0.6) * 0.7
        s = np.maximum(crouch, land)
        airborne = (t > t_up) & (t < t_down)
        ta = np.clip(t - t_up, 0, self.flight)
        ch.lift = np.where(airborne, 0.5 * self.g * ta * (self.flight - ta), 0.0)
        tuck = np.where(airborne, np.sin(np.pi * ta / self.flight), 0.0)
        ch.pitch = np.radians(25.0 * s)
        for side in ("l", "r"):
            a[:, DOF[f"{side}_knee_flex"]] = 3 + 80 * s + 35 * tuck
            a[:, DOF[f"{side}_hip_flex"]] = 3 + 70 * s + 30 * tuck
            swing = _bump(t, t_crouch - 0.1, t_up, t_down - 0.1, t_down + 0.4)
            back = _bump(t, 0.05, t_crouch - 0.15, t_crouch - 0.15, t_crouch + 0.05)
            a[:, DOF[f"{side}_shoulder_flex"]] = -45 * back + 150 * swing
            a[:, DOF[f"{side}_elbow_flex"]] = 15 + 10 * s
            _flat_feet(ch, side)
            a[:, DOF[f"{side}_ankle_flex"]] -= 35 * tuck
        return ch


class Balance(Segment):
    name = "balance"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.stance = "l" if rng.random() < 0.5 else "r"
        self.plant = PLANT_LEFT if self.stance == "l" else PLANT_RIGHT
        self.lift_hip = float(rng.uniform(25, 85))
        self.lift_knee = float(rng.uniform(50, 100))
        self.arms = float(rng.uniform(40, 90))
        self.hold = float(rng.uniform(3.0, 5.0))

    def channels(self, tau):
        ch = self._base(tau)
        a = ch.angles
        t = tau % (self.hold + 1.5)
        s = _bump(t, 0.1, 0.8, self.hold, self.hold + 0.8)
        free = "r" if self.stance == "l" else "l"
        a[:, DOF[f"{free}_hip_flex"]] = self.lift_hip * s
        a[:, DOF[f"{free}_knee_flex"]] = 3 + self.lift_knee * s
        a[:, DOF[f"{free}_ankle_flex"]] = -15 * s
        for side in ("l", "r"):
            a[:, DOF[f"{side}_shoulder_abd"]] = 6 + self.arms * s + 8 * s * np.sin(2 * np.pi * 0.7 * tau)
        sgn = 1.0 if self.stance == "l" else -1.0
        a[:, DOF["lumbar_bend"]] = sgn * (4 * s + 3 * s * np.sin(2 * np.pi * 0.45 * tau))
        a[:, DOF[f"{self.stance}_hip_abd"]] = -3 * s
        ch.roll = np.radians(sgn * 2.0 * s * np.sin(2 * np.pi * 0.3 * tau))
        return ch


class SitToStand(Segment):
    name = "sit_to_stand"

    def __init__(self, start, rng):
        super().__init__(start, rng)
        self.period = float(rng.uniform(4.5, 6.5))

    def channels(self, tau):
        ch = self._base(tau)
        a = ch.angles
        frac = (tau / self.period) % 1.0
        s = _bump(frac, 0.05, 0.35, 0.6, 0.9)  # 1 = seated
        lean = _bump(frac, 0.05, 0.2, 0.25, 0.38) + _bump(frac, 0.57, 0.65, 0.72, 0.9)
        ch.pitch = np.radians(8.0 * s + 35.0 * np.clip(lean, 0, 1))
        for side in ("l", "r"):
            a[:, DOF[f"{side}_knee_flex"]] = 3 + 88 * s
            a[:, DOF[f"{side}_hip_flex"]] = 3 + 88 * s + np.degrees(ch.pitch)
            a[:, DOF[f"{side}_hip_abd"]] = 3 + 6 * s
            a[:, DOF[f"{side}_shoulder_flex"]] = 25 * np.clip(lean, 0, 1) + 10 * s
            a[:, DOF[f"{side}_elbow_flex"]] = 12 + 40 * s
            _flat_feet(ch, side)
        return ch

    def seated_times(self) -> list[float]:
        return [0.48 * self.period]


SEGMENT_TYPES = {"turn": Turn, "squat": Squat, "arm_raise": ArmRaise, "reach": Reach, "jump": Jump,
                 "balance": Balance, "sit_to_stand": SitToStand, "stand": Stand}


# ------------------------------------------------------------------------------------------------
class SegmentMotion(Motion):
    """A lazily generated sequence of segments, cross-faded over :data:`FADE_S` seconds.

    Args:
        kind: a name of :data:`MOTIONS`.
        shape: the body it is generated for (paths and strides depend on it).
        seed: random seed.
        start_xy: initial pelvis position on the floor (2,) metres.
        start_yaw: initial heading, radians.
        radius: walking stays within this distance of ``center`` (metres).
        center: centre of the walking area (2,).
    """

    def __init__(self, kind: str, shape: BodyShape, seed: int = 0, start_xy=(0.0, 0.0), start_yaw: float = 0.0,
                 radius: float = 1.5, center=(0.0, 0.0)) -> None:
        if kind not in MOTIONS:
            raise ValueError(f"unknown motion {kind!r}; expected one of {MOTIONS} or a .trc file")
        self.name = kind
        self.kind = kind
        self.shape = shape
        self.rng = np.random.default_rng(seed)
        self.radius = float(radius)
        self.center = np.asarray(center, dtype=np.float64)
        xy = np.asarray(start_xy, dtype=np.float64)
        self.segments: list[tuple[float, Segment]] = []
        self._pending: list[str] = []
        # One seat per actor for the mixture's sit-to-stand parts (the scene puts a stool there).
        a = self.rng.uniform(0, 2 * np.pi)
        self.seat_xy = self.center + 0.75 * self.radius * np.array([np.cos(a), np.sin(a)])
        self.seat_yaw = float(np.arctan2(*(self.center - self.seat_xy)[::-1])) if self.radius > 0 else 0.0
        state = self._state_from_pose(xy, start_yaw)
        self._append(0.0, self._make_segment(state, first=True))

    # Segment generation ------------------------------------------------------------------------
    def _state_from_pose(self, pelvis_xy: np.ndarray, yaw: float, pose: BodyPose | None = None) -> StartState:
        if pose is None:
            ch = Channels.standing(1, pelvis_xy, yaw, PLANT_NONE)
            root, pose0 = resolve_root(self.shape, ch)
            joints = pose0.joints[0] + np.append(root[0], 0.0)
        else:
            joints = pose.joints[0]
            pelvis_xy = joints[STUDIO_JOINTS.index("pelvis"), :2]
        left, right = joints[_L_ANKLE, :2], joints[_R_ANKLE, :2]
        return StartState(pelvis_xy=np.asarray(pelvis_xy, dtype=np.float64), feet_xy=(left + right) / 2,
                          left_xy=left.copy(), right_xy=right.copy(), yaw=float(yaw))

    def _make_segment(self, state: StartState, first: bool = False) -> Segment:
        kind = self.kind
        if kind == "walk":
            return PathWalk(state, self.rng, self.shape, self.radius, self.center)
        if kind != "mix":
            return SEGMENT_TYPES[kind](state, self.rng)
        if self._pending:
            step = self._pending.pop(0)
            if step == "turn_to_seat":
                return TurnTo(state, self.rng, self.seat_yaw)  # face away from the stool (its back to it)
            seg = SitToStand(state, self.rng)
            seg.duration = seg.period  # one full sit and stand
            return seg
        part = MIX_PARTS[self.rng.integers(len(MIX_PARTS))]
        if part == "sit_to_stand":
            front = self.seat_xy + 0.28 * self.shape.height * np.array([np.cos(self.seat_yaw), np.sin(self.seat_yaw)])
            self._pending = ["turn_to_seat", "sit"]
            if np.linalg.norm(state.pelvis_xy - front) > 0.3:
                return WalkTo(state, self.rng, front, self.shape)
            return self._make_segment(state)
        if part == "walk" or (np.linalg.norm(state.pelvis_xy - self.center) > self.radius * 0.9 and not first):
            target = self.center
            for _ in range(40):
                r = self.radius * np.sqrt(self.rng.random())
                a = self.rng.uniform(0, 2 * np.pi)
                target = self.center + r * np.array([np.cos(a), np.sin(a)])
                if np.linalg.norm(target - state.pelvis_xy) > 1.0 and \
                        _segment_distance(self.seat_xy, state.pelvis_xy, target) > 0.55:
                    break
            return WalkTo(state, self.rng, target, self.shape)
        seg = SEGMENT_TYPES[part](state, self.rng)
        seg.duration = float(self.rng.uniform(3.0, 6.0))
        return seg

    def _append(self, t0: float, seg: Segment) -> None:
        self.segments.append((t0, seg))

    def _ensure(self, t_max: float) -> None:
        while True:
            t0, seg = self.segments[-1]
            if not math.isfinite(seg.duration) or t0 + seg.duration > t_max + FADE_S:
                return
            t_end = t0 + seg.duration
            ch = seg.channels(np.array([seg.duration]))
            root, pose0 = resolve_root(self.shape, ch)
            shift = np.zeros(3)
            shift[:2] = root[0]
            end_pose = BodyPose(pose0.origins + shift, pose0.rotations, pose0.joints + shift)
            state = self._state_from_pose(root[0], float(ch.yaw[0]), end_pose)
            self._append(t_end, self._make_segment(state))

    # Sampling ----------------------------------------------------------------------------------
    def _segment_values(self, k: int, t: np.ndarray, shape: BodyShape) -> tuple[np.ndarray, Channels]:
        t0, seg = self.segments[k]
        ch = seg.channels(t - t0)
        root, _ = resolve_root(shape, ch)
        return root, ch

    def sample(self, shape: BodyShape, times: np.ndarray) -> BodyPose:
        """Pose at ``times`` (T,) seconds (>= 0)."""
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if times.size == 0:
            raise ValueError("sample: need at least one time")
        if np.any(times < 0) or not np.all(np.isfinite(times)):
            raise ValueError(f"sample: times must be finite and >= 0, got min {times.min()}")
        self._ensure(float(times.max()))
        starts = np.array([s[0] for s in self.segments])
        idx = np.searchsorted(starts, times, side="right") - 1
        T = times.size
        root = np.zeros((T, 2))
        yaw = np.zeros(T)
        angles = np.zeros((T, len(DOF_NAMES)))
        pitch, roll, lift = np.zeros(T), np.zeros(T), np.zeros(T)
        for k in np.unique(idx):
            sel = np.nonzero(idx == k)[0]
            r, ch = self._segment_values(k, times[sel], shape)
            w = smoothstep((times[sel] - starts[k]) / FADE_S) if k > 0 else np.ones(sel.size)
            if k > 0 and np.any(w < 1):
                r0, ch0 = self._segment_values(k - 1, times[sel], shape)
                dyaw = _wrap(ch.yaw - ch0.yaw)
                r = r0 + (r - r0) * w[:, None]
                ch.yaw = ch0.yaw + dyaw * w
                ch.angles = ch0.angles + (ch.angles - ch0.angles) * w[:, None]
                ch.pitch = ch0.pitch + (ch.pitch - ch0.pitch) * w
                ch.roll = ch0.roll + (ch.roll - ch0.roll) * w
                ch.lift = ch0.lift + (ch.lift - ch0.lift) * w
            root[sel], yaw[sel], angles[sel] = r, ch.yaw, ch.angles
            pitch[sel], roll[sel], lift[sel] = ch.pitch, ch.roll, ch.lift
        return forward_kinematics(shape, root, yaw, angles, pitch=pitch, roll=roll, lift=lift)

    def seats(self, shape: BodyShape, duration: float) -> list[tuple[np.ndarray, float, float]]:
        self._ensure(duration)
        out: list[tuple[np.ndarray, float, float]] = []
        for t0, seg in self.segments:
            if t0 > duration:
                break
            for ts in seg.seated_times():  # the actor sits at the same spot every cycle: the first one is enough
                pose = self.sample(shape, np.array([t0 + ts]))
                pelvis = pose.joints[0, STUDIO_JOINTS.index("pelvis")]
                yaw = float(np.arctan2(pose.rotations[0, 0, 1, 0], pose.rotations[0, 0, 0, 0]))
                if all(np.linalg.norm(pelvis[:2] - xy) > 0.3 for xy, _, _ in out):
                    out.append((pelvis[:2].copy(), yaw, float(pelvis[2])))
        return out


def make_motion(name: str, shape: BodyShape | None, seed: int = 0, *, start_xy=(0.0, 0.0), start_yaw: float | None = None,
                radius: float = 1.5, center=(0.0, 0.0)) -> Motion:
    """A named motion (:data:`MOTIONS`) or, for a path ending in ``.trc``, playback of that recording.

    Raises:
        ValueError: unknown motion name.
        FileNotFoundError: a .trc path that does not exist.
    """
    if str(name).lower().endswith(".trc"):

        return TrajectoryMotion.from_trc(name, recenter_xy=start_xy)
    if name not in MOTIONS:
        raise ValueError(f"unknown motion {name!r}; expected one of {', '.join(MOTIONS)} or a path to a .trc file")
    if shape is None:
        raise ValueError(f"motion {name!r} needs the actor's body shape")
    if start_yaw is None:
        start_yaw = float(np.random.default_rng(seed + 7919).uniform(-np.pi, np.pi))
    return SegmentMotion(name, shape, seed=seed, start_xy=start_xy, start_yaw=start_yaw, radius=radius, center=center)
