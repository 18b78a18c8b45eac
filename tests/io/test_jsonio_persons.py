"""The person axis of our JSON documents and JSON lines (schema version 2), 3D and 2D-only."""

import json

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.jsonio import (dumps_record, read_result_json, read_results_json, result_from_records, result_records,
                             results_from_records, write_result_json)
from hmcli.io.keypoints import (keypoints_frame_records, keypoints_header_record, load_keypoints, load_keypoints_multi,
                                read_keypoints_bytes_multi, write_keypoints_json)
from tests.io.persons_helpers import assert_kpts_equal, make_multi_kpts, make_multi_result
from tests.io.test_jsonio import make_result


def write_lines(path, records):
    path.write_text("".join(dumps_record(r) + "\n" for r in records))
    return path


def assert_results_close(back, res):
    assert back.track_ids.tolist() == res.track_ids.tolist()
    listed = res.kpts2d.detected | np.isfinite(res.joints3d).any(axis=(2, 3))  # (P, F)
    assert_kpts_equal(back.kpts2d, res.kpts2d, atol=0.006)
    np.testing.assert_array_equal(np.isnan(back.joints3d), np.isnan(res.joints3d))
    if listed.any():
        assert np.nanmax(np.abs(back.joints3d - res.joints3d)) <= 0.5e-4 + 1e-7
    assert all(r.model_id == "hummuss-s" for r in back.persons)


@pytest.mark.parametrize("p", [0, 1, 3])
def test_document_round_trip(tmp_path, p):
    res = make_multi_result(p, extra=True)
    out = tmp_path / "r.json"
    write_result_json(out, res)
    back = read_results_json(out)
    assert_results_close(back, res)
    assert back.num_frames == 8
    for k in range(p):
        if k != 1:
            np.testing.assert_allclose(back.persons[k].extra["score"], np.arange(3.0) + k)
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 2 and doc["num_persons"] == p and len(doc["timestamps"]) == 8
    assert [q["track_id"] for q in doc["persons"]] == [2, 5, 9][:p]
    if p:  # person 0: its detected frames and the filled gap (frame 2, not detected)
        frames = doc["persons"][0]["frames"]
        assert [fr["index"] for fr in frames] == [0, 1, 2, 3, 4, 5, 6]
        assert frames[2]["detected"] is False and frames[2]["joints3d"][0] == [0.25, 0.25, 0.25]
    if p == 3:
        assert [fr["index"] for fr in doc["persons"][2]["frames"]] == [2, 3, 4, 5]


@pytest.mark.parametrize("p", [0, 1, 3])
def test_json_lines_round_trip(tmp_path, p):
    res = make_multi_result(p)
    recs = list(result_records(res))
    assert recs[0]["schema_version"] == 2 and "persons" not in recs[0]
    assert recs[-1] == {"index": 7, "t": 0.28, "persons": 0}  # nobody in the last frame
    if p == 3:
        assert [(r["index"], r.get("track_id")) for r in recs[1:5]] == [(0, 2), (1, 2), (1, 5), (2, 2)]
    assert sorted({r["index"] for r in recs[1:]}) == list(range(8))
    back = read_results_json(write_lines(tmp_path / "r.jsonl", recs))
    assert_results_close(back, res)
    assert_results_close(results_from_records(recs[0], recs[1:]), res)


def test_person_selection(tmp_path):
    res = make_multi_result(3)
    out = tmp_path / "clip.json"
    write_result_json(out, res)
    one = read_result_json(out, person=5)
    np.testing.assert_allclose(one.joints3d, res.persons[1].joints3d, atol=1e-4)
    with pytest.raises(HMError) as e:
        read_result_json(out)
    assert str(e.value) == f"{out} has 3 persons (track ids 2, 5, 9): choose one with --person ID"
    with pytest.raises(HMError, match="no person with track id 7"):
        read_result_json(out, person=7)
    recs = list(result_records(res))
    with pytest.raises(HMError, match="the stream has 3 persons"):
        result_from_records(recs[0], recs[1:])
    assert result_from_records(recs[0], recs[1:], person=9).kpts2d.detected.tolist() == res.persons[2].kpts2d.detected.tolist()
    write_result_json(out, make_multi_result(0))
    with pytest.raises(HMError) as e:
        read_result_json(out)
    assert str(e.value) == f"{out} has no persons"


def test_single_person_result_round_trips_as_before(tmp_path):
    res = make_result()
    write_result_json(tmp_path / "r.json", res)
    back = read_result_json(tmp_path / "r.json")
    np.testing.assert_array_equal(back.kpts2d.detected, res.kpts2d.detected)
    assert read_results_json(tmp_path / "r.json").track_ids.tolist() == [0]
    recs = list(result_records(res))
    assert [r["index"] for r in recs[1:]] == [0, 1, 2, 3, 4] and recs[3] == {"index": 2, "t": 0.066667, "persons": 0}
    assert all(r["track_id"] == 0 for r in recs[1:] if "kpts2d" in r)


