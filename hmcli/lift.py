"""The lifting engine: 2D keypoints -> H36M-17 model input -> HumMUSS -> 3D joints in metres.

Offline (:func:`lift_keypoints`)
    A model runs on the context length it was trained on. A checkpoint trained on clips of at
    most T frames (``meta.train.clip_max``; 81 for the shipped models) lifts in overlapping
    windows of T frames at its training rate (T·fps/train_fps frames at another rate: the same
    span of time). Each window discards ``T/5`` frames of context on each side and
    neighbouring windows cross-fade linearly over ``T/10`` frames, so there is no jump at a
    seam (see :func:`chunk_windows`). Measured on the validation subjects, one pass over whole
    sequences (up to a few thousand frames) is far worse than windows of the trained length:
    93.6 against 61.8 mm MPJPE for an earlier release of hummuss-small-cmu, 79.8 against
    70.3 mm for the causal model of that release (without flip). The length was chosen with
    the checkpoints before them (windows of 41-81 frames were equal; 121, 162, 243 gave
    73.5, 75.1, 77.5 against 72.5 mm) and re-checked with the 5000-step checkpoints (with
    test-time flip): windows of 41, 61, 81, 101, 121, 162 frames gave 69.6, 69.4, 69.4,
    70.0, 70.7, 72.8 mm (bidirectional) and 78.3, 78.0, 77.7, 77.7, 77.6, 78.0 mm (causal).
    A small SSM trained on short clips does not extrapolate its state to much longer inputs.
    Denser windows do not pay: averaging every frame over ~5-10 windows with triangular weights
    (windows 8-16 frames apart instead of 41, four times the compute) moved the then shipped
    bidirectional model from 57.45 to 57.35 mm on the validation subjects (8 cameras): the
    windows agree, the error is the model's, not the cut's.
    ``one_pass=True`` (and checkpoints without a training record, or trained on long clips)
    lift the whole sequence in one pass; only inputs too long for :data:`LIFT_MEMORY_BYTES`
    of activations (2 GiB: about 30 000 frames for hummuss-small, 12 000 for the paper-size
    model; see :func:`max_pass_frames`) are then split, into windows of that length with
    ``context`` (256) and ``blend`` (128) frames. A causal model runs the same forward (it is
    causal by construction).

Frame timing (:func:`frame_timing`)
    Uniform timestamps (every gap within 1 % of the median, or within the 1 ms rounding of
    millisecond container timebases) use the FFT path with
    ``dt_scale = train_fps / fps``; irregular timestamps (dropped frames, variable frame
    rate, webcams) use per-step Δ multipliers from ``model.steps_for(timestamps)`` (the
    recurrence). An explicit ``fps`` replaces the timestamps by ``index / fps``.

Streaming (:class:`FrameLifter`)
    One frame at a time through :class:`hmcli.nn.hummuss.Streamer` (causal models only),
    with the real time since the previous frame as Δ: O(1) time and memory per frame. The
    memory horizon is the trained clip length (inputs older than that are forgotten
    exactly); ``one_pass`` streams with unbounded memory (see the causal model card for both).

Test-time flip (``flip=True``, the default everywhere)
    Every input also goes through the model mirrored left to right
    (:meth:`PoseCodec.flip_2d`, in the same batch), and the mirrored output, mirrored back,
    is averaged with the direct one (:func:`flip_batch`, :func:`merge_flip`). The models are
    trained with flip augmentation, so both are estimates of the same pose; the average is
    mirror-equivariant. On the held-out test subjects it takes hummuss-small-cmu from 60.7 to
    58.5 mm MPJPE (P-MPJPE 46.4 -> 44.4) and hummuss-small-causal-cmu from 64.1 to 63.9 mm
    (48.1 -> 47.8). Streaming runs the two as one batch of 2 through the Streamer.

Frames without a person reach the model with confidence 0 (the codec zeroes their
coordinates); they are kept and stay flagged (``detected`` False). When no frame at all
has a person there is nothing to estimate and every 3D joint is NaN.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from hmcli.io.atomic import HMError
from hmcli.io.checkpoint import CheckpointError, LoadedModel, load_checkpoint, resolve_model
from hmcli.nn.call import call_model
from hmcli.skeleton import to_h36m
from hmcli.skeleton.codec import PoseCodec
from hmcli.skeleton.convert import flip_pose
from hmcli.track import KeypointTracker, TrackerConfig
from hmcli.types import Keypoints2D, MultiKeypoints2D, MultiPose3DResult, Pose3DResult

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_CAUSAL_MODEL",
    "LIFT_MEMORY_BYTES",
    "CHUNK_FRAMES",
    "max_pass_frames",
    "CHUNK_CONTEXT",
    "CHUNK_BLEND",
    "UNIFORM_TOLERANCE",
    "TIMEBASE_ROUNDING_S",
    "FrameTiming",
    "frame_timing",
    "load_lifter",
    "to_model_input",
    "lifter_2d",
    "inside_image",
    "MASK_OUTSIDE_IMAGE",
    "chunk_windows",
    "offline_windows",
    "run_windows",
    "make_streamer",
    "FixedRateStreamer",
    "run_fixed_windows",
    "is_continuous",
    "is_causal",
    "train_fps",
    "trained_clip_frames",
    "Windows",
    "lift_keypoints",
    "flip_batch",
    "merge_flip",
    "flip_averaged",
    "FrameLifter",
]

#: Shipped checkpoints (models/NAME.pt): the default for ``hm lift`` and for ``hm lift --causal``.
DEFAULT_MODEL = "hummuss-small-cmu"
DEFAULT_CAUSAL_MODEL = "hummuss-small-causal-cmu"

#: Activation memory one forward pass may use; inputs that would need more are lifted in
#: overlapping windows of the largest length that fits (never fewer than CHUNK_FRAMES).
LIFT_MEMORY_BYTES = 2 << 30
#: Smallest window length used when an input has to be split.
CHUNK_FRAMES = 2048
#: Frames of context on each side of a window whose outputs are discarded (>= 243).
CHUNK_CONTEXT = 256
#: Frames over which two neighbouring windows' estimates are cross-faded.
CHUNK_BLEND = 128
#: Trained-length windows (see the module docstring): context and cross-fade as fractions of
#: the window, and the shortest window used.
WINDOW_CONTEXT_FRACTION = 0.2
WINDOW_BLEND_FRACTION = 0.1
MIN_WINDOW = 16
#: Timestamps count as uniform when every gap is within this fraction of the median gap ...
UNIFORM_TOLERANCE = 0.01
#: ... or within this many seconds of it (containers with millisecond timebases round
#: 33.33 ms to 33 / 34 ms: a rounding, not a variable frame rate).
TIMEBASE_ROUNDING_S = 0.0011


# ------------------------------------------------------------------ model


def _lifter_classes() -> tuple[type, ...]:
    from hmcli.nn.baselines import PSTMO, DSTformer, MixSTE
    from hmcli.nn.hummuss import HumMUSS

    return HumMUSS, DSTformer, MixSTE, PSTMO


def is_continuous(lm: LoadedModel) -> bool:
    """True for HumMUSS (Δ scaling, trained-length windows, the recurrent Streamer); False for
    the transformer baselines, which see frames as they come, in their own windows."""
    from hmcli.nn.hummuss import HumMUSS

    return isinstance(lm.model, HumMUSS)


def is_causal(lm: LoadedModel) -> bool:
    """Whether ``lm``'s output at frame t depends only on frames <= t (any architecture)."""
    return bool(getattr(lm.model.cfg, "causal", False))


