#!/usr/bin/env python3
"""Fuzz battery for the ``hm`` command: bad inputs thrown at every command, with counted results.

    python scripts/fuzz.py --cases 5000 --seed 1          # the long run: prints the counts table
    python scripts/fuzz.py --cases 300 --only lift,mesh   # some commands only

``tests/test_fuzz.py`` loads this file and runs a fixed-seed share of it in CI.

Each case is a command line with one bad input in it: a truncated, empty or zero-frame video,
random bytes under an accepted extension, keypoint / result / mesh files (JSON, NPZ, HDF5,
CSV, NTU .skeleton, pyskl .pkl) with NaN, Inf, negative or huge values, wrong joint counts,
dtypes or shapes, missing fields or strings where numbers belong, object arrays that need
pickle, malicious pickles (checkpoints, configs, SMPL and pyskl files) whose loading would
create a marker file, unicode and spaced paths, missing and read-only output folders, the
output equal to the input, and bad option values. A few valid control cases must succeed.

Video cases detect with the test suite's synthetic detector (``--detector fake-test``, registered
by tests/cli/helpers.py), so a case costs milliseconds instead of a BlazePose run; what is under
test is the reading, checking and writing around the detector. The real BlazePose path has its
own tests (tests/detect/).

Cases run in-process in a worker subprocess (start-up once, not per case): the worker calls the
``hm`` entry point (``hmcli.cli.main.main``) with the case's argv, its file descriptors 0/1/2
redirected to files, and a per-case alarm. The parent keeps the worker's clock too: a worker
that does not answer in time is killed (a hang) and restarted, as is one that dies.

A case is counted as
  clean      - non-zero exit, exactly one stderr line 'hm: error: ...' that is not an internal
               error, no new or changed file anywhere in its folders (temp files included);
  warned     - as clean, but after 'warning:' lines about the data that explain the error (e.g.
               'subject 02: no ASF skeleton found, skipping' before 'no val sequences found');
               counted apart, not as a failure;
  accepted   - exit 0 where the input may legitimately be usable (e.g. NaN keypoints: frames
               flagged as missing): then the output must be complete and no temp file left;
  and otherwise as one of: traceback (an exception escaped), internal (exit 1, 'internal
  error'), unclear (not exactly one 'hm: error:' line), wrong-accept (exit 0 on input that
  must be refused), partial (a new or modified file after a failure, or a temp file left),
  hang (per-case timeout), code-exec (a marker file was created).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = ("lift", "detect", "mesh", "mesh-convert", "action", "render", "export", "eval", "train", "info",
            "bench", "mesh-prior")
BAD = ("traceback", "internal", "unclear", "wrong-accept", "partial", "hang", "code-exec")
OUTCOMES = ("clean", "warned", "accepted") + BAD


# ----------------------------------------------------------------------------- payloads


class Evil:
    """Pickles to a call of os.system that creates ``marker``: loading it runs code."""

    def __init__(self, marker: str | os.PathLike) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class EvilEval:
    def __init__(self, marker: str | os.PathLike) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


def evil_pickle(marker: Path, rng: random.Random) -> bytes:
    payload = (Evil if rng.random() < 0.5 else EvilEval)(marker)
    wrap = rng.choice(["bare", "dict", "list", "smpl"])
    obj = {"bare": payload, "dict": {"format": "hm.checkpoint", "state_dict": payload},
           "list": [1, 2, payload], "smpl": {"v_template": payload, "f": [[0, 1, 2]]}}[wrap]
    return pickle.dumps(obj, protocol=rng.choice([2, 4, 5]))


def evil_torch(marker: Path, rng: random.Random, path: Path) -> None:
    import torch

    payload = (Evil if rng.random() < 0.5 else EvilEval)(marker)
    obj = rng.choice([
        {"state_dict": payload},
        {"format": "hm.checkpoint", "version": 1, "arch": "hummuss", "config": {}, "state_dict": {"w": payload}},
        {"format": "hm.action", "version": 1, "x": payload},
        payload,
    ])
    torch.save(obj, path)


# ----------------------------------------------------------------------------- assets


@dataclass
class Assets:
    """Valid inputs that cases start from (made once, tiny)."""

    root: Path
    files: dict = field(default_factory=dict)

    def __getitem__(self, k: str) -> Path:
        return self.files[k]


def build_assets(root: Path) -> Assets:
    """Tiny checkpoint, videos, keypoint / result / mesh files, SMPL folder, mini CMU, configs."""
    import cv2

    sys.path.insert(0, str(ROOT))
    from hmcli.bench.mesh import synthetic_clip
    from hmcli.io.h5 import write_keypoints, write_result
    from hmcli.io.jsonio import write_result_json
    from hmcli.io.keypoints import save_keypoints_npz
    from hmcli.mesh.api import load_body_model
    from hmcli.mesh.synthetic import write_synthetic_smpl
    from tests.cli.helpers import make_keypoints, tiny_checkpoint, write_video
    from tests.train.fixtures import make_mini_cmu

    root.mkdir(parents=True, exist_ok=True)
    a = Assets(root)
    f = a.files
    f["ckpt"] = Path(tiny_checkpoint(root / "tiny.pt"))
    f["ckpt_causal"] = Path(tiny_checkpoint(root / "tiny-causal.pt", causal=True, seed=1))
    f["video"] = Path(write_video(root / "clip.mp4", n=8))
    f["video_avi"] = Path(write_video(root / "clip.avi", n=4))
    zero = root / "zero.mp4"
    vw = cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    vw.release()
    f["video_zero"] = zero
    kp = make_keypoints(n=12)
    f["kp_h5"] = root / "kp.h5"
    write_keypoints(f["kp_h5"], kp)
    f["kp_npz"] = root / "kp.npz"
    save_keypoints_npz(kp, f["kp_npz"])
    f["kp_json"] = root / "kp.json"
    f["kp_json"].write_text(_coco_json(kp))
    models = root / "smpl"
    models.mkdir()
    write_synthetic_smpl(models / "SMPL_NEUTRAL.npz")
    f["smpl_dir"] = models
    f["smpl_pkl"] = write_synthetic_smpl(root / "SMPL_NEUTRAL.pkl")
    body = load_body_model("smpl", models)
    lifted, _, _ = synthetic_clip(body, 8, width=320, height=240)
    f["lift_h5"] = root / "lift.h5"
    write_result(f["lift_h5"], lifted)
    f["lift_json"] = root / "lift.json"
    write_result_json(f["lift_json"], lifted)
    f["cmu"] = make_mini_cmu(root / "cmu", frames=240)
    f["config"] = root / "config.yaml"
    f["config"].write_text("model: hummuss\nsteps: 2\nbatch_size: 2\nclip_min: 8\nclip_max: 12\n")
    f["prior"] = ROOT / "models" / "pose-prior-gmm.npz"
    f["actions"] = root / "actions.json"
    f["empty_dir"] = root / "empty_dir"
    f["empty_dir"].mkdir()
    return a


def _coco_json(kp) -> str:
    """COCO-style keypoint JSON (one record per frame)."""
    import numpy as np

    frames = []
    for i in range(kp.num_frames):
        flat = np.concatenate([kp.xy[i], kp.conf[i][:, None]], axis=1).reshape(-1)
        frames.append({"image_id": i, "keypoints": [round(float(v), 2) for v in flat], "score": 0.9})
    return json.dumps({"width": kp.width, "height": kp.height, "fps": kp.fps, "annotations": frames})


def finish_assets(a: Assets, run) -> None:
    """Assets that need the CLI itself: a mesh result and an actions file (made with the worker)."""
    out = a.root / "mesh.h5"
    r = run(["mesh", str(a["lift_h5"]), "-o", str(out), "--body-model", "smpl", "--model-dir", str(a["smpl_dir"]),
             "--iters", "0", "-q"], a.root)
    if r.get("rc") != 0 or not out.exists():
        raise RuntimeError(f"cannot make the mesh asset: {r}")
    a.files["mesh_h5"] = out
    out = a.root / "actions.json"
    r = run(["action", str(a["lift_h5"]), "-o", str(out), "-q"], a.root)
    if r.get("rc") != 0 or not out.exists():
        raise RuntimeError(f"cannot make the actions asset: {r}")
    a.files["actions"] = out
    out = a.root / "kp_hm.json"
    r = run(["detect", str(a["video"]), "--detector", "fake-test", "-o", str(out), "-q"], a.root)
    if r.get("rc") != 0 or not out.exists():
        raise RuntimeError(f"cannot make the hm keypoint JSON asset: {r}")
    a.files["kp_hmjson"] = out


# ----------------------------------------------------------------------------- bad-file makers

JUNK_VALUES = [float("nan"), float("inf"), float("-inf"), -1.0, -1e308, 1e308, 1e40, 0, "abc", "", None, [], {},
               True, [[1, 2]], "1e3", -2**63, 2**70]


def _rand_bytes(rng: random.Random, n: int | None = None) -> bytes:
    n = rng.choice([1, 7, 64, 512, 4096]) if n is None else n
    return bytes(rng.getrandbits(8) for _ in range(n))


def mk_random(rng, path: Path, assets) -> None:
    path.write_bytes(_rand_bytes(rng))


def mk_empty(rng, path: Path, assets) -> None:
    path.write_bytes(b"")


def mk_text(rng, path: Path, assets) -> None:
    path.write_text(rng.choice(["hello\n", "0\n", "{}", "[]", "null", "1,2,3\n", "\x00" * 10, "é文件\n", "{" * 500, "[" * 100000, '{"a":' * 50000]))


def mk_truncated(src_key: str):
    def mk(rng, path: Path, assets) -> None:
        data = assets[src_key].read_bytes()
        path.write_bytes(data[: rng.randint(1, max(1, len(data) - 1))])
    mk.__name__ = f"truncated-{src_key}"
    return mk


def mk_flipped(src_key: str):
    """A valid file with a few bytes overwritten at random."""
    def mk(rng, path: Path, assets) -> None:
        data = bytearray(assets[src_key].read_bytes())
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        path.write_bytes(bytes(data))
    mk.__name__ = f"flipped-{src_key}"
    return mk


def mk_other(src_key: str):
    """A valid file of another kind under this name."""
    def mk(rng, path: Path, assets) -> None:
        shutil.copyfile(assets[src_key], path)
    mk.__name__ = f"other-{src_key}"
    return mk


def mk_dir(rng, path: Path, assets) -> None:
    path.mkdir()


def mk_missing(rng, path: Path, assets) -> None:
    pass


def mk_dangling(rng, path: Path, assets) -> None:
    path.symlink_to(path.parent / "nowhere.bin")


def mk_zero_video(rng, path: Path, assets) -> None:
    shutil.copyfile(assets["video_zero"], path)


def mk_pickle(rng, path: Path, assets) -> None:
    path.write_bytes(evil_pickle(path.parent / "MARKER", rng))


def mk_evil_torch(rng, path: Path, assets) -> None:
    evil_torch(path.parent / "MARKER", rng, path)


def _mutate_tree(rng: random.Random, obj, depth: int = 0):
    """Replace, delete or retype one random node of a JSON tree."""
    if isinstance(obj, dict) and obj:
        k = rng.choice(list(obj))
        op = rng.random()
        if op < 0.25:
            obj = dict(obj)
            del obj[k]
            return obj
        if op < 0.4 or depth > 6:
            return {**obj, k: rng.choice(JUNK_VALUES)}
        return {**obj, k: _mutate_tree(rng, obj[k], depth + 1)}
    if isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        op = rng.random()
        if op < 0.15:
            return obj[:i] + obj[i + 1:]
        if op < 0.25:
            return obj[: rng.randrange(len(obj))]
        if op < 0.35:
            return []
        if op < 0.55 or depth > 6:
            return obj[:i] + [rng.choice(JUNK_VALUES)] + obj[i + 1:]
        return obj[:i] + [_mutate_tree(rng, obj[i], depth + 1)] + obj[i + 1:]
    return rng.choice(JUNK_VALUES)


def mk_json_mutant(src_key: str):
    def mk(rng, path: Path, assets) -> None:
        text = assets[src_key].read_text()
        try:
            doc, lines = json.loads(text), False
        except ValueError:  # JSON lines
            doc, lines = [json.loads(line) for line in text.splitlines() if line.strip()], True
        for _ in range(rng.randint(1, 3)):
            doc = _mutate_tree(rng, doc)
        if lines and isinstance(doc, list):
            path.write_text("".join(json.dumps(r) + "\n" for r in doc))
        else:
            path.write_text(json.dumps(doc))  # NaN / Infinity written as such
    mk.__name__ = f"json-mutant-{src_key}"
    return mk


def _junk_array(rng: random.Random, like):
    import numpy as np

    a = np.asarray(like)
    kind = rng.choice(["nan", "inf", "neg", "huge", "shape", "dtype-str", "dtype-complex", "dtype-bool", "empty",
                       "scalar", "object", "joints", "int", "ndim"])
    if kind == "nan":
        b = a.astype(np.float64) if a.dtype.kind in "fiub" else np.zeros(a.shape)
        if b.size:
            b.reshape(-1)[rng.randrange(b.size)] = np.nan
            if rng.random() < 0.5:
                b[...] = np.nan
        return b
    if kind == "inf":
        b = np.full(a.shape, rng.choice([np.inf, -np.inf]))
        return b
    if kind == "neg":
        return -np.abs(a.astype(np.float64)) - 1e3 if a.dtype.kind in "fiub" else np.full(a.shape, -1.0)
    if kind == "huge":
        return np.full(a.shape, rng.choice([1e38, 1e300, 3e9]))
    if kind == "shape":
        return np.zeros(tuple(rng.randint(0, 5) for _ in range(rng.randint(1, 4))), np.float32)
    if kind == "dtype-str":
        return np.array(["abc"] * max(1, min(a.size, 4)))
    if kind == "dtype-complex":
        return np.zeros(a.shape, np.complex64)
    if kind == "dtype-bool":
        return np.ones(a.shape, bool)
    if kind == "empty":
        return np.zeros((0,) + a.shape[1:], a.dtype if a.dtype.kind != "O" else np.float32)
    if kind == "scalar":
        return np.array(rng.choice([0, -1, 1e30, np.nan]))
    if kind == "object":
        return np.array([None, "x", 1], dtype=object)
    if kind == "joints" and a.ndim >= 2:
        return np.zeros((a.shape[0], rng.choice([0, 1, 5, 16, 18, 133])) + a.shape[2:], np.float32)
    if kind == "int":
        return np.full(a.shape, 2**31 - 1, np.int64)
    return np.zeros(a.shape + (2,), np.float32)


def mk_npz_mutant(src_key: str):
    def mk(rng, path: Path, assets) -> None:
        import numpy as np

        with np.load(assets[src_key], allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        for _ in range(rng.randint(1, 2)):
            k = rng.choice(list(d))
            if rng.random() < 0.25:
                del d[k]
                if not d:
                    break
            else:
                d[k] = _junk_array(rng, d[k])
        if rng.random() < 0.1:
            d["evil"] = np.array([Evil(path.parent / "MARKER")], dtype=object)
        with open(path, "wb") as fh:
            np.savez(fh, **d)
    mk.__name__ = f"npz-mutant-{src_key}"
    return mk


def mk_h5_mutant(src_key: str):
    def mk(rng, path: Path, assets) -> None:
        import h5py
        import numpy as np

        shutil.copyfile(assets[src_key], path)
        with h5py.File(path, "r+") as h5:
            names: list[str] = []
            h5.visit(names.append)
            for _ in range(rng.randint(1, 2)):
                op = rng.random()
                if op < 0.2 and h5.attrs:
                    k = rng.choice(list(h5.attrs))
                    h5.attrs[k] = rng.choice(["", "hm.bogus", -1, 10**9, np.nan, "é文件"])
                    continue
                dsets = [n for n in names if n in h5 and isinstance(h5[n], h5py.Dataset)]
                if not dsets:
                    break
                n = rng.choice(dsets)
                old = h5[n][()]
                del h5[n]
                if op < 0.35:
                    continue  # a missing field
                new = _junk_array(rng, old)
                if new.dtype.kind == "O":
                    new = np.array([b"x"], dtype="S1")
                if new.dtype.kind == "U":
                    new = new.astype("S")
                h5[n] = new
    mk.__name__ = f"h5-mutant-{src_key}"
    return mk


def mk_yaml(rng, path: Path, assets) -> None:
    marker = path.parent / "MARKER"
    path.write_text(rng.choice([
        f"!!python/object/apply:os.system ['touch {marker}']\n",
        f"steps: !!python/object/apply:os.system ['touch {marker}']\n",
        f"model: !!python/name:os.system\n",
        "steps: abc\n", "steps: -5\n", "lr: .nan\n", "lr: -1\n", "batch_size: 0\n", "clip_min: 50\nclip_max: 10\n",
        "nonexistent_key: 1\n", "- a\n- b\n", "model: {dim: -3}\n", "model: nope\n", "model:\n  dim: abc\n",
        "steps: 1e30\n", "data: /nonexistent\n", "task: nope\n", "threads: -1\n", "precision: fp7\n",
        "[unclosed\n", "steps: [1, 2]\n", "42\n", "eval_every: 0\n", "save_every: -1\n",
    ]))


def mk_toml(rng, path: Path, assets) -> None:
    path.write_text(rng.choice(["steps = 'abc'\n", "[model\n", "lr = nan\n", "batch_size = -1\n", "x = 1\n",
                                "steps = 1e999\n", "model = 3\n"]))


def mk_skeleton(rng, path: Path, assets) -> None:
    lines = ["1", "1", "72057594037931101 0 1 1 1 1 0 0.1 0.2 2", str(rng.choice([25, 0, -1, 99, "x"]))]
    for _ in range(rng.choice([0, 3, 25])):
        vals = [rng.choice(["0.1", "nan", "inf", "-1e308", "abc", "1e400"]) for _ in range(12)]
        lines.append(" ".join(vals))
    path.write_text("\n".join(lines[: rng.randint(1, len(lines))]) + "\n")


def mk_pyskl(rng, path: Path, assets) -> None:
    import numpy as np

    from hmcli.action import readers  # noqa: F401  (its restricted unpickler is what is under test)

    ann = {"frame_dir": "a", "label": rng.choice([0, -1, "x", None, 10**9]), "total_frames": rng.choice([5, 0, -1]),
           "img_shape": rng.choice([(240, 320), (0, 0), None, "x"]),
           "keypoint": rng.choice([np.zeros((1, 5, 17, 2), np.float32), np.full((1, 5, 17, 2), np.nan, np.float32),
                                   np.zeros((1, 5, 3, 2)), np.zeros((5,)), "abc", None]),
           "keypoint_score": rng.choice([np.ones((1, 5, 17), np.float32), np.zeros((2,)), None])}
    if rng.random() < 0.3:
        del ann[rng.choice(list(ann))]
    doc = rng.choice([{"split": {"xsub_train": ["a"]}, "annotations": [ann]}, [ann], {"annotations": ann}, ann, 5])
    path.write_bytes(pickle.dumps(doc, protocol=4))


def mk_labels_csv(rng, path: Path, assets) -> None:
    rows = rng.choice([
        "file,label\nnope.h5,walk\n", "file,label\n", "label\nwalk\n", "a,b,c\n1,2,3\n", "file,label\n,\n",
        f"file,label\n{assets['kp_h5']},\n", f"file,label\n{path.parent / 'x.mp4'},run\n", "\x00\x01\x02",
        f"file,label,start,end\n{assets['kp_h5']},walk,abc,-1\n", f"file,label\n{assets['kp_h5']},walk\n" * 1,
    ])
    path.write_text(rows)


def mk_damaged_ckpt(rng, path: Path, assets) -> None:
    """torch.save'd dicts that are not (quite) checkpoints."""
    import torch

    sd = torch.load(assets["ckpt"], weights_only=True, map_location="cpu")
    choice = rng.choice(["nodict", "drop", "arch", "config", "shape", "nan", "format", "list", "tensor", "strkey"])
    if choice == "nodict":
        obj = torch.zeros(3)
    elif choice == "drop":
        obj = dict(sd)
        obj.pop(rng.choice(list(obj)))
    elif choice == "arch":
        obj = {**sd, "arch": rng.choice(["nope", "", 3])}
    elif choice == "config":
        obj = {**sd, "config": rng.choice([{"dim": -1}, {"dim": "x"}, {}, None, {"depth": 10**6}])}
    elif choice == "shape":
        st = dict(sd["state_dict"])
        k = rng.choice(list(st))
        st[k] = torch.zeros(3, 3)
        obj = {**sd, "state_dict": st}
    elif choice == "nan":
        obj = {**sd, "state_dict": {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                    for k, v in sd["state_dict"].items()}}
    elif choice == "format":
        obj = {**sd, "format": "other", "version": 99}
    elif choice == "list":
        obj = [1, 2, 3]
    elif choice == "tensor":
        obj = {"state_dict": torch.zeros(2)}
    else:
        obj = {1: 2}
    torch.save(obj, path)


