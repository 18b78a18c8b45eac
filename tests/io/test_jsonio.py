import json

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.jsonio import (
    dumps_record,
    frame_record,
    header_record,
    read_result_json,
    result_from_records,
    result_to_dict,
    write_result_json,
)
from hmcli.skeleton import H36M17
from hmcli.types import Keypoints2D, Pose3DResult


def make_result(f=5, seed=0, extra=None):
    rng = np.random.default_rng(seed)
    detected = np.array([True, True, False, True, True])[:f]
    conf = rng.uniform(0, 1, (f, 17)).astype(np.float32)
    conf[~detected] = 0
    j3 = rng.normal(0, 0.4, (f, 17, 3)).astype(np.float32)
    j3[2] = np.nan
    kp = Keypoints2D(
        xy=rng.uniform(0, 1000, (f, 17, 2)).astype(np.float32),
        conf=conf,
        joint_set="h36m17",
        timestamps=np.arange(f) / 30.0,
        width=1280,
        height=720,
        detected=detected,
        detector="mediapipe",
        source="v.mp4",
        source_hash="0f" * 32,
    )
    return Pose3DResult(kp, j3, "hummuss-s", "cafe", extra=extra or {})


def test_round_trip_within_rounding(tmp_path):
    res = make_result(extra={"verts": np.linspace(0, 1, 12).reshape(2, 2, 3), "ids": np.arange(3)})
    out = tmp_path / "r.json"
    write_result_json(out, res)
    back = read_result_json(out)
    kp, bk = res.kpts2d, back.kpts2d
    assert np.nanmax(np.abs(back.joints3d - res.joints3d)) <= 0.5e-4 + 1e-7
    np.testing.assert_array_equal(np.isnan(back.joints3d), np.isnan(res.joints3d))
    listed = kp.detected | np.isfinite(res.joints3d).any(axis=(1, 2))  # frame 2: no detection, no estimate
    assert listed.tolist() == [True, True, False, True, True]
    assert np.max(np.abs(bk.xy[listed] - kp.xy[listed])) <= 0.005 + 1e-4
    assert np.max(np.abs(bk.conf - kp.conf)) <= 0.5e-4 + 1e-7
    assert not bk.xy[2].any() and not bk.conf[2].any()  # frames a person does not list read back as 0
    np.testing.assert_allclose(bk.timestamps, kp.timestamps, atol=1e-6)
    np.testing.assert_array_equal(bk.detected, kp.detected)
    assert (bk.width, bk.height, bk.joint_set, bk.detector, bk.source, bk.source_hash) == (
        1280, 720, "h36m17", "mediapipe", "v.mp4", "0f" * 32,
    )  # fmt: skip
    assert (back.model_id, back.model_hash) == ("hummuss-s", "cafe")
    np.testing.assert_allclose(back.extra["verts"], res.extra["verts"], atol=1e-9)
    np.testing.assert_array_equal(back.extra["ids"], [0, 1, 2])


def test_document_layout_and_no_nan(tmp_path):
    out = tmp_path / "r.json"
    write_result_json(out, make_result())
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert doc["schema"] == "hm.pose3d" and doc["schema_version"] == 2
    assert doc["num_frames"] == 5 and doc["num_persons"] == 1 and len(doc["timestamps"]) == 5
    assert doc["joint_names"] == list(H36M17.joints)
    assert doc["edges"] == [list(e) for e in H36M17.edges]
    assert doc["fps"] == pytest.approx(30.0)
    (person,) = doc["persons"]
    assert person["track_id"] == 0 and [fr["index"] for fr in person["frames"]] == [0, 1, 3, 4]  # 2: nothing
    fr = person["frames"][0]
    assert fr["detected"] is True and "track_id" not in fr
    assert len(fr["kpts2d"]) == 17 and len(fr["kpts2d"][0]) == 3
    # one frame per line
    assert sum(line.startswith('{"index":') for line in text.splitlines()) == 4