def train_fps(lm: LoadedModel) -> float:
    """The frame rate ``lm`` was trained at (its config's ``fps``; Δ multiplier 1 for HumMUSS)."""
    return float(lm.model.cfg.fps)


def _check_lifter(lm: LoadedModel) -> None:
    if not isinstance(lm.model, _lifter_classes()):
        raise CheckpointError(
            f"{lm.path or lm.model_id}: architecture '{lm.arch}' is not a 2D -> 3D lifter "
            "(a masked-pose pretraining checkpoint? fine-tune it with hm train init=... first)"
        )
    cfg = lm.model.cfg
    in_dim, out_dim = cfg.in_dim, getattr(cfg, "out_dim", 3)
    # The baselines take (x, y) or (x, y, confidence) and drop a confidence they do not use.
    fits = lm.codec.in_channels == in_dim or (not is_continuous(lm) and in_dim == 2 and lm.codec.in_channels == 3)
    if lm.codec.joint_set != "h36m17" or cfg.num_joints != 17 or not fits or out_dim != 3:
        raise CheckpointError(
            f"{lm.path or lm.model_id}: expected an H36M-17 2D ({lm.codec.in_channels} channels) -> 3D lifter, got joint set "
            f"{lm.codec.joint_set!r} with {cfg.num_joints} joints, in_dim {in_dim}, out_dim {out_dim}"
        )


def load_lifter(model: str | LoadedModel | None = None, causal: bool = False) -> LoadedModel:
    """Load a lifter by checkpoint path or shipped name (default: :data:`DEFAULT_MODEL`, or
    :data:`DEFAULT_CAUSAL_MODEL` with ``causal``). ``causal`` requires a causal model.

    Any 2D -> 3D lifter checkpoint works: HumMUSS, or a baseline from ``hm train --arch
    dstformer|mixste|pstmo``. Raises :class:`CheckpointError` for unknown names, bad files and
    checkpoints that are not H36M-17 lifters (e.g. masked-pose pretraining).
    """
    if isinstance(model, LoadedModel):
        lm = model
    else:
        name = model or (DEFAULT_CAUSAL_MODEL if causal else DEFAULT_MODEL)
        try:
            path = resolve_model(str(name))
        except CheckpointError as e:
            if model is None:
                raise CheckpointError(
                    f"{e}; the default model is missing: pass --model PATH (a checkpoint from hm train) "
                    "or put the shipped checkpoints in models/"
                ) from None
            raise
        lm = load_checkpoint(path)
    _check_lifter(lm)
    if causal and not is_causal(lm):
        raise CheckpointError(
            f"model '{lm.model_id}' is bidirectional; causal/streaming lifting needs a causal model "
            f"(e.g. {DEFAULT_CAUSAL_MODEL})"
        )
    return lm


# ------------------------------------------------------------------ timing


@dataclass(frozen=True)
class FrameTiming:
    """How frame times reach the model: ``steps`` None -> uniform (FFT) with ``dt_scale``;
    otherwise per-frame Δ multipliers (F,) (recurrence) and ``dt_scale`` 1."""

    fps: float
    dt_scale: float
    steps: torch.Tensor | None

    @property
    def uniform(self) -> bool:
        return self.steps is None


