import cv2
import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.render import OverlayRenderer, panel_width, render_overlay
from hmcli.skeleton import H36M17
from hmcli.types import Keypoints2D, Pose3DResult

W, H, F = 320, 240, 8
GREY_LEVEL = 100


def make_video(path, n=F, w=W, h=H):
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    assert vw.isOpened()
    for _ in range(n):
        vw.write(np.full((h, w, 3), GREY_LEVEL, np.uint8))
    vw.release()


def read_all(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
    cap.release()
    return frames


def make_result(n=F, w=W, h=H, undetected=(3,)):
    rng = np.random.default_rng(0)
    # An upright stick figure in camera axes (y down), slightly moving.
    base = np.array([[0, 0, 0], [-.1, 0, 0], [-.1, .45, 0], [-.1, .9, 0], [.1, 0, 0], [.1, .45, 0], [.1, .9, 0],
                     [0, -.25, 0], [0, -.5, 0], [0, -.6, -.05], [0, -.7, 0], [.18, -.5, 0], [.4, -.5, 0],
                     [.6, -.5, 0], [-.18, -.5, 0], [-.4, -.5, 0], [-.6, -.5, 0]])  # fmt: skip
    j3 = (base[None] + rng.normal(0, 0.01, (n, 17, 3))).astype(np.float32)
    j3[:, 0] = 0
    xy = (j3[..., :2] * (h / 2.4) + [w / 2, h / 2]).astype(np.float32)
    detected = np.ones(n, bool)
    detected[list(undetected)] = False
    conf = np.where(detected[:, None], 0.9, 0.0).astype(np.float32) * np.ones((1, 17), np.float32)
    kp = Keypoints2D(xy, conf, "h36m17", np.arange(n) / 25.0, w, h, detected)
    return Pose3DResult(kp, j3, "test", "0")


def test_render_with_video(tmp_path):
    src = tmp_path / "in.mp4"
    make_video(src)
    res = make_result()
    calls = []
    out = tmp_path / "out.mp4"
    n = render_overlay(res, src, out, on_frame=lambda i, total: calls.append((i, total)))
    assert n == F and calls == [(i, F) for i in range(1, F + 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]
    frames, source = read_all(out), read_all(src)
    assert len(frames) == F
    assert frames[0].shape == (H, W + panel_width(H), 3) == (H, W + H, 3)
    for i in (0, 7):
        left, ref = frames[i][:, :W].astype(int), source[i].astype(int)
        for x, y in np.round(res.kpts2d.xy[i]).astype(int):
            assert np.abs(left[y, x] - ref[y, x]).max() > 40, (i, x, y)
        # far from the skeleton the video shows through
        assert np.abs(left[5, W - 5] - ref[5, W - 5]).max() < 12
    # undetected frame: no skeleton, a red "no person" tag top-left
    left3, ref3 = frames[3][:, :W].astype(int), source[3].astype(int)
    x, y = np.round(res.kpts2d.xy[3, H36M17.index("left_wrist")]).astype(int)
    assert np.abs(left3[y, x] - ref3[y, x]).max() < 12
    b, g, r = frames[3][6:18, 6:60].reshape(-1, 3).astype(float).mean(axis=0)
    assert r > 150 and r - b > 60 and r - g > 60
    # the 3D panel shows something besides the background and grid
    panel = frames[0][:, W:].astype(int)
    assert (np.abs(panel - panel[H - 2, 2]).max(axis=2) > 60).sum() > 100


def test_render_blank_canvas_and_short_video(tmp_path):
    res = make_result(n=6, undetected=())
    out = tmp_path / "blank.mp4"
    assert render_overlay(res, None, out) == 6
    frames = read_all(out)
    assert len(frames) == 6 and frames[0].shape == (H, W + H, 3)
    assert frames[0][5, 5].max() < 15  # black canvas
    x, y = np.round(res.kpts2d.xy[0, H36M17.index("right_wrist")]).astype(int)
    assert frames[0][y, x].max() > 60
    # a video shorter than the result: the rest are blank frames, count still matches
    src = tmp_path / "short.mp4"
    make_video(src, n=3)
    render_overlay(res, src, tmp_path / "o2.mp4")
    frames = read_all(tmp_path / "o2.mp4")
    assert len(frames) == 6
    assert abs(int(frames[1][5, 5, 0]) - GREY_LEVEL) < 12 and frames[5][5, 5].max() < 15


def test_odd_size_padded_to_even(tmp_path):
    res = make_result(n=2, w=160, h=121, undetected=())
    render_overlay(res, None, tmp_path / "odd.mp4")
    frames = read_all(tmp_path / "odd.mp4")
    assert frames[0].shape == (122, 160 + 121 + 1, 3)


def test_low_confidence_is_faded():
    r = OverlayRenderer(W, H, "h36m17")
    res = make_result(n=1, undetected=())
    xy = res.kpts2d.xy[0]
    hi = np.full((H, W, 3), GREY_LEVEL, np.uint8)
    lo = hi.copy()
    r.draw_2d(hi, xy, np.full(17, 1.0), True)
    r.draw_2d(lo, xy, np.full(17, 0.2), True)
    x, y = np.round(xy[H36M17.index("left_elbow")]).astype(int)
    sat = lambda px: int(px.max()) - int(px.min())  # noqa: E731
    assert sat(hi[y, x]) > 100 and sat(lo[y, x]) < 0.4 * sat(hi[y, x])
    none = np.full((H, W, 3), GREY_LEVEL, np.uint8)
    r.draw_2d(none, xy, np.zeros(17), True)  # confidence 0: nothing drawn
    assert (none == GREY_LEVEL).all()


def test_bad_video_and_empty_result(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(HMError):
        render_overlay(make_result(), bad, tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]
    with pytest.raises(HMError, match="no frames"):
        render_overlay(make_result(n=0, undetected=()), None, tmp_path / "o.mp4")


def _colour_pixels(img, bgr, tol=40):
    return int((np.abs(img.astype(int) - np.array(bgr)).max(axis=2) < tol).sum())


def test_several_persons_each_in_its_colour_with_id(tmp_path):
    from dataclasses import replace

    from hmcli.render.overlay import person_colour
    from hmcli.types import MultiPose3DResult

    a = make_result(undetected=())
    shift = np.float32(W * 0.3)
    kb = replace(a.kpts2d, xy=a.kpts2d.xy + np.array([shift, 0], np.float32),
                 detected=np.arange(F) < 4, conf=np.where((np.arange(F) < 4)[:, None], a.kpts2d.conf, 0))
    b = Pose3DResult(kb, a.joints3d.copy(), "test", "0")
    kc = replace(a.kpts2d, xy=a.kpts2d.xy - np.array([shift, 0], np.float32))
    c = Pose3DResult(kc, a.joints3d.copy(), "test", "0")
    multi = MultiPose3DResult([a, b, c], [1, 2, 7])
    vid = tmp_path / "v.mp4"
    make_video(vid)
    out = tmp_path / "o.mp4"
    assert render_overlay(multi, vid, out) == F
    frames = read_all(out)
    assert len(frames) == F and frames[0].shape[1] == W + panel_width(H)
    first, last = frames[0], frames[-1]
    for tid in (1, 2, 7):
        assert _colour_pixels(first[:, :W], person_colour(tid)) > 30, tid  # 2D skeleton
        assert _colour_pixels(first[:, W:], person_colour(tid)) > 30, tid  # 3D panel
    assert _colour_pixels(last[:, :W], person_colour(2)) < 5  # person 2 gone after frame 3
    assert _colour_pixels(last[:, :W], person_colour(7)) > 30
    # The 3D panel lays persons out by image x: person 7 (left in the image) left of person 2.
    cols = lambda img, tid: np.flatnonzero((np.abs(img.astype(int) - person_colour(tid)).max(axis=2) < 40).any(0))  # noqa: E731
    assert cols(first[:, W:], 7).mean() < cols(first[:, W:], 1).mean() < cols(first[:, W:], 2).mean()
    # Ids have a stable colour, and a single-person multi result renders as a one-person result.
    assert person_colour(12) == person_colour(2)
    one = tmp_path / "one.mp4"
    render_overlay(MultiPose3DResult([a], [5]), vid, one)
    ref = tmp_path / "ref.mp4"
    render_overlay(a, vid, ref)
    assert all(np.array_equal(x, y) for x, y in zip(read_all(one), read_all(ref), strict=True))
