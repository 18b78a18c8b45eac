"""Tests of hmcli.action.readers on tiny files written here."""

from __future__ import annotations

import os
import pickle
import subprocess
import warnings

import numpy as np
import pytest

from hmcli.action.readers import (
    HEAD_TOP_EXTRAPOLATION,
    NTU60_CLASSES,
    NTU120_CLASSES,
    SkippedClipWarning,
    kinect25_to_h36m,
    load_action_dataset,
    parse_ntu_name,
    read_labelled,
    read_ntu_dir,
    read_ntu_skeleton,
    read_pyskl,
)
from hmcli.io.atomic import HMError
from hmcli.io.keypoints import save_keypoints_npz
from hmcli.skeleton.joints import COCO17, H36M17
from hmcli.types import Keypoints2D

# ------------------------------------------------------------------ NTU helpers

# Kinect indices used below
SPINE_BASE, NECK, HEAD, WRIST_LEFT, WRIST_RIGHT, HIP_LEFT, HIP_RIGHT, SPINE_SHOULDER = 0, 2, 3, 6, 10, 12, 16, 20


def color(body: int, joint: int, frame: int) -> tuple[float, float]:
    return 100.0 + 10.0 * joint + frame + 500.0 * body, 200.0 + 5.0 * joint + 2.0 * frame


def ntu_text(bodies_per_frame: list[list[int]], states: dict[tuple[int, int], int] | None = None,
             body_ids: dict[int, str] | None = None) -> str:
    """A .skeleton text: frame f holds the bodies listed in bodies_per_frame[f] (body numbers);
    states[(body, joint)] overrides trackingState 2."""
    states = states or {}
    body_ids = body_ids or {}
    out = [str(len(bodies_per_frame))]
    for f, bodies in enumerate(bodies_per_frame):
        out.append(str(len(bodies)))
        for b in bodies:
            bid = body_ids.get(b, f"7205759403793{b:04d}")
            out.append(f"{bid} 0 1 2 1 2 0 0.01 -0.02 2")
            out.append("25")
            for j in range(25):
                cx, cy = color(b, j, f)
                x, y, z = 0.01 * j + 0.1 * b * f, 0.02 * j, 3.0 + 0.001 * f
                st = states.get((b, j), 2)
                out.append(f"{x:.4f} {y:.4f} {z:.4f} 250.1 200.2 {cx:.3f} {cy:.3f} 0.1 0.2 0.3 0.9 {st}")
    return "\n".join(out) + "\n"


@pytest.fixture
def ntu_root(tmp_path):
    root = tmp_path / "nturgb+d_skeletons"
    root.mkdir()
    # two bodies, 4 frames; body 1 missing in frame 0; some inferred / untracked joints
    (root / "S001C001P001R001A050.skeleton").write_text(
        ntu_text([[0], [0, 1], [0, 1], [0, 1]], states={(0, WRIST_LEFT): 1, (0, WRIST_RIGHT): 0}))
    (root / "S001C002P003R002A013.skeleton").write_text(ntu_text([[0]] * 3))
    (root / "S002C003P002R001A001.skeleton").write_text(ntu_text([[0]] * 5))
    (root / "S001C001P004R001A002.skeleton").write_text("0\n")  # NTU's "missing skeleton": skipped
    (root / "S018C001P045R001A061.skeleton").write_text(ntu_text([[0]] * 3))  # NTU 120 only
    return root


def by_name(ds):
    return {s.name: i for i, s in enumerate(ds.samples)}


# ------------------------------------------------------------------ NTU tests


def test_parse_ntu_name():
    n = parse_ntu_name("S001C002P003R002A013.skeleton")
    assert (n.setup, n.camera, n.performer, n.replication, n.action) == (1, 2, 3, 2, 13)
    assert parse_ntu_name("clip.skeleton") is None