def mk_zip(rng, path: Path, assets) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(rng.choice(["a.npy", "data.pkl", "archive/data.pkl", "x"]), _rand_bytes(rng, 64))


def mk_npz_objpickle(rng, path: Path, assets) -> None:
    import numpy as np

    with open(path, "wb") as fh:
        np.savez(fh, xy=np.array([Evil(path.parent / "MARKER")], dtype=object), conf=np.zeros((3, 17)))


def mk_smpl_dir(rng, path: Path, assets) -> None:
    """An SMPL model folder with a bad SMPL_NEUTRAL file."""
    import numpy as np

    path.mkdir()
    name = rng.choice(["SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz"])
    f = path / name
    kind = rng.random()
    if kind < 0.3:
        f.write_bytes(evil_pickle(path.parent / "MARKER", rng) if name.endswith(".pkl") else b"")
        if name.endswith(".npz"):
            with open(f, "wb") as fh:
                np.savez(fh, v_template=np.array([Evil(path.parent / "MARKER")], dtype=object))
    elif kind < 0.5:
        f.write_bytes(_rand_bytes(rng))
    else:
        with np.load(assets["smpl_dir"] / "SMPL_NEUTRAL.npz", allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        k = rng.choice(list(d))
        if rng.random() < 0.3:
            del d[k]
        else:
            d[k] = _junk_array(rng, d[k])
        if d[k if k in d else next(iter(d))].dtype.kind == "O":
            d.pop(k, None)
        if name.endswith(".pkl"):
            f.write_bytes(pickle.dumps(d, protocol=2))
        else:
            with open(f, "wb") as fh:
                np.savez(fh, **d)


def mk_cmu_dir(rng, path: Path, assets) -> None:
    """A CMU layout folder with broken ASF / AMC files (or none)."""
    shutil.copytree(assets["cmu"], path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for p in rng.sample(files, rng.randint(1, min(4, len(files)))):
        op = rng.random()
        if op < 0.3:
            p.write_bytes(b"")
        elif op < 0.5:
            p.unlink()
        elif op < 0.8:
            lines = p.read_text().splitlines()
            i = rng.randrange(len(lines))
            lines[i] = rng.choice(["nan nan nan", "abc", ":DEGREES", "", "1e400 -1e400", lines[i] + " 1 2 3"])
            p.write_text("\n".join(lines))
        else:
            p.write_bytes(_rand_bytes(rng))
    if rng.random() < 0.15:
        shutil.rmtree(path / "amc")


# ----------------------------------------------------------------------------- cases


@dataclass
class Case:
    index: int
    command: str
    kind: str  # short description of the bad input
    argv: list[str]
    must_fail: bool = True
    stdin: Path | None = None
    outputs: list[Path] = field(default_factory=list)  # where the command would write
    timeout: float = 30.0


def _odd_name(rng: random.Random, ext: str) -> str:
    return rng.choice(["in", "my clip", "ünïcødé 文件", "a b  c", "-dash", "x" * 120, "e\u0301", "tab\there"]) + ext


EXT_VIDEO = (".mp4", ".avi", ".mov", ".mkv", ".webm", "")
EXT_KP = (".json", ".jsonl", ".npz", ".h5", ".hdf5")
EXT_ALL = EXT_VIDEO + EXT_KP + (".csv", ".pkl", ".pt", ".pth", ".yaml", ".yml", ".toml", ".skeleton", ".txt", ".bvh")
GENERIC = [mk_random, mk_empty, mk_text, mk_dir, mk_missing, mk_dangling]


def _bad_input_maker(rng: random.Random, ext: str, structured: list) -> tuple:
    """(maker, must_fail) for an input with extension ``ext``."""
    if structured and rng.random() < 0.5:
        return rng.choice(structured), False
    maker = rng.choice(GENERIC + [mk_truncated("video"), mk_truncated("kp_h5"), mk_truncated("lift_h5"),
                                  mk_other("video") if ext not in EXT_VIDEO else mk_other("kp_json"),
                                  mk_pickle, mk_zip])
    # a video cut short may still hold decodable frames: a usable (shorter) input; so is a video
    # under a name no reader claims (.jsonl is read as a video by hm mesh)
    usable = (maker.__name__ == "truncated-video" and ext in EXT_VIDEO) or (maker.__name__ == "other-video" and ext == ".jsonl")
    return maker, not usable


def _kp_structured(ext: str) -> list:
    if ext == ".json":
        return [mk_json_mutant("kp_json"), mk_json_mutant("lift_json"), mk_json_mutant("kp_hmjson")]
    if ext == ".jsonl":
        return [mk_json_mutant("kp_hmjson"), mk_truncated("kp_hmjson")]
    if ext == ".npz":
        return [mk_npz_mutant("kp_npz"), mk_npz_objpickle]
    if ext in (".h5", ".hdf5"):
        return [mk_h5_mutant("kp_h5"), mk_h5_mutant("lift_h5")]
    if ext in EXT_VIDEO:
        return [mk_truncated("video"), mk_flipped("video"), mk_zero_video, mk_truncated("video_avi")]
    return []


def make_case(i: int, seed: int, assets: Assets, work: Path, only: tuple[str, ...] | None = None) -> Case:
    """Case ``i`` of the battery with this seed; its files are written under ``work/<i>``."""
    rng = random.Random(seed * 1_000_003 + i)
    cmds = only or COMMANDS
    weights = {"lift": 4, "detect": 2, "mesh": 3, "mesh-convert": 1, "action": 2, "render": 2, "export": 2,
               "eval": 1, "train": 2, "info": 0.3, "bench": 0.7, "mesh-prior": 0.5}
    command = rng.choices(cmds, [weights[c] for c in cmds])[0]
    d = work / f"{i:05d}"
    d.mkdir(parents=True)
    return _CASES[command](i, rng, d, assets)


def _bad_file(rng, d: Path, assets, exts, structured_for=_kp_structured) -> tuple[Path, str, bool]:
    ext = rng.choice(exts)
    maker, must_fail = _bad_input_maker(rng, ext, structured_for(ext))
    name = _odd_name(rng, ext) if rng.random() < 0.3 else "in" + ext
    p = d / name
    maker(rng, p, assets)
    return p, f"{maker.__name__}{ext or '(no ext)'}", must_fail


def _outdir_trouble(rng, d: Path, inp: Path | None, ext: str) -> tuple[Path, str] | None:
    """Sometimes a bad output place instead of a bad input: missing folder, read-only folder,
    the input itself, an existing directory."""
    r = rng.random()
    if r > 0.35:
        return None
    kind = rng.choice(["missing-dir", "readonly-dir", "is-input", "is-dir"] if inp else ["missing-dir", "readonly-dir", "is-dir"])
    if kind == "missing-dir":
        return d / "no such dir" / f"out{ext}", kind
    if kind == "readonly-dir":
        if os.geteuid() == 0:  # root writes through permission bits: /proc refuses everyone
            return Path("/proc") / f"hm-fuzz-out{ext}", kind
        ro = d / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro / f"out{ext}", kind
    if kind == "is-input":
        return inp, kind
    (d / f"adir{ext}").mkdir()
    return d / f"adir{ext}", kind


def _opt(rng, name: str, bad: list) -> list[str]:
    return [name, str(rng.choice(bad))]


BAD_FLOAT = ["-1", "0", "nan", "inf", "-inf", "abc", "1e400", "", " ", "1,5"]
BAD_INT = ["-1", "0", "abc", "1.5", "99999999999999999999999", "", "nan"]


def _good_io(rng, d, assets, src_key: str) -> Path:
    p = d / ("good " + _odd_name(rng, assets[src_key].suffix) if rng.random() < 0.3 else "good" + assets[src_key].suffix)
    shutil.copyfile(assets[src_key], p)
    return p


def case_lift(i, rng, d, a) -> Case:
    ext = rng.choice([".h5", ".json"])
    out = d / f"out{ext}"
    r = rng.random()
    stdin = None
    if r < 0.55:
        inp, kind, must_fail = _bad_file(rng, d, a, EXT_VIDEO + EXT_KP)
        argv = ["lift", str(inp), "-m", str(a["ckpt"]), "--detector", "fake-test"]
        if rng.random() < 0.5:
            argv += ["--width", "320", "--height", "240"]
        if rng.random() < 0.2:
            argv += ["--causal", "-m", str(a["ckpt_causal"])]
    elif r < 0.65:
        inp, kind, must_fail = _bad_file(rng, d, a, [".json", ".jsonl", ".npz", ".h5"])
        stdin = inp
        argv = ["lift", "-", "-m", str(a["ckpt"])]
        kind = "stdin-" + kind
        must_fail = must_fail and inp.suffix != ".h5"
        if not inp.is_file():
            stdin = None  # an empty stdin instead
            kind, must_fail = "stdin-empty", True
    elif r < 0.8:
        inp = _good_io(rng, d, a, rng.choice(["kp_h5", "kp_npz", "video"]))
        mp, kind, _ = _bad_file(rng, d, a, [".pt", ".pth", ".ckpt", ""], structured_for=lambda e: [mk_damaged_ckpt, mk_evil_torch])
        argv = ["lift", str(inp), "-m", str(mp), "--detector", "fake-test"]
        kind, must_fail = "model-" + kind, "damaged_ckpt" not in kind  # e.g. NaN weights still load
        if rng.random() < 0.2:
            argv[3] = rng.choice(["no-such-model", "../../etc/passwd", "hummuss-small-cmu.md", "models"])
            kind = "model-name"
    else:
        inp = _good_io(rng, d, a, rng.choice(["kp_h5", "kp_npz", "video"]))
        opt = rng.choice(["--fps", "--max-frames", "--width", "--height", "--source", "--bogus", "--detector", "-o-ext",
                          "--max-persons", "--min-track-length", "--person"])
        argv = ["lift", str(inp), "-m", str(a["ckpt"]), "--detector", "fake-test"]
        if opt == "--fps":
            argv += _opt(rng, opt, BAD_FLOAT)
        elif opt in ("--max-frames", "--width", "--height"):
            argv += _opt(rng, opt, BAD_INT)
        elif opt in ("--max-persons", "--min-track-length"):
            argv += [opt, rng.choice(["-1", "0", "abc", "1.5", ""])]
        elif opt == "--person":  # a track id nobody has, or not an id
            argv += [opt, rng.choice(["-1", "abc", "99", "7"])]
        elif opt == "--source":
            argv = ["lift", "--source", rng.choice(["abc", "-1", "99", "0"])] + (["-m", str(a["ckpt"])] if rng.random() < .5 else [str(inp)])
        elif opt == "--detector":
            argv[-1] = rng.choice(["nope", "", "mmpose"])
        elif opt == "-o-ext":
            out = d / rng.choice(["out.txt", "out", "out.mp4", "out.npz", "out.H5x"])
        else:
            argv.append("--bogus")
        kind, must_fail = f"option{opt}", True
        if (opt == "--detector" and inp.suffix != ".mp4") or "99999999999999999999999" in argv:
            must_fail = False  # the detector is not used for keypoint files; a huge limit is a limit
        if opt == "--source" and "--source" in argv and argv[argv.index("--source") + 1] in ("99", "0"):
            argv += ["--max-frames", "2"]
    trouble = _outdir_trouble(rng, d, inp, ext) if kind.startswith(("option", "model")) is False and rng.random() < 0.5 else None
    if trouble is None and rng.random() < 0.15 and not kind.startswith("stdin"):
        trouble = _outdir_trouble(rng, d, None, ext)
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True  # every output trouble is refused, the input as output included
        inp = None
    argv += ["-o", str(out), "-q"]
    return Case(i, "lift", kind, argv, must_fail, stdin=stdin, outputs=[out])


def case_detect(i, rng, d, a) -> Case:
    ext = rng.choice([".h5", ".json", ".npz"])
    out = d / f"out{ext}"
    r = rng.random()
    if r < 0.7:
        inp, kind, must_fail = _bad_file(rng, d, a, EXT_VIDEO + (".json", ".h5"))
        must_fail = (must_fail or inp.suffix not in EXT_VIDEO) and "other-video" not in kind  # a video is a video
        argv = ["detect", str(inp), "--detector", "fake-test"]
    else:
        inp = _good_io(rng, d, a, "video")
        opt = rng.choice(["--max-frames", "--detector", "webcam", "-o-ext", "--max-persons", "--min-track-length"])
        argv = ["detect", str(inp), "--detector", "fake-test"]
        if opt == "--max-frames":
            argv += _opt(rng, opt, ["-1", "0", "abc", "1.5"])
        elif opt in ("--max-persons", "--min-track-length"):
            argv += [opt, rng.choice(["-1", "0", "abc", "1.5"])]
        elif opt == "--detector":
            argv[-1] = rng.choice(["nope", "", "fake"])
        elif opt == "webcam":
            argv[1] = rng.choice(["0", "99", "-1"])
        else:
            out = d / rng.choice(["out.txt", "out", "out.mp4"])
        kind, must_fail = f"option{opt}", True
    trouble = _outdir_trouble(rng, d, inp, ext)
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    argv += ["-o", str(out), "-q"]
    return Case(i, "detect", kind, argv, must_fail, outputs=[out])


def case_mesh(i, rng, d, a) -> Case:
    out = d / "out.mesh.h5"
    smpl = ["--body-model", "smpl", "--model-dir", str(a["smpl_dir"]), "--iters", "1"]
    r = rng.random()
    inp = None
    extra_out: list[Path] = []
    if r < 0.4:
        inp, kind, must_fail = _bad_file(rng, d, a, EXT_VIDEO + EXT_KP)
        argv = ["mesh", str(inp), *smpl, "-m", str(a["ckpt"]), "--detector", "fake-test", "--width", "320", "--height", "240"]
    elif r < 0.55:
        inp = _good_io(rng, d, a, "lift_h5")
        md = d / "models"
        mk_smpl_dir(rng, md, a)
        argv = ["mesh", str(inp), "--body-model", "smpl", "--model-dir", str(md), "--iters", "1"]
        kind, must_fail = "smpl-dir", False  # some value changes leave a usable model; pickles are refused
    elif r < 0.7:
        inp = _good_io(rng, d, a, "lift_h5")
        which = rng.choice(["--init", "--prior"])
        bad, kind, _ = _bad_file(rng, d, a, [".npz", ".pkl", ""], structured_for=lambda e: [mk_npz_mutant("prior"), mk_npz_objpickle])
        argv = ["mesh", str(inp), *smpl, which, str(bad)]
        kind, must_fail = which + "-" + kind, "mutant" not in kind
    elif r < 0.8:
        inp = _good_io(rng, d, a, "kp_h5")
        mp, kind, _ = _bad_file(rng, d, a, [".pt"], structured_for=lambda e: [mk_damaged_ckpt, mk_evil_torch])
        argv = ["mesh", str(inp), *smpl, "-m", str(mp)]
        kind, must_fail = "model-" + kind, "damaged_ckpt" not in kind
    else:
        inp = _good_io(rng, d, a, "lift_h5")
        argv = ["mesh", str(inp), *smpl]
        opt = rng.choice(["--fps", "--focal", "--lr", "--w-3d", "--w-prior", "--iters", "--max-frames", "--gender",
                          "--body-model", "--amass", "--obj", "-o-ext"])
        if opt in ("--fps", "--focal", "--lr", "--w-3d", "--w-prior"):
            val = rng.choice(["-1", "nan", "inf", "abc", "-inf"] + (["0"] if opt in ("--fps", "--focal", "--lr") else []))
            argv += [opt, val]
        elif opt in ("--iters", "--max-frames"):
            argv += [opt, rng.choice(["-1", "abc", "1.5"] + (["0"] if opt == "--max-frames" else []))]
        elif opt == "--gender":
            argv += [opt, rng.choice(["x", "", "NEUTRAL!"])]
        elif opt == "--body-model":
            argv[argv.index("--body-model") + 1] = rng.choice(["nope", "", "smplh"])
        elif opt == "--amass":
            t = _outdir_trouble(rng, d, inp, ".npz") or (d / "am.txt", "wrong-ext")
            argv += ["--amass", str(t[0])]
            extra_out.append(t[0])
            opt += "-" + t[1]
        elif opt == "--obj":
            blocker = d / "objfile"
            blocker.write_text("x")
            argv += ["--obj", str(rng.choice([blocker, d / "nodir" / "objs"]))]
        else:
            out = d / rng.choice(["out.npz", "out.txt", "out"])
        kind, must_fail = f"option{opt}", True
    trouble = _outdir_trouble(rng, d, inp, ".h5") if not kind.startswith("option") else None
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    argv += ["-o", str(out), "-q"]
    return Case(i, "mesh", kind, argv, must_fail, outputs=[out] + extra_out)


def case_mesh_convert(i, rng, d, a) -> Case:
    out = d / "out.npz"
    r = rng.random()
    if r < 0.8:
        inp, kind, _ = _bad_file(rng, d, a, [".pkl", ".npz", ""], structured_for=lambda e: [mk_pickle, mk_flipped("smpl_pkl"), mk_truncated("smpl_pkl")])
        must_fail = not kind.startswith("flipped")
    else:
        inp = _good_io(rng, d, a, "smpl_pkl")
        out = d / rng.choice(["out.txt", "out.pkl", "out"])
        kind, must_fail = "option-o-ext", True
    trouble = _outdir_trouble(rng, d, inp, ".npz")
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    return Case(i, "mesh-convert", kind, ["mesh", "convert", str(inp), "-o", str(out)], must_fail, outputs=[out])


def case_mesh_prior(i, rng, d, a) -> Case:
    out = d / "prior.npz"
    r = rng.random()
    if r < 0.6:
        data = d / "cmu"
        mk_cmu_dir(rng, data, a) if rng.random() < 0.6 else _bad_file(rng, d, a, ["", ".txt"])
        argv = ["mesh", "prior", "--data", str(data), "--components", "2"]
        kind, must_fail = "cmu-dir", False
    else:
        argv = ["mesh", "prior", "--data", str(a["cmu"])]
        opt = rng.choice(["--components", "--fps"])
        argv += _opt(rng, opt, BAD_INT if opt == "--components" else BAD_FLOAT)
        kind, must_fail = "option" + opt, True
    return Case(i, "mesh-prior", kind, argv + ["-o", str(out)], must_fail, outputs=[out], timeout=60)


def case_action(i, rng, d, a) -> Case:
    out = d / "actions.json"
    r = rng.random()
    inp = None
    if r < 0.55:
        inp, kind, must_fail = _bad_file(rng, d, a, EXT_KP + (".mp4", ""),
                                         structured_for=lambda e: _kp_structured(e) if e not in EXT_VIDEO else [mk_truncated("video"), mk_zero_video])
        argv = ["action", str(inp), "--width", "320", "--height", "240", "--detector", "fake-test"]
    elif r < 0.75:
        inp = _good_io(rng, d, a, "lift_h5")
        mp, kind, _ = _bad_file(rng, d, a, [".pt"], structured_for=lambda e: [mk_damaged_ckpt, mk_evil_torch])
        argv = ["action", str(inp), "-m", str(mp)]
        kind, must_fail = "model-" + kind, "damaged_ckpt" not in kind
    else:
        inp = _good_io(rng, d, a, "lift_h5")
        opt = rng.choice(["--window", "--stride", "--topk", "--fps", "--max-frames", "-o-ext"])
        argv = ["action", str(inp)]
        if opt in ("--window", "--stride"):
            argv += [opt, rng.choice(["abc", "0s", "-1s", "", "1h", "nan", "0ms"])]
        elif opt in ("--topk", "--max-frames"):
            argv += _opt(rng, opt, ["0", "-1", "abc"])
        elif opt == "--fps":
            argv += _opt(rng, opt, BAD_FLOAT)
        else:
            out = d / rng.choice(["a.txt", "a.h5", "a"])
        kind, must_fail = "option" + opt, opt != "-o-ext"  # JSON under any name
    trouble = _outdir_trouble(rng, d, inp, ".json") if not kind.startswith("option") else None
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    argv += ["-o", str(out), "-q"]
    return Case(i, "action", kind, argv, must_fail, outputs=[out])


def case_render(i, rng, d, a) -> Case:
    out = d / "r.mp4"
    r = rng.random()
    inp = None
    if r < 0.45:
        inp, kind, must_fail = _bad_file(rng, d, a, [".h5", ".json", ".hdf5", ""],
                                         structured_for=lambda e: [mk_h5_mutant("lift_h5"), mk_h5_mutant("mesh_h5")] if e in (".h5", ".hdf5") else [mk_json_mutant("lift_json")] if e == ".json" else [])
        argv = ["render", str(inp)]
    elif r < 0.6:
        inp = _good_io(rng, d, a, "lift_h5")
        v, kind, _ = _bad_file(rng, d, a, EXT_VIDEO)
        argv = ["render", str(inp), "--video", str(v)]
        kind, must_fail = "video-" + kind, not kind.startswith(("flipped", "truncated-video"))
    elif r < 0.75:
        inp = _good_io(rng, d, a, "lift_h5")
        act, kind, must_fail = _bad_file(rng, d, a, [".json"], structured_for=lambda e: [mk_json_mutant("actions")])
        argv = ["render", str(inp), "--actions", str(act)]
        kind = "actions-" + kind
    elif r < 0.85:
        inp = _good_io(rng, d, a, "lift_h5")
        m, kind, must_fail = _bad_file(rng, d, a, [".h5"], structured_for=lambda e: [mk_h5_mutant("mesh_h5")])
        argv = ["render", str(inp), "--mesh", str(m)]
        kind = "mesh-" + kind
    else:
        inp = _good_io(rng, d, a, rng.choice(["lift_h5", "mesh_h5"]))
        opt = rng.choice(["--fps", "--mesh-alpha", "--mesh-style", "-o-ext", "none"])
        argv = ["render", str(inp)]
        if opt == "--fps":
            argv += _opt(rng, opt, BAD_FLOAT)
        elif opt == "--mesh-alpha":
            argv += _opt(rng, opt, ["-0.1", "1.5", "nan", "abc", "inf"])
        elif opt == "--mesh-style":
            argv += [opt, rng.choice(["nope", ""])]
        elif opt == "none":
            argv = ["render"]
        else:
            out = d / rng.choice(["r.txt", "r", "r.h5"])
        kind, must_fail = "option" + opt, True
    trouble = _outdir_trouble(rng, d, inp, ".mp4") if not kind.startswith("option") else None
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    argv += ["-o", str(out), "-q"]
    return Case(i, "render", kind, argv, must_fail, outputs=[out], timeout=60)


def case_export(i, rng, d, a) -> Case:
    fmt = rng.choice(["bvh", "csv", "json", "obj", "ply", "amass"])
    out = d / f"out.{'npz' if fmt == 'amass' else fmt}"
    if fmt == "obj":
        out = d / "objs"
    r = rng.random()
    inp = None
    if r < 0.75:
        inp, kind, must_fail = _bad_file(rng, d, a, [".h5", ".json", ".hdf5", ".npz", ""],
                                         structured_for=lambda e: [mk_h5_mutant("lift_h5"), mk_h5_mutant("mesh_h5")] if e in (".h5", ".hdf5") else [mk_json_mutant("lift_json")] if e == ".json" else [])
        if fmt in ("obj", "ply", "amass") and "lift" in kind:
            must_fail = True
    else:
        inp = _good_io(rng, d, a, rng.choice(["lift_h5", "mesh_h5", "lift_json"]))
        fmt = rng.choice(["nope", "", "BVH2", "obj" if inp.suffix == ".json" else "xyz"])
        kind, must_fail = "option--format", True
    trouble = _outdir_trouble(rng, d, inp, out.suffix)
    if trouble:
        out, k2 = trouble
        kind += "+out-" + k2
        must_fail = True
    argv = ["export", str(inp), "--format", fmt, "-o", str(out), "-q"]
    return Case(i, "export", kind, argv, must_fail, outputs=[out])


def case_eval(i, rng, d, a) -> Case:
    r = rng.random()
    if r < 0.4:
        mp, kind, _ = _bad_file(rng, d, a, [".pt", ""], structured_for=lambda e: [mk_damaged_ckpt, mk_evil_torch])
        argv = ["eval", str(mp), "--data", str(a["cmu"]), "--cameras", "1"]
        kind, must_fail = "model-" + kind, "damaged_ckpt" not in kind
    elif r < 0.7:
        data = d / "cmu"
        if rng.random() < 0.7:
            mk_cmu_dir(rng, data, a)
            kind, must_fail = "cmu-dir", False
        else:
            data, kind, must_fail = _bad_file(rng, d, a, ["", ".txt"])
        argv = ["eval", str(a["ckpt"]), "--data", str(data), "--cameras", "1"]
    else:
        argv = ["eval", str(a["ckpt"]), "--data", str(a["cmu"])]
        opt = rng.choice(["--split", "--fps", "--subsample", "--cameras", "--card"])
        if opt == "--split":
            argv += [opt, rng.choice(["nope", "", "TEST"])]
        elif opt == "--fps":
            argv += _opt(rng, opt, BAD_FLOAT)
        elif opt in ("--subsample", "--cameras"):
            argv += _opt(rng, opt, ["0", "-1", "abc"])
        else:
            argv += [opt, str(d / "nodir" / "card.md")]
        kind, must_fail = "option" + opt, True
    return Case(i, "eval", kind, argv, must_fail, timeout=60)


def case_train(i, rng, d, a) -> Case:
    out = d / "run"
    base = ["train", "--out", str(out), "--data", str(a["cmu"]), "-q", "steps=2", "batch_size=2", "clip_min=8",
            "clip_max=12", "val_clip=16", "model.dim=16", "model.depth=1", "model.state=8", "model.rep_dim=16",
            "threads=1", "eval_every=2", "save_every=2"]
    r = rng.random()
    if r < 0.3:
        c, kind, _ = _bad_file(rng, d, a, [".yaml", ".yml", ".toml", ".json", ".pkl", ""],
                               structured_for=lambda e: [mk_yaml] if e in (".yaml", ".yml") else [mk_toml] if e == ".toml" else [])
        argv = base + ["-c", str(c)]
        kind, must_fail = "config-" + kind, not any(k in kind for k in ("mk_yaml", "mk_toml", "mk_text", "mk_empty"))
    elif r < 0.45:
        c, kind, _ = _bad_file(rng, d, a, [".pt"], structured_for=lambda e: [mk_damaged_ckpt, mk_evil_torch])
        argv = base + ["--init-from", str(c)]
        kind, must_fail = "init-from-" + kind, "damaged_ckpt" not in kind
    elif r < 0.7:
        ext = rng.choice([".pkl", ".csv", ".skeleton", "", ".npz"])
        structured = {".pkl": [mk_pyskl, mk_pickle], ".csv": [mk_labels_csv], ".skeleton": [mk_skeleton]}.get(ext, [])
        data, kind, _ = _bad_file(rng, d, a, [ext], structured_for=lambda e: structured)
        argv = ["train", "--task", "action", "--data", str(data), "--out", str(out), "-q", "steps=2", "threads=1"]
        if rng.random() < 0.3:
            argv += ["--init-from", str(a["ckpt"])]
        kind, must_fail = "action-data-" + kind, True
    elif r < 0.8:
        data = d / "cmu"
        mk_cmu_dir(rng, data, a)
        argv = [x if x != str(a["cmu"]) else str(data) for x in base]
        kind, must_fail = "cmu-dir", False
    else:
        ov = rng.choice(["steps=abc", "steps=-1", "lr=nan", "lr=-1", "batch_size=0", "model.dim=-1", "nonexistent=1",
                         "=", "noequals", "clip_min=50", "model.dim=abc", "precision=fp7", "task=nope", "threads=-2",
                         "model=nope", "steps=1e400", "eval_every=0", "data=", "--task=nope", "--model=nope"])
        argv = base + [ov]
        kind, must_fail = "option-" + ov.split("=")[0], True
    if rng.random() < 0.15:
        t = _outdir_trouble(rng, d, None, "")
        if t:
            argv[argv.index("--out") + 1] = str(t[0] / "run" if t[1] != "is-dir" else t[0])
            kind += "+out-" + t[1]
            must_fail = must_fail or t[1] == "readonly-dir"  # hm train creates missing run folders
    return Case(i, "train", kind, argv, must_fail, outputs=[out], timeout=90)


def case_info(i, rng, d, a) -> Case:
    argv = ["info"] + rng.choice([["--bogus"], ["extra"], ["--json", "x"], ["--json=1"], ["-z"]])
    return Case(i, "info", "option", argv, True)


def case_bench(i, rng, d, a) -> Case:
    sub = rng.choice(["streaming", "train", "throughput", "accuracy", "mesh", "mesh-quality", "action", "multi-person",
                      "nope"])
    opts = {"streaming": [["--batch", "abc"], ["--batch", "0"], ["--contexts", "-5"], ["--repeats", "0"],
                          ["--budget", "-1"], ["--threads", "-1"], ["--models", "nope"], ["--set", "x"]],
            "train": [["--frames", "abc"], ["--batch", "0"], ["--precision", "fp7"], ["--models", "nope"]],
            "throughput": [["--minutes", "-1"], ["--minutes", "inf"], ["--fps", "0"], ["--models", "nope"], ["--repeats", "-1"]],
            "accuracy": [["--data", str(d / "none")], ["--variants", "nope"], ["--steps", "0"], ["--split", "x"]],
            "mesh": [["--frames", "0"], ["--repeats", "0"], ["--video", str(d / "none.mp4")], ["--threads", "-1"]],
            "mesh-quality": [["--fps", "inf"], ["--frames", "-1"], ["--shape-std", "nan"], ["--iters", "-1"]],
            "action": [["--model", str(d / "none.pt")], ["--repeats", "0"], ["--threads", "-1"]],
            "multi-person": [["--data", str(d / "none")], ["--frames", "0"], ["--scenes", "nope"], ["--seed", "-1"]],
            "nope": [[]]}[sub]
    argv = ["bench", sub, *rng.choice(opts), "--out", str(d / "bout")]
    return Case(i, "bench", f"option-{sub}", argv, True, outputs=[d / "bout"], timeout=60)


def pickle_cases(assets: Assets, work: Path, start: int) -> list[Case]:
    """Every path that loads a file, given a malicious pickle (os.system / eval in __reduce__, which
    would create ``MARKER`` in the case folder): each must be refused with one line, run nothing."""
    import numpy as np
    import torch

    cases: list[Case] = []

    def add(command: str, kind: str, make, argv_of, out_name: str | None = None) -> None:
        i = start + len(cases)
        d = work / f"{i:05d}"
        d.mkdir(parents=True)
        marker = d / "MARKER"
        path = make(d, marker)
        out = d / out_name if out_name else None
        argv = argv_of(path, out)
        cases.append(Case(i, command, "pickle-" + kind, [str(a) for a in argv], True, outputs=[out] if out else []))

    def raw(name, payload=Evil):
        def make(d, marker):
            p = d / name
            p.write_bytes(pickle.dumps({"format": "hm.checkpoint", "x": payload(marker)}, protocol=2))
            return p
        return make

    def torch_file(name, payload=Evil, wrap="dict"):
        def make(d, marker):
            p = d / name
            obj = payload(marker)
            torch.save({"format": "hm.checkpoint", "version": 1, "state_dict": {"w": obj}} if wrap == "dict" else obj, p)
            return p
        return make

    def npz_obj(name, key):
        def make(d, marker):
            p = d / name
            with open(p, "wb") as fh:
                np.savez(fh, **{key: np.array([Evil(marker)], dtype=object)})
            return p
        return make

    def smpl_dir(fname, payload=Evil):
        def make(d, marker):
            m = d / "models"
            m.mkdir()
            if fname.endswith(".npz"):
                npz_obj(fname, "v_template")(m, marker)
            else:
                (m / fname).write_bytes(pickle.dumps({"v_template": payload(marker), "f": [[0, 1, 2]]}, protocol=2))
            return m
        return make

    def yaml_tag(d, marker):
        p = d / "evil.yaml"
        p.write_text(f"steps: !!python/object/apply:os.system ['touch {marker}']\n")
        return p

    def pyskl(d, marker):
        p = d / "evil.pkl"
        p.write_bytes(pickle.dumps({"split": {"xsub_train": ["a"]}, "annotations": [{"frame_dir": "a", "label": 0,
                                    "keypoint": Evil(marker)}]}, protocol=4))
        return p

    lift_in, lift_h5, ckpt = assets["kp_h5"], assets["lift_h5"], assets["ckpt"]
    smpl = ["--body-model", "smpl", "--model-dir", assets["smpl_dir"], "--iters", "0"]
    for payload in (Evil, EvilEval):
        tag = payload.__name__
        for name, mk in ((f"evil-{tag}.pt", torch_file(f"evil-{tag}.pt", payload)),
                         (f"evil-{tag}-bare.pt", torch_file(f"evil-{tag}-bare.pt", payload, "bare")),
                         (f"evil-{tag}.pkl", raw(f"evil-{tag}.pkl", payload))):
            add("lift", f"--model {name}", mk, lambda p, o: ["lift", lift_in, "-m", p, "-o", o, "-q"], "o.h5")
            add("mesh", f"--model {name}", mk, lambda p, o: ["mesh", lift_in, *smpl, "-m", p, "-o", o, "-q"], "o.h5")
            add("action", f"--model {name}", mk, lambda p, o: ["action", lift_h5, "-m", p, "-o", o, "-q"], "o.json")
            add("eval", f"model {name}", mk, lambda p, o: ["eval", p, "--data", assets["cmu"], "--cameras", "1"])
            add("train", f"--init-from {name}", mk, lambda p, o: ["train", "--init-from", p, "--data", assets["cmu"],
                                                                   "--out", o, "-q", "steps=1"], "run")
            add("train", f"--task action --init-from {name}", mk,
                lambda p, o: ["train", "--task", "action", "--init-from", p, "--data", assets["cmu"], "--out", o, "-q",
                              "steps=1"], "run")
            add("train", f"-c {name}", mk, lambda p, o: ["train", "-c", p, "--data", assets["cmu"], "--out", o, "-q"],
                "run")
        add("mesh-convert", f"SMPL pkl ({tag})", lambda d, m, t=payload: smpl_dir("SMPL_NEUTRAL.pkl", t)(d, m) / "SMPL_NEUTRAL.pkl",
            lambda p, o: ["mesh", "convert", p, "-o", o], "o.npz")
        add("mesh", f"--model-dir SMPL_NEUTRAL.pkl ({tag})", smpl_dir("SMPL_NEUTRAL.pkl", payload),
            lambda p, o: ["mesh", lift_h5, "--body-model", "smpl", "--model-dir", p, "-o", o, "-q"], "o.h5")
    add("mesh", "--model-dir SMPL_NEUTRAL.npz object array", smpl_dir("SMPL_NEUTRAL.npz"),
        lambda p, o: ["mesh", lift_h5, "--body-model", "smpl", "--model-dir", p, "-o", o, "-q"], "o.h5")
    add("train", "-c yaml python tag", yaml_tag,
        lambda p, o: ["train", "-c", p, "--data", assets["cmu"], "--out", o, "-q"], "run")
    add("train", "pyskl .pkl (--task action --data)", pyskl,
        lambda p, o: ["train", "--task", "action", "--data", p, "--out", o, "-q", "steps=1"], "run")
    add("lift", "keypoint .npz object array", npz_obj("kp.npz", "xy"),
        lambda p, o: ["lift", p, "-m", ckpt, "-o", o, "-q"], "o.h5")
    add("mesh", "--init .npz object array", npz_obj("init.npz", "pose"),
        lambda p, o: ["mesh", lift_h5, *smpl, "--init", p, "-o", o, "-q"], "o.h5")
    add("mesh", "--prior .npz object array", npz_obj("prior.npz", "means"),
        lambda p, o: ["mesh", lift_h5, *smpl, "--prior", p, "-o", o, "-q"], "o.h5")
    add("render", "--actions pickle", raw("actions.json"),
        lambda p, o: ["render", lift_h5, "--actions", p, "-o", o, "-q"], "o.mp4")
    add("export", "result pickle", raw("result.h5"),
        lambda p, o: ["export", p, "--format", "csv", "-o", o, "-q"], "o.csv")
    add("action", "keypoint npz object array", npz_obj("kp.npz", "conf"),
        lambda p, o: ["action", p, "-o", o, "-q"], "o.json")
    return cases


_CASES = {"lift": case_lift, "detect": case_detect, "mesh": case_mesh, "mesh-convert": case_mesh_convert,
          "action": case_action, "render": case_render, "export": case_export, "eval": case_eval,
          "train": case_train, "info": case_info, "bench": case_bench, "mesh-prior": case_mesh_prior}


# ----------------------------------------------------------------------------- worker


class CaseTimeout(BaseException):
    """Raised by the per-case alarm; a BaseException so that no 'except Exception' hides it."""


def _worker() -> None:
    """Read one JSON request per line from fd 0, run it, answer one JSON line on fd 1."""
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    import tests.cli.helpers  # noqa: F401  (registers the fake-test detector)
    from hmcli.cli import main as hm_main

    def on_alarm(signum, frame):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    saved = {fd: os.dup(fd) for fd in (0, 1, 2)}
    for line in proto_in:
        req = json.loads(line)
        tmpd = Path(req["capture"])
        out_f, err_f = tmpd / "stdout", tmpd / "stderr"
        in_path = req.get("stdin") or os.devnull
        t0 = time.perf_counter()
        rc, exc = None, None
        cwd = os.getcwd()
        with open(in_path, "rb") as fin, open(out_f, "wb") as fout, open(err_f, "wb") as ferr:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(fin.fileno(), 0)
            os.dup2(fout.fileno(), 1)
            os.dup2(ferr.fileno(), 2)
            old_stdin = sys.stdin
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)))
            sys.argv = ["hm", *req["argv"]]
            os.chdir(req["cwd"])
            signal.setitimer(signal.ITIMER_REAL, req["timeout"])
            try:
                if req.get("selftest") == "raise":  # the harness's own check: an escaping exception
                    raise RuntimeError("fuzz harness self-test")
                if req.get("selftest") == "die":  # ... and a worker that dies
                    os._exit(9)
                hm_main.main()
                rc = 0
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except CaseTimeout:
                rc, exc = None, "timeout"
            except BaseException as e:  # what a real process would print as a traceback
                import traceback

                rc, exc = 1, "".join(traceback.format_exception(e))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                os.chdir(cwd)
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                sys.stdin = old_stdin
                for fd, s in saved.items():
                    os.dup2(s, fd)
        stderr = err_f.read_bytes().decode("utf-8", "replace")
        proto_out.write(json.dumps({"rc": rc, "exc": exc, "stderr": stderr, "stdout_bytes": out_f.stat().st_size,
                                    "seconds": time.perf_counter() - t0}) + "\n")
        proto_out.flush()


