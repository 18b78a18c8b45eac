"""Timing wrappers for a run: a detector that adds up the seconds spent detecting, and a frame
iterator that adds up the seconds spent decoding."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any


class TimedDetector:
    """A detector (created from its name on first use) that adds up the seconds spent in
    ``detect``; creating it lazily lets a missing camera fail before a slow detector starts."""

    def __init__(self, det: Any) -> None:
        self._spec, self._det, self.seconds = det, None, 0.0

    @property
    def det(self):
        if self._det is None:
            if isinstance(self._spec, str):
                from hmcli.detect.base import get_detector

                self._det = get_detector(self._spec)
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