def frame_timing(timestamps: np.ndarray, train_fps: float, fps: float | None = None) -> FrameTiming:
    """Decide the timing path for frames at ``timestamps`` (seconds) for a model trained at
    ``train_fps``. ``fps`` (if given) overrides the timestamps: uniform at that rate."""
    ts = np.asarray(timestamps, np.float64)
    if fps is not None:
        fps = float(fps)
        if not (math.isfinite(fps) and fps > 0):
            raise HMError(f"fps must be a positive number, got {fps}")
        return FrameTiming(fps, train_fps / fps, None)
    if ts.size < 2:
        return FrameTiming(float(train_fps), 1.0, None)
    if not np.isfinite(ts).all():
        raise HMError("the keypoints have missing (NaN) timestamps; pass --fps to use a fixed frame rate")
    gaps = np.diff(ts)
    if (gaps <= 0).any():
        i = int(np.argmax(gaps <= 0)) + 1
        raise HMError(
            f"timestamps must increase from frame to frame (frame {i}: {ts[i]:.6f} s after {ts[i - 1]:.6f} s); "
            "pass --fps to use a fixed frame rate"
        )
    med = float(np.median(gaps))
    if np.abs(gaps - med).max() <= max(UNIFORM_TOLERANCE * med, min(TIMEBASE_ROUNDING_S, 0.05 * med)):
        return FrameTiming(1.0 / med, train_fps * med, None)
    steps = torch.from_numpy(np.concatenate([[med], gaps]) * train_fps).float()
    return FrameTiming(1.0 / med, 1.0, steps)


# ------------------------------------------------------------------ input


#: How BlazePose-33 input becomes the lifter's H36M-17 (:func:`hmcli.skeleton.to_h36m`): ``cmu``,
#: the affine map to CMU's joint centres learned on rendered bodies (issue #35,
#: bench_results/detector-2d.md: held-out MPJPE 111.5 -> 96.1 mm), or ``midpoints`` (before).
BLAZEPOSE_MAP = "cmu"


#: Confidence the lifter sees for a *found* joint is at least this, per input joint set. BlazePose's
#: visibility says little about its 2D error (bench_results/detector-2d.md: 7 % of joints under 0.5 are
#: off by 3-4 % of the height, against 1.6 % above 0.9), while the lifters learned from training 2D
#: whose confidence falls with the error to lean away from low-confidence joints. On the real detector's
#: held-out renders (scripts/lift_renders.py) a floor of 0.8 gives 92.4 -> 87.1 mm (bidirectional),
#: 86.8 -> 86.8 (causal), 96.1 -> ~93 (v1); dropping low-visibility joints (confidence 0 under 0.1-0.7)
#: does not help (91.1-92.9 mm). docs/real-video.md §10. Missing joints (confidence 0) stay missing.
CONFIDENCE_FLOOR: dict[str, float] = {"blazepose33": 0.8}


#: Joints the detector places outside the image get confidence 0 for the lifter, as every training
#: clip has them (:class:`hmcli.data.corrupt.CorruptionConfig` ``mask_outside_image``): BlazePose
#: guesses landmarks beyond the frame with some visibility, a position the lifters never saw with
#: confidence. On the real detector's held-out renders (``hm bench rendered``, docs/real-video.md §13)
#: through desk-webcam cameras (25 % of the joints outside) MPJPE 169.7 -> 153.9 mm (bidirectional),
#: 162.8 -> 143.4 (causal); phone and handheld cameras (1-4 % outside) ~0.5-0.9 mm better, whole-body
#: framings unchanged.
MASK_OUTSIDE_IMAGE = True


