"""Crashes lose nothing: ``hm lift``, ``hm detect``, ``hm mesh`` and ``hm train`` killed with
SIGKILL at several points leave no corrupt file at the final path (it is absent, or complete and
readable), a re-run succeeds and removes the dead writers' temporary files, ``hm train --resume``
after a kill reaches the weights of an uninterrupted run, and four processes writing one output
at once end with one complete file.

The kill points: from outside after a delay (start-up, reading, processing); from outside as soon
as the temporary output file appears (mid-write); and from inside (a wrapper that makes the
process SIGKILL itself) at the fsync of the finished temporary file, just before and just after
the ``os.replace`` that publishes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

# Runs hm in this process; HM_TEST_KILL=fsync:N / replace:N / after-replace:N makes it SIGKILL
# itself at the N-th call (a kill -9 at an exact point of the atomic write).
WRAPPER = r"""
import os, signal, sys
sys.path.insert(0, os.environ["HM_TEST_ROOT"])
import tests.cli.helpers  # registers the fake-test detector

point = os.environ.get("HM_TEST_KILL")
if point:
    what, n = point.split(":")
    n, calls = int(n), [0]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if what == "fsync":
        real_fsync = os.fsync

        def fsync(fd):
            calls[0] += 1
            if calls[0] == n:
                die()
            return real_fsync(fd)

        os.fsync = fsync
    else:
        real_replace = os.replace

        def replace(a, b):
            calls[0] += 1
            if calls[0] == n and what == "replace":
                die()
            r = real_replace(a, b)
            if calls[0] == n:
                die()
            return r

        os.replace = replace

from hmcli.cli.main import main

sys.argv = ["hm"] + sys.argv[1:]
main()
"""

KILLED = -signal.SIGKILL


def _env(kill: str | None = None) -> dict:
    env = {**os.environ, "HM_TEST_ROOT": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("HM_TEST_KILL", None)
    env.pop("HM_DEBUG", None)
    if kill:
        env["HM_TEST_KILL"] = kill
    return env


def hm(args, cwd, kill: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRAPPER, *map(str, args)], cwd=cwd, env=_env(kill),
                          capture_output=True, text=True, timeout=timeout)


def hm_start(args, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRAPPER, *map(str, args)], cwd=cwd, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_after(args, cwd, seconds: float) -> int:
    p = hm_start(args, cwd)
    try:
        p.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    return p.wait(timeout=60)


def kill_when_temp_appears(args, cwd, out: Path, timeout: float = 120) -> int:
    """SIGKILL as soon as a temporary file for ``out`` shows up (the write is under way)."""
    p = hm_start(args, cwd)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < timeout:
        if any(n.startswith(f".{out.name}.") and n.endswith(".tmp") for n in os.listdir(out.parent)):
            p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.0005)
    return p.wait(timeout=60)


def temps(out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out.parent) if n.startswith(f".{out.name}.") and n.endswith(".tmp"))


def check_kills(args, out: Path, cwd: Path, valid, delays=(1.0, 2.5)) -> dict:
    """Kill ``hm args`` at every point; after each, ``out`` is absent or valid. Then a re-run
    succeeds, ``out`` is valid and the dead writers' temporary files are gone."""
    outcomes = {}
    for kill in ("fsync:1", "replace:1", "after-replace:1"):
        if out.exists():
            out.unlink()
        r = hm(args, cwd, kill=kill)
        assert r.returncode == KILLED, (kill, r.returncode, r.stderr)
        outcomes[kill] = out.exists()
        if out.exists():
            valid(out)
        # the killed writer's temporary file is left; the previous dead writer's was removed by this one
        assert len(temps(out)) == (0 if kill == "after-replace:1" else 1), (kill, temps(out))
    assert outcomes["fsync:1"] is False and outcomes["replace:1"] is False  # killed before the rename
    assert outcomes["after-replace:1"] is True  # killed after it: the complete file is there
    for d in delays:
        rc = kill_after(args, cwd, d)
        if out.exists():
            valid(out)
        outcomes[f"after {d} s"] = rc
    if out.exists():
        out.unlink()
    outcomes["at temp"] = kill_when_temp_appears(args, cwd, out)
    if out.exists():
        valid(out)
    left = temps(out)
    r = hm(args, cwd)
    assert r.returncode == 0, r.stderr
    valid(out)
    assert temps(out) == [], f"stale temporary files not removed by the re-run: {temps(out)} (before: {left})"
    return outcomes


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    from hmcli.bench.mesh import synthetic_clip
    from hmcli.io.h5 import write_keypoints, write_result
    from hmcli.mesh.api import load_body_model
    from hmcli.mesh.synthetic import write_synthetic_smpl
    from tests.cli.helpers import make_keypoints, tiny_checkpoint, write_video
    from tests.train.fixtures import make_mini_cmu

    d = tmp_path_factory.mktemp("crash")
    m = {"dir": d}
    m["ckpts"] = [tiny_checkpoint(d / f"tiny{i}.pt", seed=i) for i in range(4)]
    m["kp"] = d / "kp.h5"
    write_keypoints(m["kp"], make_keypoints(n=400))
    m["video"] = Path(write_video(d / "clip.mp4", n=60))
    models = d / "smpl"
    models.mkdir()
    write_synthetic_smpl(models / "SMPL_NEUTRAL.npz")
    m["smpl"] = models
    lifted, _, _ = synthetic_clip(load_body_model("smpl", models), 40, width=320, height=240)
    m["lift"] = d / "lift.h5"
    write_result(m["lift"], lifted)
    m["cmu"] = make_mini_cmu(d / "cmu")
    return m


