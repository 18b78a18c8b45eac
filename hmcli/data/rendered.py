"""Training windows from rendered pairs: the real detector's 2D of rendered bodies, with their 3D truth.

``scripts/render_pairs.py`` poses the open Anny body with training-subject CMU motion, renders it through
virtual cameras and runs the real 2D detector (BlazePose) on the frames
(:func:`hmcli.bench.detector2d.render_set`). Each clip gives what a synthetic window gives
(:func:`hmcli.data.dataset.render_window`), except that the 2D is a real detector's:

* ``xy`` / ``conf``: the 33 landmarks through the lifter's BlazePose -> H36M-17 map
  (:data:`hmcli.lift.BLAZEPOSE_MAP`) with the confidence ``hm lift`` gives the lifter
  (:func:`hmcli.lift.model_confidence`: its floor, 0 outside the image); frames without a person are
  lost (confidence 0), as lost frames in the corruption are;
* ``joints3d`` / ``xy_clean``: the CMU joints in camera space and their projection (the targets every
  other training window has; the rendered body's own keypoints are within ~1 cm of them).

``hm train data_rendered=[FILE, ...] rendered_p=P`` replaces a share ``P`` of each 30 fps training batch
with random windows of these clips (docs/real-video.md §14). Only training-split clips are used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["RenderedClip", "RenderedPairs", "camera_kind_of", "lifter_input", "load_clip_files", "load_clips",
           "load_or_render", "load_rendered_pairs", "save_clips"]


@dataclass
class RenderedClip:
    """One clip through one camera: the detector's output and the truth. F frames."""

    label: str                        # "<trial> cam<i> <look>"
    split: str                        # "train" or "test" (CMU subject split)
    det_xy: np.ndarray                # (F, 33, 2) BlazePose landmarks, px (0 where not detected)
    det_conf: np.ndarray              # (F, 33) visibility in [0, 1] (0 where not detected)
    detected: np.ndarray              # (F,) bool
    truth_xy: np.ndarray              # (F, 17, 2) projected body keypoints (the truth), px
    truth3d: np.ndarray               # (F, 17, 3) camera-space body keypoints, m
    cmu_xy: np.ndarray                # (F, 17, 2) projected CMU joints, px
    cmu3d: np.ndarray                 # (F, 17, 3) camera-space CMU joints, m
    height_px: np.ndarray             # (F,) person height at the pelvis depth, px
    focal: float
    width: int
    height: int
    meta: dict = field(default_factory=dict)
    det_world: np.ndarray | None = None   # (F, 33, 3) BlazePose's own 3D (world landmarks, m; nan where none)


def save_clips(clips: list[RenderedClip], path: str) -> None:
    """All clips in one ``.npz`` (arrays per clip ``<i>/<name>``, meta as JSON)."""
    import json

    arrays = {}
    for i, c in enumerate(clips):
        for k, v in asdict(c).items():
            if isinstance(v, np.ndarray):
                arrays[f"{i}/{k}"] = v
        arrays[f"{i}/info"] = np.array(json.dumps({"label": c.label, "split": c.split, "focal": c.focal,
                                                   "width": c.width, "height": c.height, "meta": c.meta}))
    from hmcli.io.atomic import atomic_write

    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, n=np.array(len(clips)), **arrays)


def load_clips(path: str) -> list[RenderedClip]:
    """The clips :func:`save_clips` wrote (no pickles). Raises HMError for a missing or unreadable file."""
    import json
    import zipfile

    from hmcli.io.atomic import HMError

    try:
        z = np.load(path, allow_pickle=False)
        out = []
        for i in range(int(z["n"])):
            info = json.loads(str(z[f"{i}/info"]))
            arr = {k: z[f"{i}/{k}"] for k in ("det_xy", "det_conf", "detected", "truth_xy", "truth3d", "cmu_xy",
                                              "cmu3d", "height_px")}
            if f"{i}/det_world" in z.files:                                     # renders made before it: none
                arr["det_world"] = z[f"{i}/det_world"]
            out.append(RenderedClip(info["label"], info["split"], focal=info["focal"], width=info["width"],
                                    height=info["height"], meta=info["meta"], **arr))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise HMError(f"cannot read renders {path}: {e}") from None
    return out


def camera_kind_of(c: RenderedClip) -> str:
    """The camera kind a clip was rendered through (``framed`` for renders made before kinds were recorded)."""
    return c.meta.get("camera_kind", "framed")


