"""Our keypoint NPZ: arrays xy (P, F, J, 2), conf (P, F, J), detected (P, F), track_ids (P,),
timestamps (F,) and scalars width, height, joint_set (+ detector, source, source_hash); read
with ``allow_pickle=False``. A one-person ``Keypoints2D`` is written as P = 1, track id 0.
An NPZ without ``track_ids`` (written by hm before multi-person support, or by hand) has no
person axis: xy (F, J, 2), conf (F, J), detected (F,), and reads as one person with track
id 0."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.keypoints.base import FormatError, default_timestamps, guarded, image_size
from hmcli.io.persons import select_row
from hmcli.types import Keypoints2D, MultiKeypoints2D

_NPZ_ARRAYS = ("xy", "conf", "timestamps")
_NPZ_SCALARS = ("width", "height", "joint_set")


def save_keypoints_npz(kp: Keypoints2D | MultiKeypoints2D, path: str | os.PathLike) -> None:
    """Write ``kp`` (one person, or several with their track ids) as a compressed NPZ with no
    object arrays (atomically); read back with ``read_keypoints_npz``/``load_keypoints``."""
    from hmcli.io.persons import as_multi_keypoints

    mk = as_multi_keypoints(kp)
    fields = dict(
        xy=mk.xy.astype(np.float32),                # (P, F, J, 2)
        conf=mk.conf.astype(np.float32),            # (P, F, J)
        detected=mk.detected.astype(bool),          # (P, F)
        track_ids=mk.track_ids.astype(np.int64),    # (P,)
        timestamps=mk.timestamps.astype(np.float64),  # (F,)
        width=np.int64(mk.width),
        height=np.int64(mk.height),
        joint_set=np.str_(mk.joint_set),
        detector=np.str_(mk.detector),
        source=np.str_(mk.source or ""),
        source_hash=np.str_(mk.source_hash or ""),
    )
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **fields)


def _npz_str(z, key: str) -> str | None:
    if key not in z.files:
        return None
    a = z[key]
    if a.dtype.kind not in "US" or a.size != 1:
        raise FormatError(f"'{key}' is not a string")
    s = str(a.reshape(()).item())
    return s or None


def _npz_load(path: Path, fps, width, height) -> MultiKeypoints2D:
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise HMError(f"keypoint file not found: {path}") from None
    except ValueError as e:  # object arrays (pickles) are refused
        raise HMError(f"{path} is not a valid keypoint NPZ ({e})") from None
    except (OSError, EOFError) as e:
        raise HMError(f"{path} is not a readable NPZ file ({e})") from None
    if not hasattr(z, "files"):
        raise HMError(f"{path} is a single .npy array, not a keypoint NPZ")
    with z:
        missing = [k for k in ("xy", "conf", "joint_set") if k not in z.files]
        if missing:
            raise FormatError(f"missing arrays: {', '.join(missing)}")
        for key in ("xy", "conf", "timestamps", "width", "height", "track_ids"):
            if key in z.files and z[key].dtype.kind not in "biuf":  # complex, strings, records
                raise FormatError(f"'{key}' is not a real-valued array (dtype {z[key].dtype})")
        with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32 -> inf, no warning line
            xy = np.asarray(z["xy"], np.float32)
            conf = np.asarray(z["conf"], np.float32)
        multi = "track_ids" in z.files
        if multi:
            ids = np.asarray(z["track_ids"])
            if ids.ndim != 1 or ids.dtype.kind not in "iu":
                raise FormatError(f"'track_ids' is not a list of integers (shape {ids.shape}, dtype {ids.dtype})")
            ids = ids.astype(np.int64)                                # (P,)
            if xy.ndim != 4 or xy.shape[3] != 2 or conf.shape != xy.shape[:3] or xy.shape[0] != ids.shape[0]:
                raise FormatError(f"xy {xy.shape} / conf {conf.shape} / track_ids {ids.shape} are not "
                                  "(P, F, J, 2) / (P, F, J) / (P,)")  # fmt: skip
        else:  # no person axis: one person, track id 0
            if xy.ndim != 3 or xy.shape[2] != 2 or conf.shape != xy.shape[:2]:
                raise FormatError(f"xy {xy.shape} / conf {conf.shape} are not (F, J, 2) / (F, J)")
            xy, conf, ids = xy[None], conf[None], np.zeros(1, np.int64)  # (1, F, J, 2), (1, F, J)
        n, j = xy.shape[1], xy.shape[2]
        if n == 0 or j == 0:
            raise HMError(f"{path} contains no frames" if n == 0 else f"{path} has 0 joints per frame")
        ts = np.asarray(z["timestamps"], np.float64) if "timestamps" in z.files else default_timestamps(n, fps)
        if "detected" in z.files:
            det = np.asarray(z["detected"], bool)
            det = det if multi else det[None]                         # (P, F)
        else:
            det = conf.max(axis=2, initial=0.0) > 0                   # (P, F)
        fw = int(z["width"]) if "width" in z.files else None
        fh = int(z["height"]) if "height" in z.files else None
        w, h = image_size(fw, fh, width, height, path)
        return MultiKeypoints2D(
            xy=xy,
            conf=conf,
            detected=det,
            track_ids=ids,
            joint_set=_npz_str(z, "joint_set") or "",
            timestamps=ts,
            width=w,
            height=h,
            detector=_npz_str(z, "detector") or "unknown",
            source=_npz_str(z, "source"),
            source_hash=_npz_str(z, "source_hash"),
        )


def read_keypoints_npz_multi(path, fps: float | None = None, width: int | None = None,
                             height: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of our NPZ (see ``save_keypoints_npz``), with their track ids; an NPZ
    without ``track_ids`` is one person with track id 0. Loaded with ``allow_pickle=False``."""
    path = Path(path)
    return guarded("keypoint NPZ", path, _npz_load, path, fps, width, height)


def read_keypoints_npz(path, fps: float | None = None, width: int | None = None, height: int | None = None,
                       person: int | None = None) -> Keypoints2D:  # fmt: skip
    """One person of our NPZ. ``person``: a track id; None takes the only person and refuses
    files with none or several (HMError naming the ids)."""
    multi = read_keypoints_npz_multi(path, fps, width, height)
    return multi.person(select_row(multi.track_ids, person, Path(path)))
