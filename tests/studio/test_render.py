import numpy as np
import pytest

from core.geometry.camera import Camera
from core.studio.actor import Material, Primitives
from core.studio.render import CameraRenderer, MaterialTable, joint_visibility
from tests.studio.conftest import all_inside, lines_of_sight_clear

K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
MATS = MaterialTable.from_materials([Material(color=np.array([50.0, 120, 200])),
                                     Material(color=np.array([200.0, 60, 60]))])


def camera(dist=(-0.25, 0.08, 0.001, -0.001, 0.0)):
    return Camera.look_at("c", (320, 240), K, [3.0, 0.5, 1.2], [0, 0, 1.0], dist=np.array(dist))


def prims(kind, a, b, radii, axes=None, material=0, owner=0):
    axes = np.eye(3) if axes is None else axes
    return Primitives(np.array([kind]), np.array([a], float), np.array([b], float), np.array([axes], float),
                      np.array([radii], float), np.array([material]), np.array([owner]))


def hit_points(renderer, result):
    """World points of the rendered pixels: camera depth times the pixel's ideal ray."""
    ys, xs = np.nonzero(result.labels >= 0)
    xy = renderer.normalized[ys, xs].astype(np.float64)
    z = result.depth[ys, xs].astype(np.float64)
    pc = np.concatenate([xy * z[:, None], z[:, None]], axis=1)
    cam = renderer.camera
    return (pc - cam.t) @ cam.R  # R^T (p - t)


def test_ellipsoid_pixels_lie_on_its_surface():
    rot = Camera.look_at("x", (2, 2), K, [0, 0, 0], [1, 1, 0.3]).R.T  # some rotation
    p = prims(0, [0.1, 0.0, 1.0], [0.1, 0.0, 1.0], [0.3, 0.12, 0.2], axes=rot)
    r = CameraRenderer(camera())
    res = r.render(p, MATS, blur=False)
    assert (res.labels >= 0).sum() > 500
    pts = hit_points(r, res)
    q = (pts - p.center[0]) @ p.axes[0] / p.radii[0]
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=2e-3)


def test_round_cone_pixels_lie_on_its_surface_and_misses_miss():
    p = prims(1, [-0.2, 0.1, 0.6], [0.2, -0.1, 1.5], [0.15, 0.06, 0])
    r = CameraRenderer(camera())
    res = r.render(p, MATS, blur=False)
    pts = hit_points(r, res)
    s = np.linspace(0, 1, 401)
    c = p.center[0] + s[:, None] * (p.end[0] - p.center[0])
    rad = 0.15 + s * (0.06 - 0.15)
    sdf = (np.linalg.norm(pts[:, None] - c[None], axis=-1) - rad).min(1)
    assert np.abs(sdf).max() < 2e-3
    # Rays of pixels that were not drawn do not pass through the cone.
    ys, xs = np.nonzero(res.labels < 0)
    pick = np.random.default_rng(0).choice(len(ys), 1000, replace=False)
    xy = r.normalized[ys[pick], xs[pick]].astype(np.float64)
    depths = np.linspace(1.5, 5.0, 200)
    pc = np.concatenate([xy[:, None, :] * depths[None, :, None], np.broadcast_to(depths[None, :, None], (len(pick), 200, 1))], -1)
    world = (pc.reshape(-1, 3) - r.camera.t) @ r.camera.R
    assert not all_inside(world, p, []).any()


def test_drawn_where_projected_with_distortion():
    """A small sphere near the image corner is drawn exactly where camera.project puts its centre."""
    cam = camera(dist=(-0.3, 0.12, 0.002, 0.001, 0.0))
    r = CameraRenderer(cam)
    target = np.array([275.0, 25.0])
    ray = cam.rays(target[None])[0]
    X = cam.center + 3.0 * ray
    p = prims(0, X, X, [0.02, 0.02, 0.02])
    res = r.render(p, MATS, blur=False)
    ys, xs = np.nonzero(res.labels >= 0)
    assert len(xs) > 5
    np.testing.assert_allclose(cam.project(X[None])[0], target, atol=1e-6)
    np.testing.assert_allclose([xs.mean(), ys.mean()], target, atol=0.6)


