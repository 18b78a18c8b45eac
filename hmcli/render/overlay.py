"""Side-by-side preview video: 2D skeleton over the video frame | 3D skeleton view.

Left half: the (resized to the result's width x height) video frame with the 2D keypoints
the lifter saw; joints and bones are coloured by side (left: blue, right: orange,
centre: green) and fade towards grey as their confidence drops (joints with confidence
below 0.05 are not drawn); frames without a person get a red "no person" tag.

Right half: a square panel (as tall as the video) with the 3D joints, drawn with OpenCV
from a fixed oblique orthographic camera (30 degrees around the vertical axis, 20 degrees
from above) over a 0.5 m ground grid. The skeleton is shown root-relative, 2.4 m tall
view; the ground sits at the median lowest-ankle height of the sequence (0.9 m below the
pelvis when unknown). Bones are painted far-to-near.

With a fitted mesh (:func:`render_mesh_overlay`, ``hm render`` on an ``hm.mesh`` file) the
left half shows the body mesh drawn over the video instead of the 2D skeleton
(:func:`hmcli.render.mesh.draw_mesh`; nothing is drawn on frames where the fit is not valid),
and the 3D panel shows the fitted body's H36M-17 keypoints (``MeshResult.joints3d``),
root-relative, in the same view.

With action labels (``actions=``, an :class:`hmcli.render.labels.ActionTrack` from
``hm action``; ``hm render --actions``) each frame shows its current label and probability
(e.g. "dance 82 %") in a tag at the bottom left of the video half.

Several persons (a :class:`~hmcli.types.MultiPose3DResult` from ``hm lift --max-persons``):
each person is drawn in its own colour, picked by its track id from :data:`PALETTE` (so an id
keeps its colour in every render), with its id ("#3") next to its head; in the 3D panel each
root-relative skeleton is shifted sideways by where its pelvis is in the image (the frame's
width spans :data:`MULTI_SPAN_M` metres), so people stand side by side as in the video.
A one-person result is drawn as before (colours by side, no id).

The output is always an MP4 container (``mp4v``), written atomically; odd frame sizes are
padded by one black pixel row/column (MPEG-4 needs even sizes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton import H36M17, JointSet, get_joint_set
from hmcli.types import MultiPose3DResult, Pose3DResult

if TYPE_CHECKING:
    from hmcli.types import Camera, MeshResult, MultiMeshResult
    from hmcli.render.labels import ActionTrack

__all__ = ["OverlayRenderer", "render_overlay", "render_mesh_overlay", "panel_width"]

# BGR colours
LEFT = (235, 140, 40)
RIGHT = (30, 140, 255)
CENTRE = (90, 210, 90)
GREY = np.array((128.0, 128.0, 128.0))
PANEL_BG = (28, 28, 28)
GRID = (70, 70, 70)
ACTION_BG = (110, 50, 20)  # the action label tag (dark blue)
MIN_CONF = 0.05
#: BGR colours of persons, by track id modulo its length (distinct hues, bright on video).
PALETTE = ((60, 200, 255), (255, 120, 60), (120, 230, 90), (200, 90, 230), (70, 90, 240),
           (230, 210, 70), (160, 160, 255), (90, 200, 200), (255, 170, 200), (40, 160, 120))  # fmt: skip
#: Metres the frame's width spans in the 3D panel when several persons are laid out side by side.
MULTI_SPAN_M = 2.4
DEFAULT_FLOOR_M = 0.9
VIEW_HEIGHT_M = 2.4


def panel_width(height: int) -> int:
    """Width of the 3D panel for a video of this height (square panel)."""
    return int(height)


def _side_colours(js: JointSet | None, n: int) -> np.ndarray:
    col = np.tile(np.array(CENTRE, np.float64), (n, 1))
    if js is not None and js.num_joints == n:
        col[list(js.left)] = LEFT
        col[list(js.right)] = RIGHT
    return col


def person_colour(track_id: int) -> tuple[int, int, int]:
    """The BGR colour of a track id (stable across renders)."""
    return PALETTE[int(track_id) % len(PALETTE)]


def _edges(js: JointSet | None, n: int) -> list[tuple[int, int]]:
    return list(js.edges) if js is not None and js.num_joints == n else []


def _tag_size(text: str, scale: float) -> tuple[int, int]:
    """(width, height) in pixels of the tag :func:`_tag` draws."""
    th = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    pad = max(2, int(4 * scale))
    return w + 2 * pad, h + base + 2 * pad


def _tag(img: np.ndarray, text: str, org: tuple[int, int], scale: float, bg: tuple[int, int, int]) -> None:
    th = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    x, y = org
    pad = max(2, int(4 * scale))
    cv2.rectangle(img, (x, y), (x + w + 2 * pad, y + h + base + 2 * pad), bg, -1)
    cv2.putText(img, text, (x + pad, y + pad + h), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), th, cv2.LINE_AA)


#: Largest frame side rendered (16K); a bigger recorded size is a damaged file, not a video.
MAX_FRAME_SIDE = 16384


class OverlayRenderer:
    """Composes preview frames; usable per frame (e.g. for a live window) or via :func:`render_overlay`.

    width, height: size of the video frames (and of the 2D keypoint pixel space).
    joint_set: layout of the 2D keypoints. floor_m: ground height below the pelvis
    (camera y, metres) for the 3D panel.
    """

    def __init__(self, width: int, height: int, joint_set: str | JointSet, floor_m: float = DEFAULT_FLOOR_M) -> None:
        self.width, self.height = int(width), int(height)
        if not (0 < self.width <= MAX_FRAME_SIDE and 0 < self.height <= MAX_FRAME_SIDE):  # a damaged file's size
            raise HMError(f"invalid frame size {width}x{height} (each side 1 to {MAX_FRAME_SIDE} px)")
        try:
            self.js2d: JointSet | None = get_joint_set(joint_set)
        except ValueError:
            self.js2d = None
        self.panel = panel_width(self.height)
        self.out_w = self.width + self.panel + (self.width + self.panel) % 2
        self.out_h = self.height + self.height % 2
        size = min(self.width, self.height)
        self.thick = max(1, int(round(size / 220)))
        self.radius = self.thick + 2
        self.font = max(0.35, size / 900)
        # 3D view: orthographic, rotate about the vertical (camera y) axis, then tilt from above.
        az, el = math.radians(30.0), math.radians(20.0)
        ry = np.array([[math.cos(az), 0, math.sin(az)], [0, 1, 0], [-math.sin(az), 0, math.cos(az)]])
        rx = np.array([[1, 0, 0], [0, math.cos(el), -math.sin(el)], [0, math.sin(el), math.cos(el)]])
        self.view = rx @ ry
        self.scale3d = self.panel / VIEW_HEIGHT_M
        self.centre3d = np.array([self.panel / 2.0, self.panel * 0.45])
        self.floor = float(floor_m) if math.isfinite(floor_m) else DEFAULT_FLOOR_M
        self._grid = self._draw_grid()

    # ---------------------------------------------------------------- 3D panel

    def _project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = pts @ self.view.T
        uv = v[..., :2] * self.scale3d + self.centre3d
        return uv, v[..., 2]

    def _draw_grid(self) -> np.ndarray:
        img = np.empty((self.panel, self.panel, 3), np.uint8)
        img[:] = PANEL_BG
        ticks = np.arange(-1.5, 1.5001, 0.5)
        for t in ticks:
            for a, b in (((t, -1.5), (t, 1.5)), ((-1.5, t), (1.5, t))):
                seg = np.array([[a[0], self.floor, a[1]], [b[0], self.floor, b[1]]])
                uv, _ = self._project(seg)
                p, q = np.round(uv).astype(int)
                cv2.line(img, tuple(int(x) for x in p), tuple(int(x) for x in q), GRID, 1, cv2.LINE_AA)
        _tag(img, "3D", (4, 4), self.font, (60, 60, 60))
        return img

    def draw_3d(self, joints3d: np.ndarray | None) -> np.ndarray:
        """The 3D panel (panel x panel BGR) for one frame of (17, 3) metres (None/NaN: empty grid)."""
        img = self._grid.copy()
        if joints3d is None:
            return img
        j = np.asarray(joints3d, np.float64)
        if j.shape != (H36M17.num_joints, 3) or not np.isfinite(j[0]).all():
            _tag(img, "no 3D pose", (4, self.panel - int(40 * self.font) - 8), self.font, (40, 40, 160))
            return img
        self._skeleton_3d(img, j - j[0], _side_colours(H36M17, H36M17.num_joints))
        return img

    def draw_3d_persons(self, people: list[tuple[int, np.ndarray, float]]) -> np.ndarray:
        """The 3D panel with several persons: ``(track_id, joints3d (17, 3) m, x offset m)`` each,
        root-relative skeletons shifted by their offsets, far ones first, each in its colour
        with its id above its head. Persons without a finite pelvis are left out."""
        img = self._grid.copy()
        drawn = []
        for tid, j3, dx in people:
            j = np.asarray(j3, np.float64)
            if j.shape != (H36M17.num_joints, 3) or not np.isfinite(j[0]).all():
                continue
            rel = j - j[0] + np.array([dx, 0.0, 0.0])
            drawn.append((float(self._project(rel[:1])[1][0]), tid, rel))
        for _, tid, rel in sorted(drawn, key=lambda d: -d[0]):
            col = np.tile(np.array(person_colour(tid), np.float64), (H36M17.num_joints, 1))
            pix = self._skeleton_3d(img, rel, col)
            head = pix[H36M17.index("head")] if np.isfinite(rel[H36M17.index("head")]).all() else pix[0]
            _tag(img, f"#{tid}", (int(head[0]) - 10, max(0, int(head[1]) - int(40 * self.font) - 6)), self.font * 0.9,
                 person_colour(tid))  # fmt: skip
        return img

    def _skeleton_3d(self, img: np.ndarray, rel: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Draw root-relative joints (17, 3) with per-joint colours (17, 3) BGR; returns their pixels."""
        uv, depth = self._project(rel)
        ok = np.isfinite(uv).all(axis=1)
        pix = np.round(uv).astype(np.int64) if ok.all() else np.round(np.nan_to_num(uv)).astype(np.int64)
        bones = [(a, b) for a, b in H36M17.edges if ok[a] and ok[b]]
        bones.sort(key=lambda e: -(depth[e[0]] + depth[e[1]]))  # far (large depth) first
        th = self.thick + 1
        for a, b in bones:
            cv2.line(img, (int(pix[a, 0]), int(pix[a, 1])), (int(pix[b, 0]), int(pix[b, 1])),
                     tuple(float(c) for c in col[b]), th, cv2.LINE_AA)  # fmt: skip
        for i in np.argsort(-depth):
            if ok[i]:
                cv2.circle(img, (int(pix[i, 0]), int(pix[i, 1])), self.radius, tuple(float(c) for c in col[i]), -1, cv2.LINE_AA)
        return pix

    # ---------------------------------------------------------------- 2D overlay

    def draw_2d(self, frame: np.ndarray, xy: np.ndarray, conf: np.ndarray, detected: bool,
                track_id: int | None = None, label: str | None = None) -> None:  # fmt: skip
        """Draw the 2D skeleton onto ``frame`` (height x width BGR) in place. With ``track_id``
        the skeleton is in that person's colour with its id by the head, and an undetected
        person draws nothing (the "no person" tag is for one-person results); ``label`` (e.g.
        the person's action) follows the id in its tag."""
        if not detected:
            if track_id is None:
                _tag(frame, "no person", (6, 6), self.font, (30, 30, 200))
            return
        xy = np.asarray(xy, np.float64)
        conf = np.clip(np.nan_to_num(np.asarray(conf, np.float64)), 0.0, 1.0)
        n = xy.shape[0]
        ok = np.isfinite(xy).all(axis=1) & (conf >= MIN_CONF)
        pix = np.round(np.nan_to_num(xy)).astype(np.int64)
        if track_id is None:
            base = _side_colours(self.js2d, n)
        else:
            base = np.tile(np.array(person_colour(track_id), np.float64), (n, 1))
            if ok.any():
                top = int(np.argmin(np.where(ok, pix[:, 1], np.iinfo(np.int64).max)))
                lab = f"#{track_id}" + (f" {label}" if label else "")
                tw, th = _tag_size(lab, self.font)
                _tag(frame, lab, (int(np.clip(pix[top, 0] - tw // 2, 0, max(0, self.width - tw))),
                                  int(np.clip(pix[top, 1] - th - 2 * self.radius, 0, max(0, self.height - th)))),
                     self.font, person_colour(track_id))  # fmt: skip
        faded = GREY + (base - GREY) * conf[:, None]
        for a, b in _edges(self.js2d, n):
            if ok[a] and ok[b]:
                c = GREY + (base[b] - GREY) * min(conf[a], conf[b])
                cv2.line(frame, (int(pix[a, 0]), int(pix[a, 1])), (int(pix[b, 0]), int(pix[b, 1])),
                         tuple(float(x) for x in c), self.thick, cv2.LINE_AA)  # fmt: skip
        for i in np.flatnonzero(ok):
            cv2.circle(frame, (int(pix[i, 0]), int(pix[i, 1])), self.radius, tuple(float(x) for x in faded[i]), -1, cv2.LINE_AA)

    def draw_action(self, frame: np.ndarray, text: str | None) -> None:
        """The action label tag (e.g. "dance 82 %") at the bottom left of ``frame`` (the video
        half), in place; the text is made smaller to fit the width. None: nothing drawn."""
        if not text:
            return
        h, w = frame.shape[:2]
        scale = self.font * 1.2
        tw, th = _tag_size(text, scale)
        if tw > w - 12:
            scale = max(0.25, scale * (w - 12) / tw)
            tw, th = _tag_size(text, scale)
        _tag(frame, text, (6, max(0, h - th - 6)), scale, ACTION_BG)

    def compose(
        self,
        frame: np.ndarray | None,
        xy: np.ndarray,
        conf: np.ndarray,
        detected: bool,
        joints3d: np.ndarray | None,
        action: str | None = None,
    ) -> np.ndarray:
        """One output frame (out_h x out_w BGR). ``frame`` None or of another size: black / resized.
        ``action``: the action label text to show (None: none)."""
        out, left = self._canvas(frame)
        self.draw_2d(left, xy, conf, detected)
        self.draw_action(left, action)
        out[: self.height, self.width : self.width + self.panel] = self.draw_3d(joints3d)
        return out

    def compose_persons(
        self,
        frame: np.ndarray | None,
        people: list[tuple[int, np.ndarray, np.ndarray, bool, np.ndarray | None]],
        action: str | None = None,
        labels: dict[int, str | None] | None = None,
    ) -> np.ndarray:
        """One output frame with several persons: ``(track_id, xy (J, 2), conf (J,), detected,
        joints3d (17, 3) | None)`` each (see the module docstring for the layout). ``action``:
        one label for the frame; ``labels``: each person's label by track id, shown in its tag."""
        out, left = self._canvas(frame)
        layout = []
        for tid, xy, conf, det, j3 in people:
            self.draw_2d(left, xy, conf, det, track_id=tid, label=(labels or {}).get(tid))
            if det and j3 is not None:
                layout.append((tid, j3, self._x_offset(xy, conf)))
        if not any(p[3] for p in people):
            _tag(left, "no person", (6, 6), self.font, (30, 30, 200))
        self.draw_action(left, action)
        out[: self.height, self.width : self.width + self.panel] = self.draw_3d_persons(layout)
        return out

    def _x_offset(self, xy: np.ndarray, conf: np.ndarray) -> float:
        """Sideways place (m) of a person in the 3D panel: the mean x of its confident joints."""
        xy = np.asarray(xy, np.float64)
        ok = np.isfinite(xy).all(axis=1) & (np.asarray(conf) >= MIN_CONF)
        if not ok.any():
            return 0.0
        return float((xy[ok, 0].mean() / self.width - 0.5) * MULTI_SPAN_M)

    def compose_mesh(
        self,
        frame: np.ndarray | None,
        vertices: np.ndarray | None,
        faces: np.ndarray,
        camera: "Camera",
        detected: bool,
        joints3d: np.ndarray | None,
        style: str = "shaded",
        alpha: float = 0.6,
        colour: tuple[int, int, int] | None = None,
        action: str | None = None,
    ) -> np.ndarray:
        """One output frame with a mesh: ``vertices`` (V, 3) camera space (None: no mesh this
        frame) drawn over the video, ``joints3d`` (17, 3) in the 3D panel, ``action`` the
        action label text (None: none)."""
        from hmcli.render.mesh import MESH_COLOUR, draw_mesh

        out, left = self._canvas(frame)
        if vertices is not None:
            draw_mesh(left, vertices, faces, camera, style, MESH_COLOUR if colour is None else colour, alpha)
        if not detected:
            _tag(left, "no person", (6, 6), self.font, (30, 30, 200))
        self.draw_action(left, action)
        out[: self.height, self.width : self.width + self.panel] = self.draw_3d(joints3d)
        return out

    def compose_mesh_persons(
        self,
        frame: np.ndarray | None,
        people: list[tuple[int, np.ndarray | None, "Camera", np.ndarray | None]],
        faces: np.ndarray,
        style: str = "shaded",
        alpha: float = 0.6,
        action: str | None = None,
        labels: dict[int, str | None] | None = None,
    ) -> np.ndarray:
        """One output frame with several fitted persons: ``(track_id, vertices (V, 3) camera
        space | None (no valid fit this frame), camera, joints3d (17, 3) camera space | None)``
        each. Meshes are drawn far to near (mean vertex depth) in each person's colour, then
        each id tag ("#3", with its label from ``labels``) above its head; the 3D panel lays the
        fitted joints out as :meth:`compose_persons` does (sideways by the projected pelvis)."""
        from hmcli.render.mesh import draw_mesh

        out, left = self._canvas(frame)
        shown = [(tid, np.asarray(v, np.float32), cam, j3) for tid, v, cam, j3 in people if v is not None]
        depth = [float(np.nanmean(v[:, 2])) if v.size else 0.0 for _, v, _, _ in shown]
        for k in np.argsort(-np.nan_to_num(np.asarray(depth, np.float64), nan=np.inf), kind="stable"):
            tid, v, cam, _ = shown[k]
            draw_mesh(left, v, faces, cam, style, person_colour(tid), alpha)
        layout = []
        for tid, _, cam, j3 in shown:
            if j3 is None:
                continue
            j = np.asarray(j3, np.float64)                                   # (17, 3) camera space
            ok = np.isfinite(j).all(axis=1) & (j[:, 2] > 1e-6)
            if not ok.any():
                continue
            xy = cam.project(j)                                              # (17, 2) pixels
            self._id_tag(left, tid, xy, ok, (labels or {}).get(tid))
            layout.append((tid, j, self._x_offset(xy, ok.astype(np.float64))))
        if not shown:
            _tag(left, "no person", (6, 6), self.font, (30, 30, 200))
        self.draw_action(left, action)
        out[: self.height, self.width : self.width + self.panel] = self.draw_3d_persons(layout)
        return out

    def _id_tag(self, img: np.ndarray, tid: int, xy: np.ndarray, ok: np.ndarray, label: str | None) -> None:
        """``#<tid> <label>`` in the person's colour above the topmost of its points xy (J, 2) where ``ok``."""
        pix = np.round(np.nan_to_num(xy)).astype(np.int64)                   # (J, 2)
        top = int(np.argmin(np.where(ok, pix[:, 1], np.iinfo(np.int64).max)))
        lab = f"#{tid}" + (f" {label}" if label else "")
        tw, th = _tag_size(lab, self.font)
        _tag(img, lab, (int(np.clip(pix[top, 0] - tw // 2, 0, max(0, self.width - tw))),
                        int(np.clip(pix[top, 1] - th - 2 * self.radius, 0, max(0, self.height - th)))),
             self.font, person_colour(tid))  # fmt: skip

    def _canvas(self, frame: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """A black output frame and its left (video) part, with ``frame`` (resized) copied in."""
        out = np.zeros((self.out_h, self.out_w, 3), np.uint8)
        left = out[: self.height, : self.width]
        if frame is not None:
            if frame.shape[:2] != (self.height, self.width):
                frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            left[:] = frame[..., :3]
        return out, left


def _action_texts(actions: "ActionTrack | None", kp, n: int) -> list[str | None]:
    """The action label text of each of the n frames (all None without labels)."""
    if actions is None:
        return [None] * n
    from hmcli.render.labels import frame_times

    actions.check_frames(n)
    t = frame_times(kp.timestamps, n)
    return [actions.label_at(float(t[i]), i) for i in range(n)]


def _floor_from(joints3d: np.ndarray) -> float:
    """Median over frames of the lowest ankle (largest camera y) below the pelvis, metres."""
    j = np.asarray(joints3d, np.float64)
    if j.ndim != 3 or j.shape[1] != H36M17.num_joints:
        return DEFAULT_FLOOR_M
    ankles = [H36M17.index("left_ankle"), H36M17.index("right_ankle")]
    rel = j[:, ankles, 1] - j[:, :1, 1]
    with np.errstate(all="ignore"):
        low = np.nanmax(np.where(np.isfinite(rel), rel, -np.inf), axis=1)
    low = low[np.isfinite(low)]
    return float(np.median(low)) if low.size else DEFAULT_FLOOR_M


def _frames(video_path, n: int):
    """Yield n frames (None once the video runs out, or always without a video)."""
    if video_path is None:
        for _ in range(n):
            yield None
        return
    from hmcli.io.video import iter_frames

    count = 0
    for _, _, frame in iter_frames(video_path, max_frames=n):
        yield frame
        count += 1
    for _ in range(n - count):
        yield None


def render_overlay(
    result: Pose3DResult | MultiPose3DResult,
    video_path: str | os.PathLike | None,
    out_path: str | os.PathLike,
    on_frame: Callable[[int, int], None] | None = None,
    fps: float | None = None,
    actions: "ActionTrack | None" = None,
) -> int:
    """Write the side-by-side preview of ``result`` to ``out_path`` (MP4, atomic).

    One output frame per result frame, paired with the video's frames in order (frames past
    the end of the video, and all frames when ``video_path`` is None, are black). The
    video is resized to the result's width x height if needed. Output size:
    (width + height) x height, rounded up to even numbers. ``fps`` defaults to the
    result's frame rate (30 when unknown). ``on_frame(done, total)`` is called after each
    written frame. ``actions``: action labels to show on each frame
    (:func:`hmcli.render.labels.load_action_labels`). Returns the number of frames written.
    A :class:`MultiPose3DResult` draws every person (see the module docstring); one with a
    single person is drawn as a one-person result.
    """
    if isinstance(result, MultiPose3DResult):
        if result.num_persons == 1:
            result = result.persons[0]
        else:
            return _render_persons(result, video_path, out_path, on_frame, fps, actions)
    kp = result.kpts2d
    n = kp.num_frames
    if n == 0:
        raise HMError("the result has no frames to render")
    rate = _rate(fps, kp.fps)
    r = OverlayRenderer(kp.width, kp.height, kp.joint_set, floor_m=_floor_from(result.joints3d))
    j3 = np.asarray(result.joints3d)
    texts = _action_texts(actions, kp, n)
    frames = (r.compose(frame, kp.xy[i], kp.conf[i], bool(kp.detected[i]), j3[i], texts[i])
              for i, frame in enumerate(_frames(video_path, n)))  # fmt: skip
    _write_mp4(out_path, rate, (r.out_w, r.out_h), frames, n, on_frame)
    return n


def _render_persons(result: MultiPose3DResult, video_path, out_path, on_frame, fps, actions) -> int:
    mk = result.kpts2d
    n = mk.num_frames
    if n == 0:
        raise HMError("the result has no frames to render")
    rate = _rate(fps, mk.fps)
    j3 = result.joints3d  # (P, F, 17, 3)
    floor = _floor_from(j3.reshape(-1, *j3.shape[2:])) if j3.size else DEFAULT_FLOOR_M
    r = OverlayRenderer(mk.width, mk.height, mk.joint_set, floor_m=floor)
    ids = mk.track_ids.tolist()
    per_person = actions is not None and actions.kind == "persons"
    texts = [None] * n if per_person else _action_texts(actions, mk.person_or_empty(), n)
    own = {tid: _action_texts(actions.person(tid), mk.person_or_empty(), n) if actions.person(tid) else [None] * n
           for tid in ids} if per_person else {}  # fmt: skip

    def people(i: int):
        return [(ids[p], mk.xy[p, i], mk.conf[p, i], bool(mk.detected[p, i]), j3[p, i]) for p in range(len(ids))]

    frames = (r.compose_persons(frame, people(i), texts[i], {tid: own[tid][i] for tid in own})
              for i, frame in enumerate(_frames(video_path, n)))  # fmt: skip
    _write_mp4(out_path, rate, (r.out_w, r.out_h), frames, n, on_frame)
    return n


def render_mesh_overlay(
    result: "MeshResult | MultiMeshResult",
    video_path: str | os.PathLike | None,
    out_path: str | os.PathLike,
    vertices=None,
    style: str = "shaded",
    alpha: float = 0.6,
    colour: tuple[int, int, int] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    fps: float | None = None,
    actions: "ActionTrack | None" = None,
) -> int:
    """Write the preview of a fitted mesh to ``out_path`` (MP4, atomic), like :func:`render_overlay`.

    Left: the mesh drawn over the video with ``style`` (shaded, filled, wireframe), ``alpha``
    and ``colour`` (BGR; default :data:`hmcli.render.mesh.MESH_COLOUR`) on frames where
    ``result.valid``; right: the fitted keypoints ``result.joints3d`` root-relative.
    ``vertices``: (F, V, 3) camera-space vertices, anything indexable per frame (a numpy
    array or an open h5py dataset, read one frame at a time); default ``result.vertices``.
    ``actions``: action labels to show on each frame. Returns the number of frames written.

    A :class:`MultiMeshResult` with several persons draws each valid person's mesh in its
    colour (:func:`person_colour`; ``colour`` is not used), far ones first, with its id tag and
    its own action label when ``actions`` has one per person, and the 3D panel shows every
    person's fitted joints side by side (:meth:`OverlayRenderer.compose_mesh_persons`);
    ``vertices`` is then a list, one (F, V, 3) per person (default each person's
    ``vertices``). One with a single person is drawn as a one-person result.
    """
    from hmcli.render.mesh import STYLES
    from hmcli.types import MultiMeshResult

    if style not in STYLES:
        raise HMError(f"unknown mesh style {style!r}; choose one of: {', '.join(STYLES)}")
    if isinstance(result, MultiMeshResult):
        if vertices is not None and len(vertices) != result.num_persons:
            raise HMError(f"got vertices for {len(vertices)} persons but the result has {result.num_persons}")
        if result.num_persons > 1:
            return _render_mesh_persons(result, video_path, out_path, vertices, style, alpha, on_frame, fps, actions)
        result, vertices = result.persons[0], None if vertices is None else vertices[0]
    kp = result.lift.kpts2d
    n = kp.num_frames
    if n == 0:
        raise HMError("the result has no frames to render")
    verts = _checked_vertices(result, vertices, n)
    faces = np.asarray(result.faces)
    rate = _rate(fps, kp.fps)
    j3 = np.asarray(result.joints3d, np.float64)                        # (F, 17, 3) camera space
    valid = np.asarray(result.valid, bool)
    j3v = np.where(valid[:, None, None], j3, np.nan)
    r = OverlayRenderer(kp.width, kp.height, kp.joint_set, floor_m=_floor_from(j3v))
    texts = _action_texts(actions, kp, n)
    frames = (r.compose_mesh(frame, np.asarray(verts[i]) if valid[i] else None, faces, result.camera,
                             bool(kp.detected[i]), j3v[i], style, alpha, colour, texts[i])
              for i, frame in enumerate(_frames(video_path, n)))  # fmt: skip
    _write_mp4(out_path, rate, (r.out_w, r.out_h), frames, n, on_frame)
    return n


def _checked_vertices(result: "MeshResult", verts, n: int):
    """``verts`` (default ``result.vertices``), checked to be (n, V, 3) with the faces in range."""
    verts = result.vertices if verts is None else verts
    if verts is None:
        raise HMError("the mesh result holds no vertices to draw")
    faces = np.asarray(result.faces)
    if len(verts) != n or tuple(verts.shape[2:]) != (3,):
        raise HMError(f"mesh vertices have shape {tuple(verts.shape)}, expected ({n}, V, 3)")
    if faces.size and (faces.min() < 0 or faces.max() >= verts.shape[1]):
        raise HMError("mesh faces refer to vertices that do not exist")
    return verts


def _render_mesh_persons(result: "MultiMeshResult", video_path, out_path, vertices, style: str, alpha: float,
                         on_frame, fps, actions) -> int:  # fmt: skip
    first = result.persons[0]
    kp = first.lift.kpts2d
    n = kp.num_frames
    if n == 0:
        raise HMError("the result has no frames to render")
    verts = [_checked_vertices(m, None if vertices is None else vertices[p], n) for p, m in enumerate(result.persons)]
    faces = np.asarray(first.faces)
    valid = np.stack([np.asarray(m.valid, bool) for m in result.persons])                  # (P, F)
    j3 = np.stack([np.asarray(m.joints3d, np.float64) for m in result.persons])            # (P, F, 17, 3)
    j3 = np.where(valid[..., None, None], j3, np.nan)
    r = OverlayRenderer(kp.width, kp.height, kp.joint_set, floor_m=_floor_from(j3.reshape(-1, *j3.shape[2:])))
    ids = [int(t) for t in result.track_ids]
    per_person = actions is not None and actions.kind == "persons"
    texts = [None] * n if per_person else _action_texts(actions, kp, n)
    own = {tid: _action_texts(actions.person(tid), kp, n) if actions.person(tid) else [None] * n
           for tid in ids} if per_person else {}  # fmt: skip

    def people(i: int):
        return [(tid, np.asarray(verts[p][i]) if valid[p, i] else None, result.persons[p].camera,
                 j3[p, i] if valid[p, i] else None) for p, tid in enumerate(ids)]  # fmt: skip

    frames = (r.compose_mesh_persons(frame, people(i), faces, style, alpha, texts[i], {t: own[t][i] for t in own})
              for i, frame in enumerate(_frames(video_path, n)))  # fmt: skip
    _write_mp4(out_path, rate=_rate(fps, kp.fps), size=(r.out_w, r.out_h), frames=frames, n=n, on_frame=on_frame)
    return n


def _rate(fps: float | None, result_fps: float) -> float:
    rate = float(fps) if fps else result_fps
    return rate if math.isfinite(rate) and rate > 0 else 30.0


def _write_mp4(
    out_path: str | os.PathLike,
    rate: float,
    size: tuple[int, int],
    frames: Iterable[np.ndarray],
    n: int,
    on_frame: Callable[[int, int], None] | None,
) -> None:
    """Encode ``frames`` (n of them, size = (width, height)) as MP4 (mp4v) at ``out_path``, atomically."""
    with atomic_write(out_path) as tmp:
        tmp_mp4 = Path(tmp).with_suffix(".mp4")  # VideoWriter picks the container from the suffix
        try:
            writer = cv2.VideoWriter(str(tmp_mp4), cv2.VideoWriter_fourcc(*"mp4v"), rate, size)
            if not writer.isOpened():
                raise HMError(f"cannot write MP4 video {out_path} (OpenCV mp4v encoder unavailable)")
            try:
                for i, image in enumerate(frames):
                    writer.write(image)
                    if on_frame is not None:
                        on_frame(i + 1, n)
            finally:
                writer.release()
            os.replace(tmp_mp4, tmp)
        finally:
            if tmp_mp4.exists():
                tmp_mp4.unlink()