def test_frame_record_rounding_and_nulls():
    rec = frame_record(
        7, 0.1234567891, True,
        xy=np.array([[1.23456, 2.0], [np.nan, 5.0]]), conf=np.array([0.123456, 0.0]),
        joints3d=np.array([[0.123456, -0.00004, np.inf]]),
    )  # fmt: skip
    assert rec == {
        "index": 7, "t": 0.123457, "detected": True,
        "kpts2d": [[1.23, 2.0, 0.1235], [None, 5.0, 0.0]],
        "joints3d": [[0.1235, -0.0, None]],
    }  # fmt: skip
    line = dumps_record(rec)
    assert "\n" not in line and json.loads(line) == rec


def test_frame_record_without_pose():
    assert frame_record(0, 0.0, False) == {"index": 0, "t": 0.0, "detected": False}
    with pytest.raises(ValueError, match="conf"):
        frame_record(0, 0.0, True, xy=np.zeros((3, 2)), conf=np.zeros(2))


def test_dumps_record_refuses_nan():
    with pytest.raises(ValueError):
        dumps_record({"x": float("nan")})


def test_header_record_matches_document_head():
    res = make_result()
    doc = result_to_dict(res)
    head = header_record(
        fps=res.kpts2d.fps, width=1280, height=720, joint_set="h36m17", model_id="hummuss-s",
        model_hash="cafe", detector="mediapipe", source="v.mp4", source_hash="0f" * 32,
    )  # fmt: skip
    assert {k: v for k, v in doc.items() if k not in ("num_frames", "num_joints", "num_persons", "timestamps", "persons")} == head


def test_jsonl_stream_reassembles(tmp_path):
    res = make_result()
    kp = res.kpts2d
    lines = [dumps_record(header_record(fps=30, width=1280, height=720, joint_set="h36m17"))]
    lines += [
        dumps_record(frame_record(i, kp.timestamps[i], kp.detected[i], kp.xy[i], kp.conf[i], res.joints3d[i]))
        for i in range(kp.num_frames)
    ]
    recs = [json.loads(s) for s in lines]
    assert recs[0]["schema"] == "hm.pose3d"
    assert [r["index"] for r in recs[1:]] == list(range(5))
    assert recs[1:] == [dict(r, detected=bool(r["detected"])) for r in recs[1:]]
    back = result_from_records(recs[0], recs[1:])  # version 1 style records (no track_id): track id 0
    np.testing.assert_array_equal(np.isnan(back.joints3d), np.isnan(res.joints3d))
    np.testing.assert_array_equal(back.kpts2d.detected, kp.detected)


def test_read_errors(tmp_path):
    p = tmp_path / "x.json"
    with pytest.raises(HMError, match="not found"):
        read_result_json(p)
    p.write_text("{not json")
    with pytest.raises(HMError, match="not valid JSON"):
        read_result_json(p)
    p.write_text('{"a": 1}')
    with pytest.raises(HMError, match="not an hm result"):
        read_result_json(p)
    p.write_text('{"schema": "hm.pose3d", "schema_version": 9, "frames": []}')
    with pytest.raises(HMError, match="newer hm .*upgrade"):
        read_result_json(p)
    p.write_text('{"schema": "hm.pose3d", "schema_version": 1}')
    with pytest.raises(HMError, match="missing key 'frames'"):
        read_result_json(p)
    write_result_json(p, make_result())
    doc = json.loads(p.read_text())
    doc["persons"][0]["frames"][1]["joints3d"] = doc["persons"][0]["frames"][1]["joints3d"][:16]
    p.write_text(json.dumps(doc))
    with pytest.raises(HMError, match="not a valid hm result JSON"):
        read_result_json(p)


def test_write_is_atomic_on_bad_extra(tmp_path):
    p = tmp_path / "r.json"
    write_result_json(p, make_result())
    before = p.read_text()
    with pytest.raises(TypeError):
        write_result_json(p, make_result(extra={"bad": object()}))
    assert p.read_text() == before
    assert [q.name for q in tmp_path.iterdir()] == ["r.json"]
