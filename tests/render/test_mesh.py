import time

import numpy as np
import pytest

from hmcli.types import Camera
from hmcli.render.mesh import draw_mesh
from tests.mesh.result_helpers import body_like, cube

CAM = Camera(focal=100.0, cx=50.0, cy=50.0)
WHITE = (255, 255, 255)


def black(h=100, w=100):
    return np.zeros((h, w, 3), np.uint8)


def triangle(z=2.0, front=True):
    v = np.array([[-0.2, -0.2, z], [0.2, -0.2, z], [0.0, 0.2, z]], np.float32)
    f = np.array([[0, 2, 1]] if front else [[0, 1, 2]], np.int32)  # normal towards the camera when front
    return v, f


def drawn(img):
    return img.max(axis=2) > 0


def test_triangle_lands_where_projected():
    v, f = triangle()
    img = black()
    draw_mesh(img, v, f, CAM, "filled", WHITE, alpha=1.0)
    uv = CAM.project(v.astype(np.float64))  # (40, 40), (60, 40), (50, 60)
    np.testing.assert_allclose(uv, [[40, 40], [60, 40], [50, 60]])
    m = drawn(img)
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (40, 60, 40, 60)
    assert (img[45, 50] == 255).all() and not m[58, 42] and not m[30, 50]
    assert m.sum() == pytest.approx(0.5 * 20 * 20, rel=0.25)


def test_back_faces_culled():
    v, f = triangle(front=False)
    img = black()
    draw_mesh(img, v, f, CAM, "shaded", WHITE, alpha=1.0)
    assert not img.any()
    # a closed cube shows only its front faces: shaded by the light at the camera, the face squarely
    # facing it is the brightest and its colour is the full colour
    cv, cf = cube((0.0, 0.0, 3.0), 0.6)
    draw_mesh(img, cv, cf, CAM, "shaded", WHITE, alpha=1.0)
    assert (img[50, 50] == 255).all()
    draw_mesh(img2 := black(), cv, cf[::-1], CAM, "shaded", WHITE, alpha=1.0)  # face order does not matter
    np.testing.assert_array_equal(img, img2)


def test_painter_order_near_face_wins():
    far = np.array([[-0.5, -0.5, 4.0], [0.5, -0.5, 4.0], [0.0, 0.5, 4.0]], np.float32)  # faces the camera
    near = np.array([[-0.1, -0.1, 2.0], [0.1, -0.1, 2.3], [0.0, 0.1, 2.0]], np.float32)  # tilted: darker
    v = np.concatenate([near, far])
    for faces in ([[0, 2, 1], [3, 5, 4]], [[3, 5, 4], [0, 2, 1]]):
        img = black()
        draw_mesh(img, v, np.array(faces), CAM, "shaded", WHITE, alpha=1.0)
        assert img[48, 50, 0] < 250 and img[40, 50, 0] > 250  # near (tilted) face over the far one


def test_wireframe_vs_filled_and_alpha():
    cv, cf = cube((0.0, 0.0, 3.0), 0.9)
    filled, wire = black(), black()
    draw_mesh(filled, cv, cf, CAM, "filled", WHITE, alpha=1.0)
    draw_mesh(wire, cv, cf, CAM, "wireframe", WHITE, alpha=1.0)
    nf, nw = drawn(filled).sum(), drawn(wire).sum()
    assert nf > 600 and 0 < nw < nf / 3
    assert not (drawn(wire) & ~drawn(filled)).sum() > 0.1 * nw  # the wireframe lies on the silhouette
    grey = np.full((100, 100, 3), 100, np.uint8)
    draw_mesh(grey, cv, cf, CAM, "filled", (200, 200, 200), alpha=0.5)
    assert (grey[50, 50] == 150).all() and (grey[2, 2] == 100).all()


def test_nothing_drawn_behind_camera_or_invalid():
    cv, cf = cube((0.0, 0.0, -3.0), 1.0)
    img = black()
    for verts in (cv, np.full_like(cv, np.nan), cube((0.0, 0.0, 3.0))[0] + [50.0, 0, 0]):  # behind, NaN, off-screen
        draw_mesh(img, verts, cf, CAM, "shaded", WHITE)
        assert not img.any()
    # straddling the camera plane: only triangles wholly in front are drawn, nothing crashes
    draw_mesh(img, cube((0.0, 0.0, 0.3), 1.0)[0], cf, CAM, "shaded", WHITE, alpha=1.0)
    with pytest.raises(ValueError, match="style"):
        draw_mesh(img, cv, cf, CAM, "glossy")


def test_speed_body_mesh_720p():
    v, f = body_like(3.0)
    assert v.shape == (13718, 3) and f.shape[0] > 27000
    cam = Camera(1000.0, 640.0, 360.0)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    times = []
    for _ in range(3):
        img = frame.copy()
        t = time.perf_counter()
        draw_mesh(img, v, f, cam, "shaded")
        times.append(time.perf_counter() - t)
    assert drawn(np.abs(img.astype(int) - 90).astype(np.uint8)).sum() > 50_000
    assert min(times) < 0.5  # ~40 ms on one core; a generous bound for slow CI machines
