"""Multi-person fixtures shared by the io tests: P persons with different detection masks and
non-contiguous track ids, and files in the version 1 layout (no person axis) written by hand."""

import h5py
import numpy as np

from hmcli.types import Keypoints2D, MultiKeypoints2D, MultiPose3DResult, Pose3DResult

TRACK_IDS = (2, 5, 9)


def make_multi_kpts(p: int = 3, f: int = 8, j: int = 17, seed: int = 0, joint_set: str = "h36m17") -> MultiKeypoints2D:
    """P persons over F frames; person k is detected on its own frames (each at least once,
    nobody in the last frame), xy/conf are 0 where not detected; track ids 2, 5, 9 (first P)."""
    rng = np.random.default_rng(seed)
    det = np.zeros((p, f), bool)                                       # (P, F)
    for k in range(p):
        det[k, k: f - k] = True
        if f > 4:
            det[k, (3 * k + 2) % f] = False
        det[k, k] = True
    if f >= 6:
        det[:, f - 1] = False  # nobody in the last frame
    xy = rng.uniform(0, 600, (p, f, j, 2)).astype(np.float32)          # (P, F, J, 2)
    conf = rng.uniform(0.1, 1, (p, f, j)).astype(np.float32)           # (P, F, J)
    xy[~det] = 0
    conf[~det] = 0
    return MultiKeypoints2D(xy=xy, conf=conf, detected=det, track_ids=np.array(TRACK_IDS[:p], np.int64),
                            joint_set=joint_set, timestamps=np.arange(f) / 25.0, width=640, height=480,
                            detector="mediapipe", source="clip.mp4", source_hash="ab" * 32)  # fmt: skip


def make_multi_result(p: int = 3, f: int = 8, seed: int = 0, extra: bool = False) -> MultiPose3DResult:
    """Lifted results of ``make_multi_kpts``: joints3d NaN where a person is not detected,
    except person 0 has an estimate on one undetected frame (a filled gap)."""
    kp = make_multi_kpts(p, f, seed=seed)
    rng = np.random.default_rng(seed + 1)
    j3 = rng.normal(0, 0.3, (p, f, 17, 3)).astype(np.float32)         # (P, F, 17, 3)
    j3[~kp.detected] = np.nan
    if p:
        gap = int(np.flatnonzero(~kp.detected[0])[0])
        j3[0, gap] = 0.25
    persons = [Pose3DResult(kp.person(k), j3[k], "hummuss-s", "deadbeef",
                            extra={"score": np.arange(3.0) + k, "note": f"p{k}"} if extra and k != 1 else {})
               for k in range(p)]  # fmt: skip
    return MultiPose3DResult(persons, kp.track_ids, kp.person_or_empty() if not p else None)


def assert_kpts_equal(a: Keypoints2D | MultiKeypoints2D, b: Keypoints2D | MultiKeypoints2D, atol: float = 0.0):
    for name in ("xy", "conf"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=atol, rtol=0, err_msg=name)
    np.testing.assert_allclose(a.timestamps, b.timestamps, atol=1e-6 if atol else 0, rtol=0)
    np.testing.assert_array_equal(a.detected, b.detected)
    assert (a.joint_set, a.width, a.height, a.detector, a.source, a.source_hash) == (
        b.joint_set, b.width, b.height, b.detector, b.source, b.source_hash)  # fmt: skip
    if isinstance(a, MultiKeypoints2D):
        assert a.track_ids.tolist() == b.track_ids.tolist()


def write_v1_result(path, res: Pose3DResult, schema: str = "hm.pose3d") -> None:
    """The version 1 layout of hm.pose3d / hm.keypoints2d (no person axis), by hand."""
    kp = res.kpts2d if isinstance(res, Pose3DResult) else res
    with h5py.File(path, "w") as h5:
        h5.attrs["schema"] = schema
        h5.attrs["schema_version"] = 1
        g = h5.create_group("keypoints2d")
        g.attrs["joint_set"] = kp.joint_set
        g["xy"] = kp.xy
        g["conf"] = kp.conf
        g["detected"] = kp.detected
        h5["timestamps"] = kp.timestamps
        for k, v in (("fps", float(kp.fps)), ("width", kp.width), ("height", kp.height), ("detector", kp.detector),
                     ("source", kp.source), ("source_hash", kp.source_hash), ("hm_version", "0.1.0")):  # fmt: skip
            h5.attrs[k] = v
        if isinstance(res, Pose3DResult):
            from hmcli.skeleton import H36M17

            h5["joints3d"] = res.joints3d
            h5.attrs.create("joint_names", np.array(list(H36M17.joints), dtype=object), dtype=h5py.string_dtype())
            h5.attrs["edges"] = np.asarray(H36M17.edges, np.int32)
            h5.attrs["model_id"] = res.model_id
            h5.attrs["model_hash"] = res.model_hash
            if res.extra:
                e = h5.create_group("extra")
                for k, v in res.extra.items():
                    e[k] = v
