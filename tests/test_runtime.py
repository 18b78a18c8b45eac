"""hmcli.runtime: large freed blocks stay in the heap after retain_freed_memory()."""

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, ctypes.util, sys
from hmcli.runtime import retain_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
applied = retain_freed_memory() if sys.argv[1] == "1" else False
block = bytearray(64 << 20)
mapped = libc.mallinfo2().hblkhd  # bytes in separate mmap'ed blocks
del block
free_in_heap = libc.mallinfo2().fordblks
print(int(applied), mapped, free_in_heap)
"""


def _glibc_with_mallinfo2() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallinfo2")
    except OSError:
        return False


def _probe(retain: bool) -> tuple[int, int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, "1" if retain else "0"], check=True, capture_output=True, text=True)
    applied, mapped, free = (int(v) for v in out.stdout.split())
    return applied, mapped, free


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc (mallinfo2) only")
def test_large_block_is_reused_from_the_heap():
    _, mapped, free = _probe(retain=False)
    assert mapped >= 64 << 20  # default: a 64 MB block is its own mapping, unmapped on free
    assert free < 64 << 20
    applied, mapped, free = _probe(retain=True)
    assert applied == 1
    assert mapped < 64 << 20  # now served from the heap ...
    assert free >= 64 << 20  # ... and kept there, free for the next allocation


def test_other_platforms_are_left_alone(monkeypatch):
    from hmcli import runtime

    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.retain_freed_memory() is False