def test_depth_order_and_labels():
    near = prims(0, [1.5, 0.25, 1.1], [1.5, 0.25, 1.1], [0.15] * 3, material=1, owner=1)
    far = prims(0, [0, 0, 1.0], [0, 0, 1.0], [0.4] * 3, owner=0)
    both = Primitives.concatenate([far, near])
    r = CameraRenderer(camera())
    res = r.render(both, MATS, blur=False)
    cam = r.camera
    u, v = np.round(cam.project(near.center)[0]).astype(int)
    assert res.labels[v, u] == 1
    assert res.person_mask(1)[v, u] and not res.person_mask(0)[v, u]
    assert res.depth[v, u] == pytest.approx(cam.world_to_camera(near.center)[0, 2] - 0.15, abs=0.02)


def test_visibility_agrees_with_an_independent_depth_check(small_studio, small_frames):
    """Renderer visibility vs sampling each joint's line of sight against the primitives' implicit functions."""
    scene = small_studio.scene
    agree = total = 0
    for fr in small_frames[:6]:
        pr = scene.primitives(scene.poses(np.array([fr.truth.t])))
        joints = fr.truth.joints_3d  # (P, J, 3)
        for c, cam in enumerate(small_studio.rig):
            W, H = cam.size
            pts2 = fr.truth.joints_2d[c]
            in_img = np.isfinite(pts2).all(-1) & (pts2[..., 0] >= 0) & (pts2[..., 0] <= W - 1) & \
                (pts2[..., 1] >= 0) & (pts2[..., 1] <= H - 1)
            X = joints[in_img]
            z = cam.world_to_camera(X)[:, 2]
            tol = scene.flesh[in_img] + 0.015
            ref = lines_of_sight_clear(cam.center, X, z, tol, pr, scene.props)
            agree += (ref == fr.truth.visible[c][in_img]).sum()
            total += len(X)
    assert total > 300
    print(f"visibility agreement {agree / total:.4f} over {total} joint views")
    assert agree / total >= 0.97, f"visibility agreement {agree / total:.3f} over {total} joint views"


def test_visible_joints_lie_on_the_rendered_body(small_studio, small_frames):
    """>= 98% of joints flagged visible fall on pixels the people changed (mask from an image difference)."""
    scene = small_studio.scene
    on = total = 0
    for fr in small_frames:
        poses = scene.poses(np.array([fr.truth.t]))
        pr = scene.primitives(poses)
        light = scene.lighting.at(fr.truth.t)
        for c, rend in enumerate(small_studio.renderers):
            with_people = rend.render(pr, scene.materials, light, blur=False).image
            empty = rend.render(Primitives.concatenate([]), scene.materials, light, blur=False).image
            mask = np.abs(with_people.astype(int) - empty.astype(int)).max(-1) > 0
            vis = fr.truth.visible[c]
            uv = np.round(fr.truth.joints_2d[c][vis]).astype(int)
            on += mask[uv[:, 1], uv[:, 0]].sum()
            total += len(uv)
    assert total > 200
    print(f"visible joints on the body mask: {on / total:.4f} of {total}")
    assert on / total >= 0.98, f"only {on / total:.3f} of visible joints on the body mask"


def test_joint_visibility_shapes_and_exact_projection(small_studio, small_frames):
    fr = small_frames[0]
    rend = small_studio.renderers[0]
    res = fr.renders[small_studio.camera_names[0]]
    j3 = fr.truth.joints_3d
    p2d, vis = joint_visibility(rend, res, j3, np.arange(len(j3)), small_studio.scene.flesh)
    assert p2d.shape == j3.shape[:2] + (2,) and vis.shape == j3.shape[:2]
    np.testing.assert_array_equal(p2d.reshape(-1, 2), rend.camera.project(j3.reshape(-1, 3)))