class Runner:
    """Runs argv lists through a worker process; restarts it after a crash or a hang."""

    def __init__(self, capture: Path, env: dict | None = None) -> None:
        self.capture = capture
        capture.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self.env,
                                     cwd=str(ROOT))

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def __call__(self, argv: list[str], cwd: Path, stdin: Path | None = None, timeout: float = 30.0,
                 selftest: str | None = None) -> dict:
        import selectors

        if self.proc is None or self.proc.poll() is not None:
            self._start()
        req = {"argv": argv, "cwd": str(cwd), "stdin": str(stdin) if stdin else None, "timeout": timeout,
               "capture": str(self.capture), "selftest": selftest}
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.kill()
            return {"rc": None, "exc": "worker died", "stderr": ""}
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        # the worker's own alarm fires at `timeout`; a wait well beyond it means the alarm could not
        # interrupt (stuck in C code): a hang
        ready = sel.select(timeout + 60.0 + (120.0 if self.restarts == 0 else 60.0))
        sel.close()
        if not ready:
            self.kill()
            return {"rc": None, "exc": "timeout", "stderr": ""}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            self.restarts += 1
            return {"rc": None, "exc": f"worker died (exit {code})", "stderr": ""}
        return json.loads(line)


# ----------------------------------------------------------------------------- evaluation


