from __future__ import annotations

import subprocess
import sys


def test_warnings_print_as_one_line():
    """The hm entry point prints library warnings as 'warning: ...' lines, not as a file,
    line number and source excerpt."""
    code = ("import sys, warnings\n"
            "import hmcli.cli.main as m\n"
            "sys.argv = ['hm', '--help']\n"
            "m.app = lambda: warnings.warn('trial 16_08 found twice; using the first')\n"
            "m.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: trial 16_08 found twice; using the first\n"
