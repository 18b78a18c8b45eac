from __future__ import annotations

import numpy as np
import pytest

from hmcli.data.camera import (
    CAMERA_KINDS, KIND_NAMES, PHONE_SIZES, WEBCAM_SIZES, Camera, draw_camera, hfov_focal, look_at, project, random_camera,
    world_to_camera,
)


def _walk_clip(n: int = 60) -> np.ndarray:
    """(n, 17, 3) world clip walking 3 m along +x, pelvis at 0.95 m, Y up."""
    base = np.zeros((17, 3))
    base[:, 1] = np.linspace(0.1, 1.7, 17)
    base[0, 1] = 0.95
    return base[None] + np.linspace(0, 3, n)[:, None, None] * np.array([1.0, 0.0, 0.0])


def test_optical_axis_projects_to_principal_point() -> None:
    cam = random_camera(np.random.default_rng(0), "phone")
    p = cam.position + 3.7 * cam.R[2]  # a point on the optical axis, in world coordinates
    uv = project(world_to_camera(p[None], cam), cam)[0]
    np.testing.assert_allclose(uv, [cam.cx, cam.cy], atol=1e-9)


def test_look_at_axes() -> None:
    R, t = look_at(np.array([0.0, 1.0, -4.0]), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    cam = Camera(R=R, t=t, fx=1000.0, fy=1000.0, cx=640.0, cy=360.0, width=1280, height=720)
    pc = world_to_camera(np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 1.0, 0.0]]), cam)
    np.testing.assert_allclose(pc[0], [0, 0, 4], atol=1e-12)  # target straight ahead at 4 m
    assert pc[1, 1] < 0  # world up is image up (y down)
    # Looking along +z with y up, world +x is to the camera's left.
    assert pc[2, 0] < 0
    uv = project(pc, cam)
    np.testing.assert_allclose(uv[1], [640.0, 360.0 - 250.0], atol=1e-9)


def test_points_behind_give_nan() -> None:
    cam = Camera(R=np.eye(3), t=np.zeros(3), fx=1.0, fy=1.0, cx=0.0, cy=0.0, width=2, height=2)
    uv = project(np.array([[0.0, 0.0, -1.0], [1.0, 1.0, 2.0]]), cam)
    assert np.isnan(uv[0]).all()
    np.testing.assert_allclose(uv[1], [0.5, 0.5])


@pytest.mark.parametrize("kind", ["phone", "webcam", "any"])
def test_random_cameras_see_subject_in_front(kind: str) -> None:
    clip = _walk_clip()
    target = clip[:, 0].mean(axis=0)
    for seed in range(60):
        cam = random_camera(np.random.default_rng(seed), kind, joints=clip)
        z = world_to_camera(clip, cam)[..., 2]
        assert z.min() > 0.5
        assert (cam.width, cam.height) in PHONE_SIZES + WEBCAM_SIZES
        assert 0.5 <= cam.position[1] <= 2.2
        horiz = np.linalg.norm((cam.position - target)[[0, 2]])
        assert 2.5 - 1e-9 <= horiz <= 6.0 + 1e-9
        # Roughly looks at the subject: the mean pelvis projects near the image centre.
        uv = project(world_to_camera(target[None], cam), cam)[0]
        assert abs(uv[0] - cam.width / 2) < 0.25 * cam.width
        assert abs(uv[1] - cam.height / 2) < 0.25 * cam.height
        if cam.kind == "phone":
            assert 0.8 * max(cam.width, cam.height) <= cam.fx <= 1.0 * max(cam.width, cam.height)
        else:
            assert 0.6 * cam.width <= cam.fx <= 0.9 * cam.width
    kinds = {random_camera(np.random.default_rng(s), "any").kind for s in range(20)}
    if kind == "any":
        assert kinds == {"phone", "webcam"}


def test_long_approach_is_pushed_back() -> None:
    # A subject walking 12 m cannot always be in front of a camera 2.5-6 m from the mean;
    # the fallback still guarantees the depth.
    clip = _walk_clip(100) * np.array([4.0, 1.0, 1.0])
    for seed in range(10):
        cam = random_camera(np.random.default_rng(seed), "webcam", joints=clip, max_tries=1)
        assert world_to_camera(clip, cam)[..., 2].min() >= 1.0 - 1e-9


def test_deterministic_under_seed() -> None:
    a = random_camera(np.random.default_rng(7), "any", joints=_walk_clip())
    b = random_camera(np.random.default_rng(7), "any", joints=_walk_clip())
    c = random_camera(np.random.default_rng(8), "any", joints=_walk_clip())
    np.testing.assert_array_equal(a.R, b.R)
    np.testing.assert_array_equal(a.t, b.t)
    assert a.fx == b.fx and a.width == b.width
    assert not np.allclose(a.t, c.t)


def _standing_clip(n: int = 10) -> np.ndarray:
    """(n, 17, 3) a person standing still at the origin, pelvis at 0.95 m, head at 1.7 m."""
    base = np.zeros((17, 3))
    base[:, 1] = np.linspace(0.1, 1.7, 17)
    base[0, 1] = 0.95
    return np.repeat(base[None], n, axis=0)


