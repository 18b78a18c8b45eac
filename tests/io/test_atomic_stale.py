"""atomic_write's temporary files carry the writer's pid; a later write to the same destination
removes those whose writer is dead (kill -9 leaves them) and never those of a live writer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hmcli.io.atomic import HMError, _host_tag, atomic_write, remove_stale_temps


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temp_name_carries_the_writer_pid(tmp_path):
    out = tmp_path / "a.json"
    with atomic_write(out) as tmp:
        assert tmp.name.startswith(f".a.json.{os.getpid()}-{_host_tag()}.") and tmp.name.endswith(".tmp")
        tmp.write_text("{}")
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def test_dead_writers_temps_are_removed_live_ones_kept(tmp_path):
    out = tmp_path / "a.h5"
    dead = tmp_path / f".a.h5.{_dead_pid()}-{_host_tag()}.abc123.tmp"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".a.h5.{live_proc.pid}-{_host_tag()}.xyz789.tmp"
        other = tmp_path / f".b.h5.{_dead_pid()}.abc123.tmp"  # another destination's: not ours
        unrelated = tmp_path / ".a.h5.notapid.tmp"
        elsewhere = tmp_path / f".a.h5.{_dead_pid()}-{'0' * 8 if _host_tag() != '0' * 8 else '1' * 8}.abc123.tmp"
        for p in (dead, live, other, unrelated, elsewhere):
            p.write_bytes(b"partial")
        with atomic_write(out, "wb") as f:
            f.write(b"complete")
        assert out.read_bytes() == b"complete"
        assert not dead.exists()
        assert live.exists() and other.exists() and unrelated.exists()
        assert elsewhere.exists()  # another machine's writer: its pid means nothing here
    finally:
        live_proc.kill()
        live_proc.wait()
    assert remove_stale_temps(out) == [live]  # now that writer is dead too


def test_output_path_that_is_a_directory_is_a_clean_error(tmp_path):
    (tmp_path / "d.h5").mkdir()
    with pytest.raises(HMError, match="is a directory"):
        with atomic_write(tmp_path / "d.h5", "w") as f:
            f.write("x")
    assert os.listdir(tmp_path) == ["d.h5"]


def test_unwritable_folder_is_a_clean_error():
    with pytest.raises(HMError, match="cannot write to /proc"):
        with atomic_write("/proc/hm-test-output.json", "w") as f:
            f.write("x")
