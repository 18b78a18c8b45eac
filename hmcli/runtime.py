"""Process-wide allocator setting for jobs that allocate the same large tensors repeatedly.

glibc serves every allocation above its mmap threshold (at most 32 MB by default) with a
fresh ``mmap`` and unmaps it on ``free``. A training step on long clips allocates and frees
hundreds of such activation tensors, and each new mapping is page-faulted and zeroed by the
kernel again: on a 2-core CPU that made a HumMUSS forward + backward at 1024 frames take
~20 s instead of ~12 s (DSTformer-Lite: ~20 s instead of ~15.5 s), and an offline pass over
3600 frames 35 s instead of 13 s. Raising the thresholds keeps freed blocks in the heap for
the next step to reuse.

The cost: the heap is never trimmed, so memory the process frees stays with it, and a job
whose large allocations keep changing size fragments it. ``hm bench streaming`` (B=32 KV
caches, recompute windows and recurrent states of many sizes, side by side) grew to the
machine's 24 GB and was killed with it: long-lived caches allocated between the transient
tensors pin the heap. A training step frees all of its activations before the next one, so
they coalesce again. The setting is therefore made only where that holds and was measured:
``hm train`` (:func:`hmcli.train.trainer.train`), ``hm bench train`` and
``hm bench throughput``.
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