def test_read_ntu_dir_ntu60(ntu_root):
    with pytest.warns(SkippedClipWarning) as rec:
        ds = read_ntu_dir(ntu_root)
    msgs = " ".join(str(w.message) for w in rec)
    assert "outside NTU RGB+D 60" in msgs and "S001C001P004R001A002" in msgs
    assert ds.classes == NTU60_CLASSES and len(ds.classes) == 60
    assert ds.classes[12] == "tear up paper"
    assert len(ds.skipped) == 1 and "S001C001P004R001A002" in ds.skipped[0]
    idx = by_name(ds)
    assert set(idx) == {"S001C001P001R001A050", "S001C002P003R002A013", "S002C003P002R001A001"}

    s = ds.samples[idx["S001C002P003R002A013"]]
    assert s.xy.shape == (2, 3, 17, 2) and s.conf.shape == (2, 3, 17)
    assert s.xy.dtype == np.float32 and s.conf.dtype == np.float32
    assert (s.label, s.subject, s.camera, s.setup) == (12, "P003", 2, 1)
    assert (s.width, s.height, s.fps) == (1920, 1080, 30.0)
    assert not s.xy[1].any() and not s.conf[1].any()  # no second body -> zeros

    # splits: P001, P002 train, P003 test; camera 2, 3 train, camera 1 test
    a, b, c = idx["S001C001P001R001A050"], idx["S001C002P003R002A013"], idx["S002C003P002R001A001"]
    assert sorted(ds.splits["xsub_train"]) == sorted([a, c]) and ds.splits["xsub_val"] == [b]
    assert sorted(ds.splits["xview_train"]) == sorted([b, c]) and ds.splits["xview_val"] == [a]
    assert "xset_train" not in ds.splits
    assert ds.samples[a].label == 49 and ds.samples[c].label == 0


def test_ntu_joint_mapping_and_confidence(ntu_root):
    s = read_ntu_skeleton(ntu_root / "S001C001P001R001A050.skeleton")
    assert s.xy.shape == (2, 4, 17, 2)
    f = 2
    h = H36M17.index
    np.testing.assert_allclose(s.xy[0, f, h("pelvis")], color(0, SPINE_BASE, f), rtol=1e-6)
    np.testing.assert_allclose(s.xy[0, f, h("right_hip")], color(0, HIP_RIGHT, f), rtol=1e-6)
    np.testing.assert_allclose(s.xy[0, f, h("left_hip")], color(0, HIP_LEFT, f), rtol=1e-6)
    np.testing.assert_allclose(s.xy[0, f, h("left_wrist")], color(0, WRIST_LEFT, f), rtol=1e-6)
    np.testing.assert_allclose(s.xy[0, f, h("thorax")], color(0, SPINE_SHOULDER, f), rtol=1e-6)
    np.testing.assert_allclose(s.xy[0, f, h("nose")], color(0, HEAD, f), rtol=1e-6)
    head, neck = np.array(color(0, HEAD, f)), np.array(color(0, NECK, f))
    np.testing.assert_allclose(s.xy[0, f, h("head")], head + HEAD_TOP_EXTRAPOLATION * (head - neck), rtol=1e-6)
    # trackingState 2 -> 1, 1 (inferred) -> 0.5, 0 -> 0 (and xy 0)
    assert s.conf[0, f, h("pelvis")] == 1.0
    assert s.conf[0, f, h("left_wrist")] == 0.5
    assert s.conf[0, f, h("right_wrist")] == 0.0 and not s.xy[0, f, h("right_wrist")].any()
    # the second body is absent in frame 0, present after
    assert not s.conf[1, 0].any() and not s.xy[1, 0].any()
    assert (s.conf[1, 1:] == 1.0).all()
    np.testing.assert_allclose(s.xy[1, 3, h("pelvis")], color(1, SPINE_BASE, 3), rtol=1e-6)


