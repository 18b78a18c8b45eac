"""Draw a triangle mesh over a video frame with OpenCV (painter's algorithm, no GPU).

:func:`draw_mesh` projects camera-space vertices with the video's pinhole camera, drops
triangles that face away from the camera (back-face culling: with counter-clockwise
winding seen from outside, a triangle is kept when its normal points towards the camera)
or have a vertex closer than ``NEAR_M`` to the camera plane (no clipping), sorts the rest
far-to-near by mean depth and fills them one by one with ``cv2.fillConvexPoly`` -- exact
painter's order, the only per-triangle Python work; everything else is vectorised. The
result is blended over the frame with ``alpha``; pixels the mesh does not cover are left
exactly as they were.

Styles:

* ``shaded``: Lambert shading with a light at the camera (intensity = ambient + (1 - ambient)
  * cos of the angle between the triangle's normal and the direction to the camera).
* ``filled``: one flat colour (a silhouette); triangle order does not matter, so no sort.
* ``wireframe``: the edges of the front-facing triangles (one ``cv2.polylines`` call); edges
  of front-facing triangles hidden behind other parts of the body are drawn too (no
  hidden-line removal).

Speed (a 13,718-vertex / 27,412-triangle body-like mesh 1.8 m tall, 3 m away, at 1280x720,
~13k triangles facing the camera, one CPU core): about 43 ms per frame for ``shaded``, 31 ms
for ``filled``, 24 ms for ``wireframe``; ~28 ms of ``shaded`` is the per-triangle fill loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from hmcli.types import Camera

__all__ = ["STYLES", "MESH_COLOUR", "NEAR_M", "draw_mesh"]

STYLES = ("shaded", "filled", "wireframe")
MESH_COLOUR = (235, 190, 150)  # BGR, light steel blue
NEAR_M = 0.05                  # triangles with a vertex closer than this (camera z, metres) are dropped
AMBIENT = 0.3
_MAX_PX = 1 << 20              # keep projected coordinates well inside int32


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays (np.cross is several times slower)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                     a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)  # fmt: skip


def _visible_triangles(v: np.ndarray, faces: np.ndarray, camera: "Camera", width: int, height: int):
    """Front-facing triangles in front of the camera that touch the image.

    v: (V, 3); faces: (Fc, 3). Returns (pixel coords (N, 3, 2), their min (2,) and max (2,),
    corner-mean centres (N, 3), normals (N, 3)), or None when nothing is visible.
    """
    # np.take is several times faster than fancy indexing for these gathers.
    a, b, c = np.take(v, np.ascontiguousarray(faces.T), axis=0)       # (Fc, 3) each
    n = _cross(b - a, c - a)                                          # (Fc, 3)
    keep = (n * a).sum(axis=1) < 0                                    # normal towards the camera
    near = v[:, 2] <= NEAR_M
    if near.any():
        keep &= ~np.take(near, faces, axis=0).any(axis=1)             # all corners in front
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return None
    pixv = camera.project(v)                                          # (V, 2)
    pix = np.take(pixv, np.take(faces, idx, axis=0), axis=0)          # (N, 3, 2)
    lo = np.minimum(np.minimum(pix[:, 0], pix[:, 1]), pix[:, 2])      # (N, 2)
    hi = np.maximum(np.maximum(pix[:, 0], pix[:, 1]), pix[:, 2])      # (N, 2)
    inside = (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] <= width - 1) & (lo[:, 1] <= height - 1)
    if not inside.any():
        return None
    if not inside.all():
        idx, pix, lo, hi = idx[inside], pix[inside], lo[inside], hi[inside]
    centre = (np.take(a, idx, axis=0) + np.take(b, idx, axis=0) + np.take(c, idx, axis=0)) * np.float32(1.0 / 3.0)
    if max(-lo.min(), hi.max()) > _MAX_PX:
        pix = np.clip(pix, -_MAX_PX, _MAX_PX)
        lo, hi = np.clip(lo, -_MAX_PX, _MAX_PX), np.clip(hi, -_MAX_PX, _MAX_PX)
    return pix, lo.min(axis=0), hi.max(axis=0), centre, np.take(n, idx, axis=0)


def draw_mesh(
    frame: np.ndarray,
    vertices_cam: np.ndarray,
    faces: np.ndarray,
    camera: "Camera",
    style: str = "shaded",
    colour: tuple[int, int, int] = MESH_COLOUR,
    alpha: float = 0.6,
) -> None:
    """Draw a mesh over ``frame`` in place.

    frame: (H, W, 3) uint8 BGR; vertices_cam: (V, 3) camera-space metres (x right, y down,
    z forward); faces: (Fc, 3) vertex ids, counter-clockwise seen from outside; camera:
    the video's pinhole camera (:class:`~hmcli.types.Camera`); style: ``shaded``,
    ``filled`` or ``wireframe``; colour: BGR; alpha: opacity in [0, 1].

    The frame is left untouched when the vertices hold a non-finite value (an invalid frame)
    or nothing faces the camera in front of it.
    """
    if style not in STYLES:
        raise ValueError(f"unknown mesh style {style!r}; choose one of: {', '.join(STYLES)}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    alpha = float(np.clip(alpha, 0.0, 1.0))
    v = np.asarray(vertices_cam, np.float32)                          # (V, 3)
    f = np.asarray(faces, np.intp)                                    # (Fc, 3)
    if alpha == 0.0 or v.ndim != 2 or v.shape[0] == 0 or f.size == 0 or not np.isfinite(v).all():
        return
    h, w = frame.shape[:2]
    vis = _visible_triangles(v, f, camera, w, h)
    if vis is None:
        return
    pix, lo, hi, centre, normals = vis                                # (N, 3, 2), (2,), (2,), (N, 3), (N, 3)
    # Region of interest: the mesh's bounding box inside the frame.
    x0, y0 = int(max(0, np.floor(lo[0]))), int(max(0, np.floor(lo[1])))
    x1, y1 = int(min(w, np.ceil(hi[0]) + 1)), int(min(h, np.ceil(hi[1]) + 1))
    roi = frame[y0:y1, x0:x1]
    over = roi.copy()
    pts = np.rint(pix - np.array([x0, y0], np.float32)).astype(np.int32)  # (N, 3, 2)
    base = np.array(colour, np.float64).reshape(3)
    if style == "wireframe":
        cv2.polylines(over, list(pts), True, tuple(float(c) for c in base), 1, cv2.LINE_AA)
    elif style == "filled":
        c = tuple(float(x) for x in base)
        for p in list(pts):
            cv2.fillConvexPoly(over, p, c)
    else:
        cos = -(normals * centre).sum(axis=1) / np.sqrt(
            (normals * normals).sum(axis=1) * (centre * centre).sum(axis=1) + 1e-30
        )  # (N,)
        shade = AMBIENT + (1.0 - AMBIENT) * np.clip(cos, 0.0, 1.0)
        cols = np.clip(np.round(shade[:, None] * base), 0, 255).astype(np.int64)  # (N, 3)
        order = np.argsort(-centre[:, 2], kind="stable")              # far first
        for p, c in zip(list(pts[order]), cols[order].tolist()):
            cv2.fillConvexPoly(over, p, c)
    if alpha >= 1.0:
        roi[:] = over
    else:
        roi[:] = cv2.addWeighted(over, alpha, roi, 1.0 - alpha, 0.0)
