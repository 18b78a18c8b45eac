"""User-facing error type and crash-safe file writing.

``HMError`` is the one exception the CLI catches and prints as a single line
(no traceback): raise it for anything the user can fix (bad path, wrong file
type, missing optional dependency).

``atomic_write`` makes sure a half-written output file never replaces a good
one: data goes to a temporary file in the destination directory, is flushed
and fsync'ed, and is moved over the destination with ``os.replace`` only when
the ``with`` block finishes without an exception.

The temporary file is named ``.<name>.<pid>-<host>.<random>.tmp`` (``<host>``: 8 hex digits
of a hash of this machine's host name). A process killed with SIGKILL cannot delete its
temporary file, so each write to a destination first deletes the temporary files of that
destination that this machine's dead writers left (the pid in the name no longer running);
those of live writers (another process writing the same file right now) and those of other
machines sharing the folder (a batch spread over a cluster) are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["HMError", "atomic_write"]


class HMError(Exception):
    """An error with a one-line message meant for the user (no traceback)."""

    def __init__(self, message: str) -> None:
        # Keep the message on one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _host_tag() -> str:
    """8 hex digits naming this machine in temporary file names."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def remove_stale_temps(dest: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writers of ``dest`` left next to it (see the
    module docstring); returns the paths removed. Never touches a live process's file."""
    dest = Path(dest)
    directory = dest.parent if str(dest.parent) else Path(".")
    pattern = re.compile(rf"^\.{re.escape(dest.name)}\.(\d+)-{_host_tag()}\.[^.]+\.tmp$")  # this machine's only
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        if m is None or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            (directory / name).unlink()
            removed.append(directory / name)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str | None = None) -> Iterator:
    """Write ``path`` atomically.

    Without ``mode`` the context yields the temporary file's path (a ``Path``), for
    libraries that open files themselves (``h5py.File(tmp, "w")``, ...); note that
    ``np.savez(tmp)`` would append ``.npz`` to the name, so give NumPy an open file
    (``atomic_write(out, "wb")``). With ``mode`` ("w", "wb", ...) it yields an open file
    object instead::

        with atomic_write(out, "w") as f:
            json.dump(obj, f)

        with atomic_write(out) as tmp:
            with h5py.File(tmp, "w") as h5:
                ...

    On success the temporary file is fsync'ed and renamed over ``path``; on any
    exception it is deleted and ``path`` is left untouched.
    """
    if mode is not None and ("w" not in mode or any(c in mode for c in "rax")):
        raise ValueError(f"atomic_write needs a 'w' mode ('w', 'wb', 'w+b', ...), got {mode!r}")
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        raise HMError(f"output directory does not exist: {directory}")
    if dest.is_dir():
        raise HMError(f"output path is a directory: {dest}")
    remove_stale_temps(dest)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}-{_host_tag()}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise HMError(f"cannot write to {directory}: {e.strerror or e}") from None
    tmp = Path(tmp_name)
    try:
        if mode is None:
            os.close(fd)
            fd = -1
            yield tmp
        else:
            f = os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
            fd = -1
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
        if mode is None:
            # The caller's library has closed the file; flush it to disk.
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        if dest.exists():
            # Keep the permission bits of the file being replaced.
            with contextlib.suppress(OSError):
                os.chmod(tmp, dest.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            with contextlib.suppress(OSError):
                os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
        _fsync_dir(directory)
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