def _snapshot(dirs: list[Path]) -> dict:
    snap = {}
    for d in dirs:
        if not d.exists():
            continue
        for p in [d, *d.rglob("*")]:
            with contextlib.suppress(OSError):
                st = p.lstat()
                snap[str(p)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return snap


def classify(case: Case, r: dict, before: dict, after: dict, marker_made: bool) -> tuple[str, str]:
    """(outcome, detail) of one case; see the module docstring."""
    if marker_made:
        return "code-exec", "marker file created"
    if r.get("exc") == "timeout":
        return "hang", "no answer within the case's time limit"
    if r.get("exc"):
        first = r["exc"].strip().splitlines()[-1] if r["exc"].strip() else r["exc"]
        return "traceback", first[:300]
    stderr = r.get("stderr", "")
    if "Traceback (most recent call last)" in stderr:
        return "traceback", stderr.strip().splitlines()[-1][:300]
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in set(after) & set(before) if after[k] != before[k] and not Path(k).is_dir())
    temps = [p for p in new if Path(p).name.startswith(".") and Path(p).name.endswith(".tmp")]
    if r["rc"] == 0:
        if case.must_fail:
            return "wrong-accept", f"exit 0; stderr: {stderr.strip()[:200]!r}"
        if temps:
            return "partial", f"temp file left: {temps}"
        return "accepted", ""
    if new or changed:
        return "partial", f"after exit {r['rc']}: new {[Path(p).name for p in new][:4]} changed {[Path(p).name for p in changed][:4]}"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if r["rc"] == 1 and "internal error" in stderr:
        return "internal", lines[-1][:300] if lines else ""
    noise = ("encountered in", "Casting", "pickle", "torch", "numpy", "deprecated")  # library warnings stay 'unclear'
    if (len(lines) > 1 and lines[-1].startswith("hm: error: ")
            and all(ln.startswith(("warning: ", "hm: warning: ")) and not any(w in ln for w in noise) for ln in lines[:-1])):
        return "warned", " | ".join(lines)[:300]
    if len(lines) != 1 or not lines[0].startswith("hm: error: "):
        return "unclear", " | ".join(lines)[:300]
    return "clean", lines[0][:300]


