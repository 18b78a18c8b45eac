"""Where a fitted mesh's head sits on a real video (issue 33), against the person's silhouette.

    PYTHONPATH=. python scripts/mesh_head_check.py sample_videos/jumping_jacks.mp4 clip.h5 [clip.mesh.h5 ...]

``clip.h5`` is the clip's ``hm lift`` file; each mesh file is an ``hm mesh`` result of it (none:
the lift is fitted here with the default body model and options). The person's silhouette
comes from MediaPipe Pose's segmentation mask (the mesh never sees it). Per mesh, over the
frames with both wrists well below the nose (raised hands would be the silhouette's top):

* skull top: the top of the mesh's head in the image minus the top of the silhouette, in a
  band around the nose's x (px; + = the mesh's skull lower than the person's),
* the fitted H36M keypoints' 2D error against the lift's 2D (thorax, nose, head; the other 15
  joints), all frames,
* silhouette overlap (IoU) of the whole mesh and of the part above the 2D shoulders.

Prints one markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch


def person_masks(video: str) -> np.ndarray:
    """(F, H, W) bool person masks (MediaPipe Pose segmentation, tracking mode)."""
    import mediapipe as mp

    cap = cv2.VideoCapture(video)
    out = []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=True) as pose:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            r = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            m = r.segmentation_mask if r.segmentation_mask is not None else np.zeros(frame.shape[:2], np.float32)
            out.append(m > 0.5)
    return np.stack(out)


def _project(x: np.ndarray, cam) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x[..., :2] / x[..., 2:3] * cam.focal + np.array([cam.cx, cam.cy])


def measure(res, body, masks: np.ndarray) -> dict:
    from hmcli.mesh import api as mesh_api

    cam, k2 = res.camera, res.lift.kpts2d.xy
    f = min(len(masks), res.num_frames)
    p = _project(res.joints3d[:f], cam)                                        # (F, 17, 2)
    err = np.linalg.norm(p - k2[:f], axis=-1)                                 # (F, 17)
    verts = _project(mesh_api.mesh_vertices(res, body)[:f], cam)              # (F, V, 2)
    hands_down = (k2[:f, 13, 1] > k2[:f, 9, 1] + 20) & (k2[:f, 16, 1] > k2[:f, 9, 1] + 20)
    band = 0.04 * res.quality.get("person_height_px", 300.0)
    faces = np.asarray(body.faces)
    gap, iou, iou_top = [], [], []
    for i in range(f):
        m = masks[i]
        a, b = int(max(0, k2[i, 9, 0] - band)), int(min(m.shape[1], k2[i, 9, 0] + band + 1))
        rows = np.flatnonzero(m[:, a:b].any(1))
        near = np.abs(verts[i, :, 0] - k2[i, 9, 0]) <= band
        gap.append(verts[i, near, 1].min() - rows[0] if rows.size and near.any() else np.nan)
        s = np.zeros(m.shape, np.uint8)
        cv2.fillPoly(s, list(np.round(verts[i][faces] * 4).astype(np.int32)), 1, shift=2)
        s = s.astype(bool)
        iou.append((s & m).sum() / max((s | m).sum(), 1))
        top = int(min(k2[i, 11, 1], k2[i, 14, 1]))
        iou_top.append((s[:top] & m[:top]).sum() / max((s[:top] | m[:top]).sum(), 1))
    gap, iou_top = np.asarray(gap), np.asarray(iou_top)
    rest = [j for j in range(17) if j not in (9, 10)]
    return {"frames": int(hands_down.sum()), "skull_top_px": float(np.nanmean(gap[hands_down])),
            "skull_top_abs_px": float(np.nanmean(np.abs(gap[hands_down]))), "skull_top_max_px": float(np.nanmax(gap[hands_down])),
            "thorax_px": float(err[:, 8].mean()), "nose_px": float(err[:, 9].mean()), "head_px": float(err[:, 10].mean()),
            "other_joints_px": float(err[:, rest].mean()), "iou": float(np.mean(iou)),
            "iou_above_shoulders": float(iou_top[hands_down].mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("lift", help="hm lift result of the video (.h5)")
    ap.add_argument("meshes", nargs="*", help="hm mesh results of that lift (default: fit it here)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from hmcli.io.h5 import read_result
    from hmcli.io.mesh_h5 import read_mesh
    from hmcli.mesh import api as mesh_api

    masks = person_masks(args.video)
    results = [(Path(m).name, read_mesh(m)) for m in args.meshes]
    if not results:
        lifted = read_result(args.lift)
        results = [("this checkout", mesh_api.fit(lifted, mesh_api.load_body_model("auto")))]
    print("| mesh | skull top under the person's, mean / mean abs / max px | thorax / nose / head 2D px | other 15 joints px "
          "| silhouette IoU / above shoulders |")
    print("|---|---|---|---|---|")
    for name, res in results:
        body = mesh_api.load_body_model(res.body_model, gender=res.gender)
        q = measure(res, body, masks)
        print(f"| {name} | {q['skull_top_px']:+.1f} / {q['skull_top_abs_px']:.1f} / {q['skull_top_max_px']:.0f} "
              f"({q['frames']} frames) | {q['thorax_px']:.1f} / {q['nose_px']:.1f} / {q['head_px']:.1f} | "
              f"{q['other_joints_px']:.2f} | {q['iou']:.3f} / {q['iou_above_shoulders']:.3f} |")


if __name__ == "__main__":
    main()