def test_kill_9_during_hm_lift_loses_nothing(material, tmp_path):
    from hmcli.io.h5 import read_result

    out = tmp_path / "out.h5"

    def valid(p):
        assert read_result(p).joints3d.shape == (400, 17, 3)

    check_kills(["lift", material["kp"], "-m", material["ckpts"][0], "-o", out, "-q"], out, tmp_path, valid)


def test_kill_9_during_hm_detect_loses_nothing(material, tmp_path):
    from hmcli.io.h5 import read_keypoints

    out = tmp_path / "kp.h5"

    def valid(p):
        assert read_keypoints(p).num_frames == 60

    check_kills(["detect", material["video"], "--detector", "fake-test", "-o", out, "-q"], out, tmp_path, valid)


def test_kill_9_during_hm_mesh_loses_nothing(material, tmp_path):
    from hmcli.io.mesh_h5 import read_mesh

    out = tmp_path / "m.mesh.h5"

    def valid(p):
        res = read_mesh(p)
        assert res.num_frames == 40 and np.isfinite(res.pose).all()

    check_kills(["mesh", material["lift"], "--body-model", "smpl", "--model-dir", material["smpl"], "--iters", "10",
                 "-o", out, "-q"], out, tmp_path, valid, delays=(1.5,))


TRAIN = ["--data", None, "-q", "steps=8", "batch_size=2", "clip_min=8", "clip_max=12", "val_clip=16", "eval_every=4",
         "save_every=2", "warmup=2", "threads=1", "half_export=false", "model.dim=16", "model.depth=1", "model.state=8",
         "model.rep_dim=16", "model.expand=2.0"]


def _train_args(material, out):
    args = list(TRAIN)
    args[1] = material["cmu"]
    return ["train", "--out", out, *args]


def _weights(run: Path) -> dict:
    from hmcli.io.checkpoint import read_checkpoint

    ck = read_checkpoint(run / "last.pt")
    assert ck["train_state"]["step"] == 8
    return ck["state_dict"]


def test_kill_9_during_hm_train_then_resume_reaches_the_same_weights(material, tmp_path):
    from hmcli.io.checkpoint import read_checkpoint

    ref = tmp_path / "ref"
    r = hm(_train_args(material, ref), tmp_path)
    assert r.returncode == 0, r.stderr
    want = _weights(ref)

    for point in ("after 2 checkpoints", "replace:3"):
        run = tmp_path / point.replace(" ", "_").replace(":", "_")
        if point.startswith("after"):
            # from outside: once last.pt (step 2 or later) exists, mid-run
            p = hm_start(_train_args(material, run), tmp_path)
            t0 = time.time()
            while p.poll() is None and time.time() - t0 < 120:
                log = run / "metrics.jsonl"
                if (run / "last.pt").exists() and log.exists() and len(log.read_text().splitlines()) >= 5:
                    p.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            assert p.wait(timeout=60) == KILLED, "the run ended before it could be killed"
        else:
            r = hm(_train_args(material, run), tmp_path, kill=point)
            assert r.returncode == KILLED, (point, r.returncode, r.stderr)
        # whatever is at the final paths is complete
        if (run / "last.pt").exists():
            assert read_checkpoint(run / "last.pt")["train_state"]["step"] < 8
        if (run / "best.pt").exists():
            assert read_checkpoint(run / "best.pt")["state_dict"]
        r = hm([*_train_args(material, run), "--resume"], tmp_path)
        assert r.returncode == 0, (point, r.stderr)
        got = _weights(run)
        assert got.keys() == want.keys()
        for k in want:
            torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6, msg=f"{point}: {k}")
        assert not [n for n in os.listdir(run) if n.endswith(".tmp")], os.listdir(run)
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(1, 9)), steps  # the log after the resume: each step once


def test_four_concurrent_writers_end_with_one_complete_file(material, tmp_path):
    """Four hm lift processes (four different models) write the same output at once: every one
    succeeds (none removes another's live temporary file) and the result is exactly one of the
    four outputs, complete, with no temporary file left."""
    from hmcli.io.h5 import read_result

    from typer.testing import CliRunner

    from hmcli.cli.main import app

    refs = []
    for i, ck in enumerate(material["ckpts"]):  # each model's output, written alone (in this process)
        ref = tmp_path / f"ref{i}.h5"
        r = CliRunner().invoke(app, ["lift", str(material["kp"]), "-m", ck, "-o", str(ref), "-q"])
        assert r.exit_code == 0, r.stderr
        refs.append(read_result(ref).joints3d)
    assert all(not np.allclose(refs[0], x) for x in refs[1:])  # the four outputs differ
    shared = tmp_path / "shared"
    shared.mkdir()
    out = shared / "same.h5"
    procs = [hm_start(["lift", material["kp"], "-m", ck, "-o", out, "-q"], tmp_path) for ck in material["ckpts"]]
    codes = [p.wait(timeout=180) for p in procs]
    errs = [p.stderr.read() for p in procs]
    assert codes == [0, 0, 0, 0], errs
    got = read_result(out).joints3d
    assert sum(np.array_equal(got, x) for x in refs) == 1
    assert os.listdir(shared) == ["same.h5"]
