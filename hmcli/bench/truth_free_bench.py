"""``hm bench truth-free``: hm's lifters against MediaPipe's own 3D on real clips, without truth.

Per clip: the 2D detector (BlazePose through MediaPipe, ``hm lift``'s default) runs **once**
and also returns its 3D world landmarks (:func:`hmcli.api.detect_world`); the same 2D is
lifted by each hm model (default: the shipped bidirectional and causal lifters, with
:func:`hmcli.api.lift` as ``hm lift`` runs them). MediaPipe's 33 world landmarks are mapped to
H36M-17 with the map the lifter's input gets (:func:`hmcli.skeleton.blazepose_map.world_to_h36m`,
``cmu`` by default), so every model is scored on the same joints, and made root-relative
(pelvis at 0) like hm's output. A clip that ships another model's world landmarks beside it
(``<stem>_3d*.json``: ``pose_squats_3d.full.json``, tfjs BlazePose) gets that model as one
more row. Frames where the detector found nobody are left out for every model.

Figures (:mod:`hmcli.bench.truth_free`, definitions there): bone-length CV, left/right
asymmetry, jitter (mean |2nd difference|), foot skating and stance drift (root-relative, up =
the camera's -y by default), and agreement (P-MPJPE, root-relative MPJPE) with MediaPipe.
MediaPipe's world landmarks are themselves temporally filtered by its graph
(``smooth_landmarks``, on in hm's detector), as is the 2D hm lifts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hmcli.bench import truth_free as tf
from hmcli.io.atomic import HMError

__all__ = ["default_videos", "reference_3d", "clip_sequences", "truth_free_bench", "truth_free_table",
           "MEDIAPIPE"]  # fmt: skip

_ROOT = Path(__file__).resolve().parents[2]
MEDIAPIPE = "mediapipe"  # the label of MediaPipe's own 3D
_VIDEO_EXT = (".mp4", ".mov", ".avi", ".mkv", ".webm")

Say = Callable[[str], None]


def _shared_videos() -> Path | None:
    for d in (Path("../shared/data/videos"), _ROOT.parent / "shared" / "data" / "videos"):
        if d.is_dir():
            return d
    return None


def default_videos() -> list[str]:
    """``sample_videos/*`` of this checkout, then ``../shared/data/videos/*`` where present."""
    out = sorted(str(p) for p in (_ROOT / "sample_videos").glob("*") if p.suffix.lower() in _VIDEO_EXT)
    shared = _shared_videos()
    if shared is not None:
        out += sorted(str(p) for p in shared.glob("*") if p.suffix.lower() in _VIDEO_EXT)
    return out


def _load_world_json(path: Path) -> np.ndarray:
    """A JSON list of frames, each 33 ``[x, y, z]`` or ``{"x", "y", "z"}`` -> (F, 33, 3)."""
    data = json.loads(path.read_text())
    if isinstance(data, dict):  # {"frames": [...]} or similar wrappers
        data = next((v for v in data.values() if isinstance(v, list)), [])
    frames = []
    for fr in data:
        if isinstance(fr, dict):
            fr = fr.get("keypoints3D") or fr.get("keypoints") or fr.get("landmarks") or []
        pts = [[p["x"], p["y"], p["z"]] if isinstance(p, dict) else list(p)[:3] for p in (fr or [])]
        frames.append(pts if len(pts) == 33 else [[math.nan] * 3] * 33)
    arr = np.asarray(frames, np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (33, 3):
        raise ValueError(f"{path.name}: not a list of 33 3D landmarks per frame")
    return arr


def reference_3d(video: str | Path) -> tuple[str, np.ndarray] | None:
    """(file name, (F, 33, 3)) of a BlazePose world-landmark file shipped beside ``video``
    (``<stem>_3d*.json``), or None."""
    v = Path(video)
    for p in sorted(v.parent.glob(f"{v.stem}_3d*.json")):
        try:
            return p.name, _load_world_json(p)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            continue
    return None


def _root_relative(seq: np.ndarray) -> np.ndarray:
    return seq - seq[:, tf.PELVIS : tf.PELVIS + 1]


def clip_sequences(video: str, lifters: Sequence, detector="mediapipe", blazepose_map: str = "cmu",
                   max_frames: int | None = None, say: Say = lambda m: None, refiner=None) -> dict:  # fmt: skip
    """Detect once, lift with every lifter (and, with a ``refiner``, once more after temporal 2D
    refinement: label ``<label> + refine``); H36M-17 root-relative sequences (F, 17, 3) metres,
    nan where nobody was found. Returns ``{"frames", "fps", "detected", "seconds",
    "sequences": {label: seq}, "kinds": {label: kind}, "model_ids": {label: id}}``."""
    from hmcli import api
    from hmcli.skeleton.blazepose_map import world_to_h36m

    name = Path(video).name
    say(f"{name}: detecting")
    t0 = time.perf_counter()
    kp, world = api.detect_world(video, detector, max_frames=max_frames)
    t_det = time.perf_counter() - t0
    if kp.joint_set != "blazepose33":
        raise HMError(f"detector {kp.detector!r} gives {kp.joint_set}, not BlazePose-33 world landmarks")
    found = np.asarray(kp.detected, bool) & np.isfinite(world).all(axis=(1, 2))
    seqs: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    ids: dict[str, str] = {}
    seconds = {"detect": t_det}
    mp = _root_relative(world_to_h36m(world.astype(np.float64), blazepose_map))
    mp[~found] = np.nan
    seqs[MEDIAPIPE], kinds[MEDIAPIPE], ids[MEDIAPIPE] = mp, "detector", kp.detector
    runs = [(label, lm, None) for label, lm in lifters]
    if refiner is not None:
        runs += [(f"{label} + refine", lm, refiner) for label, lm in lifters]
    for label, lm, ref in runs:
        say(f"{name}: lifting with {label}")
        t0 = time.perf_counter()
        res = api.lift(kp, lm, refiner=ref)
        seconds[label] = time.perf_counter() - t0
        j = _root_relative(np.asarray(res.joints3d, np.float64))
        j[~found] = np.nan
        seqs[label], kinds[label], ids[label] = j, "hm", lm.model_id + (f" + {ref.model_id}" if ref is not None else "")
    ref = reference_3d(video)
    if ref is not None:
        fname, arr = ref
        if arr.shape[0] >= kp.num_frames:
            r = _root_relative(world_to_h36m(arr[: kp.num_frames], blazepose_map))
            r[~found] = np.nan
            label = f"file: {fname}"
            seqs[label], kinds[label], ids[label] = r, "file", fname
    return {"frames": kp.num_frames, "fps": kp.fps, "detected": int(found.sum()), "seconds": seconds,
            "sequences": seqs, "kinds": kinds, "model_ids": ids, "detector": kp.detector}  # fmt: skip


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))


def _fin(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def truth_free_bench(videos: Sequence[str], models: Sequence[tuple[str, str | None, bool]] | None = None,
                     detector="mediapipe", blazepose_map: str = "cmu", up: str = "camera", margin: float = 0.03,
                     max_frames: int | None = None, on_progress: Say | None = None, refiner=None) -> dict:  # fmt: skip
    """Run the benchmark on ``videos``. ``models``: (label, checkpoint or None for the default,
    causal) per hm lifter; default: the shipped bidirectional and causal models. ``refiner``: a 2D
    refiner (name, path or loaded): every lifter also runs after it."""
    from hmcli import api
    from hmcli.bench.common import machine

    say = on_progress or (lambda m: None)
    missing = [v for v in videos if not Path(v).is_file()]
    if missing:
        raise HMError(f"video not found: {missing[0]}")
    if not videos:
        raise HMError("no videos to run on")
    if models is None:
        models = [("hm bidirectional", None, False), ("hm causal", None, True)]
    if refiner is not None and isinstance(refiner, (str, Path)):
        refiner = api.load_refiner(refiner)
    lifters = []
    for label, path, causal in models:
        say(f"loading {label}")
        lifters.append((label, api.load_lifter(path, causal=causal)))
    t_all = time.perf_counter()
    clips, rows = [], []
    for v in videos:
        c = clip_sequences(v, lifters, detector, blazepose_map, max_frames, say, refiner)
        seqs, fps = c["sequences"], c["fps"]
        if not (math.isfinite(fps) and fps > 0):
            raise HMError(f"{v}: cannot tell its frame rate")
        ref = seqs[MEDIAPIPE]
        models_out = []
        for label, s in seqs.items():
            rep = tf.truth_free_report(s, fps, up, margin)
            ag = tf.agreement(s, ref) if label != MEDIAPIPE else None
            try:
                tilt = _angle_deg(tf.estimate_up(s, "spine"), np.array([0.0, -1.0, 0.0]))
            except ValueError:
                tilt = math.nan
            models_out.append({"label": label, "kind": c["kinds"][label], "model_id": c["model_ids"][label],
                               "report": rep.to_dict(), "vs_mediapipe": None if ag is None else ag.to_dict(),
                               "spine_tilt_from_camera_up_deg": _fin(tilt)})  # fmt: skip
            rows.append({
                "clip": Path(v).name, "model": label, "frames": rep.frames, "valid": rep.valid, "fps": fps,
                "bone_cv_pct": _fin(100 * rep.bones.mean_cv), "limb_cv_pct": _fin(100 * rep.bones.limb_cv),
                "asym_pct": _fin(100 * rep.symmetry.mean),
                "jitter_mm_f2": _fin(rep.jitter.mean_mm_per_frame2), "jitter_m_s2": _fin(rep.jitter.mean_m_per_s2),
                "skate_m_s": _fin(rep.skate.speed_m_s), "contact_pct": _fin(100 * rep.skate.contact_fraction),
                "stance_m_s": _fin(rep.skate.stance_speed_m_s), "level_pct": _fin(100 * rep.skate.level_fraction),
                "p_mpjpe_vs_mp_mm": None if ag is None else _fin(ag.p_mpjpe_mm),
                "mpjpe_vs_mp_mm": None if ag is None else _fin(ag.mpjpe_mm),
            })  # fmt: skip
        labels = list(seqs)
        pairs = {f"{a} | {b}": tf.agreement(seqs[a], seqs[b]).to_dict()
                 for i, a in enumerate(labels) for b in labels[i + 1 :]}  # fmt: skip
        clips.append({"clip": Path(v).name, "path": str(v), "frames": c["frames"], "fps": fps,
                      "detected": c["detected"], "detector": c["detector"], "seconds": c["seconds"],
                      "models": models_out, "agreement": pairs})  # fmt: skip
    tables = [_bone_table(clips)]
    notes = [
        "No ground truth: MediaPipe's 3D is one model's output, not truth. Lower is steadier for every figure.",
        "bone CV: mean over the 16 H36M bones of std/mean of the length over the clip (in brackets: over the 8 "
        "limb bones); asym: mean over upper arm, forearm, thigh, shin of |L-R|/mean(L,R) per frame.",
        "jitter: mean |p[t+1]-2p[t]+p[t-1]| of the 16 non-pelvis joints relative to the pelvis, mm/frame² and "
        "m/s² (real motion counts too: compare models within a clip).",
        f"skate: horizontal speed of the lower ankle while within {margin * 1000:.0f} mm of its low level "
        f"(contact: share of frames), root-relative, so hip motion counts; stance: horizontal speed of the "
        f"left-right ankle vector while both ankles are level (height difference within {margin * 1000:.0f} mm "
        f"of its clip median; pelvis-free, 0 for planted feet). up: {up}.",
        f"MediaPipe: BlazePose world landmarks mapped to H36M-17 with the '{blazepose_map}' map, pelvis at 0; "
        "temporally filtered by MediaPipe (smooth_landmarks). vs MP: P-MPJPE (per-frame similarity "
        "alignment) and root-relative MPJPE, mm.",
    ]
    return {
        "benchmark": "truth-free",
        "settings": {"videos": [str(v) for v in videos], "models": [{"label": l, "model": p, "causal": c}
                                                                      for l, p, c in models],
                     "detector": detector if isinstance(detector, str) else getattr(detector, "name", "?"),
                     "blazepose_map": blazepose_map, "up": up, "margin_m": margin, "max_frames": max_frames},
        "rows": rows, "clips": clips, "tables": tables, "notes": notes, "seconds": {"total": time.perf_counter() - t_all},
        "machine": machine(),
    }  # fmt: skip


def _bone_table(clips: list[dict]) -> dict:
    """Per clip and model, the CV (%) of every bone: which bones make a model's figure."""
    names = tf.BONE_NAMES
    short = [n.split("->")[1].replace("right_", "R ").replace("left_", "L ") for n in names]
    rows = []
    for c in clips:
        for m in c["models"]:
            cv = m["report"]["bones"]["cv"]
            rows.append([c["clip"], m["label"], *[_n(None if v is None else 100 * v) for v in cv]])
    return {"title": "Bone-length CV % per bone (the bone ending at the named joint)",
            "columns": ["clip", "model", *short], "rows": rows}


def _n(v, spec: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:{spec}}"


def truth_free_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, columns, rows) of a :func:`truth_free_bench` result."""
    cols = ["clip", "model", "frames", "bone CV % (limbs)", "asym %", "jitter mm/f²", "jitter m/s²",
            "skate m/s (contact %)", "stance m/s (level %)", "P-MPJPE vs MP mm", "MPJPE vs MP mm"]  # fmt: skip
    out = []
    for r in result["rows"]:
        out.append([r["clip"], r["model"], f"{r['valid']}/{r['frames']} @ {r['fps']:.0f} fps",
                    f"{_n(r['bone_cv_pct'], '.2f')} ({_n(r.get('limb_cv_pct'), '.2f')})", _n(r["asym_pct"], ".2f"), _n(r["jitter_mm_f2"]),
                    _n(r["jitter_m_s2"], ".2f"), f"{_n(r['skate_m_s'], '.3f')} ({_n(r['contact_pct'], '.0f')})",
                    f"{_n(r['stance_m_s'], '.3f')} ({_n(r['level_pct'], '.0f')})",
                    _n(r["p_mpjpe_vs_mp_mm"]), _n(r["mpjpe_vs_mp_mm"])])  # fmt: skip
    return "Truth-free figures on real clips: hm's lifters vs MediaPipe's own 3D (lower is steadier)", cols, out
