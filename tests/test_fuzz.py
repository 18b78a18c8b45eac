"""The fuzz battery (scripts/fuzz.py) in CI: 1,000 bad inputs over every command plus every
loading path given a malicious pickle, run in-process in one worker (about a minute on 2 cores).

Every case must end as a clean one-line error (or, where the input may be usable, a complete
output): no traceback, no internal error, no partial or temporary file, no hang, no code run.
The longer run is ``python scripts/fuzz.py --cases 5000 --seed N``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = 1000
SEED = 20260


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("hm_fuzz", ROOT / "scripts" / "fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hm_fuzz"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


fuzz = _load_fuzz()


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    return fuzz.run_battery(CASES, SEED, tmp_path_factory.mktemp("fuzz"))


def _report(b) -> str:
    lines = [fuzz.table(b)]
    for f in b.failures[:25]:
        lines.append(f"#{f['index']} {f['command']} {f['outcome']} [{f['kind']}] {f['detail']}\n    hm {' '.join(map(str, f['argv']))}")
    return "\n".join(lines)


def test_battery_has_no_tracebacks_partial_files_hangs_or_code_execution(battery, capsys):
    counts = {cmd: c for cmd, c in battery.counts.items() if cmd != "control"}
    total = {o: sum(c[o] for c in counts.values()) for o in fuzz.OUTCOMES}
    n = sum(total.values())
    with capsys.disabled():  # the counts table, for the CI log
        print(f"\n{fuzz.table(battery)}\n{n} cases in {battery.seconds:.0f} s, worker restarts {battery.restarts}")
    assert n >= CASES
    assert {o: total[o] for o in fuzz.BAD} == {o: 0 for o in fuzz.BAD}, _report(battery)
    assert not battery.failures, _report(battery)
    # most cases are refused outright; the rest produced a complete output from a usable input
    assert total["clean"] >= 0.85 * n, _report(battery)


def test_battery_reaches_every_command(battery):
    import typer.main

    from hmcli.cli.main import app

    top = typer.main.get_command(app)
    expected = {name for name in top.commands} - {"mesh"} | {"mesh", "mesh-convert", "mesh-prior"}
    assert expected <= set(battery.counts), sorted(expected - set(battery.counts))
    for cmd in expected:
        assert sum(battery.counts[cmd].values()) >= 10, (cmd, battery.counts[cmd])


def test_controls_succeed_through_the_same_harness(battery):
    """Valid inputs run by the same worker succeed: the clean errors are not the harness failing."""
    assert battery.counts["control"]["accepted"] == sum(battery.counts["control"].values()) == 5


def test_every_loading_path_refuses_malicious_pickles(battery):
    """A pickle whose loading would create a marker file, given as --model (lift, mesh, action,
    eval), --init-from (lift and action training), a training config (pickle, YAML python tag), a
    pyskl file, an SMPL .pkl (--model-dir, mesh convert), a .pt checkpoint, and object arrays in
    keypoint / --init / --prior / SMPL .npz files: every one refused with one line, nothing run."""
    p = battery.pickles
    assert len(p) >= 50, sorted(p)
    assert set(p.values()) == {"clean"}, {k: v for k, v in p.items() if v != "clean"}
    commands = {k.split(":")[0] for k in p}
    assert {"lift", "mesh", "mesh-convert", "action", "eval", "train", "render", "export"} <= commands
    for path in ("--model", "--init-from", "-c ", "pyskl", "SMPL pkl", "--model-dir SMPL_NEUTRAL.pkl",
                 "yaml python tag", "--init .npz", "--prior .npz", "keypoint .npz"):
        assert any(path in k for k in p), path


def test_the_harness_sees_tracebacks_hangs_partial_files_and_code_execution(tmp_path):
    """The zeros above are measured: the same runner and classifier report an escaping exception and
    a dying worker (restarted), a hang (a case over its time limit), a partial file, a marker."""
    runner = fuzz.Runner(tmp_path / "capture")
    try:
        case = fuzz.Case(0, "info", "t", ["info", "--bogus"])
        r = runner(case.argv, tmp_path, timeout=60, selftest="raise")
        assert fuzz.classify(case, r, {}, {}, False)[0] == "traceback", r
        r = runner(case.argv, tmp_path, timeout=60, selftest="die")
        assert fuzz.classify(case, r, {}, {}, False)[0] == "traceback" and "died" in r["exc"], r
        assert runner.restarts == 1
        case = fuzz.Case(1, "info", "t", ["info"])
        r = runner(case.argv, tmp_path, timeout=0.05)  # hm info loads every checkpoint: longer than 50 ms
        assert fuzz.classify(case, r, {}, {}, False)[0] == "hang", r
        r = runner(["info", "--bogus"], tmp_path, timeout=60)  # the worker goes on after a timeout
        assert fuzz.classify(case, r, {}, {}, False) == ("clean", r["stderr"].strip())
    finally:
        runner.close()
    before = {str(tmp_path / "a"): (1, 1, 0)}
    after = {**before, str(tmp_path / ".o.h5.123.x.tmp"): (5, 2, 0)}
    assert fuzz.classify(case, {"rc": 3, "stderr": "hm: error: x\n"}, before, after, False)[0] == "partial"
    assert fuzz.classify(case, {"rc": 3, "stderr": "hm: error: x\n"}, before, before, True)[0] == "code-exec"
    assert fuzz.classify(case, {"rc": 0, "stderr": ""}, before, before, False)[0] == "wrong-accept"
    two = {"rc": 3, "stderr": "warning: overflow encountered in cast\nhm: error: x\n"}
    assert fuzz.classify(case, two, before, before, False)[0] == "unclear"