def test_standard_kind_is_the_shipped_distribution() -> None:
    clip = _walk_clip()
    for seed in range(20):
        for name in ("any", "standard"):
            a = draw_camera(np.random.default_rng(seed), name, joints=clip)
            b = random_camera(np.random.default_rng(seed), "any", joints=clip)
            np.testing.assert_array_equal(a.R, b.R)
            np.testing.assert_array_equal(a.t, b.t)
            assert (a.fx, a.cx, a.cy, a.width, a.height) == (b.fx, b.cx, b.cy, b.width, b.height)


def _pitch_down_deg(cam: Camera) -> float:
    return float(np.degrees(np.arcsin(-cam.R[2][1])))  # optical axis below the horizontal


def _roll_deg(cam: Camera) -> float:
    """Angle of the image's x axis out of the horizontal plane (0 for an upright frame)."""
    return float(np.degrees(np.arcsin(np.clip(cam.R[0][1] / np.linalg.norm(cam.R[0]), -1, 1))))


@pytest.mark.parametrize("kind", sorted(CAMERA_KINDS))
def test_named_kinds_keep_their_ranges(kind: str) -> None:
    spec = CAMERA_KINDS[kind]
    clip = _standing_clip()
    target = clip[:, 0].mean(axis=0)
    for seed in range(40):
        cam = draw_camera(np.random.default_rng(seed), kind, joints=clip)
        assert cam.kind == kind
        assert (cam.width, cam.height) in spec.sizes
        assert spec.height[0] - 1e-9 <= cam.position[1] <= spec.height[1] + 1e-9
        hfov = np.degrees(2 * np.arctan(0.5 * cam.width / cam.fx))
        assert spec.hfov[0] - 1e-6 <= hfov <= spec.hfov[1] + 1e-6
        assert world_to_camera(clip, cam)[..., 2].min() >= spec.min_depth - 1e-9
        horiz = np.linalg.norm((cam.position - target)[[0, 2]])
        if spec.distance is not None:
            assert spec.distance[0] - 1e-9 <= horiz <= max(spec.distance[1], horiz if spec.fit else 0) + 1e-9
        else:  # ceiling: the line of sight to the target pitches down within the range
            sight = np.degrees(np.arctan2(cam.position[1] - target[1], horiz))
            assert spec.pitch_down[0] - 1e-6 <= sight <= spec.pitch_down[1] + 1e-6
        assert abs(_roll_deg(cam)) <= spec.roll + 1e-6
        uv = project(world_to_camera(target[None], cam), cam)[0]
        # the target sits within the off-centre range of the principal point
        assert abs(uv[0] - cam.cx) <= (spec.offcentre + 0.05) * cam.width / 2
        if spec.aim_up[1] > 0:  # aimed above the pelvis: it shows low in the picture
            assert uv[1] > cam.cy
        else:
            assert abs(uv[1] - cam.cy) <= (spec.offcentre + 0.05) * cam.height / 2


def test_kinds_differ_as_documented() -> None:
    clip = _standing_clip()
    draws = {k: [draw_camera(np.random.default_rng(s), k, joints=clip) for s in range(60)] for k in KIND_NAMES}
    assert min(_pitch_down_deg(c) for c in draws["ceiling"]) > 20  # looks down
    assert max(_pitch_down_deg(c) for c in draws["webcam"]) < 0  # looks up
    assert max(abs(_roll_deg(c)) for c in draws["handheld"]) > 10  # rolled frames
    assert max(abs(_roll_deg(c)) for c in draws["standard"]) <= 3 + 1e-6
    sports_fov = [np.degrees(2 * np.arctan(0.5 * c.width / c.fx)) for c in draws["sports"]]
    assert max(sports_fov) <= 25 + 1e-6
    # webcams are close enough that some joints leave the picture
    def inside(c: Camera) -> float:
        uv = project(world_to_camera(clip, c), c)  # (F, 17, 2)
        return float(((uv[..., 0] >= 0) & (uv[..., 0] < c.width) & (uv[..., 1] >= 0) & (uv[..., 1] < c.height)).mean())
    assert np.mean([inside(c) for c in draws["webcam"]]) < 0.9
    assert np.mean([inside(c) for c in draws["standard"]]) == 1.0


def test_mixed_draws_every_kind_and_unknown_kinds_fail() -> None:
    kinds = {draw_camera(np.random.default_rng(s), "mixed", joints=_standing_clip()).kind for s in range(200)}
    assert set(CAMERA_KINDS) <= kinds and {"phone", "webcam"} <= kinds
    with pytest.raises(ValueError, match="unknown camera_kind 'drone'"):
        draw_camera(np.random.default_rng(0), "drone")


def test_close_kinds_are_pushed_back_for_travelling_people() -> None:
    clip = _walk_clip(100) * np.array([4.0, 1.0, 1.0])  # 12 m walk
    for seed in range(10):
        cam = draw_camera(np.random.default_rng(seed), "webcam", joints=clip, max_tries=1)
        assert world_to_camera(clip, cam)[..., 2].min() >= CAMERA_KINDS["webcam"].min_depth - 1e-9


def test_hfov_focal() -> None:
    assert hfov_focal(1000, 90.0) == pytest.approx(500.0)