def inside_image(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., J) bool: the (..., J, 2) pixel positions inside a ``width`` x ``height`` image (NaN: outside)."""
    xy = np.asarray(xy)
    with np.errstate(invalid="ignore"):
        return (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)


def model_confidence(conf: np.ndarray, joint_set: str, floor: float | None = None, xy: np.ndarray | None = None,
                     width: int | None = None, height: int | None = None) -> np.ndarray:
    """The confidence the lifter is given for (..., J) detector confidences of ``joint_set``: raised to
    ``floor`` (default :data:`CONFIDENCE_FLOOR` of the joint set, else unchanged) where positive; with
    ``xy`` (..., J, 2) and the image size, 0 for joints outside the image (:data:`MASK_OUTSIDE_IMAGE`)."""
    floor = CONFIDENCE_FLOOR.get(joint_set) if floor is None else floor
    conf = np.asarray(conf, np.float32)
    if floor:
        conf = np.where(conf > 0, np.maximum(conf, np.float32(floor)), np.float32(0.0)).astype(np.float32)
    if xy is not None and width is not None and height is not None and MASK_OUTSIDE_IMAGE:
        conf = np.where(inside_image(xy, width, height), conf, np.float32(0.0)).astype(np.float32)
    return conf


def lifter_2d(xy: np.ndarray, conf: np.ndarray, joint_set: str, width: int, height: int,
              blazepose_map: str = BLAZEPOSE_MAP, confidence_floor: float | None = None):
    """The 2D a lifter (or a classifier on its backbone) is given: keypoints (..., J, 2) + conf (..., J)
    of ``joint_set`` -> (H36M xy (..., 17, 2), the detector's H36M conf (..., 17), the lifter's conf
    (..., 17): with the floor and 0 outside the image, :func:`model_confidence`). ``blazepose_map``:
    see :data:`BLAZEPOSE_MAP`; ``confidence_floor``: see :func:`model_confidence` (0: the detector's own)."""
    k = np.concatenate([np.asarray(xy, np.float32), np.asarray(conf, np.float32)[..., None]], axis=-1)
    try:
        h = np.asarray(to_h36m(k, joint_set, blazepose_map), np.float32)  # (..., 17, 3)
    except ValueError as e:
        raise HMError(str(e)) from None
    c_in = model_confidence(h[..., 2], joint_set, confidence_floor, h[..., :2], width, height)  # (..., 17)
    return h[..., :2], h[..., 2], c_in


def to_model_input(lm: LoadedModel, xy: np.ndarray, conf: np.ndarray, joint_set: str, width: int, height: int,
                   blazepose_map: str = BLAZEPOSE_MAP, confidence_floor: float | None = None):
    """2D keypoints (..., J, 2) + conf (..., J) of ``joint_set`` -> (H36M xy (..., 17, 2),
    H36M conf (..., 17), model input (..., 17, 3) float32 numpy), through :func:`lifter_2d`.
    The returned H36M confidence is the detector's; only the model input has the floor and gives joints
    outside the image confidence 0 (:data:`MASK_OUTSIDE_IMAGE`)."""
    hxy, hconf, c_in = lifter_2d(xy, conf, joint_set, width, height, blazepose_map, confidence_floor)
    x = np.asarray(lm.codec.encode_2d(hxy, c_in, width, height), np.float32)
    return hxy, hconf, x


#: A 2D refiner runs on clips whose frame rate is within this factor of the rates it was trained on
#: (:func:`hmcli.refine.api.trained_rates`); beyond, its Δ is far outside what it learned. Measured: the
#: shipped refiner (24-50 fps) on the 5 fps squats clip doubled the lift's bone-length variation.
REFINE_RATE_MARGIN = 1.5


def refine_h36m(refiner, xy: np.ndarray, conf: np.ndarray, detected: np.ndarray, timestamps: np.ndarray,
                joint_set: str, fps: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temporal 2D refinement of one person's H36M-17 track (:func:`hmcli.refine.api.refine_track`):
    H36M xy (F, 17, 2) px and the detector's confidence (F, 17) -> (refined xy, confidence to record:
    the detector's, and the fill confidence for joints the refiner filled in, lifter confidence:
    the same with the joint set's :data:`CONFIDENCE_FLOOR`)."""
    from hmcli.refine.api import refine_track, trained_rates

    timing = frame_timing(timestamps, float(refiner.model.cfg.fps), fps)
    c_model = model_confidence(conf, joint_set)  # (F, 17)
    lo, hi = trained_rates(refiner)
    if not lo / REFINE_RATE_MARGIN <= timing.fps <= hi * REFINE_RATE_MARGIN:
        warnings.warn(f"2D refiner {refiner.model_id} was trained at {lo:g}-{hi:g} fps; this clip runs at "
                      f"{timing.fps:.3g} fps, so its 2D is lifted as detected (not refined)", stacklevel=3)
        return xy.astype(np.float32), conf.astype(np.float32), c_model
    xy_r, c_r = refine_track(refiner, xy, c_model, detected, timing.dt_scale, timing.steps)
    filled = (conf <= 0) & (c_r > 0)
    rec = np.where(filled, c_r, conf).astype(np.float32)
    return xy_r, rec, c_r


# ------------------------------------------------------------------ chunks


def max_pass_frames(model, budget: int = LIFT_MEMORY_BYTES) -> int:
    """Frames one forward pass of ``model`` may take within ``budget`` bytes of activations.

    Peak memory per frame is about 16 bytes x joints x the widest feature size (measured
    ~70 KB/frame for hummuss-small: 576 MB for 8192 frames, FFT buffers included)."""
    cfg = model.cfg
    widest = max(int(round(cfg.expand * cfg.dim)), cfg.rep_dim, cfg.dim)
    per_frame = 16 * cfg.num_joints * widest
    return max(CHUNK_FRAMES, int(budget // per_frame))



@dataclass(frozen=True)
class Windows:
    """How an offline input is cut: windows of ``chunk`` frames, ``context`` frames discarded
    on each side, ``blend`` frames of cross-fade (see :func:`chunk_windows`)."""

    chunk: int
    context: int
    blend: int


def trained_clip_frames(lm: LoadedModel) -> int | None:
    """Longest training clip (frames at the training rate) recorded in the checkpoint, or None."""
    value = (lm.meta.get("train") or {}).get("clip_max")
    return int(value) if isinstance(value, (int, float)) and value >= 1 else None


def offline_windows(lm: LoadedModel, fps: float | None = None, one_pass: bool = False) -> Windows:
    """Windows for lifting ``lm`` offline at ``fps`` (default: its training rate): the trained
    context length (see the module docstring), or with ``one_pass`` (or no training record)
    the longest pass that fits :data:`LIFT_MEMORY_BYTES`."""
    model = lm.model
    longest = max_pass_frames(model)
    clip = trained_clip_frames(lm)
    if one_pass or clip is None:
        return Windows(longest, CHUNK_CONTEXT, CHUNK_BLEND)
    train_fps = float(model.cfg.fps)
    chunk = max(MIN_WINDOW, int(round(clip * (fps or train_fps) / train_fps)))
    if chunk >= longest:
        return Windows(longest, CHUNK_CONTEXT, CHUNK_BLEND)
    context = max(1, int(round(WINDOW_CONTEXT_FRACTION * chunk)))
    blend = max(1, int(round(WINDOW_BLEND_FRACTION * chunk)))
    return Windows(chunk, context, blend)


class FixedRateStreamer:
    """A transformer baseline's causal streamer behind the :class:`hmcli.nn.hummuss.Streamer`
    interface, ``step(frame (B, J, C), dt) -> (B, J, 3)``. These models have no Δ: ``dt`` is
    ignored and every frame counts as one training frame period.

    DSTformer: key/value caches (:class:`hmcli.nn.baselines.DSTformerKVStreamer`) over the
    last ``window`` frames. MixSTE and P-STMO: the model re-run on the last ``window`` frames
    for every new one (:class:`hmcli.nn.baselines.WindowRecomputeStreamer`)."""

    def __init__(self, model, window: int):
        from hmcli.nn.baselines import DSTformer, DSTformerKVStreamer, WindowRecomputeStreamer

        self.window = int(window)
        kv = isinstance(model, DSTformer)
        self.inner = DSTformerKVStreamer(model, self.window) if kv else WindowRecomputeStreamer(model, self.window)

    def step(self, frame: torch.Tensor, dt: float | None = None) -> torch.Tensor:
        return self.inner.step(frame)  # (B, J, 3)


def make_streamer(lm: LoadedModel, dt_scale: float = 1.0, one_pass: bool = False):
    """The streamer live lifting uses for a causal ``lm``. HumMUSS: the recurrent
    :class:`hmcli.nn.hummuss.Streamer`, memory horizon = the trained clip length (none with
    ``one_pass`` or without a training record). Baselines: :class:`FixedRateStreamer` over the
    trained clip length (P-STMO: its fixed window; with ``one_pass``, the positional table)."""
    from hmcli.nn.hummuss import Streamer

    if is_continuous(lm):
        return Streamer(lm.model, dt_scale=dt_scale, horizon=None if one_pass else trained_clip_frames(lm))
    if not is_causal(lm):
        raise CheckpointError(f"model '{lm.model_id}' is bidirectional; streaming needs a causal model")
    cfg = lm.model.cfg
    if getattr(lm.model, "fixed_window", False):
        window = int(cfg.frames)
    else:
        clip = None if one_pass else trained_clip_frames(lm)
        window = min(int(cfg.maxlen), clip or int(cfg.maxlen))
    return FixedRateStreamer(lm.model, window)


def chunk_windows(n: int, chunk: int = CHUNK_FRAMES, context: int = CHUNK_CONTEXT, blend: int = CHUNK_BLEND):
    """Windows ``(start, stop)`` and per-window output weights (stop - start,) for ``n`` frames.

    One window when ``n <= chunk``. Otherwise windows of ``chunk`` frames, at most ``chunk -
    2*context - blend`` apart (the last one aligned to the end). A window's first and last
    ``context`` frames get weight 0 (except at the ends of the sequence), so every kept output
    has at least ``context`` frames of input on both sides; the kept parts of neighbours
    overlap by at least ``blend`` frames, and each window's weight ramps linearly from 0 to 1
    over ``blend`` frames at the edges of its kept part. The weights are normalised to sum to
    1 at every frame (continuous, piecewise linear: no jump where windows meet).
    """
    if n <= chunk:
        return [(0, n)], [np.ones(n)]
    stride = chunk - 2 * context - blend
    if stride < 1 or blend < 1:
        raise ValueError(f"chunk ({chunk}) must exceed 2 * context + blend ({2 * context + blend}); blend >= 1")
    starts = list(range(0, n - chunk, stride)) + [n - chunk]
    last = len(starts) - 1
    t = np.arange(chunk) + 0.5
    raw = []
    for i, a in enumerate(starts):
        up = (t - (context if i > 0 else -np.inf)) / blend
        down = ((chunk - context if i < last else np.inf) - t) / blend
        raw.append(np.clip(np.minimum(up, down), 0.0, 1.0))
    total = np.zeros(n)
    for a, w in zip(starts, raw):
        total[a : a + chunk] += w
    weights = [w / np.where(w > 0, total[a : a + chunk], 1.0) for a, w in zip(starts, raw)]
    return [(a, a + chunk) for a in starts], weights


#: Inputs shorter than this run on one thread: for small tensors, waking a thread pool costs
#: more than it saves (and far more when the cores are busy).
SINGLE_THREAD_FRAMES = 256


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` (None: unchanged) inside the block, restored after.

    The batch lifts with one thread by default: lifting is a few per cent of a video's time
    (the detector is the rest), and on a machine busier than its cores torch's threads wait on
    each other at every operation. On this 2-core machine at load 7, lifting 275 frames took
    12-13 s with two threads and 1.4-1.7 s with one."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: Windows of the same length are lifted together, up to this many frames per forward pass.
WINDOW_BATCH_FRAMES = 512


def flip_batch(codec: PoseCodec, x: torch.Tensor) -> torch.Tensor:
    """Model input (B, ..., J, C) -> (2B, ..., J, C): the input, then its mirror image."""
    return torch.cat([x, codec.flip_2d(x)])


def merge_flip(codec: PoseCodec, y: torch.Tensor) -> torch.Tensor:
    """Model output (2B, ..., J, 3) of a :func:`flip_batch` input -> (B, ..., J, 3): the direct
    estimate averaged with the mirrored one, mirrored back."""
    b = y.shape[0] // 2
    return 0.5 * (y[:b] + flip_pose(y[b:], codec.joint_set))


def flip_averaged(codec: PoseCodec | None, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` (B, ..., J, 3) for a model input x (B, ..., J, C); with a ``codec``, ``fn`` sees
    x and its mirror image as one batch of 2B and the two estimates are averaged
    (:func:`flip_batch`, :func:`merge_flip`). ``None``: the single estimate."""
    if codec is None:
        return fn(x)
    return merge_flip(codec, fn(flip_batch(codec, x)))


@torch.inference_mode()
def run_windows(model, x: np.ndarray, timing: FrameTiming, win: Windows,
                on_progress: Callable[[int, int], None] | None = None, flip: PoseCodec | None = None) -> np.ndarray:  # fmt: skip
    """Model output (F, J, 3) (model units) for model input x (F, J, C), cut into ``win``
    (see :func:`chunk_windows`). Windows (all of length ``win.chunk`` when there are several)
    go through the model in batches of up to :data:`WINDOW_BATCH_FRAMES` frames. ``flip``: the
    input's codec, to average with the mirrored input's estimate (test-time flip)."""
    n = x.shape[0]
    windows, weights = chunk_windows(n, win.chunk, win.context, win.blend)
    xt = torch.from_numpy(np.ascontiguousarray(x))
    out = np.zeros((n, x.shape[1], 3), np.float64)
    copies = 2 if flip is not None else 1
    per_pass = max(1, min(WINDOW_BATCH_FRAMES, max_pass_frames(model)) // (copies * (windows[0][1] - windows[0][0])))
    for g in range(0, len(windows), per_pass):
        group = windows[g : g + per_pass]
        frames = copies * sum(b - a for a, b in group)
        xs = torch.stack([xt[a:b] for a, b in group])  # (W, chunk, J, C)
        if timing.steps is None:
            timed = {"dt_scale": timing.dt_scale}
        else:
            timed = {"steps": torch.stack([timing.steps[a:b] for a, b in group]).repeat(copies, 1)}  # (W or 2W, chunk)
        with torch_threads(1 if frames < SINGLE_THREAD_FRAMES else None):
            y = flip_averaged(flip, lambda batch: model(batch, **timed), xs)  # (W, chunk, J, 3)
        for (a, b), w, yw in zip(group, weights[g : g + per_pass], y.double().numpy()):
            out[a:b] += w[:, None, None] * yw
        if on_progress is not None:
            on_progress(group[-1][1], n)
    return out


@torch.inference_mode()
def run_fixed_windows(model, x: np.ndarray, flip: PoseCodec | None = None) -> np.ndarray:
    """Model output (F, J, 3) (model units) of a transformer baseline for model input x (F, J, C):
    seq2seq models in consecutive windows of their positional table, P-STMO one window per
    output frame (:func:`hmcli.nn.call.call_model`, as they are evaluated). ``flip``: as
    in :func:`run_windows`."""
    xt = torch.from_numpy(np.ascontiguousarray(x))[None]  # (1, F, J, C)
    return flip_averaged(flip, lambda b: call_model(model, b), xt)[0].double().numpy()  # (F, J, 3)


def _fixed_rate_warning(lm: LoadedModel, timing: FrameTiming) -> None:
    rate = train_fps(lm)
    if timing.steps is not None or abs(timing.dt_scale - 1.0) > UNIFORM_TOLERANCE:
        what = "variable-rate input" if timing.steps is not None else f"{timing.fps:.3g} fps input"
        warnings.warn(f"{lm.model_id} ({lm.arch}) has no frame timing: it lifts {what} as if it came at "
                      f"its training rate, {rate:g} fps (HumMUSS models scale Δ instead)", stacklevel=3)


def lift_keypoints(
    kp: Keypoints2D,
    lm: LoadedModel,
    fps: float | None = None,
    *,
    chunk: int | None = None,
    context: int = CHUNK_CONTEXT,
    blend: int = CHUNK_BLEND,
    one_pass: bool = False,
    flip: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    refiner=None,
) -> Pose3DResult:
    """Lift ``kp`` with ``lm`` (see the module docstring). The result's ``kpts2d`` is the H36M-17
    2D input the model saw, with the same timestamps (``index / fps`` when ``fps`` is given).

    Windows: by default :func:`offline_windows` (the trained context length, or one pass with
    ``one_pass``); an explicit ``chunk`` with ``context`` and ``blend`` overrides them (see
    :func:`chunk_windows`). ``flip``: test-time flip (see the module docstring).

    Transformer baselines (DSTformer, MixSTE, P-STMO checkpoints from ``hm train --arch``) run in
    their own windows (:func:`run_fixed_windows`) and take the frames as they come (a warning
    when the rate is not their training rate); ``one_pass`` and ``chunk`` are HumMUSS options.

    ``refiner``: a :class:`~hmcli.refine.checkpoint.LoadedRefiner`: the H36M-17 2D is first repaired
    over time (:func:`refine_h36m`); the result's ``kpts2d`` is then the refined 2D."""
    _check_lifter(lm)
    if kp.num_frames == 0:
        raise HMError("no frames to lift")
    model = lm.model.eval()
    timing = frame_timing(kp.timestamps, train_fps(lm), fps)
    continuous = is_continuous(lm)
    if continuous:
        win = offline_windows(lm, timing.fps, one_pass) if chunk is None else Windows(int(chunk), context, blend)
    elif one_pass or chunk is not None:
        raise HMError(f"{lm.model_id}: one pass and explicit windows are for HumMUSS models; '{lm.arch}' runs in "
                      "the windows of its positional table")
    else:
        _fixed_rate_warning(lm, timing)
    xy, conf, x = to_model_input(lm, kp.xy, kp.conf, kp.joint_set, kp.width, kp.height)
    ts = np.arange(kp.num_frames, dtype=np.float64) / timing.fps if fps is not None else kp.timestamps.copy()
    detected = np.asarray(kp.detected, bool).copy()
    if refiner is not None and detected.any():
        xy, conf, c_in = refine_h36m(refiner, xy, conf, detected, ts, kp.joint_set, fps)
        if MASK_OUTSIDE_IMAGE:  # as without refinement: what lies outside the image is not given to the lifter
            c_in = np.where(inside_image(xy, kp.width, kp.height), c_in, np.float32(0.0)).astype(np.float32)
        x = np.asarray(lm.codec.encode_2d(xy, c_in, kp.width, kp.height), np.float32)
    if detected.any():
        codec = lm.codec if flip else None
        if continuous:
            y = run_windows(model, x, timing, win, on_progress, codec)
        else:
            y = run_fixed_windows(model, x, codec)
            if on_progress is not None:
                on_progress(kp.num_frames, kp.num_frames)
        j3 = np.asarray(lm.codec.decode_3d(y), np.float32)
    else:  # nobody anywhere: no estimate
        j3 = np.full((kp.num_frames, 17, 3), np.nan, np.float32)
        if on_progress is not None:
            on_progress(kp.num_frames, kp.num_frames)
    k2 = replace(kp, xy=xy.astype(np.float32), conf=conf.astype(np.float32), joint_set="h36m17",
                 timestamps=ts, detected=detected)  # fmt: skip
    return Pose3DResult(kpts2d=k2, joints3d=j3, model_id=lm.model_id, model_hash=lm.sha256 or "")


# ------------------------------------------------------------------ streaming


class FrameLifter:
    """Causal, frame-by-frame lifting: ``step(xy, conf, t, found)`` -> (H36M xy, conf, joints3d
    (17, 3) metres). Δ is the real time since the previous frame (``fps`` set: fixed 1/fps).

    Memory: a checkpoint trained on clips of at most T frames streams with a horizon of T
    training frame periods (:class:`hmcli.nn.hummuss.Streamer`): inputs older than that are
    forgotten exactly, in O(1) time per frame, as on the training clips. On the held-out test
    subjects this takes hummuss-small-causal-cmu from 69.7 mm (unbounded, the same as one pass)
    to 66.1 mm (its card's streamed row).
    ``one_pass=True`` streams without a horizon. ``flip``: test-time flip, the frame and its
    mirror image stepped as one batch of 2."""

    def __init__(self, lm: LoadedModel, joint_set: str, width: int, height: int,
                 nominal_fps: float | None = None, fps: float | None = None, one_pass: bool = False,
                 flip: bool = True) -> None:  # fmt: skip
        _check_lifter(lm)
        if not is_causal(lm):
            raise CheckpointError(f"model '{lm.model_id}' is bidirectional; streaming needs a causal model")
        self.lm, self.joint_set, self.width, self.height = lm, joint_set, int(width), int(height)
        base = train_fps(lm)
        rate = fps or nominal_fps
        rate = float(rate) if rate and math.isfinite(rate) and rate > 0 else base
        self.fixed = fps is not None
        self.flip = lm.codec if flip else None
        self.streamer = make_streamer(lm, base / rate, one_pass)
        if not is_continuous(lm) and abs(base / rate - 1.0) > UNIFORM_TOLERANCE:
            _fixed_rate_warning(lm, FrameTiming(rate, base / rate, None))
        self.nominal_dt = 1.0 / rate
        self.last_t: float | None = None

    def step(self, xy: np.ndarray, conf: np.ndarray, t: float, found: bool = True):
        if not found:
            xy = np.zeros_like(xy, np.float32)
            conf = np.zeros_like(conf, np.float32)
        hxy, hconf, x = to_model_input(self.lm, xy, conf, self.joint_set, self.width, self.height)
        dt = None
        if not self.fixed and self.last_t is not None and math.isfinite(t) and t > self.last_t:
            # Microsecond steps: repeated gaps reuse the cached discretisation, and a gap equal
            # to the nominal period uses the Streamer's precomputed one.
            dt = round(float(t - self.last_t), 6)
            if abs(dt - self.nominal_dt) <= 1e-6:
                dt = None
        if math.isfinite(t):
            self.last_t = float(t)
        # One frame is a handful of tiny ops: a single thread is faster than waking a pool
        # (by orders of magnitude when the cores are busy).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            y = flip_averaged(self.flip, lambda b: self.streamer.step(b, dt), torch.from_numpy(x)[None])[0]  # (17, 3)
        finally:
            torch.set_num_threads(threads)
        j3 = np.asarray(self.lm.codec.decode_3d(y.numpy()), np.float32)
        return hxy, hconf, j3


# ------------------------------------------------------------------ several persons


def lift_persons(
    mk: MultiKeypoints2D,
    lm: LoadedModel,
    fps: float | None = None,
    *,
    one_pass: bool = False,
    flip: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    refiner=None,
) -> MultiPose3DResult:
    """Lift every person of ``mk`` on its own (as :func:`lift_keypoints` lifts one person;
    ``refiner`` as there, per person).

    Each person is lifted over its span, from its first to its last detected frame: frames
    inside the span where it was not detected are lifted as any missed frame is; outside the
    span it has no estimate (joints3d NaN, conf 0, ``detected`` False), so a person who enters
    late is not lifted from frames of nobody. ``on_progress(done, total)`` counts frames over
    all persons' spans."""
    f = mk.num_frames
    ts = np.arange(f, dtype=np.float64) / float(fps) if fps is not None else np.asarray(mk.timestamps, np.float64)
    spans = [mk.person(p).span() for p in range(mk.num_persons)]
    total = sum(b - a for a, b in (s for s in spans if s is not None))
    done = 0
    out: list[Pose3DResult] = []
    for p, span in enumerate(spans):
        kp = mk.person(p)
        if span is None:  # tracks are built from detections, so only hand-made inputs get here
            res = lift_keypoints(kp, lm, fps, one_pass=one_pass, flip=flip, refiner=refiner)
            out.append(res)
            continue
        a, b = span
        part = replace(kp, xy=kp.xy[a:b], conf=kp.conf[a:b], timestamps=kp.timestamps[a:b],
                       detected=kp.detected[a:b])  # fmt: skip
        prog = None
        if on_progress is not None:
            prog = (lambda base: lambda i, n: on_progress(base + i, total))(done)  # noqa: E731
        res = lift_keypoints(part, lm, fps, one_pass=one_pass, flip=flip, on_progress=prog, refiner=refiner)
        done += b - a
        j3 = np.full((f, 17, 3), np.nan, np.float32)  # (F, 17, 3)
        j3[a:b] = res.joints3d
        k2 = res.kpts2d
        xy = np.zeros((f, k2.xy.shape[1], 2), np.float32)  # (F, 17, 2)
        conf = np.zeros((f, k2.xy.shape[1]), np.float32)  # (F, 17)
        det = np.zeros(f, bool)
        xy[a:b], conf[a:b], det[a:b] = k2.xy, k2.conf, k2.detected
        full = replace(k2, xy=xy, conf=conf, timestamps=ts, detected=det)
        out.append(Pose3DResult(kpts2d=full, joints3d=j3, model_id=res.model_id, model_hash=res.model_hash))
    if on_progress is not None:
        on_progress(total, total)
    template = None
    if not out:
        template = replace(mk.person_or_empty(), joint_set="h36m17", timestamps=ts,
                           xy=np.zeros((f, 17, 2), np.float32), conf=np.zeros((f, 17), np.float32))  # fmt: skip
    return MultiPose3DResult(out, mk.track_ids, kpts2d_template=template)


@dataclass(frozen=True)
class PersonFrame:
    """One person's output of :meth:`MultiFrameLifter.step`: H36M-17 2D (17, 2) px and conf (17,)
    as the model saw them, and joints3d (17, 3) metres."""

    track_id: int
    xy: np.ndarray
    conf: np.ndarray
    joints3d: np.ndarray


class MultiFrameLifter:
    """Causal, frame-by-frame lifting of several persons: one recurrent state per track.

    ``step(xy (N, J, 2), conf (N, J), t, track_ids=None)`` takes the frame's N detections and
    returns one :class:`PersonFrame` per lifted person. Without ``track_ids`` a
    :class:`hmcli.track.KeypointTracker` assigns them. A new track starts a fresh state (a
    :class:`FrameLifter` of its own); a track's Δ is the real time since that track was last
    seen, so frames it missed become one longer step, not fake empty frames (HumMUSS is
    continuous-time). A track unseen for more than ``tracker.max_lost`` frames is dropped with
    its state, and at most ``max_persons`` states are live (detections of further new tracks
    are skipped until one ends): memory is bounded by ``max_persons`` x one state."""

    def __init__(self, lm: LoadedModel, joint_set: str, width: int, height: int, *,
                 nominal_fps: float | None = None, fps: float | None = None, one_pass: bool = False,
                 flip: bool = True, tracker: TrackerConfig | None = None, max_persons: int = 4) -> None:  # fmt: skip
        if max_persons < 1:
            raise HMError(f"max_persons must be at least 1, got {max_persons}")
        self.make = lambda: FrameLifter(lm, joint_set, width, height, nominal_fps=nominal_fps, fps=fps,
                                        one_pass=one_pass, flip=flip)  # fmt: skip
        self.make()  # fail now (bidirectional model, ...) rather than at the first person
        self.config = tracker or TrackerConfig()
        self.tracker = KeypointTracker(self.config)
        self.max_persons = int(max_persons)
        self.lifters: dict[int, FrameLifter] = {}
        self.last_seen: dict[int, int] = {}
        self.frame = -1

    @property
    def live_tracks(self) -> list[int]:
        return sorted(self.lifters)

    def state_bytes(self) -> int:
        """Bytes of recurrent state held for all live tracks."""
        return sum(getattr(fl.streamer, "state_bytes", lambda: 0)() for fl in self.lifters.values())

    def step(self, xy: np.ndarray, conf: np.ndarray, t: float,
             track_ids: np.ndarray | None = None) -> list[PersonFrame]:  # fmt: skip
        xy = np.asarray(xy, np.float32)  # (N, J, 2)
        conf = np.asarray(conf, np.float32)  # (N, J)
        self.frame += 1
        if track_ids is None:
            ids = self.tracker.update(xy, conf)
        else:
            ids = np.asarray(track_ids, np.int64).reshape(-1)
            if ids.shape[0] != xy.shape[0]:
                raise ValueError(f"{xy.shape[0]} detections but {ids.shape[0]} track ids")
        out = []
        for n, tid in enumerate(ids.tolist()):
            fl = self.lifters.get(tid)
            if fl is None:
                if len(self.lifters) >= self.max_persons:
                    continue
                fl = self.lifters[tid] = self.make()
            self.last_seen[tid] = self.frame
            hxy, hc, j3 = fl.step(xy[n], conf[n], t, True)
            out.append(PersonFrame(int(tid), hxy, hc, j3))
        for tid in [k for k, f in self.last_seen.items() if self.frame - f > self.config.max_lost]:
            self.lifters.pop(tid, None)
            del self.last_seen[tid]
        return out