@dataclass
class Battery:
    counts: dict
    failures: list
    seconds: float
    restarts: int
    pickles: dict = field(default_factory=dict)  # malicious-pickle case -> outcome


def _run_one(case: Case, runner: "Runner", counts: dict, failures: list, on_case, keep: bool, work: Path) -> str:
    """Run one case, count its outcome (returned)."""
    i = case.index
    d = work / "cases" / f"{i:05d}"
    watch = [d] + sorted({p.parent for p in case.outputs if p.parent.exists() and not str(p).startswith("/proc")}
                         - {d})
    before = _snapshot(watch)
    marker = d / "MARKER"
    r = runner(case.argv, d, case.stdin, case.timeout)
    after = _snapshot(watch)
    outcome, detail = classify(case, r, before, after, marker.exists())
    if outcome != "code-exec" and any(Path(k).name == "MARKER" for k in after):
        outcome, detail = "code-exec", "marker file created"
    c = counts.setdefault(case.command, {o: 0 for o in OUTCOMES})
    c[outcome] += 1
    if outcome in BAD:
        failures.append({"index": i, "command": case.command, "kind": case.kind, "outcome": outcome,
                         "detail": detail, "argv": case.argv, "seconds": r.get("seconds")})
    if on_case:
        on_case(i, case, outcome, detail, r)
    for p in d.rglob("*"):  # make the folder removable (read-only test folders)
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return outcome


