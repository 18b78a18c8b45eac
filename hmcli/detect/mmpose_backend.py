"""Opt-in mmpose top-down backend (not installed by any extra, not run in CI).

Runs a user-given mmpose config + checkpoint on person boxes: the whole frame,
or fixed boxes the user gives (x1, y1, x2, y2 pixels; one, or several for
``detect_multi``). There is no person detector here, so it suits clips where each
person stays inside a known region (or one person fills most of the frame). Weights are loaded with ``torch.load(weights_only=True)``: a checkpoint
that holds arbitrary pickled objects is refused rather than unpickled.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from hmcli.io.atomic import HMError

__all__ = ["MMPoseTopDown", "MMPOSE_HINT"]

MMPOSE_HINT = (
    "mmpose is opt-in and needs a manual install (mmpose>=1.3, mmcv, mmdet); see hmcli/detect/README.md"
)

_JOINT_SETS = {17: ("coco17", 17), 26: ("halpe26", 26), 33: ("blazepose33", 33), 133: ("coco17", 17)}


def _require_mmpose() -> None:
    if importlib.util.find_spec("mmpose") is None:
        raise HMError(f"detector 'mmpose' needs the 'mmpose' package, which is not installed; {MMPOSE_HINT}")


def _load_weights(model, checkpoint: str | os.PathLike) -> None:
    import torch

    if not os.path.isfile(checkpoint):
        raise HMError(f"mmpose checkpoint not found: {checkpoint}")
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as e:  # the restricted unpickler refuses anything but tensors/containers
        raise HMError(
            f"refusing to load {checkpoint}: it is not a plain weights file ({type(e).__name__}); "
            "re-save its 'state_dict' alone with torch.save in a trusted environment"
        ) from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise HMError(f"{checkpoint} holds no state_dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise HMError(f"{checkpoint} does not match the config: {len(missing)} missing weights (e.g. {missing[0]})")


def _boxes(bbox) -> np.ndarray:
    """(N, 4) float32 x1, y1, x2, y2 boxes from one box or a list of boxes; HMError if malformed."""
    arr = np.asarray(bbox, np.float32)
    if arr.size == 0 or arr.size % 4 or arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 4):
        raise HMError(f"bbox must be x1, y1, x2, y2 (or a list of such boxes), got shape {arr.shape}")
    boxes = arr.reshape(-1, 4)  # (N, 4)
    if not (np.isfinite(boxes).all() and (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()):
        raise HMError("bbox must have x2 > x1 and y2 > y1")
    return boxes


class MMPoseTopDown:
    """Top-down mmpose model on fixed boxes. ``detect``: the first box (or the whole frame);
    ``found`` is False when the best keypoint score is below ``min_score``. ``detect_multi``:
    every instance mmpose returns for all boxes (``bbox`` may be (4,) or (N, 4)), those whose
    best keypoint score is below ``min_score`` left out."""

    def __init__(
        self,
        config: str | os.PathLike,
        checkpoint: str | os.PathLike | None = None,
        device: str = "cpu",
        bbox: tuple[float, float, float, float] | np.ndarray | None = None,
        min_score: float = 0.3,
    ) -> None:
        _require_mmpose()
        if not os.path.isfile(config):
            raise HMError(f"mmpose config not found: {config}")
        try:
            from mmpose.apis import inference_topdown, init_model
        except Exception as e:
            raise HMError(f"mmpose is installed but cannot be imported ({type(e).__name__}: {e}); {MMPOSE_HINT}") from None
        # Build from the config only; weights go through the safe loader below.
        self._model = init_model(str(config), None, device=device)
        if checkpoint is not None:
            _load_weights(self._model, checkpoint)
            self._model.to(device)
        self._infer = inference_topdown
        n = int(self._model.dataset_meta.get("num_keypoints", 0))
        if n not in _JOINT_SETS:
            raise HMError(f"mmpose model predicts {n} keypoints; supported: 17, 26, 33, 133")
        self.joint_set, self._keep = _JOINT_SETS[n]
        self.name = f"mmpose/{os.path.splitext(os.path.basename(str(config)))[0]}"
        self.bbox = None if bbox is None else _boxes(bbox)[0]  # (4,) the box of ``detect``
        self.bboxes = None if bbox is None else _boxes(bbox)  # (N, 4) the boxes of ``detect_multi``
        self.min_score = float(min_score)

    def _instances(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every instance of every result: [(xy (J, 2), conf (J,))], J = the kept joints."""
        results = self._infer(self._model, frame_bgr, boxes, bbox_format="xyxy")
        out = []
        for res in results:
            inst = res.pred_instances
            kpts = np.asarray(inst.keypoints, np.float32).reshape(-1, *np.shape(inst.keypoints)[-2:])  # (I, J0, 2+)
            scores = np.asarray(inst.keypoint_scores, np.float32).reshape(kpts.shape[:2])  # (I, J0)
            for k in range(kpts.shape[0]):
                out.append((kpts[k, : self._keep, :2], np.clip(scores[k, : self._keep], 0.0, 1.0)))
        return out

    def detect(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> tuple[np.ndarray, np.ndarray, bool]:
        h, w = frame_bgr.shape[:2]
        box = self.bbox if self.bbox is not None else np.array([0, 0, w, h], np.float32)  # (4,)
        xy, conf = self._instances(frame_bgr, box[None])[0]
        return xy, conf, bool(conf.size and conf.max() >= self.min_score)

    def detect_multi(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
        h, w = frame_bgr.shape[:2]
        boxes = self.bboxes if self.bboxes is not None else np.array([[0, 0, w, h]], np.float32)  # (N, 4)
        return [(xy, conf) for xy, conf in self._instances(frame_bgr, boxes) if conf.size and conf.max() >= self.min_score]

    def close(self) -> None:
        self._model = None
