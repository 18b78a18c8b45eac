"""Timing wrappers for a run: a detector that adds up the seconds spent detecting, and a frame
iterator that adds up the seconds spent decoding."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any


class TimedDetector:
    """A detector (created from its name on first use) that adds up the seconds spent in
    ``detect`` / ``detect_multi``; creating it lazily lets a missing camera fail before a slow
    detector starts. ``det`` may also be a zero-argument factory (a callable that is not a
    detector). ``detect_multi`` works with any detector (a one-person one gives 0 or 1 person)."""

    def __init__(self, det: Any) -> None:
        self._spec, self._det, self.seconds = det, None, 0.0

    @property
    def det(self):
        if self._det is None:
            if isinstance(self._spec, str):
                from hmcli.detect.base import get_detector

                self._det = get_detector(self._spec)
            elif callable(self._spec) and not hasattr(self._spec, "joint_set"):
                self._det = self._spec()
            else:
                self._det = self._spec
        return self._det

    @property
    def name(self) -> str:
        return self.det.name

    @property
    def joint_set(self) -> str:
        return self.det.joint_set

    def detect(self, frame, timestamp):
        t0 = time.perf_counter()
        try:
            return self.det.detect(frame, timestamp)
        finally:
            self.seconds += time.perf_counter() - t0

    def detect_multi(self, frame, timestamp):
        from hmcli.detect.base import as_multi

        t0 = time.perf_counter()
        try:
            return as_multi(self.det).detect_multi(frame, timestamp)
        finally:
            self.seconds += time.perf_counter() - t0

    def close(self) -> None:
        if self._det is not None:
            self._det.close()


class TimedFrames:
    """Passes ``(index, t, frame)`` items through, adding the seconds spent producing them
    (decoding) to ``seconds``."""

    def __init__(self, frames: Iterable) -> None:
        self._frames, self.seconds = frames, 0.0

    def __iter__(self) -> Iterator:
        it = iter(self._frames)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.seconds += time.perf_counter() - t0
                return
            self.seconds += time.perf_counter() - t0
            yield item
