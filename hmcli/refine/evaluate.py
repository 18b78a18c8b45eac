"""2D error of keypoints against the exact projection, with and without refinement.

Errors are in percent of the person's height in the picture (the median over the clip's frames
of the exact 2D's vertical extent), so clips at every distance and resolution count alike.
Joints the detector (or corruption) missed are scored separately: before refinement they have no
position at all; after it, the refiner's estimate is scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Refine2DReport", "clip_height", "score_2d", "refine_items"]


def clip_height(xy_clean: np.ndarray) -> float:
    """Median over frames of the vertical extent (pixels) of the exact 2D (F, J, 2)."""
    ext = xy_clean[..., 1].max(-1) - xy_clean[..., 1].min(-1)  # (F,)
    return float(max(np.median(ext), 1.0))


@dataclass
class Refine2DReport:
    found_before: float   # % height: joints the 2D has, as given
    found_after: float    # % height: the same joints after refinement
    missed_after: float   # % height: joints the 2D lacks, as the refiner fills them (nan without any)
    all_after: float      # % height: every joint of frames where the person is found, after refinement
    found_joints: int
    missed_joints: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def score_2d(items: list[dict], refined: list[tuple[np.ndarray, np.ndarray]]) -> Refine2DReport:
    """Score ``refined`` (xy (F, J, 2), conf (F, J)) against the items' exact 2D (``xy_clean``),
    the items' own ``xy`` / ``conf`` being the input the refiner saw."""
    fb, fa, ma = [], [], []
    for it, (rxy, _) in zip(items, refined):
        h = clip_height(np.asarray(it["xy_clean"]))
        found = np.asarray(it["conf"]) > 0  # (F, J)
        det = found.any(-1)  # (F,)
        e_before = np.linalg.norm(np.asarray(it["xy"]) - it["xy_clean"], axis=-1) / h * 100  # (F, J)
        e_after = np.linalg.norm(np.asarray(rxy) - it["xy_clean"], axis=-1) / h * 100  # (F, J)
        fb.append(e_before[found])
        fa.append(e_after[found])
        ma.append(e_after[~found & det[:, None]])
    fb_, fa_, ma_ = (np.concatenate(v) if v else np.zeros(0) for v in (fb, fa, ma))

    def mean(v):
        return float(v.mean()) if v.size else float("nan")

    return Refine2DReport(mean(fb_), mean(fa_), mean(ma_), mean(np.concatenate([fa_, ma_])), int(fb_.size), int(ma_.size))


def refine_items(lr, items: list[dict], dt_scale: float = 1.0, fill_conf: float | None = None) -> list[dict]:
    """Copies of evaluation items (``make_eval_set`` layout) with ``xy`` / ``conf`` refined by ``lr``
    (:func:`hmcli.refine.api.refine_track`); the corrupted input stays as ``xy_input`` / ``conf_input``."""
    from hmcli.refine.api import refine_track

    out = []
    for it in items:
        xy, conf = refine_track(lr, it["xy"], it["conf"], dt_scale=dt_scale, fill_conf=fill_conf)
        out.append({**it, "xy": xy, "conf": conf, "xy_input": it["xy"], "conf_input": it["conf"]})
    return out
