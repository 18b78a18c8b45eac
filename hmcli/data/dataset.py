"""Training windows and fixed evaluation sets from mocap ``Sequence`` objects.

``PoseWindows`` is a *map-style* ``torch.utils.data.Dataset`` with a virtual length
(``samples_per_epoch``): item ``i`` is generated from
``numpy.random.default_rng(SeedSequence([seed, i]))``, so it is the same whatever the
worker, the order or the process, and a new epoch of different samples is obtained by
changing ``seed`` (e.g. ``seed = base + epoch``).  Each item:

1. clip length ``F``: ``clip_len`` or uniform in ``[min, max]`` (inclusive);
2. a sequence among those long enough at the target fps, chosen with probability
   proportional to its number of possible windows (``weighting='frames'``), uniformly
   (``'sequence'``) or uniform over actions then windows (``'action'``);
3. a start frame at the source rate, then ``F`` frames at ``fps`` taken from there with
   ``resample`` (real frames when the source rate is an integer multiple, linear
   interpolation otherwise); with ``speed_aug`` > 1 the motion is first played at a
   speed drawn log-uniformly in ``[1 / speed_aug, speed_aug]`` (``F`` frames at
   ``fps`` of motion sampled at ``fps / speed``; the clip's ``fps`` label, and so Δ, is
   unchanged);
4. with probability ``splice_prob``, the upper body of a second random window of the same
   length spliced onto this one (``hmcli.data.augment.splice_upper_body``; the labels
   stay those of the first window); then, with probability ``splice_arms`` for each arm
   of a spliced clip, that arm's elbow and wrist from yet another window
   (``splice_arm``, relative to the chest);
5. with ``bone_jitter`` > 0, the clip's bone lengths scaled per bone (mirror-symmetric,
   drawn once per clip; ``hmcli.data.augment``), so training sees more body proportions
   than the few subjects it has; with ``proportions`` (a ``ProportionRanges``, off by
   default) the factors of ``random_proportions`` (per bone group, far wider) multiply
   those, and the clip is moved so its feet stay on the floor (``keep_on_floor``);
6. a random virtual camera looking at the clip (``draw_camera`` of ``camera_kind``: ``any``,
   the default, is today's ``random_camera``; ``hmcli.data.camera`` lists the kinds), the 3D
   joints in its frame (metres) and their projection (pixels);
7. detector-like corruption of the 2D (``corrupt``).

Items are dicts of numpy arrays / Python scalars (torch's default collate turns them
into tensors when all ``F`` match; use ``collate_windows`` for variable ``F``):

================  ==============  ==================================================
key               shape / type    meaning
================  ==============  ==================================================
joints3d          (F, 17, 3) f32  camera frame (x right, y down, z forward), metres
xy                (F, 17, 2) f32  corrupted 2D, pixels
conf              (F, 17) f32     confidence, 0 = masked
xy_clean          (F, 17, 2) f32  exact projection, pixels
width, height     int             image size, pixels
K                 (3, 3) f32      intrinsics
cam_R, cam_t      (3, 3), (3,)    world (CMU Y-up) -> camera
action            int             index into ``cmu.ACTIONS``
action_name       str
subject, trial    str
fps               float           target fps of the window
start_time        float           window start in the source sequence, seconds
================  ==============  ==================================================

No model normalisation happens here (pixels and metres only).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence as SeqT
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hmcli.data.augment import (
    ARM_SIDES, ProportionRanges, check_bone_jitter, check_speed_aug, check_splice_arms, check_splice_prob, keep_on_floor,
    random_body, random_proportions, random_speed, rescale_bones, splice_arm, splice_upper_body,
)
from hmcli.data.camera import Camera, draw_camera, project, world_to_camera
from hmcli.data.cmu import ACTIONS, Sequence
from hmcli.data.corrupt import Corruption, CorruptionConfig, apply_corruption
from hmcli.data.resample import resample, resampled_length
from hmcli.skeleton.codec import PoseCodec
from hmcli.skeleton.joints import H36M17

_EVAL_STREAM = 0x5EED_E7A1  # separates evaluation cameras from training cameras
_PROPORTION_STREAM = 0xB0D1_E5  # evaluation bodies (make_eval_set's proportions), apart from the cameras


def _clip_range(clip_len: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(clip_len, (int, np.integer)):
        lo = hi = int(clip_len)
    else:
        lo, hi = (int(v) for v in clip_len)
    if lo < 1 or hi < lo:
        raise ValueError(f"bad clip_len {clip_len!r}")
    return lo, hi


def max_start(num_frames: int, src_fps: float, dst_fps: float, clip_frames: int) -> int:
    """Last source start index for a ``clip_frames`` window at ``dst_fps`` (-1 if none)."""
    span = (clip_frames - 1) * src_fps / dst_fps
    return int(math.floor(num_frames - 1 - span + 1e-9))


def take_window(joints: np.ndarray, src_fps: float, dst_fps: float, start: int,
                clip_frames: int) -> np.ndarray:
    """``clip_frames`` frames at ``dst_fps`` starting at source frame ``start``.

    joints: (N, J, 3) at ``src_fps``.  Returns (clip_frames, J, 3).
    """
    span = (clip_frames - 1) * src_fps / dst_fps
    stop = start + int(math.ceil(span - 1e-9)) + 1
    if start < 0 or stop > joints.shape[0]:
        raise ValueError(f"window [{start}, {stop}) outside a {joints.shape[0]}-frame sequence")
    out = resample(joints[start:stop], src_fps, dst_fps)[:clip_frames]
    if out.shape[0] != clip_frames:
        raise AssertionError("window resampling returned too few frames")
    return out


def render_window(
    clip_world: np.ndarray,
    rng: np.random.Generator,
    camera_kind: str = "any",
    corruption: Corruption | None = CorruptionConfig(),
    camera: Camera | None = None,
) -> dict[str, Any]:
    """Camera + projection + corruption of one (F, 17, 3) world clip (see module table)."""
    cam = camera if camera is not None else draw_camera(rng, camera_kind, joints=clip_world)
    j_cam = world_to_camera(clip_world, cam)  # (F, 17, 3)
    xy_clean = project(j_cam, cam)  # (F, 17, 2)
    if corruption is None:
        xy = xy_clean.astype(np.float32)
        conf = np.ones(xy.shape[:2], dtype=np.float32)
    else:
        xy, conf = apply_corruption(corruption, xy_clean, rng, cam.width, cam.height, depth=j_cam[..., 2])
    return {
        "joints3d": j_cam.astype(np.float32),
        "xy": xy,
        "conf": conf,
        "xy_clean": xy_clean.astype(np.float32),
        "width": int(cam.width),
        "height": int(cam.height),
        "K": cam.K.astype(np.float32),
        "cam_R": cam.R.astype(np.float32),
        "cam_t": cam.t.astype(np.float32),
    }


class PoseWindows(Dataset):
    """Random training windows with virtual cameras (see module docstring)."""

    def __init__(
        self,
        sequences: SeqT[Sequence],
        fps: float = 50.0,
        clip_len: int | tuple[int, int] = 81,
        samples_per_epoch: int = 10000,
        seed: int = 0,
        camera_kind: str = "any",
        corruption: Corruption | None = CorruptionConfig(),
        weighting: str = "frames",
        bone_jitter: float = 0.0,
        splice_prob: float = 0.0,
        speed_aug: float = 1.0,
        splice_arms: float = 0.0,
        proportions: ProportionRanges | None = None,
    ) -> None:
        if not sequences:
            raise ValueError("no sequences")
        if weighting not in ("frames", "sequence", "action"):
            raise ValueError(f"unknown weighting {weighting!r}")
        self.sequences = list(sequences)
        self.fps = float(fps)
        self.clip_min, self.clip_max = _clip_range(clip_len)
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.camera_kind = camera_kind
        self.corruption = corruption
        self.weighting = weighting
        self.bone_jitter = check_bone_jitter(bone_jitter)
        self.splice_prob = check_splice_prob(splice_prob)
        self.splice_arms = check_splice_arms(splice_arms, self.splice_prob)
        self.speed_aug = check_speed_aug(speed_aug)
        self.proportions = proportions
        self._lengths = np.array(
            [resampled_length(s.num_frames, s.fps, self.fps) for s in self.sequences])
        if self._lengths.max() < self.clip_min:
            raise ValueError(
                f"no sequence has {self.clip_min} frames at {self.fps} fps "
                f"(longest: {self._lengths.max()})")

    def __len__(self) -> int:
        return self.samples_per_epoch

    def _weights(self, clip_frames: int, rate: float) -> np.ndarray | None:
        """Sampling probability per sequence for windows of ``clip_frames`` at ``rate``; None if none fits."""
        starts = np.array([max_start(s.num_frames, s.fps, rate, clip_frames) + 1
                           for s in self.sequences], dtype=np.float64)  # windows per sequence
        starts = np.maximum(starts, 0.0)
        if self.weighting == "sequence":
            w = (starts > 0).astype(np.float64)
        elif self.weighting == "action":
            w = np.zeros_like(starts)
            acts = [s.action for s in self.sequences]
            for a in set(acts):
                sel = np.array([x == a for x in acts]) & (starts > 0)
                if sel.any():
                    w[sel] = starts[sel] / starts[sel].sum()
        else:
            w = starts
        total = w.sum()
        return w / total if total > 0 else None

    def _donor(self, rng: np.random.Generator, w: np.ndarray, rate: float, f: int) -> np.ndarray:
        """(F, 17, 3) a random window of ``f`` frames at ``rate``, drawn like the base clip."""
        donor = self.sequences[int(rng.choice(len(self.sequences), p=w))]
        start = int(rng.integers(0, max_start(donor.num_frames, donor.fps, rate, f) + 1))
        return take_window(donor.joints, donor.fps, rate, start, f)  # (F, 17, 3)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.samples_per_epoch:
            raise IndexError(index)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(index)]))
        f = int(rng.integers(self.clip_min, self.clip_max + 1))
        f = min(f, int(self._lengths.max()))
        rate = self.fps / random_speed(rng, self.speed_aug)  # motion sampling rate, Hz
        w = self._weights(f, rate)
        if w is None:  # sped up, no sequence is long enough: play this clip at its captured speed
            rate = self.fps
            w = self._weights(f, rate)
        assert w is not None  # f is capped at the longest sequence's length at self.fps
        k = int(rng.choice(len(self.sequences), p=w))
        seq = self.sequences[k]
        start = int(rng.integers(0, max_start(seq.num_frames, seq.fps, rate, f) + 1))
        clip = take_window(seq.joints, seq.fps, rate, start, f)  # (F, 17, 3)
        if self.splice_prob and rng.random() < self.splice_prob:
            clip = splice_upper_body(clip, self._donor(rng, w, rate, f), H36M17)  # (F, 17, 3)
            if self.splice_arms:  # no draws at 0: items as before the option
                for side in ARM_SIDES:
                    if rng.random() < self.splice_arms:
                        clip = splice_arm(clip, self._donor(rng, w, rate, f), H36M17, side)  # (F, 17, 3)
        clip = random_body(clip, rng, H36M17, self.bone_jitter, self.proportions)  # (F, 17, 3); no draws when off
        item = render_window(clip, rng, self.camera_kind, self.corruption)
        item.update(_labels(seq, self.fps, start / seq.fps))
        return item


def _labels(seq: Sequence, fps: float, start_time: float) -> dict[str, Any]:
    return {
        "action": ACTIONS.index(seq.action) if seq.action in ACTIONS else ACTIONS.index("misc"),
        "action_name": seq.action,
        "subject": seq.subject,
        "trial": seq.trial,
        "fps": float(fps),
        "start_time": float(start_time),
    }


def make_eval_set(
    sequences: SeqT[Sequence],
    fps: float,
    seed: int = 0,
    clip_len: int | None = None,
    cameras_per_sequence: int = 1,
    camera_kind: str = "any",
    corruption: Corruption | None = CorruptionConfig(),
    proportions: ProportionRanges | None = None,
) -> list[dict[str, Any]]:
    """Deterministic evaluation items (same dict layout as ``PoseWindows``).

    clip_len None: each whole sequence resampled to ``fps``; an int: consecutive
    non-overlapping windows of that many frames (the remainder is dropped).  Each
    (sequence, window, camera) gets its own generator from
    ``SeedSequence([seed, EVAL_STREAM, crc32(trial id), window, camera])``, so items
    do not depend on the order or presence of other sequences, and the cameras are
    drawn from a stream training never uses. camera_kind: any ``draw_camera`` kind; every
    kind draws its cameras from the same per-item generators.

    proportions: each sequence's person gets the body of ``random_proportions`` (one draw
    per sequence from ``SeedSequence([seed, PROPORTION_STREAM, crc32(trial id)])``, so the
    cameras and corruption draws are those of the unchanged bodies), feet kept on the floor.
    """
    out: list[dict[str, Any]] = []
    for seq in sequences:
        full = resample(seq.joints, seq.fps, fps)  # (F', 17, 3)
        if proportions is not None:
            prng = np.random.default_rng(np.random.SeedSequence([seed, _PROPORTION_STREAM, zlib.crc32(seq.trial_id.encode("utf-8"))]))
            body = rescale_bones(full, H36M17.parents, random_proportions(prng, H36M17, proportions))  # (F', 17, 3)
            full = keep_on_floor(full, body, H36M17)
        if clip_len is None:
            windows = [(0, full)]
        else:
            if clip_len < 1:
                raise ValueError("clip_len must be >= 1")
            n = full.shape[0] // clip_len
            windows = [(i * clip_len, full[i * clip_len:(i + 1) * clip_len]) for i in range(n)]
        tid = zlib.crc32(seq.trial_id.encode("utf-8"))
        for wi, (start, clip) in enumerate(windows):
            for ci in range(cameras_per_sequence):
                rng = np.random.default_rng(np.random.SeedSequence([seed, _EVAL_STREAM, tid, wi, ci]))
                item = render_window(clip, rng, camera_kind, corruption)
                item.update(_labels(seq, fps, start / fps))
                item["window"] = wi
                item["camera_index"] = ci
                out.append(item)
    return out


def collate_windows(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of different lengths: arrays with a leading F are zero-padded to the
    longest and stacked into tensors, plus ``valid`` (B, F) bool; other arrays are
    stacked, scalars become tensors (numbers) or lists (strings)."""
    if not items:
        raise ValueError("empty batch")
    fmax = max(it["joints3d"].shape[0] for it in items)
    batch: dict[str, Any] = {}
    time_keys = {"joints3d", "xy", "conf", "xy_clean"}
    for key in items[0]:
        vals = [it[key] for it in items]
        if key in time_keys:
            padded = []
            for v in vals:
                pad = np.zeros((fmax,) + v.shape[1:], dtype=v.dtype)
                pad[: v.shape[0]] = v
                padded.append(pad)
            batch[key] = torch.from_numpy(np.stack(padded))
        elif isinstance(vals[0], np.ndarray):
            batch[key] = torch.from_numpy(np.stack(vals))
        elif isinstance(vals[0], (bool, int, float)):
            batch[key] = torch.tensor(vals)
        else:
            batch[key] = vals
    valid = np.zeros((len(items), fmax), dtype=bool)
    for i, it in enumerate(items):
        valid[i, : it["joints3d"].shape[0]] = True
    batch["valid"] = torch.from_numpy(valid)
    return batch


def encode_batch(batch: dict[str, Any], codec: PoseCodec) -> tuple[torch.Tensor, torch.Tensor]:
    """Collated windows -> model input (B, F, J, 3) and 3D target (B, F, J, 3) in model units."""
    xs = []
    for i in range(batch["xy"].shape[0]):
        w, h = int(batch["width"][i]), int(batch["height"][i])
        xs.append(codec.encode_2d(batch["xy"][i], batch["conf"][i], w, h))  # (F, J, 3)
    return torch.stack(xs), codec.encode_3d(batch["joints3d"])


def encode_clean_2d(batch: dict[str, Any], codec: PoseCodec) -> torch.Tensor:
    """The exact (uncorrupted) 2D projection in model units (B, F, J, 2): the MPM target."""
    xs = []
    for i in range(batch["xy_clean"].shape[0]):
        w, h = int(batch["width"][i]), int(batch["height"][i])
        xy = batch["xy_clean"][i]
        xs.append(codec.encode_2d(xy, torch.ones(xy.shape[:-1]), w, h)[..., :2])  # (F, J, 2)
    return torch.stack(xs)