def load_or_render(renders: str | None, kinds, render, say=lambda m: None) -> list[RenderedClip]:
    """The held-out (test-split) clips of camera ``kinds``: read from the ``renders`` file where it has them,
    the kinds it lacks made by ``render(kind)`` (a list of clips), and the file rewritten with every clip,
    old and new (``renders`` None: nothing kept)."""
    from pathlib import Path

    have = load_clips(renders) if renders is not None and Path(renders).is_file() else []
    missing = [k for k in kinds if not any(c.split == "test" and camera_kind_of(c) == k for c in have)]
    new = [c for k in missing for c in render(k)]
    if new and renders is not None:
        save_clips(have + new, renders)
        say(f"saved the renders to {renders}")
    elif have:
        say(f"reusing the renders in {renders}")
    return [c for c in have + new if c.split == "test" and camera_kind_of(c) in kinds]


def load_clip_files(paths: list[str], option: str) -> list[RenderedClip]:
    """The clips of every file in ``paths``; an unreadable one raises HMError naming ``option``."""
    from hmcli.io.atomic import HMError

    clips = []
    for p in paths:
        try:
            clips += load_clips(p)
        except HMError as e:
            raise HMError(f"{option}: {e}") from None
    return clips


def lifter_input(c: RenderedClip) -> tuple[np.ndarray, np.ndarray]:
    """The clip's detections as ``hm lift`` gives them to the lifter (:func:`hmcli.lift.lifter_2d`: the
    BlazePose map, the confidence floor, 0 outside the image): H36M-17 xy (F, 17, 2) px and confidence
    (F, 17), both 0 in frames without a person."""
    from hmcli.lift import lifter_2d

    det = np.asarray(c.detected, bool)                                              # (F,)
    xy, _, conf = lifter_2d(c.det_xy, c.det_conf * det[:, None], "blazepose33", c.width, c.height)
    xy = np.where(det[:, None, None], xy, 0.0).astype(np.float32)                    # (F, 17, 2)
    return xy, np.where(det[:, None], conf, 0.0).astype(np.float32)                  # (F, 17)


class RenderedPairs:
    """Windows of rendered training clips (each ``F`` frames at ``fps``)."""

    def __init__(self, clips: list, fps: float = 30.0) -> None:
        self.fps = float(fps)
        self.items: list[dict[str, Any]] = []
        for c in clips:
            if c.split != "train":
                continue
            xy, conf = lifter_input(c)                                                 # (F, 17, 2), (F, 17)
            K = np.array([[c.focal, 0.0, c.width / 2.0], [0.0, c.focal, c.height / 2.0], [0.0, 0.0, 1.0]], np.float32)
            self.items.append({"joints3d": c.cmu3d.astype(np.float32), "xy": xy, "conf": conf.astype(np.float32),
                               "xy_clean": c.cmu_xy.astype(np.float32), "width": int(c.width), "height": int(c.height),
                               "K": K, "cam_R": np.eye(3, dtype=np.float32), "cam_t": np.zeros(3, np.float32),
                               "trial": str(c.meta.get("trial", c.label))})
        if not self.items:
            raise ValueError("no training-split clips among the rendered pairs")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def frames(self) -> int:
        return int(sum(it["xy"].shape[0] for it in self.items))

    def window(self, rng: np.random.Generator, frames: int) -> dict[str, Any]:
        """A random window of ``frames`` frames (at most a clip's length) in the layout of
        :class:`hmcli.data.dataset.PoseWindows` items."""
        it = self.items[int(rng.integers(len(self.items)))]
        n = it["xy"].shape[0]
        f = min(int(frames), n)
        a = int(rng.integers(0, n - f + 1))
        out = {k: (v[a:a + f] if k in ("joints3d", "xy", "conf", "xy_clean") else v) for k, v in it.items() if k != "trial"}
        subject = it["trial"].split("_")[0]
        from hmcli.data.dataset import ACTIONS

        out.update({"action": ACTIONS.index("misc"), "action_name": "rendered", "subject": subject, "trial": it["trial"],
                    "fps": self.fps, "start_time": a / self.fps})
        return out


def load_rendered_pairs(paths: list[str], fps: float = 30.0) -> RenderedPairs:
    """:class:`RenderedPairs` of every training-split clip in ``paths`` (``.npz`` files of
    :func:`save_clips`). Raises HMError for unreadable files."""
    from hmcli.io.atomic import HMError

    clips = load_clip_files(paths, "data_rendered")
    try:
        return RenderedPairs(clips, fps)
    except ValueError as e:
        raise HMError(f"data_rendered: {e}") from None
