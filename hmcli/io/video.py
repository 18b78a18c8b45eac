"""Reading videos (files or webcams) frame by frame with OpenCV.

Every problem a user can cause (wrong path, a file that is not a video, an
empty or corrupt file, a webcam that does not open) raises ``HMError`` with a
one-line message.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

# Library code prints nothing: silence FFmpeg's own log lines ("moov atom not found")
# unless the user asked for them. Read by OpenCV when FFmpeg is first used.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from hmcli.io.atomic import HMError

__all__ = ["VideoInfo", "probe_video", "iter_frames", "read_ahead", "sha256_file", "DEFAULT_FPS"]

# Used when a container (or camera) reports no usable frame rate.
DEFAULT_FPS = 30.0

Source = str | os.PathLike | int
T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float  # seconds, num_frames / fps


def is_camera(source: Source) -> bool:
    """Whether ``source`` names a webcam: an int, or a digit string that is not an existing file."""
    if isinstance(source, bool):
        return False
    if isinstance(source, int):
        return True
    # "0" means camera 0 unless a file of that name exists.
    return isinstance(source, str) and source.isdigit() and not os.path.exists(source)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise HMError(f"video file not found: {path}")
    if path.is_dir():
        raise HMError(f"expected a video file, got a directory: {path}")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as e:
        raise HMError(f"cannot read video file {path}: {e.strerror or e}") from None
    if size == 0:
        raise HMError(f"video file is empty (0 bytes): {path}")


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's WARN and ERROR lines while opening (failures become HMError instead; a
    file FFmpeg has no decoder for printed two '[ERROR:...] cap_ffmpeg_impl' lines before it)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(old)


def _open(source: Source) -> tuple[cv2.VideoCapture, str]:
    """Open a capture; returns it with a display name. Raises HMError."""
    if is_camera(source):
        index = int(source)
        with _quiet_opencv():
            cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise HMError(f"cannot open camera {index} (is it connected and not in use?)")
        return cap, f"camera {index}"
    path = Path(source)
    _check_file(path)
    # Force the FFmpeg backend: other backends would read '%d' in a name as an
    # image-sequence pattern.
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise HMError(f"not a readable video file (unknown format or corrupt): {path}")
    return cap, str(path)


def _valid_fps(value: float) -> float | None:
    return float(value) if math.isfinite(value) and 0.0 < value < 1000.0 else None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate and frame count of a video file.

    The frame count comes from the container when it gives one, otherwise the
    frames are counted by decoding. Raises ``HMError`` for a missing file, a file
    that is not a video, or a video with no decodable frame.
    """
    if is_camera(path):
        raise HMError("probe_video needs a video file, not a camera index")
    cap, name = _open(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise HMError(f"video has no readable frames (empty or corrupt): {name}")
        height, width = frame.shape[:2]
        fps = _valid_fps(cap.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if n <= 0:
            n = 1
            while cap.grab():
                n += 1
    finally:
        cap.release()
    return VideoInfo(width=int(width), height=int(height), fps=fps, num_frames=n, duration=n / fps)


def sample_frames(path: str | os.PathLike, count: int, max_frames: int | None = None) -> list[np.ndarray]:
    """Up to ``count`` frames spread evenly over a video file (its first ``max_frames`` frames),
    read by seeking; frames that cannot be read are left out. For a quick look at a clip (e.g.
    how many people it shows) without decoding all of it. Raises ``HMError`` like
    :func:`probe_video` for a file that is not a video."""
    if count < 1:
        return []
    info = probe_video(path)
    n = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
    picks = sorted({int(round(i)) for i in np.linspace(0, max(n - 1, 0), min(count, max(n, 1)))})
    cap, _ = _open(path)
    out: list[np.ndarray] = []
    try:
        for i in picks:
            if i and not cap.set(cv2.CAP_PROP_POS_FRAMES, float(i)):
                continue
            ok, frame = cap.read()
            if ok and frame is not None:
                out.append(frame)
    finally:
        cap.release()
    return out


def iter_frames(
    source: Source, max_frames: int | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, timestamp_seconds, frame_bgr)`` for each decoded frame.

    ``source`` is a video path or a webcam index (an int, or a string of digits).
    File timestamps come from the container (``CAP_PROP_POS_MSEC``); when it
    gives none, or one that does not increase, the frame gets the previous
    timestamp plus one frame period (so a file without timestamps yields
    ``index / fps``). Camera timestamps are wall-clock seconds since the first
    frame. Decoding stops at ``max_frames``, at the end of the file, or at the
    first frame that cannot be decoded (a truncated file yields what it has).
    Raises ``HMError`` if not even the first frame can be decoded.
    """
    camera = is_camera(source)
    cap, name = _open(source)
    try:
        fps = _valid_fps(cap.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        period = 1.0 / fps
        last_t = -math.inf
        t0 = None
        index = 0
        while max_frames is None or index < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                if index == 0:
                    what = "camera gave no frame" if camera else "video has no readable frames (empty or corrupt)"
                    raise HMError(f"{what}: {name}")
                break
            if camera:
                now = time.monotonic()
                if t0 is None:
                    t0 = now
                t = now - t0
            else:
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not math.isfinite(t) or t <= last_t or (index > 0 and t == 0.0):
                    t = 0.0 if index == 0 else last_t + period
            last_t = t
            yield index, float(t), frame
            index += 1
    finally:
        cap.release()


def read_ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items`` produced ``depth`` ahead in a thread: decoding (OpenCV releases the GIL) overlaps
    the work done on each frame. The same items in the same order, and the same exceptions
    (raised where the item would have been); closing the iterator early stops the thread.
    ``depth`` < 1: no thread, ``items`` as they are."""
    if depth < 1:
        yield from items
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(entry: tuple) -> bool:
        """Queue ``entry`` unless the consumer has stopped (then never block on a full queue)."""
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as e:  # handed to the consumer, raised there
            put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    worker = threading.Thread(target=produce, name="hm-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                q.get_nowait()
        worker.join()


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk_size):
                h.update(block)
    except FileNotFoundError:
        raise HMError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise HMError(f"expected a file, got a directory: {path}") from None
    return h.hexdigest()