def test_version_1_document_and_lines(tmp_path):
    res = make_result()
    kp = res.kpts2d
    head = {"schema": "hm.pose3d", "schema_version": 1, "fps": 30.0, "width": 1280, "height": 720,
            "joint_set": "h36m17", "joint_names": [f"j{k}" for k in range(17)], "model_id": "hummuss-s",
            "model_hash": "cafe", "detector": "mediapipe", "source": "v.mp4", "source_hash": "0f" * 32}  # fmt: skip

    def rec(i):
        j3 = [[None if np.isnan(v) else float(v) for v in row] for row in res.joints3d[i]]
        return {"index": i, "t": float(kp.timestamps[i]), "detected": bool(kp.detected[i]),
                "kpts2d": [[float(x), float(y), float(c)] for (x, y), c in zip(kp.xy[i], kp.conf[i])], "joints3d": j3}

    frames = [rec(i) for i in range(5)]
    (tmp_path / "v1.json").write_text(json.dumps(dict(head, frames=frames)))
    write_lines(tmp_path / "v1.jsonl", [head, *frames])
    for name in ("v1.json", "v1.jsonl"):
        back = read_result_json(tmp_path / name)
        np.testing.assert_allclose(back.kpts2d.xy, kp.xy, atol=1e-4)  # every frame, also the undetected one
        np.testing.assert_allclose(back.kpts2d.conf, kp.conf, atol=1e-6)
        np.testing.assert_array_equal(back.kpts2d.detected, kp.detected)
        np.testing.assert_allclose(back.joints3d, res.joints3d, atol=1e-6)
        assert read_results_json(tmp_path / name).track_ids.tolist() == [0]
        assert (back.model_id, back.kpts2d.source) == ("hummuss-s", "v.mp4")


@pytest.mark.parametrize("p", [0, 1, 3])
def test_keypoints_document_and_lines(tmp_path, p):
    kp = make_multi_kpts(p, joint_set="coco17")
    write_keypoints_json(tmp_path / "k.json", kp)
    lines = [keypoints_header_record(kp), *keypoints_frame_records(kp)]
    assert lines[-1] == {"index": 7, "t": 0.28, "persons": 0}
    write_lines(tmp_path / "k.jsonl", lines)
    for name in ("k.json", "k.jsonl"):
        back = load_keypoints_multi(tmp_path / name)
        assert_kpts_equal(back, kp, atol=0.006)
        assert back.xy.shape == (p, 8, 17, 2)
    doc = json.loads((tmp_path / "k.json").read_text())
    assert doc["schema"] == "hm.keypoints2d" and doc["schema_version"] == 2
    for q, person in enumerate(doc["persons"]):  # 2D only: the detected frames
        assert [fr["index"] for fr in person["frames"]] == np.flatnonzero(kp.detected[q]).tolist()
        assert all("joints3d" not in fr for fr in person["frames"])
    stdin = read_keypoints_bytes_multi((tmp_path / "k.jsonl").read_bytes())
    assert stdin.track_ids.tolist() == [2, 5, 9][:p]


def test_keypoints_person_rules(tmp_path):
    kp = make_multi_kpts(3, joint_set="coco17")
    out = tmp_path / "k.json"
    write_keypoints_json(out, kp)
    with pytest.raises(HMError) as e:
        load_keypoints(out)
    assert str(e.value) == f"{out} has 3 persons (track ids 2, 5, 9): choose one with --person ID"
    assert_kpts_equal(load_keypoints(out, person=9), kp.person(2), atol=0.006)
    single = make_multi_kpts(1, joint_set="coco17").person(0)
    write_keypoints_json(out, single)
    assert_kpts_equal(load_keypoints(out), single, atol=0.006)


def test_person_never_detected_keeps_its_row(tmp_path):
    kp = make_multi_kpts(1, joint_set="halpe26_unknown", j=5).person(0)
    kp.detected[:] = False
    kp.xy[:] = 0
    kp.conf[:] = 0
    write_keypoints_json(tmp_path / "k.json", kp)  # the document knows the joint count
    back = load_keypoints(tmp_path / "k.json")
    assert back.xy.shape == (8, 5, 2) and not back.detected.any()
    write_lines(tmp_path / "k.jsonl", [keypoints_header_record(kp), *keypoints_frame_records(kp)])
    with pytest.raises(HMError, match="has no persons"):  # JSON lines cannot tell a never-seen person
        load_keypoints(tmp_path / "k.jsonl")


def test_version_1_keypoints_json(tmp_path):
    kp = make_multi_kpts(1, joint_set="coco17").person(0)
    head = {"schema": "hm.keypoints2d", "schema_version": 1, "fps": 25.0, "width": 640, "height": 480,
            "joint_set": "coco17", "detector": "mediapipe", "source": "clip.mp4", "source_hash": "ab" * 32}  # fmt: skip
    frames = [{"index": i, "t": float(kp.timestamps[i]), "detected": bool(kp.detected[i]),
               "kpts2d": [[float(x), float(y), float(c)] for (x, y), c in zip(kp.xy[i], kp.conf[i])]}
              for i in range(kp.num_frames)]  # fmt: skip
    (tmp_path / "v1.json").write_text(json.dumps(dict(head, frames=frames)))
    write_lines(tmp_path / "v1.jsonl", [head, *frames])
    for name in ("v1.json", "v1.jsonl"):
        assert_kpts_equal(load_keypoints(tmp_path / name), kp, atol=1e-4)
        assert load_keypoints_multi(tmp_path / name).track_ids.tolist() == [0]


def test_bad_person_layout_is_one_line(tmp_path):
    out = tmp_path / "r.json"
    write_result_json(out, make_multi_result(2))
    doc = json.loads(out.read_text())
    doc["persons"][1]["track_id"] = 2
    out.write_text(json.dumps(doc))
    with pytest.raises(HMError, match="track id 2 appears twice") as e:
        read_results_json(out)
    assert "\n" not in str(e.value)
    doc["persons"][1]["track_id"] = 5
    doc["persons"][1]["frames"][0]["index"] = 99
    out.write_text(json.dumps(doc))
    with pytest.raises(HMError, match="outside the 8 frames"):
        read_results_json(out)
    doc["schema_version"] = 3
    out.write_text(json.dumps(doc))
    with pytest.raises(HMError, match="newer hm .*version 3.*upgrade hm"):
        read_results_json(out)