def test_ntu_keeps_two_bodies_by_tracked_frames(tmp_path):
    # body 0 in every frame, body 1 in one frame, body 2 in three frames -> keep 0 then 2
    p = tmp_path / "S001C001P001R001A058.skeleton"
    p.write_text(ntu_text([[0, 2], [0, 1, 2], [0, 2], [0]]))
    s = read_ntu_skeleton(p)
    assert s.xy.shape == (2, 4, 17, 2)
    np.testing.assert_allclose(s.xy[1, 0, 0], color(2, SPINE_BASE, 0), rtol=1e-6)
    assert not s.conf[1, 3].any()
    # identity comes from bodyID, not from the position within a frame
    q = tmp_path / "S001C001P001R001A059.skeleton"
    q.write_text(ntu_text([[0, 1], [1, 0], [1, 0]]))
    t = read_ntu_skeleton(q)
    pel = t.xy[:, :, 0, 0]  # (2, F) pelvis x
    assert len({round(float(v) // 500) for v in pel[0]}) == 1 and len({round(float(v) // 500) for v in pel[1]}) == 1


def test_ntu_classes_120(ntu_root):
    with pytest.warns(SkippedClipWarning):
        ds = read_ntu_dir(ntu_root, classes="ntu120")
    assert ds.classes == NTU120_CLASSES and len(ds.classes) == 120
    i = by_name(ds)["S018C001P045R001A061"]
    assert ds.samples[i].label == 60 and ds.classes[60] == "put on headphone"
    assert i in ds.splits["xsub_train"] and i in ds.splits["xset_train"]
    with pytest.warns(SkippedClipWarning):
        small = read_ntu_dir(ntu_root, classes=None, max_files=2)
    # max_files counts files (by name), empty ones included
    assert len(small.samples) == 1 and len(small.skipped) == 1
    assert small.classes[0] == "A001" and len(small.classes) == 50


@pytest.mark.parametrize("mutate, where", [
    (lambda t: "\n".join(t.splitlines()[:20]), "ends early"),          # truncated
    (lambda t: t.replace("250.1", "abc", 1), "not a number"),          # a non-number
    (lambda t: t.replace("\n25\n", "\n24\n", 1), "expected 25 joints"),  # wrong joint count
])  # fmt: skip
def test_ntu_malformed(tmp_path, mutate, where):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text(mutate(ntu_text([[0], [0]])))
    with pytest.raises(HMError) as e:
        read_ntu_skeleton(p)
    msg = str(e.value)
    assert "\n" not in msg and where in msg and p.name in msg and " line " in msg
    with pytest.raises(HMError, match=where):  # a directory read stops on it too
        read_ntu_dir(tmp_path)


def test_ntu_empty_single_file_and_bad_name(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text("0\n")
    with pytest.raises(HMError, match="no frames"):
        read_ntu_skeleton(p)
    q = tmp_path / "clip.skeleton"
    q.write_text(ntu_text([[0]]))
    with pytest.raises(HMError, match="S001C001P001R001A001"):
        read_ntu_skeleton(q)


def test_kinect_mapping_shapes():
    xy = np.random.default_rng(0).uniform(0, 100, (3, 5, 25, 2)).astype(np.float32)
    conf = np.ones((3, 5, 25), np.float32)
    hxy, hc = kinect25_to_h36m(xy, conf)
    assert hxy.shape == (3, 5, 17, 2) and hc.shape == (3, 5, 17)


# ------------------------------------------------------------------ pyskl helpers

def coco_clip(m: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = rng.uniform(10, 300, (m, t, 17, 2)).astype(np.float32)
    s = rng.uniform(0.5, 1.0, (m, t, 17)).astype(np.float32)
    return k, s


def pyskl_doc() -> dict:
    anns = []
    for i, (name, label) in enumerate([("S001C001P001R001A001", 0), ("S001C002P003R001A002", 1),
                                       ("S001C003P002R001A003", np.int64(2))]):  # fmt: skip
        k, s = coco_clip(2 if i == 0 else 1, 4, seed=i)
        anns.append(dict(frame_dir=name, label=label, img_shape=(1080, 1920), original_shape=(1080, 1920),
                         total_frames=4, keypoint=k, keypoint_score=s))  # fmt: skip
    anns[1]["keypoint"][0, 1, COCO17.index("left_wrist")] = np.nan
    split = {"xsub_train": ["S001C001P001R001A001", "S001C003P002R001A003"],
             "xsub_val": ["S001C002P003R001A002"]}  # fmt: skip
    return dict(split=split, annotations=anns)


def dump(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


# ------------------------------------------------------------------ pyskl tests


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_read_pyskl(tmp_path, protocol):
    doc = pyskl_doc()
    ds = read_pyskl(dump(tmp_path / "ntu60_hrnet.pkl", doc, protocol))
    assert [s.name for s in ds.samples] == [a["frame_dir"] for a in doc["annotations"]]
    assert [s.label for s in ds.samples] == [0, 1, 2] and ds.classes == ("0", "1", "2")
    assert ds.splits == {"xsub_train": [0, 2], "xsub_val": [1]}
    s0 = ds.samples[0]
    assert s0.xy.shape == (2, 4, 17, 2) and s0.conf.shape == (2, 4, 17)
    assert (s0.width, s0.height, s0.fps) == (1920, 1080, 30.0)
    k, sc = doc["annotations"][0]["keypoint"], doc["annotations"][0]["keypoint_score"]
    c = COCO17.index
    np.testing.assert_allclose(s0.xy[..., 0, :], (k[..., c("left_hip"), :] + k[..., c("right_hip"), :]) / 2, rtol=1e-6)
    np.testing.assert_allclose(s0.conf[..., 0], np.minimum(sc[..., c("left_hip")], sc[..., c("right_hip")]))
    np.testing.assert_allclose(s0.xy[..., H36M17.index("left_wrist"), :], k[..., c("left_wrist"), :])
    # a NaN joint -> conf 0, xy 0
    s1 = ds.samples[1]
    assert s1.conf[0, 1, H36M17.index("left_wrist")] == 0.0 and not s1.xy[0, 1, H36M17.index("left_wrist")].any()


def test_read_pyskl_options(tmp_path):
    doc = pyskl_doc()
    p = dump(tmp_path / "a.pkl", doc)
    ds = read_pyskl(p, classes=("a", "b", "c", "d"), joint_layout="h36m", fps=25.0, max_persons=1)
    assert ds.classes == ("a", "b", "c", "d") and ds.samples[0].fps == 25.0
    assert ds.samples[0].xy.shape == (1, 4, 17, 2)
    k = doc["annotations"][0]["keypoint"]
    sc = doc["annotations"][0]["keypoint_score"]
    best = int(np.argmax(sc.sum(axis=(1, 2))))
    np.testing.assert_allclose(ds.samples[0].xy[0], k[best])  # h36m: taken as is
    assert load_action_dataset(p).samples[0].xy.shape == (2, 4, 17, 2)


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class _Popen:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.marker)],))


@pytest.mark.parametrize("evil", [_System, _Eval, _Popen])
def test_pyskl_refuses_malicious_pickle(tmp_path, evil):
    marker = tmp_path / "pwned"
    doc = pyskl_doc()
    doc["annotations"][0]["label"] = evil(marker)
    p = dump(tmp_path / "evil.pkl", doc)
    with pytest.raises(HMError) as e:
        read_pyskl(p)
    msg = str(e.value)
    assert "\n" not in msg and "refusing to load" in msg and "evil.pkl" in msg
    assert not marker.exists()


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("annotations"), "no 'annotations'"),
    (lambda d: d["annotations"][0].pop("keypoint_score"), "missing key 'keypoint_score'"),
    (lambda d: d["annotations"][1].pop("img_shape"), "missing key"),
    (lambda d: d["annotations"][0].update(keypoint=np.zeros((2, 4, 17))), "must be"),
    (lambda d: d["annotations"][0].update(keypoint=np.zeros((1, 4, 25, 2))), "25 joints"),
    (lambda d: d["annotations"][0].update(keypoint_score=np.zeros((2, 3, 17))), "does not match"),
    (lambda d: d["annotations"][2]["keypoint"].fill(np.nan), "all NaN"),
    (lambda d: d["annotations"][2].update(label="walk"), "non-negative integer"),
    (lambda d: d.update(split=["x"]), "'split'"),
])  # fmt: skip
def test_pyskl_errors(tmp_path, change, match):
    doc = pyskl_doc()
    change(doc)
    p = dump(tmp_path / "bad.pkl", doc)
    with pytest.raises(HMError, match=match) as e:
        read_pyskl(p)
    assert "\n" not in str(e.value)


