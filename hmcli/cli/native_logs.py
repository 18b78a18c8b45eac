"""Keep native libraries' log lines off the terminal.

MediaPipe (and the TensorFlow Lite runtime inside it) writes glog/absl lines such as "GPU support is
not available" or "Created TensorFlow Lite XNNPACK delegate" straight to file descriptor 2 from C++
threads, and no environment variable silences all of them. The ``hm`` command therefore points
descriptor 2 at the null device for the whole command while Python's own ``sys.stderr`` (hm's
progress, warnings and one-line errors) keeps writing to the real terminal through a duplicate of
the original descriptor. ``HM_NATIVE_LOGS=1`` keeps the native lines (for bug reports).

Only the command-line entry point does this; the Python API leaves the process's descriptors alone.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Set to 1 to let native libraries' log lines through to the terminal.
ENV_KEEP = "HM_NATIVE_LOGS"


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return False


@contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Inside: writes to descriptor 2 from native code are discarded; ``sys.stderr`` still reaches
    the original destination. Does nothing when disabled or with ``HM_NATIVE_LOGS=1``."""
    if not enabled or os.environ.get(ENV_KEEP, "") not in ("", "0"):
        yield
        return
    old = sys.stderr
    try:
        old.flush()
    except (AttributeError, ValueError, OSError):
        pass
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    swap = _writes_to_fd2(old)
    if swap:  # Python's stderr moves to the duplicate; the original object stays as it was
        sys.stderr = io.TextIOWrapper(io.FileIO(saved, "w", closefd=False), encoding=old.encoding,
                                      errors=getattr(old, "errors", None) or "backslashreplace",
                                      line_buffering=True, write_through=True)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        if swap:
            try:
                sys.stderr.flush()
            except (ValueError, OSError):
                pass
            sys.stderr = old
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
