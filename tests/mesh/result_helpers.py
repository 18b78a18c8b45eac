"""Small MeshResult objects and synthetic meshes for the I/O, render and CLI tests (no body model)."""

from __future__ import annotations

import numpy as np

from hmcli.types import Camera, MeshResult
from hmcli.types import Keypoints2D, Pose3DResult

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
JOINT_NAMES = tuple(f"j{k}" for k in range(len(SMPL_PARENTS)))


def outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip triangles of a star-shaped closed mesh so they wind counter-clockwise seen from outside."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.einsum("fi,fi->f", n, tri.mean(axis=1) - vertices.mean(axis=0)) >= 0
    return np.where(out[:, None], faces, faces[:, ::-1]).astype(np.int32)


def cube(centre=(0.0, 0.0, 3.0), size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """An axis-aligned cube: vertices (8, 3), faces (12, 3) wound outwards."""
    corners = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], np.float64) - 0.5
    quads = [(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    faces = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    v = corners * size + np.asarray(centre, np.float64)
    return v.astype(np.float32), outward(corners, faces)


def ellipsoid(centre, radii, nlat: int, nlon: int) -> tuple[np.ndarray, np.ndarray]:
    """A UV ellipsoid: nlon * (nlat - 1) + 2 vertices, 2 * nlon * (nlat - 1) triangles, wound outwards."""
    th = np.linspace(0, np.pi, nlat + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, nlon, endpoint=False)
    t, p = np.meshgrid(th, ph, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    unit = np.concatenate([[[0, 1, 0]], ring, [[0, -1, 0]]])
    faces = []
    for i in range(nlat - 2):
        for j in range(nlon):
            a, b = 1 + i * nlon + j, 1 + i * nlon + (j + 1) % nlon
            c, d = a + nlon, b + nlon
            faces += [(a, b, d), (a, d, c)]
    last = 1 + (nlat - 2) * nlon
    for j in range(nlon):
        faces += [(0, 1 + (j + 1) % nlon, 1 + j), (len(unit) - 1, last + j, last + (j + 1) % nlon)]
    faces = outward(unit, np.array(faces))
    return (unit * radii + np.asarray(centre)).astype(np.float32), faces


def body_like(z: float = 3.5) -> tuple[np.ndarray, np.ndarray]:
    """~13.7k vertices / ~27.4k triangles in six overlapping ellipsoids shaped like a standing
    person 1.8 m tall, camera space (y down), pelvis ``z`` metres in front of the camera."""
    parts = [((0, -0.25, z), (0.18, 0.32, 0.12)), ((0, -0.72, z), (0.11, 0.13, 0.11)),
             ((-0.3, -0.25, z - 0.1), (0.06, 0.33, 0.06)), ((0.3, -0.25, z - 0.1), (0.06, 0.33, 0.06)),
             ((-0.1, 0.5, z), (0.08, 0.45, 0.08)), ((0.1, 0.5, z + 0.05), (0.08, 0.45, 0.08))]  # fmt: skip
    verts, faces, off = [], [], 0
    for i, (c, r) in enumerate(parts):
        v, f = ellipsoid(c, r, 44, 62) if i == 0 else ellipsoid(c, r, 47, 48)  # 2668 / 2210 vertices
        verts.append(v)
        faces.append(f + off)
        off += len(v)
    return np.concatenate(verts), np.concatenate(faces)  # (13718, 3), (27412, 3)


def make_keypoints(f: int, width: int, height: int) -> Keypoints2D:
    rng = np.random.default_rng(0)
    detected = np.ones(f, bool)
    xy = rng.uniform(0, min(width, height), (f, 17, 2)).astype(np.float32)
    conf = np.full((f, 17), 0.9, np.float32)
    return Keypoints2D(xy, conf, "h36m17", np.arange(f) / 25.0, width, height, detected,
                       detector="synthetic", source=None)  # fmt: skip


def make_mesh_result(f: int = 4, with_vertices: bool = True, width: int = 320, height: int = 240,
                     size: float = 1.0, z: float = 3.0, invalid=()) -> MeshResult:  # fmt: skip
    """A MeshResult whose mesh is a cube moving right by 5 cm a frame, ``z`` metres in front of a
    camera with focal = width; frames in ``invalid`` are marked not valid."""
    rng = np.random.default_rng(1)
    kp = make_keypoints(f, width, height)
    j3 = rng.normal(0, 0.3, (f, 17, 3)).astype(np.float32)
    j3[:, 0] = 0
    lift = Pose3DResult(kp, j3, "tiny", "cafe")
    v0, faces = cube((0.0, 0.0, z), size)
    shift = np.zeros((f, 1, 3), np.float32)
    shift[:, 0, 0] = 0.05 * np.arange(f)
    vertices = v0[None] + shift                                       # (F, 8, 3)
    valid = np.ones(f, bool)
    valid[list(invalid)] = False
    k = len(SMPL_PARENTS)
    pose = rng.normal(0, 0.2, (f, k, 3)).astype(np.float32)
    transl = np.concatenate([0.05 * np.arange(f)[:, None], np.zeros((f, 1)), np.full((f, 1), z)], 1).astype(np.float32)
    return MeshResult(
        body_model="synthetic",
        gender="neutral",
        joint_names=JOINT_NAMES,
        parents=SMPL_PARENTS,
        pose=pose,
        betas=rng.normal(0, 1, 10).astype(np.float32),
        transl=transl,
        joints3d=(j3 + transl[:, None]).astype(np.float32),
        valid=valid,
        faces=faces,
        camera=Camera(focal=float(width), cx=width / 2.0, cy=height / 2.0),
        lift=lift,
        vertices=vertices.astype(np.float32) if with_vertices else None,
        quality={"mpjpe_mm": 12.5, "reproj_px": 3.25, "iterations": 200},
    )
