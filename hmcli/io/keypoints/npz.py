"""Our keypoint NPZ: arrays xy, conf, timestamps, detected and scalars width, height,
joint_set (+ detector, source, source_hash); read with ``allow_pickle=False``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.keypoints.base import FormatError, default_timestamps, guarded, image_size
from hmcli.types import Keypoints2D

_NPZ_ARRAYS = ("xy", "conf", "timestamps")
_NPZ_SCALARS = ("width", "height", "joint_set")


def save_keypoints_npz(kp: Keypoints2D, path: str | os.PathLike) -> None:
    """Write ``kp`` as a compressed NPZ with no object arrays (atomically); read back with
    ``read_keypoints_npz``/``load_keypoints``."""
    fields = dict(
        xy=kp.xy.astype(np.float32),
        conf=kp.conf.astype(np.float32),
        timestamps=kp.timestamps.astype(np.float64),
        detected=kp.detected.astype(bool),
        width=np.int64(kp.width),
        height=np.int64(kp.height),
        joint_set=np.str_(kp.joint_set),
        detector=np.str_(kp.detector),
        source=np.str_(kp.source or ""),
        source_hash=np.str_(kp.source_hash or ""),
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


def _npz_load(path: Path, fps, width, height) -> Keypoints2D:
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
        for key in ("xy", "conf", "timestamps", "width", "height"):
            if key in z.files and z[key].dtype.kind not in "biuf":  # complex, strings, records
                raise FormatError(f"'{key}' is not a real-valued array (dtype {z[key].dtype})")
        with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32 -> inf, no warning line
            xy = np.asarray(z["xy"], np.float32)
            conf = np.asarray(z["conf"], np.float32)
        if xy.ndim != 3 or xy.shape[2] != 2 or conf.shape != xy.shape[:2]:
            raise FormatError(f"xy {xy.shape} / conf {conf.shape} are not (F, J, 2) / (F, J)")
        n = xy.shape[0]
        if n == 0 or xy.shape[1] == 0:
            raise HMError(f"{path} contains no frames" if n == 0 else f"{path} has 0 joints per frame")
        ts = np.asarray(z["timestamps"], np.float64) if "timestamps" in z.files else default_timestamps(n, fps)
        det = np.asarray(z["detected"], bool) if "detected" in z.files else conf.max(axis=1, initial=0.0) > 0
        fw = int(z["width"]) if "width" in z.files else None
        fh = int(z["height"]) if "height" in z.files else None
        w, h = image_size(fw, fh, width, height, path)
        return Keypoints2D(
            xy=xy,
            conf=conf,
            joint_set=_npz_str(z, "joint_set") or "",
            timestamps=ts,
            width=w,
            height=h,
            detected=det,
            detector=_npz_str(z, "detector") or "unknown",
            source=_npz_str(z, "source"),
            source_hash=_npz_str(z, "source_hash"),
        )


def read_keypoints_npz(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """Our NPZ (see ``save_keypoints_npz``); loaded with ``allow_pickle=False``."""
    path = Path(path)
    return guarded("keypoint NPZ", path, _npz_load, path, fps, width, height)
