"""Multi-person BlazePose (33 landmarks) through MediaPipe Tasks' ``PoseLandmarker``.

The Tasks API needs a ``.task`` model bundle, which the ``mediapipe`` wheel does not ship. We
build it at run time from the two ``.tflite`` files the wheel does ship (the ones the
single-person backend uses): ``modules/pose_detection/pose_detection.tflite`` and
``modules/pose_landmark/pose_landmark_full.tflite``. The landmark model has no TFLite metadata,
and the Tasks graph refuses a float input without ``NormalizationOptions``, so we add them with
mediapipe's own ``MetadataWriter`` (mean 0, std 255: input in [0, 1], as the legacy graph
feeds it). The bundle goes into a cache directory (:func:`pose_cache_dir`), keyed by the
SHA-256 of the two inputs, and is written atomically; nothing is downloaded or committed.
See docs/multi-person.md, section 1.

BlazePose's detector sees the whole frame letterboxed to 224x224, so on a wide frame it misses
small persons. Frames wider than ``1.25 x height`` are therefore cut into overlapping tiles
``1.5 x height`` wide (:func:`tile_spans`), each with its own ``PoseLandmarker``; landmarks are
mapped back to the frame and persons seen by two tiles are merged (:func:`merge_duplicates`).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hmcli.io.atomic import HMError, atomic_write

__all__ = [
    "MediaPipeTasksPose",
    "TileSpan",
    "tile_spans",
    "keypoint_similarity",
    "merge_duplicates",
    "pose_cache_dir",
    "wheel_pose_models",
    "build_pose_bundle",
    "DETECTOR_MEMBER",
    "LANDMARKS_MEMBER",
]

# Member names the pose landmarker graph looks for inside a model asset bundle (they are in
# mediapipe's _framework_bindings binary).
DETECTOR_MEMBER = "pose_detector.tflite"
LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"
_DETECTOR_FILE = ("modules", "pose_detection", "pose_detection.tflite")
_LANDMARKS_FILE = ("modules", "pose_landmark", "pose_landmark_full.tflite")
_BUNDLE_FORMAT = 1  # bump when the metadata we add changes, so old cached bundles are not reused

Person = tuple[np.ndarray, np.ndarray]  # xy (33, 2) px, conf (33,)


# ------------------------------------------------------------------ the model bundle


def _mediapipe_root() -> Path:
    # Same message as the single-person backend.
    from hmcli.detect.mediapipe_pose import _mediapipe_dir

    return _mediapipe_dir()


def pose_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the built ``.task`` bundle lives: ``cache_dir``, else env ``HM_MEDIAPIPE_CACHE``,
    else ``$XDG_CACHE_HOME/hm/mediapipe`` (``~/.cache/hm/mediapipe`` when XDG_CACHE_HOME is unset),
    like the Anny cache (``~/.cache/hm/anny``)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("HM_MEDIAPIPE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "hm" / "mediapipe"


def wheel_pose_models(root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(pose detector, full landmark model) ``.tflite`` paths inside the installed mediapipe
    package (``root``: the package directory, found when None). HMError when one is missing."""
    base = Path(root) if root is not None else _mediapipe_root()
    det, lmk = base.joinpath(*_DETECTOR_FILE), base.joinpath(*_LANDMARKS_FILE)
    for p in (det, lmk):
        if not p.is_file():
            raise HMError(
                f"the mediapipe package has no {'/'.join(p.parts[-3:])} (expected at {p}); "
                "reinstall with pip install -c constraints.txt -e '.[mediapipe]'"
            )
    return det, lmk


def _bundle_key(det: bytes, lmk: bytes) -> str:
    h = hashlib.sha256()
    for part in (det, lmk):
        h.update(hashlib.sha256(part).digest())
    h.update(f"format{_BUNDLE_FORMAT}".encode())
    return h.hexdigest()


def _landmarks_with_metadata(lmk: bytes) -> bytes:
    """The landmark model with TFLite input metadata (NormalizationOptions mean 0, std 255)."""
    from mediapipe.tasks.python.metadata.metadata_writers import (
        metadata_writer,
        writer_utils,
    )

    writer = metadata_writer.MetadataWriter.create(bytearray(lmk))
    writer.add_general_info("pose_landmarks_detector", "BlazePose GHUM full, from the mediapipe wheel")
    writer.add_image_input(norm_mean=[0.0], norm_std=[255.0])
    for _ in writer_utils.get_output_tensor_types(bytearray(lmk)):
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def build_pose_bundle(cache_dir: str | os.PathLike | None = None, *, mediapipe_root: str | os.PathLike | None = None) -> Path:
    """Path of the ``pose_landmarker_full-<sha256>.task`` bundle built from the installed wheel's
    models; built (atomically) only when the cache has no bundle for these exact inputs."""
    det_path, lmk_path = wheel_pose_models(mediapipe_root)
    det, lmk = det_path.read_bytes(), lmk_path.read_bytes()
    out_dir = pose_cache_dir(cache_dir)
    out = out_dir / f"pose_landmarker_full-{_bundle_key(det, lmk)[:32]}.task"
    if out.is_file():
        return out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HMError(f"cannot create the model cache directory {out_dir} ({e.strerror}); set HM_MEDIAPIPE_CACHE") from None
    try:
        from mediapipe.tasks.python.metadata.metadata_writers import (
            model_asset_bundle_utils,
        )
    except ImportError as e:
        raise HMError(f"mediapipe is installed but cannot be imported ({e}); reinstall the '.[mediapipe]' extra") from None
    members = {DETECTOR_MEMBER: det, LANDMARKS_MEMBER: _landmarks_with_metadata(lmk)}
    with atomic_write(out) as tmp:
        model_asset_bundle_utils.create_model_asset_bundle(members, str(tmp))
    return out