def test_pyskl_label_out_of_range(tmp_path):
    p = dump(tmp_path / "a.pkl", pyskl_doc())
    with pytest.raises(HMError, match=r"label 2 is out of range for 2 classes"):
        read_pyskl(p, classes=("x", "y"))
    with pytest.raises(HMError, match="joint_layout"):
        read_pyskl(p, joint_layout="kinect")


# ------------------------------------------------------------------ own data


def keypoints(joint_set: str, n_joints: int, frames: int, seed: int) -> Keypoints2D:
    rng = np.random.default_rng(seed)
    return Keypoints2D(
        xy=rng.uniform(0, 400, (frames, n_joints, 2)).astype(np.float32),
        conf=rng.uniform(0.5, 1.0, (frames, n_joints)).astype(np.float32),
        joint_set=joint_set, timestamps=np.arange(frames) / 25.0, width=640, height=480,
        detected=np.ones(frames, bool), detector="test",
    )  # fmt: skip


@pytest.fixture
def own_data(tmp_path):
    from hmcli.api import write_keypoints_json

    d = tmp_path / "mine"
    (d / "clips").mkdir(parents=True)
    kp_a = keypoints("coco17", 17, 6, 0)
    kp_b = keypoints("blazepose33", 33, 4, 1)
    save_keypoints_npz(kp_a, d / "clips" / "a.npz")
    write_keypoints_json(d / "clips" / "b.json", kp_b)
    return d, kp_a, kp_b


