"""The hm command keeps native libraries' writes to descriptor 2 off the terminal, not its own."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, sys
from hmcli.cli.native_logs import quiet_native_stderr
with quiet_native_stderr():
    os.write(2, b"native glog line\\n")
    print("hm: python line", file=sys.stderr)
os.write(2, b"after\\n")
"""


def _run(env_extra: dict[str, str]) -> str:
    import os

    env = {**os.environ, **env_extra}
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_native_writes_are_dropped_and_python_stderr_kept():
    assert _run({"HM_NATIVE_LOGS": ""}) == "hm: python line\nafter\n"


def test_hm_native_logs_keeps_them():
    assert _run({"HM_NATIVE_LOGS": "1"}) == "native glog line\nhm: python line\nafter\n"


def test_a_replaced_sys_stderr_is_left_alone():
    import io

    from hmcli.cli.native_logs import quiet_native_stderr

    buf = io.StringIO()
    old = sys.stderr
    sys.stderr = buf
    try:
        with quiet_native_stderr():
            print("captured", file=sys.stderr)
            assert sys.stderr is buf
    finally:
        sys.stderr = old
    assert buf.getvalue() == "captured\n"
