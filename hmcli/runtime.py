"""Process-wide allocator setting for the ``hm`` command (training, benchmarks, long lifts).

glibc serves every allocation above its mmap threshold (at most 32 MB by default) with a
fresh ``mmap`` and unmaps it on ``free``. A training step on long clips allocates and frees
hundreds of such activation tensors, and each new mapping is page-faulted and zeroed by the
kernel again: on a 2-core CPU that made a HumMUSS forward + backward at 1024 frames take
~20 s instead of ~12 s (DSTformer-Lite: ~20 s instead of ~15.5 s). Raising the threshold
keeps freed blocks in the heap for the next step to reuse. The cost: memory the process
has freed stays with it (near its peak) instead of going back to the system.
The same churn made a one-pass lift of 3600 frames with the paper-size model take 35 s
instead of 13 s. ``hm`` sets it at start-up (``hmcli.cli.main``); library users can call
:func:`retain_freed_memory` themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Allocations up to this size come from the heap (and stay there when freed).
MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap is returned to the system only above this size.
TRIM_THRESHOLD = (1 << 31) - 1


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None


def retain_freed_memory() -> bool:
    """Keep large freed blocks in the heap for reuse (glibc only). Returns whether the
    allocator accepted the settings; False (and no change) elsewhere, e.g. macOS or musl."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return ok and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