def run_battery(cases: int, seed: int, work: Path, only: tuple[str, ...] | None = None,
                on_case=None, keep: bool = False) -> Battery:
    """Build the assets, run ``cases`` cases (plus controls), return counts per command and outcome."""
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    env = {"HM_SMPL_DIR": str(work / "no-smpl"), "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    os.environ.pop("HM_DEBUG", None)  # the worker inherits the environment: no tracebacks on purpose
    assets = build_assets(work / "assets")
    runner = Runner(work / "capture", env)
    counts: dict = {}
    failures: list = []
    pickles: dict = {}
    try:
        finish_assets(assets, lambda argv, cwd: runner(argv, cwd, timeout=120))
        # controls: valid inputs through the same harness must succeed (the battery is not blind)
        controls = [
            ["lift", str(assets["kp_h5"]), "-m", str(assets["ckpt"]), "-o", "{d}/c.h5", "-q"],
            ["lift", str(assets["video"]), "-m", str(assets["ckpt"]), "--detector", "fake-test", "-o", "{d}/c.json", "-q"],
            ["detect", str(assets["video"]), "--detector", "fake-test", "-o", "{d}/c.h5", "-q"],
            ["export", str(assets["lift_h5"]), "--format", "bvh", "-o", "{d}/c.bvh", "-q"],
            ["mesh", "convert", str(assets["smpl_pkl"]), "-o", "{d}/c.npz"],
        ]
        for k, argv in enumerate(controls):
            d = work / "controls" / str(k)
            d.mkdir(parents=True)
            argv = [x.replace("{d}", str(d)) for x in argv]
            r = runner(argv, d, timeout=60)
            ok = r.get("rc") == 0 and any(p.is_file() and p.stat().st_size > 0 for p in d.iterdir())
            counts.setdefault("control", {o: 0 for o in OUTCOMES})["accepted" if ok else "traceback"] += 1
            if not ok:
                failures.append({"index": -1, "command": "control", "kind": argv[0], "outcome": "control-failed",
                                 "detail": str(r)[:500], "argv": argv})
        base_snapshot = _snapshot([assets.root])
        for i in range(cases):
            case = make_case(i, seed, assets, work / "cases", only)
            _run_one(case, runner, counts, failures, on_case, keep, work)
        for case in pickle_cases(assets, work / "cases", cases):
            if only is None or case.command in only:
                pickles[f"{case.command}: {case.kind}"] = _run_one(case, runner, counts, failures, on_case, keep, work)
        if _snapshot([assets.root]).keys() != base_snapshot.keys():
            counts.setdefault("assets", {o: 0 for o in OUTCOMES})["partial"] += 1
            failures.append({"index": -1, "command": "assets", "kind": "", "outcome": "partial",
                             "detail": f"files appeared next to the shared inputs: {sorted(set(_snapshot([assets.root])) - set(base_snapshot))[:5]}"})
    finally:
        runner.close()
    return Battery(counts, failures, time.time() - t_start, runner.restarts, pickles)


def table(b: Battery) -> str:
    cols = ["cases"] + list(OUTCOMES)
    rows = [["command"] + cols]
    total = {c: 0 for c in cols}
    for cmd in sorted(b.counts, key=lambda c: (c == "control", c)):
        c = b.counts[cmd]
        n = sum(c.values())
        row = [cmd, n] + [c[o] for o in OUTCOMES]
        rows.append(row)
        if cmd != "control":
            total["cases"] += n
            for o in OUTCOMES:
                total[o] += c[o]
    rows.append(["TOTAL"] + [total[c] for c in cols])
    widths = [max(len(str(r[k])) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(str(v).rjust(w) if k else str(v).ljust(w) for k, (v, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines)


def replay(i: int, seed: int, work: Path) -> int:
    """Re-create one case and run it in a fresh ``hm`` process with HM_DEBUG=1."""
    assets = build_assets(work / "assets")
    runner = Runner(work / "capture", {"HM_SMPL_DIR": str(work / "no-smpl")})
    try:
        finish_assets(assets, lambda argv, cwd: runner(argv, cwd, timeout=120))
    finally:
        runner.close()
    case = make_case(i, seed, assets, work / "cases")
    print(f"case {i}: {case.command} {case.kind} must_fail={case.must_fail}\nhm {' '.join(map(repr, case.argv))}")
    env = {**os.environ, "HM_DEBUG": "1", "HM_SMPL_DIR": str(work / "no-smpl"), "PYTHONPATH": str(ROOT)}
    code = "import tests.cli.helpers, sys; from hmcli.cli.main import main; sys.argv = ['hm'] + sys.argv[1:]; main()"
    stdin = open(case.stdin, "rb") if case.stdin else subprocess.DEVNULL
    r = subprocess.run([sys.executable, "-c", code, *case.argv], cwd=work / "cases" / f"{i:05d}", env=env,
                       stdin=stdin, capture_output=True, text=True)
    print(f"exit {r.returncode}\n--- stderr\n{r.stderr}--- stdout ({len(r.stdout)} chars)\n{r.stdout[:500]}")
    print(f"files: {sorted(str(p.relative_to(work)) for p in (work / 'cases').rglob('*'))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--worker"]:
        _worker()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="Commands, comma separated (default: all).")
    ap.add_argument("--work", default=None, help="Working folder (default: a new temporary one, removed after).")
    ap.add_argument("--keep", action="store_true", help="Keep each case's folder.")
    ap.add_argument("--json", default=None, help="Also write counts and failures to this JSON file.")
    ap.add_argument("-v", "--verbose", action="store_true", help="One line per case.")
    ap.add_argument("--replay", type=int, default=None, metavar="I",
                    help="Make case I (of --seed) and run it as a real 'hm' process with HM_DEBUG=1 (tracebacks).")
    args = ap.parse_args(argv)
    import tempfile

    if args.replay is not None:
        return replay(args.replay, args.seed, Path(args.work or tempfile.mkdtemp(prefix="hm-fuzz-replay-")))

    only = tuple(c for c in args.only.split(",") if c) or None
    if only and set(only) - set(COMMANDS):
        ap.error(f"--only takes {', '.join(COMMANDS)}")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="hm-fuzz-"))

    def on_case(i, case, outcome, detail, r):
        if args.verbose or outcome in BAD:
            print(f"{i:5d} {case.command:12s} {outcome:12s} {case.kind[:40]:40s} {r.get('seconds') or 0:6.2f}s {detail[:150]}",
                  flush=True)

    try:
        b = run_battery(args.cases, args.seed, work, only, on_case, args.keep)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(table(b))
    n = sum(sum(c.values()) for k, c in b.counts.items() if k != "control")
    bad = sum(c[o] for k, c in b.counts.items() for o in BAD)
    print(f"{n} cases (seed {args.seed}) in {b.seconds:.0f} s, worker restarts {b.restarts}; "
          f"{bad} bad outcomes; control cases {b.counts.get('control', {}).get('accepted', 0)}/"
          f"{sum(b.counts.get('control', {}).values())} ok")
    if args.json:
        Path(args.json).write_text(json.dumps({"counts": b.counts, "failures": b.failures, "seconds": b.seconds}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
