"""Held-out evaluation of a lifter checkpoint on motion capture, at any frame rate.

Test sequences (whole, not clipped) are resampled from their source rate to ``fps``,
seen by fixed virtual cameras that training never draws, and corrupted like a detector.
With ``scale_dt`` a continuous-time model gets Δ multiplied by ``train_fps / fps``;
without it the model runs as if the frames still came at its training rate.

Continuous-time models (HumMUSS) are run exactly as ``hm lift`` runs them: in overlapping
windows of the clip length they were trained on (:func:`hmcli.lift.offline_windows`), or
with ``one_pass`` over each whole sequence at once. Other architectures go through
:func:`hmcli.lift.run_fixed_windows` (their own fixed windows), as ``hm lift`` runs them too.
With ``stream``, causal models go frame by frame through the streamer live lifting uses
(:func:`hmcli.lift.make_streamer`: HumMUSS with the trained clip length as memory horizon,
the baselines over a window of that length).

``camera_kind`` picks the cameras' distribution (``hmcli.data.camera``; ``any``, the
default, is the standard one every figure so far used) and ``proportions`` gives each test
person another body (``hmcli.data.augment.PROPORTION_PRESETS``; none by default), with
the same camera and corruption draws. :func:`evaluate_kinds` scores one model on several
camera kinds.

Every architecture gets the same test-time flip as ``hm lift`` by default (``flip``: the
estimate of the mirrored input, mirrored back, averaged with the direct one; see
:func:`hmcli.lift.merge_flip`); ``flip=False`` measures the single estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hmcli.data.augment import proportion_preset
from hmcli.data.camera import check_camera_kind
from hmcli.data.corrupt import corruption_preset
from hmcli.data.cmu import Sequence
from hmcli.data.dataset import collate_windows, encode_batch, make_eval_set
from hmcli.io.atomic import HMError
from hmcli.io.checkpoint import LoadedModel
from hmcli.train.metrics import EvalReport, evaluate


@dataclass
class EvalSetting:
    fps: float
    scale_dt: bool = True
    cameras: int = 2
    seed: int = 0
    one_pass: bool = False  # HumMUSS: whole sequences in one pass instead of trained-length windows
    stream: bool = False  # causal models: frame by frame through the streamer live lifting uses
    flip: bool = True  # test-time flip, as hm lift runs the model
    camera_kind: str = "any"  # hmcli.data.camera kind of the test cameras (any: the standard ones)
    proportions: str = ""  # test bodies: "" (as captured) or a PROPORTION_PRESETS name
    corrupt_model: str = "plain"  # 2D corruption of the test items (hmcli.data.corrupt.CORRUPT_MODELS)

    def __post_init__(self) -> None:
        try:
            check_camera_kind(self.camera_kind)
            proportion_preset(self.proportions)
            corruption_preset(self.corrupt_model)
        except ValueError as e:
            raise HMError(str(e)) from None
        if not self.fps > 0:
            raise HMError(f"fps must be a positive number, got {self.fps}")
        if self.cameras < 1:
            raise HMError(f"cameras must be at least 1, got {self.cameras}")
        if self.seed < 0:
            raise HMError(f"seed must be >= 0, got {self.seed}")


def _streamed(lm: LoadedModel, x: torch.Tensor, dt_scale: float, one_pass: bool) -> torch.Tensor:
    """Frame by frame through the streamer live lifting uses. x: (B, F, J, C) -> (B, F, J, 3)."""
    from hmcli.lift import make_streamer

    s = make_streamer(lm, dt_scale, one_pass)
    return torch.stack([s.step(x[:, t]) for t in range(x.shape[1])], dim=1)


@torch.inference_mode()
def predict_items(lm: LoadedModel, items: list[dict], dt_scale: float, one_pass: bool = False,
                  stream: bool = False, flip: bool = True) -> list[torch.Tensor]:  # fmt: skip
    """Metres, root-relative (F, J, 3) per item (whole sequences)."""
    from hmcli.lift import (FrameTiming, flip_averaged, is_causal, is_continuous, offline_windows,
                            run_fixed_windows, run_windows, train_fps)

    model = lm.model.eval()
    continuous = is_continuous(lm)
    if stream and not is_causal(lm):
        raise HMError(f"{lm.model_id}: streamed evaluation needs a causal checkpoint")
    if continuous:  # the windows hm lift uses, at the rate the model is told the frames come
        timing = FrameTiming(fps=train_fps(lm) / dt_scale, dt_scale=dt_scale, steps=None)
        win = offline_windows(lm, timing.fps, one_pass)
    preds = []
    for it in items:
        x, _ = encode_batch(collate_windows([it]), lm.codec)  # (1, F, J, C)
        codec = lm.codec if flip else None
        if stream:
            y = flip_averaged(codec, lambda b: _streamed(lm, b, dt_scale, one_pass), x)[0]  # (F, J, 3)
        elif continuous:
            y = torch.from_numpy(run_windows(model, x[0].numpy(), timing, win, flip=codec)).float()
        else:
            y = torch.from_numpy(run_fixed_windows(model, x[0].numpy(), codec)).float()
        preds.append(lm.codec.decode_3d(y))
    return preds


def eval_items(sequences: list[Sequence], setting: EvalSetting) -> list[dict]:
    """Whole sequences at ``setting.fps``, seen by the setting's fixed cameras, corrupted with its seed."""
    return make_eval_set(sequences, setting.fps, seed=setting.seed, clip_len=None, cameras_per_sequence=setting.cameras,
                         camera_kind=setting.camera_kind, proportions=proportion_preset(setting.proportions),
                         corruption=corruption_preset(setting.corrupt_model))


