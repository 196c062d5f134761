"""Studio actors: a body shape, an appearance (skin, hair, clothes) and the solid primitives drawn for them.

The body is drawn as ellipsoids (trunk, head, hands, feet, face details) and round cones (the convex hull
of two spheres: limbs, neck, shoulder line) attached to the segments of :mod:`core.studio.body`. Clothing
is a material per body region (skin, shirt, sleeves, trousers, shoes, hair) with a procedural pattern
evaluated in the segment's own frame, so a pattern moves with the limb.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.studio.body import SEG, STUDIO_JOINTS, BodyPose, BodyShape

# Pattern ids of :class:`Material` (evaluated in core.studio.render).
PLAIN, STRIPES, VSTRIPES, CHECKS, DOTS, NOISE = range(6)
PATTERN_NAMES = ("plain", "stripes", "vstripes", "checks", "dots", "noise")

#: Skin tones from light to dark (BGR, 0-255), interpolated at random.
SKIN_TONES = np.array([
    (178, 206, 240), (160, 188, 232), (135, 172, 224), (110, 150, 205), (97, 134, 198),
    (70, 102, 161), (50, 75, 120), (38, 55, 87), (30, 40, 60),
], dtype=np.float64)
HAIR_COLOURS = np.array([
    (18, 20, 25), (30, 40, 60), (45, 70, 100), (110, 170, 200), (30, 60, 140), (160, 160, 160), (215, 215, 220),
], dtype=np.float64)
HAIR_STYLES = ("short", "long", "bald", "bun")
SLEEVES = ("long", "short", "none")
LEGS = ("long", "shorts")


@dataclass(frozen=True, eq=False)
class Material:
    """A surface colour with an optional two-colour pattern.

    Attributes:
        color: main colour, BGR 0-255 (3,).
        color2: second pattern colour, BGR 0-255 (3,).
        pattern: one of PLAIN, STRIPES, VSTRIPES, CHECKS, DOTS, NOISE.
        period: pattern period, metres.
        waves: three wave vectors (3, 3), rad/m, for the NOISE pattern.
        shine: specular strength 0-1.
    """

    color: np.ndarray
    color2: np.ndarray | None = None
    pattern: int = PLAIN
    period: float = 0.08
    waves: np.ndarray = field(default_factory=lambda: np.eye(3) * 40.0)
    shine: float = 0.05


@dataclass(frozen=True, eq=False)
class Appearance:
    """What an actor looks like: materials per body region and the hair style.

    Attributes:
        skin, hair, eyes, shirt, sleeves, trousers, shoes: :class:`Material` of each region.
        hair_style: one of :data:`HAIR_STYLES`.
        sleeve_length: ``"long"``, ``"short"`` or ``"none"``.
        leg_length: ``"long"`` trousers or ``"shorts"``.
    """

    skin: Material
    hair: Material
    eyes: Material
    shirt: Material
    trousers: Material
    shoes: Material
    hair_style: str = "short"
    sleeve_length: str = "long"
    leg_length: str = "long"


@dataclass(frozen=True, eq=False)
class PrimitiveTemplate:
    """An actor's primitives in segment coordinates (built once per actor).

    Ellipsoid ``i``: centre ``e_center[i]`` (3,) and axes ``e_axes[i]`` (3, 3, columns) in the frame of
    segment ``e_seg[i]``, radii ``e_radii[i]`` (3,) metres. Round cone ``k``: end ``a`` at ``c_off_a[k]`` in
    segment ``c_seg_a[k]``, end ``b`` at ``c_off_b[k]`` in ``c_seg_b[k]``, radii ``c_radii[k]`` (ra, rb);
    its pattern frame is segment ``c_seg_a[k]``. ``*_material`` index :attr:`materials`.
    """

    e_seg: np.ndarray
    e_center: np.ndarray
    e_axes: np.ndarray
    e_radii: np.ndarray
    e_material: np.ndarray
    c_seg_a: np.ndarray
    c_off_a: np.ndarray
    c_seg_b: np.ndarray
    c_off_b: np.ndarray
    c_radii: np.ndarray
    c_material: np.ndarray
    materials: tuple[Material, ...]
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.e_seg) + len(self.c_seg_a)


@dataclass(frozen=True, eq=False)
class Primitives:
    """Solid primitives in the world frame, ready to render (all actors of a frame concatenated).

    Attributes:
        kind: 0 = ellipsoid, 1 = round cone, (N,) int.
        center: ellipsoid centre, or round-cone end ``a`` (N, 3) metres.
        end: round-cone end ``b`` (N, 3) (ellipsoids: equal to ``center``).
        axes: ellipsoid axes as columns, or the round cone's pattern frame, (N, 3, 3) world.
        radii: ellipsoid radii, or (ra, rb, 0) for round cones, (N, 3) metres.
        material: index into the frame's material list (N,).
        owner: actor index (N,).
    """

    kind: np.ndarray
    center: np.ndarray
    end: np.ndarray
    axes: np.ndarray
    radii: np.ndarray
    material: np.ndarray
    owner: np.ndarray

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @staticmethod
    def concatenate(parts: list["Primitives"]) -> "Primitives":
        if not parts:
            z = np.zeros((0, 3))
            return Primitives(np.zeros(0, int), z, z, np.zeros((0, 3, 3)), z, np.zeros(0, int), np.zeros(0, int))
        return Primitives(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                            ("kind", "center", "end", "axes", "radii", "material", "owner")))


@dataclass(frozen=True, eq=False)
class Actor:
    """One person of the studio: body shape, appearance and the primitives that draw them.

    Attributes:
        shape: body dimensions.
        appearance: skin, hair and clothes.
        name: a label for logs and files.
    """

    shape: BodyShape
    appearance: Appearance
    name: str = "actor"
    template: PrimitiveTemplate = field(init=False, repr=False)
    flesh: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", build_template(self.shape, self.appearance))
        object.__setattr__(self, "flesh", joint_flesh_depth(self.shape))

    def primitives(self, pose: BodyPose, frame: int = 0, owner: int = 0, material_offset: int = 0) -> Primitives:
        """The actor's primitives at one frame of ``pose``, in the world frame."""
        tp = self.template
        O, R = pose.origins[frame], pose.rotations[frame]
        e_center = O[tp.e_seg] + np.einsum("nab,nb->na", R[tp.e_seg], tp.e_center)
        e_axes = R[tp.e_seg] @ tp.e_axes
        c_a = O[tp.c_seg_a] + np.einsum("nab,nb->na", R[tp.c_seg_a], tp.c_off_a)
        c_b = O[tp.c_seg_b] + np.einsum("nab,nb->na", R[tp.c_seg_b], tp.c_off_b)
        ne, nc = len(tp.e_seg), len(tp.c_seg_a)
        c_radii = np.zeros((nc, 3))
        c_radii[:, :2] = tp.c_radii
        return Primitives(
            kind=np.concatenate([np.zeros(ne, int), np.ones(nc, int)]),
            center=np.concatenate([e_center, c_a]),
            end=np.concatenate([e_center, c_b]),
            axes=np.concatenate([e_axes, R[tp.c_seg_a]]),
            radii=np.concatenate([tp.e_radii, c_radii]),
            material=np.concatenate([tp.e_material, tp.c_material]) + material_offset,
            owner=np.full(ne + nc, owner, dtype=int),
        )