# ------------------------------------------------------------------ tiling and merging


@dataclass(frozen=True)
class TileSpan:
    """Columns ``[x0, x1)`` of the frame that one landmarker sees (full height)."""

    x0: int
    x1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0


def tile_spans(width: int, height: int, *, max_aspect: float = 1.25, tile_aspect: float = 1.5,
               overlap: float = 0.25) -> list[TileSpan]:  # fmt: skip
    """Overlapping full-height tiles covering a ``width x height`` frame.

    One tile (the whole frame) when ``width <= max_aspect * height`` or when a tile would be as
    wide as the frame; otherwise ``n = ceil((W - tw) / ((1 - overlap) tw)) + 1`` tiles of width
    ``tw = round(tile_aspect * H)``, evenly spaced from the left edge to the right edge (so
    neighbours overlap by at least ``overlap * tw``)."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    tw = int(round(tile_aspect * height))
    if width <= max_aspect * height or tw >= width:
        return [TileSpan(0, width)]
    n = math.ceil((width - tw) / ((1.0 - overlap) * tw)) + 1
    starts = [int(round(k * (width - tw) / (n - 1))) for k in range(n)]
    return [TileSpan(x0, x0 + tw) for x0 in starts]


def _box_diag(xy: np.ndarray, ok: np.ndarray) -> float:
    """Diagonal of the box around the joints in ``ok`` (all joints if fewer than 2), >= 1 px."""
    pts = xy[ok] if ok.sum() >= 2 else xy  # (K, 2)
    ext = pts.max(0) - pts.min(0)
    return max(float(np.hypot(*ext)), 1.0)


def keypoint_similarity(xy_a: np.ndarray, conf_a: np.ndarray, xy_b: np.ndarray, conf_b: np.ndarray, *,
                        min_conf: float = 0.3, kappa: float = 0.1) -> float:  # fmt: skip
    """OKS-like similarity in [0, 1] of two skeletons ``xy (J, 2)``, ``conf (J,)``.

    Mean over the joints both see with ``conf >= min_conf`` (all joints when fewer than 3 are)
    of ``exp(-d^2 / (2 (kappa s)^2))``, ``d`` the joint distance and ``s`` the larger of the two
    skeletons' box diagonals: 1 for the same pose, about 0.6 at 10 % of the person's size
    apart, near 0 for different persons."""
    both = (conf_a >= min_conf) & (conf_b >= min_conf)  # (J,)
    if both.sum() < 3:
        both = np.ones_like(both)
    s = max(_box_diag(xy_a, conf_a >= min_conf), _box_diag(xy_b, conf_b >= min_conf))
    d2 = np.sum((xy_a[both] - xy_b[both]) ** 2, axis=-1)  # (K,)
    return float(np.mean(np.exp(-d2 / (2.0 * (kappa * s) ** 2))))


def merge_duplicates(people: list[tuple], *, threshold: float = 0.5, min_conf: float = 0.3) -> list[tuple]:
    """Drop persons found twice (e.g. by two overlapping tiles): of each group with
    :func:`keypoint_similarity` ``>= threshold``, keep the one with the higher mean confidence.
    Each person is a tuple starting ``(xy (J, 2), conf (J,), ...)`` (further items travel with
    it); the kept persons stay in their input order."""
    order = sorted(range(len(people)), key=lambda i: (-float(np.mean(people[i][1])), i))
    kept: list[int] = []
    for i in order:
        xy, conf = people[i][0], people[i][1]
        if all(keypoint_similarity(xy, conf, people[k][0], people[k][1], min_conf=min_conf) < threshold for k in kept):
            kept.append(i)
    return [people[i] for i in sorted(kept)]


# ------------------------------------------------------------------ the detector


class MediaPipeTasksPose:
    """Multi-person BlazePose: ``detect_multi`` returns up to ``max_persons`` persons per frame
    (per tile), each ``(xy (33, 2) pixels, conf (33,))``; conf is the landmark visibility, as in
    the single-person backend (:class:`~hmcli.detect.mediapipe_pose.MediaPipePose`), so the
    lifter sees the same inputs.

    Runs in VIDEO mode: frames must come in order; the Tasks graph tracks each found person
    between frames and runs the person detector again while fewer than ``max_persons`` are
    tracked. ``timestamp`` (seconds) becomes integer milliseconds, forced strictly increasing.
    ``tile``: None for automatic tiling of wide frames (see :func:`tile_spans`), False for one
    landmarker on the whole frame. Landmarkers are created on the first frame (their tiles
    depend on its size); a later frame of another size is refused.
    """

    joint_set = "blazepose33"

    def __init__(
        self,
        max_persons: int = 4,
        *,
        tile: bool | None = None,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        merge_threshold: float = 0.5,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if int(max_persons) < 1:
            raise HMError(f"max_persons must be at least 1, got {max_persons}")
        self.max_persons = int(max_persons)
        self.tile = tile
        self.merge_threshold = float(merge_threshold)
        self._conf = (float(min_detection_confidence), float(min_presence_confidence), float(min_tracking_confidence))
        _mediapipe_root()  # the one-line "not installed" error before anything else
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            import mediapipe
            from mediapipe.tasks.python import vision  # noqa: F401
        except ImportError as e:
            raise HMError(f"mediapipe is installed but cannot be imported ({e}); reinstall the '.[mediapipe]' extra") from None
        self.bundle = build_pose_bundle(cache_dir)
        self.name = f"mediapipe-{getattr(mediapipe, '__version__', '?')}/blazepose-full-tasks"
        self._size: tuple[int, int] | None = None
        self.tiles: list[TileSpan] = []
        self._landmarkers: list = []
        self._last_ms = -1
        self._closed = False
        self.last_world: list[np.ndarray | None] = []  # per person of the last frame: (33, 3) metres, hip-centred

    def _open(self, width: int, height: int) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        self.tiles = tile_spans(width, height) if self.tile is not False else [TileSpan(0, width)]
        det, pres, trk = self._conf
        for _ in self.tiles:
            opts = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(self.bundle)),
                running_mode=vision.RunningMode.VIDEO,
                num_poses=self.max_persons,
                min_pose_detection_confidence=det,
                min_pose_presence_confidence=pres,
                min_tracking_confidence=trk,
            )
            try:
                self._landmarkers.append(vision.PoseLandmarker.create_from_options(opts))
            except (RuntimeError, ValueError) as e:
                self.close()
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise HMError(f"mediapipe could not load the pose landmarker bundle {self.bundle} ({msg}); delete it to rebuild") from None
        self._size = (width, height)

    def detect_multi(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> list[Person]:
        if self._closed:
            raise RuntimeError("detector is closed")
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
        import mediapipe as mp

        h, w = frame_bgr.shape[:2]
        if self._size is None:
            self._open(w, h)
        elif self._size != (w, h):
            raise HMError(f"frame is {w}x{h} but earlier frames are {self._size[0]}x{self._size[1]}")
        ms = max(int(round(float(timestamp) * 1000.0)), self._last_ms + 1)
        self._last_ms = ms
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)  # (H, W, 3), once for all tiles
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []  # (xy, conf, world (33, 3) | None)
        for span, lm in zip(self.tiles, self._landmarkers, strict=True):
            crop = rgb if span.width == w else np.ascontiguousarray(rgb[:, span.x0 : span.x1])  # (H, tw, 3)
            result = lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop), ms)
            for k, pose in enumerate(result.pose_landmarks):
                arr = np.array([(p.x, p.y, p.visibility) for p in pose], np.float32)  # (33, 3) normalised to the tile
                xy = arr[:, :2] * np.array([span.width, h], np.float32) + np.array([span.x0, 0], np.float32)  # (33, 2) px
                conf = np.clip(np.nan_to_num(arr[:, 2], nan=0.0), 0.0, 1.0)  # (33,)
                world = None
                if k < len(result.pose_world_landmarks):
                    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks[k]], np.float32)  # (33, 3) m
                found.append((xy, conf, world))
        if len(self.tiles) > 1:
            found = merge_duplicates(found, threshold=self.merge_threshold)
        self.last_world = [wld for _, _, wld in found]
        return [(xy, conf) for xy, conf, _ in found]

    def detect(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> tuple[np.ndarray, np.ndarray, bool]:
        """Single-person view: the person with the highest mean confidence."""
        people = self.detect_multi(frame_bgr, timestamp)
        if not people:
            return np.zeros((33, 2), np.float32), np.zeros((33,), np.float32), False
        xy, conf = max(people, key=lambda pc: float(pc[1].mean()))
        return xy, conf, True

    def close(self) -> None:
        for lm in self._landmarkers:
            lm.close()
        self._landmarkers = []
        self._closed = True

    def __enter__(self) -> MediaPipeTasksPose:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