def test_read_labels_csv(own_data):
    d, kp_a, kp_b = own_data
    (d / "labels.csv").write_text("file,label,split,subject\nclips/a.npz,wave,train,anna\n"
                                  "clips/b.json,clap,val,ben\n")  # fmt: skip
    ds = read_labelled(d / "labels.csv")
    assert ds.classes == ("clap", "wave")
    assert [s.label for s in ds.samples] == [1, 0]
    assert [s.subject for s in ds.samples] == ["anna", "ben"]
    assert ds.splits == {"train": [0], "val": [1]}
    a, b = ds.samples
    assert a.xy.shape == (1, 6, 17, 2) and b.xy.shape == (1, 4, 17, 2)
    assert (a.width, a.height) == (640, 480) and a.fps == pytest.approx(25.0)
    c = COCO17.index
    np.testing.assert_allclose(a.xy[0, :, 0], (kp_a.xy[:, c("left_hip")] + kp_a.xy[:, c("right_hip")]) / 2, rtol=1e-5)
    np.testing.assert_allclose(a.xy[0, :, H36M17.index("left_wrist")], kp_a.xy[:, c("left_wrist")])
    # BlazePose goes through the lifter's learned map, as hm action converts it at inference
    from hmcli.skeleton.blazepose_map import blazepose_to_h36m_cmu

    np.testing.assert_allclose(b.xy[0], blazepose_to_h36m_cmu(kp_b.xy), atol=0.02)  # JSON keeps 2 decimals
    assert (b.conf[0][kp_b.detected] >= 0.8).all()  # found joints: the lifter's confidence floor
    # the folder holding labels.csv, and the dispatcher, read the same
    assert [s.label for s in read_labelled(d).samples] == [1, 0]
    assert load_action_dataset(d).classes == ("clap", "wave")
    assert load_action_dataset(d / "labels.csv", classes=("wave", "clap", "jump")).classes == ("wave", "clap", "jump")


def test_labels_csv_without_split(own_data):
    d, _, _ = own_data
    (d / "l.csv").write_text("file,label\nclips/a.npz,wave\nclips/b.json,wave\n")
    ds = read_labelled(d / "l.csv")
    assert ds.classes == ("wave",) and ds.splits == {"train": [0, 1]}


def test_labels_csv_errors(own_data):
    d, _, _ = own_data
    (d / "l.csv").write_text("file,label\nclips/a.npz,wave\nclips/b.json,jump\n")
    with pytest.raises(HMError, match=r"line 3: label 'jump' is not one of the 2 classes") as e:
        read_labelled(d / "l.csv", classes=("wave", "clap"))
    assert "\n" not in str(e.value)
    (d / "m.csv").write_text("file,label\nclips/a.npz,wave\nclips/nope.npz,clap\n")
    with pytest.raises(HMError, match=r"m.csv line 3: file not found: .*nope.npz"):
        read_labelled(d / "m.csv")
    (d / "n.csv").write_text("path,label\nclips/a.npz,wave\n")
    with pytest.raises(HMError, match="needs the columns file,label"):
        read_labelled(d / "n.csv")


def test_label_folders(tmp_path):
    root = tmp_path / "data"
    (root / "wave").mkdir(parents=True)
    (root / "clap").mkdir()
    (root / "empty").mkdir()
    save_keypoints_npz(keypoints("coco17", 17, 3, 0), root / "wave" / "x.npz")
    save_keypoints_npz(keypoints("h36m17", 17, 5, 1), root / "clap" / "y.npz")
    (root / "clap" / "notes.txt").write_text("ignored")
    with pytest.warns(SkippedClipWarning, match="empty"):
        ds = load_action_dataset(root)
    assert ds.classes == ("clap", "empty", "wave")
    assert [(s.name, s.label) for s in ds.samples] == [("clap/y.npz", 0), ("wave/x.npz", 2)]
    assert ds.splits == {"train": [0, 1]}
    with pytest.raises(HMError, match="label folder 'empty' is not one of"):
        read_labelled(root, classes=("clap", "wave"))


def test_load_action_dataset_dispatch(ntu_root, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedClipWarning)
        ds = load_action_dataset(ntu_root)
    assert ds.classes == NTU60_CLASSES and len(ds.samples) == 3
    one = load_action_dataset(ntu_root / "S001C002P003R002A013.skeleton")
    assert len(one.samples) == 1 and one.samples[0].label == 12
    with pytest.raises(HMError, match="cannot tell the dataset kind"):
        (tmp_path / "x.txt").write_text("")
        load_action_dataset(tmp_path / "x.txt")
    with pytest.raises(HMError, match="unknown dataset kind"):
        load_action_dataset(ntu_root, kind="kinetics")