# ------------------------------------------------------------------------------------------------
def build_template(shape: BodyShape, look: Appearance) -> PrimitiveTemplate:
    """Lay out the primitives of a body of ``shape`` dressed as ``look``."""
    H = shape.height
    g = shape.girth
    hd = shape.p("head")
    L = shape.lengths()
    offsets = shape.segment_offsets()
    materials = [look.skin, look.hair, look.eyes, look.shirt, look.trousers, look.shoes]
    SKIN, HAIR, EYES, SHIRT, TROUSERS, SHOES = range(6)
    sleeve_upper = SHIRT if look.sleeve_length in ("long", "short") else SKIN
    sleeve_lower = SHIRT if look.sleeve_length == "long" else SKIN
    shin_mat = TROUSERS if look.leg_length == "long" else SKIN

    ell: list[tuple[str, str, tuple, tuple, int]] = []  # name, segment, centre, radii, material

    def E(name, seg, centre, radii, mat):
        ell.append((name, seg, tuple(centre), tuple(radii), mat))

    E("pelvis", "pelvis", (-0.010 * H, 0, 0.008 * H), (0.068 * H * g, 0.094 * H * g * shape.hips, 0.066 * H), TROUSERS)
    E("abdomen", "lumbar", (0.004 * H, 0, 0.045 * H), (0.060 * H * g, 0.084 * H * g, 0.085 * H), SHIRT)
    E("chest", "chest", (-0.004 * H, 0, 0.070 * H),
      (0.064 * H * g * shape.chest, 0.095 * H * g * shape.chest, 0.095 * H), SHIRT)
    E("head", "head", (0.010 * H * hd, 0, 0.066 * H * hd), (0.055 * H * hd, 0.045 * H * hd, 0.066 * H * hd), SKIN)
    if look.hair_style != "bald":
        E("hair", "head", (-0.007 * H * hd, 0, 0.076 * H * hd), (0.056 * H * hd, 0.0475 * H * hd, 0.060 * H * hd), HAIR)
    if look.hair_style == "long":
        E("hair_long", "head", (-0.030 * H * hd, 0, 0.030 * H * hd), (0.030 * H * hd, 0.046 * H * hd, 0.075 * H * hd), HAIR)
    if look.hair_style == "bun":
        E("hair_bun", "head", (-0.058 * H * hd, 0, 0.100 * H * hd), (0.022 * H * hd, 0.022 * H * hd, 0.022 * H * hd), HAIR)
    E("nose", "head", (0.058 * H * hd, 0, 0.060 * H * hd), (0.012 * H * hd, 0.0075 * H * hd, 0.015 * H * hd), SKIN)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        E(f"{side}_eye", "head", (0.055 * H * hd, sign * 0.0175 * H * hd, 0.077 * H * hd), (0.0065 * H * hd,) * 3, EYES)
        E(f"{side}_ear", "head", (-0.004 * H * hd, sign * 0.0455 * H * hd, 0.064 * H * hd),
          (0.009 * H * hd, 0.0055 * H * hd, 0.015 * H * hd), SKIN)
        E(f"{side}_deltoid", f"{side}_upper_arm", (0, 0, -0.012 * H), (0.031 * H * g,) * 3, sleeve_upper)
        E(f"{side}_hand", f"{side}_hand", (0.003 * H, 0, -0.048 * H), (0.027 * H, 0.013 * H, 0.052 * H), SKIN)
        E(f"{side}_foot", f"{side}_foot", (0.036 * H, 0, -L["ankle_height"] + 0.024 * H),
          (0.077 * H, 0.031 * H, 0.025 * H), SHOES)

    cones: list[tuple[str, str, tuple, str, tuple, float, float, int]] = []

    def C(name, seg_a, off_a, seg_b, off_b, ra, rb, mat):
        cones.append((name, seg_a, tuple(off_a), seg_b, tuple(off_b), ra, rb, mat))

    la = offsets[SEG["l_upper_arm"]]
    ra_ = offsets[SEG["r_upper_arm"]]
    C("shoulders", "chest", la * (1, 0.8, 1) - (0, 0, 0.010 * H), "chest", ra_ * (1, 0.8, 1) - (0, 0, 0.010 * H),
      0.035 * H * g, 0.035 * H * g, SHIRT)
    C("neck", "neck", (0, 0, -0.006 * H), "head", (0, 0, 0.012 * H), 0.036 * H * g, 0.029 * H * g, SKIN)
    for side in ("l", "r"):
        C(f"{side}_upper_arm", f"{side}_upper_arm", (0, 0, 0), f"{side}_forearm", (0, 0, 0),
          0.029 * H * g, 0.021 * H * g, sleeve_upper)
        C(f"{side}_forearm", f"{side}_forearm", (0, 0, 0), f"{side}_hand", (0, 0, 0),
          0.021 * H * g, 0.0155 * H * g, sleeve_lower)
        C(f"{side}_thigh", f"{side}_thigh", (0, 0, 0), f"{side}_shin", (0, 0, 0), 0.049 * H * g, 0.032 * H * g, TROUSERS)
        C(f"{side}_shin", f"{side}_shin", (0, 0, 0), f"{side}_foot", (0, 0, 0), 0.033 * H * g, 0.021 * H * g, shin_mat)

    return PrimitiveTemplate(
        e_seg=np.array([SEG[e[1]] for e in ell]),
        e_center=np.array([e[2] for e in ell], dtype=np.float64),
        e_axes=np.broadcast_to(np.eye(3), (len(ell), 3, 3)).copy(),
        e_radii=np.array([e[3] for e in ell], dtype=np.float64),
        e_material=np.array([e[4] for e in ell]),
        c_seg_a=np.array([SEG[c[1]] for c in cones]),
        c_off_a=np.array([c[2] for c in cones], dtype=np.float64),
        c_seg_b=np.array([SEG[c[3]] for c in cones]),
        c_off_b=np.array([c[4] for c in cones], dtype=np.float64),
        c_radii=np.array([(c[5], c[6]) for c in cones], dtype=np.float64),
        c_material=np.array([c[7] for c in cones]),
        materials=tuple(materials),
        names=tuple(e[0] for e in ell) + tuple(c[0] for c in cones),
    )