def score_items(lm: LoadedModel, items: list[dict], setting: EvalSetting, refiner=None) -> EvalReport:
    """Lift ``items`` (from :func:`eval_items`) as ``setting`` says and score them; with a ``refiner``
    (:class:`~hmcli.refine.checkpoint.LoadedRefiner`) their 2D is refined first, as ``hm lift --refine`` does."""
    if refiner is not None:
        from hmcli.refine.evaluate import refine_items

        items = refine_items(refiner, items, float(refiner.model.cfg.fps) / setting.fps if setting.scale_dt else 1.0)
    train_fps = float(lm.config.get("fps", 30.0))
    dt_scale = train_fps / setting.fps if setting.scale_dt else 1.0
    preds = predict_items(lm, items, dt_scale, setting.one_pass, setting.stream, setting.flip)
    gts = [torch.as_tensor(it["joints3d"]) for it in items]
    return evaluate(preds, gts, [it["action_name"] for it in items], fps=setting.fps)


def evaluate_model(lm: LoadedModel, sequences: list[Sequence], setting: EvalSetting, refiner=None) -> EvalReport:
    return score_items(lm, eval_items(sequences, setting), setting, refiner)


def trained_on(lm: LoadedModel, sequences: list[Sequence]) -> list[str]:
    """The subjects of ``sequences`` that ``lm`` was trained on (sorted; none for held-out people)."""
    return sorted({s.subject for s in sequences} & set(lm.meta.get("data", {}).get("train_subjects", [])))


@dataclass
class KindResult:
    """One camera kind's figures: the report and the share of joint-frames the 2D lacks
    (masked: outside the picture, dropped or missed, in percent)."""

    kind: str
    report: EvalReport
    masked_pct: float

    def to_dict(self) -> dict:
        return {"kind": self.kind, "masked_pct": self.masked_pct, **self.report.to_dict()}


def masked_percent(items: list[dict]) -> float:
    """Percent of joint-frames with confidence 0 over ``items`` (each ``conf`` (F, J))."""
    total = sum(int(it["conf"].size) for it in items)
    return 100.0 * sum(int(np.count_nonzero(it["conf"] == 0)) for it in items) / max(total, 1)


def evaluate_kinds(lm: LoadedModel, sequences: list[Sequence], setting: EvalSetting, kinds: list[str],
                   on_kind: Callable[[KindResult], None] | None = None, refiner=None) -> list[KindResult]:
    """``setting`` once per camera kind in ``kinds`` (its ``camera_kind`` replaced); ``on_kind(result)`` after each."""
    from dataclasses import replace

    out = []
    for kind in kinds:
        s = replace(setting, camera_kind=kind)
        items = eval_items(sequences, s)
        res = KindResult(kind, score_items(lm, items, s, refiner), masked_percent(items))
        if on_kind is not None:
            on_kind(res)
        out.append(res)
    return out


def kinds_table(results: list[KindResult]) -> str:
    """Markdown table: kind, MPJPE, P-MPJPE, N-MPJPE, bone error, shoulder / hip width ratios, masked 2D, frames."""
    head = ("| camera kind | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | bone err (mm) | shoulder × | hip × "
            "| 2D masked (%) | frames |")
    lines = [head, "|---|" + "---:|" * 8]
    for r in results:
        e = r.report
        lines.append(f"| {r.kind} | {e.mpjpe:.1f} | {e.p_mpjpe:.1f} | {e.n_mpjpe:.1f} | {e.bone_err:.1f} "
                     f"| {e.shoulder_ratio:.2f} | {e.hip_ratio:.2f} | {r.masked_pct:.1f} | {e.num_frames} |")
    return "\n".join(lines) + "\n"


#: Figures of :func:`compare_table`: (key, column title, format).
_COMPARED: tuple[tuple[str, str, str], ...] = (
    ("mpjpe", "MPJPE (mm)", ".1f"), ("p_mpjpe", "P-MPJPE (mm)", ".1f"), ("bone_err", "bone err (mm)", ".1f"),
    ("shoulder_ratio", "shoulder ×", ".2f"), ("hip_ratio", "hip ×", ".2f"),
)


def baseline_kinds(data: dict) -> dict[str, dict]:
    """Kind -> figures from a saved ``hm eval --json`` output: its ``kinds`` list, or one
    evaluation (its ``camera_kind``, ``standard`` when it has none)."""
    if not isinstance(data, dict):
        raise HMError("the baseline is not an hm eval --json output (not a JSON object)")
    if "kinds" in data:
        return {str(k["kind"]): k for k in data["kinds"]}
    if "mpjpe" in data:
        kind = str(data.get("camera_kind", "standard"))
        return {"standard" if kind == "any" else kind: data}
    raise HMError("the baseline is not an hm eval --json output (no 'kinds' and no 'mpjpe')")


def compare_table(results: list[KindResult], baseline: dict[str, dict], old: str = "old", new: str = "new") -> str:
    """Markdown table: per kind, each figure of the baseline next to the new one ("-" where the baseline lacks it)."""
    head = "| camera kind | " + " | ".join(f"{t} {old} | {t} {new}" for _, t, _ in _COMPARED) + " | frames |"
    lines = [head, "|---|" + "---:|" * (2 * len(_COMPARED) + 1)]
    for r in results:
        b = baseline.get("standard" if r.kind == "any" else r.kind, {})
        cells = []
        for key, _, fmt in _COMPARED:
            was = b.get(key)
            cells.append("-" if was is None else f"{float(was):{fmt}}")
            cells.append(f"{getattr(r.report, key):{fmt}}")
        lines.append(f"| {r.kind} | " + " | ".join(cells) + f" | {r.report.num_frames} |")
    return "\n".join(lines) + "\n"