def joint_flesh_depth(shape: BodyShape) -> np.ndarray:
    """How deep inside the body each keypoint sits, (J,) metres.

    A keypoint is visible when the nearest surface on its pixel lies at most this much (plus a small margin)
    in front of it: the flesh around the joint itself does not hide it, anything else does.
    """
    H, g = shape.height, shape.girth
    depth = {
        # Joints at the middle of the trunk are hidden only by something outside the trunk itself.
        "pelvis": 0.094 * H * g * shape.hips, "spine": 0.084 * H * g, "thorax": 0.07 * H * g * shape.chest,
        "nose": 0.015, "head_top": 0.03, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.02,
        "right_ear": 0.02,
    }
    for side in ("left", "right"):
        depth[f"{side}_hip"] = 0.068 * H * g
        depth[f"{side}_knee"] = 0.035 * H * g
        depth[f"{side}_ankle"] = 0.026 * H * g
        depth[f"{side}_shoulder"] = 0.034 * H * g
        depth[f"{side}_elbow"] = 0.024 * H * g
        depth[f"{side}_wrist"] = 0.020 * H * g
        for toe in ("big_toe", "small_toe", "heel"):
            depth[f"{side}_{toe}"] = 0.03
    return np.array([depth[j] for j in STUDIO_JOINTS])


# ------------------------------------------------------------------------------------------------
# Random appearance
def _hsv_to_bgr(h: float, s: float, v: float) -> np.ndarray:
    """HSV (h in [0, 1)) -> BGR 0-255."""
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, gg, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array([b, gg, r]) * 255.0


def random_cloth_colour(rng: np.random.Generator) -> np.ndarray:
    """A garment colour: often muted or dark, sometimes vivid, sometimes white/black/grey."""
    kind = rng.random()
    if kind < 0.2:
        return np.full(3, rng.uniform(20, 235)) + rng.normal(0, 6, 3)
    if kind < 0.35:  # denim / navy / khaki families
        return [np.array([120, 70, 40]), np.array([90, 50, 30]), np.array([110, 160, 180]),
                np.array([60, 90, 70])][rng.integers(4)] * rng.uniform(0.7, 1.3)
    return _hsv_to_bgr(rng.random(), rng.uniform(0.25, 0.95), rng.uniform(0.25, 0.95))


def random_material(rng: np.random.Generator, patterned: float = 0.5) -> Material:
    """A garment material with a random pattern (``patterned`` = probability of a pattern)."""
    c1 = np.clip(random_cloth_colour(rng), 0, 255)
    pattern = PLAIN if rng.random() > patterned else int(rng.integers(1, 6))
    c2 = np.clip(random_cloth_colour(rng) if rng.random() < 0.6 else c1 * rng.uniform(0.35, 0.7), 0, 255)
    waves = rng.normal(size=(3, 3))
    waves *= rng.uniform(15, 60) / np.linalg.norm(waves, axis=1, keepdims=True)
    return Material(color=c1, color2=c2, pattern=pattern, period=float(rng.uniform(0.03, 0.12)), waves=waves,
                    shine=float(rng.uniform(0.0, 0.15)))


def random_appearance(rng: np.random.Generator) -> Appearance:
    """Random skin tone, hair, clothes and garment patterns."""
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = int(t)
    skin_c = SKIN_TONES[i] * (1 - (t - i)) + SKIN_TONES[min(i + 1, len(SKIN_TONES) - 1)] * (t - i)
    skin = Material(color=skin_c * rng.uniform(0.95, 1.03), color2=skin_c * 0.9, pattern=PLAIN, shine=0.08)
    hair_c = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.15)
    hair = Material(color=np.clip(hair_c, 0, 255), color2=np.clip(hair_c * 0.7, 0, 255), pattern=NOISE,
                    waves=rng.normal(size=(3, 3)) * 90.0, shine=0.2)
    eyes = Material(color=np.array([25.0, 25.0, 30.0]), pattern=PLAIN, shine=0.3)
    shoes_c = np.clip(random_cloth_colour(rng) * rng.uniform(0.3, 1.0), 0, 255)
    shoes = Material(color=shoes_c, color2=np.clip(shoes_c + 60, 0, 255), pattern=PLAIN, shine=0.2)
    return Appearance(
        skin=skin, hair=hair, eyes=eyes,
        shirt=random_material(rng, 0.55), trousers=random_material(rng, 0.3), shoes=shoes,
        hair_style=HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=[0.5, 0.3, 0.05, 0.15])],
        sleeve_length=SLEEVES[rng.choice(3, p=[0.5, 0.4, 0.1])],
        leg_length=LEGS[rng.choice(2, p=[0.8, 0.2])],
    )


def random_shape(rng: np.random.Generator) -> BodyShape:
    """A random adult: height 1.50-1.95 m, slim to heavy, varied proportions."""
    female = rng.random() < 0.5
    height = float(np.clip(rng.normal(1.64 if female else 1.77, 0.07), 1.48, 1.97))
    girth = float(np.clip(rng.normal(1.0, 0.1), 0.82, 1.3))
    props = {k: float(np.clip(rng.normal(1.0, 0.03), 0.92, 1.08)) for k in
             ("thigh", "shin", "upper_arm", "forearm", "torso", "head", "neck")}
    props["shoulder_width"] = float(np.clip(rng.normal(0.93 if female else 1.03, 0.04), 0.85, 1.12))
    props["hip_width"] = float(np.clip(rng.normal(1.04 if female else 0.97, 0.04), 0.88, 1.12))
    return BodyShape(height=height, girth=girth, hips=1.08 if female else 0.97, chest=0.95 if female else 1.04,
                     proportions=props)


def random_actor(rng: np.random.Generator, name: str = "actor", shape: BodyShape | None = None) -> Actor:
    """A random actor (``shape`` fixes the body, e.g. one fitted to a recording)."""
    return Actor(shape=shape if shape is not None else random_shape(rng), appearance=random_appearance(rng), name=name)
