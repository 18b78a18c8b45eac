"""hmcli.render.labels: which action label a frame shows (hm render --actions)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.render.labels import ActionTrack, frame_times, load_action_labels, parse_action_labels


def top(label, prob):
    return [{"label": label, "prob": prob}, {"label": "other", "prob": round(1 - prob - 0.01, 4)}]


def report(timeline, clip=("walk", 0.6), **extra):
    return {"schema": "hm.actions", "schema_version": 1, "classes": ["walk", "run", "jump", "other"],
            "window_s": 2.0, "stride_s": 0.5, "fps": 25.0, "clip": top(*clip),
            "timeline": [{"start": s, "end": e, "topk": top(*lp) if lp else []} for s, e, lp in timeline], **extra}


def write(tmp_path, doc, name="a.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def test_overlapping_windows_nearest_centre(tmp_path):
    # windows [0, 2] (centre 1), [1, 3] (centre 2), [2, 4] (centre 3)
    tr = load_action_labels(write(tmp_path, report([(0, 2, ("walk", 0.9)), (1, 3, ("run", 0.7)),
                                                    (2, 4, ("jump", 0.823))])))
    assert tr.kind == "report"
    assert tr.label_at(0.0, 0) == "walk 90 %"
    assert tr.label_at(1.4, 35) == "walk 90 %"   # in [0,2] and [1,3]: centre 1 is nearer than 2
    assert tr.label_at(1.6, 40) == "run 70 %"    # centre 2 is nearer
    assert tr.label_at(2.0, 50) == "run 70 %"    # in all three: centre 2 exactly
    assert tr.label_at(2.6, 65) == "jump 82 %"   # [1,3] (0.6 away) vs [2,4] (0.4 away)
    assert tr.label_at(4.0, 100) == "jump 82 %"  # the last window's end is inside
    assert tr.label_at(1.5, 37) == "walk 90 %"   # a tie goes to the earlier window
    assert tr.label_at(4.5, 112) is None          # past the timeline
    assert tr.top_at(3.5) == ("jump", 0.823)


def test_gaps_and_unlabelled_windows_fall_back_to_clip(tmp_path):
    # a gap between 1 and 2 s; the window [2, 3] has no label (no person in it)
    tr = load_action_labels(write(tmp_path, report([(0, 1, ("run", 0.8)), (2, 3, None), (3, 4, ("jump", 0.5))],
                                                   clip=("dance", 0.82))))
    assert tr.label_at(0.5, 12) == "run 80 %"
    assert tr.label_at(1.5, 37) == "dance 82 %"  # gap -> clip label
    assert tr.label_at(2.5, 62) == "dance 82 %"  # unlabelled window -> clip label
    assert tr.label_at(3.5, 87) == "jump 50 %"
    # no clip label either -> nothing
    tr2 = parse_action_labels(json.dumps({**report([(0, 1, ("run", 0.8))]), "clip": []}))
    assert tr2.label_at(0.5) == "run 80 %" and tr2.label_at(0.999) == "run 80 %"
    assert tr2.label_at(-1.0) is None and tr2.label_at(float("nan")) is None


def test_json_lines_by_index(tmp_path):
    recs = [{"index": i, "t": i / 25, "detected": True, "topk": top("walk" if i < 3 else "jump", 0.5 + 0.1 * i)}
            for i in range(5)]
    recs[1]["topk"] = []  # nobody in the window yet
    text = "\n".join(json.dumps(r) for r in recs) + "\n\n"
    tr = load_action_labels(write(tmp_path, text, "a.jsonl"))
    assert tr.kind == "frames" and tr.num_frames == 5
    assert [tr.label_at(99.0, i) for i in range(6)] == ["walk 50 %", None, "walk 70 %", "jump 80 %", "jump 90 %", None]
    assert tr.label_at(0.0, None) is None  # by index only, the time is not used
    # a one-frame clip's output is a single JSON line (valid JSON as a whole)
    one = parse_action_labels(json.dumps(recs[0]))
    assert one.kind == "frames" and one.label_at(0.0, 0) == "walk 50 %"


def test_check_frames(tmp_path):
    tr = parse_action_labels(json.dumps(report([(0, 1, ("run", 0.8))], frames=30)), "a.json")
    tr.check_frames(30)
    tr.check_frames(40)  # made with --max-frames: a prefix of the clip
    with pytest.raises(HMError, match="a.json cover 30 frames but the result has 20"):
        tr.check_frames(20)
    lines = parse_action_labels("\n".join(json.dumps({"index": i, "topk": top("a", 0.5)}) for i in range(8)))
    with pytest.raises(HMError, match="cover 8 frames"):
        lines.check_frames(7)
    ActionTrack("report").check_frames(0)  # nothing known: no check


def test_frame_times():
    np.testing.assert_allclose(frame_times([10.0, 10.04, 10.08], 3), [0, 0.04, 0.08])
    np.testing.assert_allclose(frame_times([0.0, 0.0, 0.0], 3), [0, 1 / 30, 2 / 30])  # not increasing
    np.testing.assert_allclose(frame_times([0.0, np.nan], 2), [0, 1 / 30])
    assert frame_times([5.0], 1).tolist() == [0.0]


@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("   \n", "is empty"),
    (json.dumps({"schema": "hm.pose3d"}), "not an hm action report"),
    (json.dumps([1, 2]), "expected an hm action report"),
    (json.dumps({"schema": "hm.actions", "clip": []}), "no 'timeline'"),
    (json.dumps({"schema": "hm.actions", "timeline": []}), "no 'clip'"),
    (json.dumps(report([(2, 1, ("a", 0.5))])), "start <= end"),
    (json.dumps(report([("x", 1, ("a", 0.5))])), "'start' must be a number"),
    (json.dumps(report([(0, 1, ("a", 1.5))])), "between 0 and 1"),
    (json.dumps({**report([]), "timeline": [{"start": 0, "end": 1, "topk": "walk"}]}), "'topk' must be a list"),
    (json.dumps({**report([]), "timeline": [{"start": 0, "end": 1, "topk": [{"prob": 0.5}]}]}), "'label' string"),
    ('{"index": 0, "topk": []}\n{"index": 0, "topk": []}\n', "line 2: frame index 0 appears twice"),
    ('{"index": 0, "topk": []}\nnot json\n', "line 2 is not JSON"),
    ('{"index": 0, "topk": []}\n{"t": 1}\n', "line 2: expected a record with 'index' and 'topk'"),
    ('{"index": -1, "topk": []}\n{"index": 1, "topk": []}\n', "'index' must be a non-negative integer"),
    ('{"index": 1.5, "topk": []}', "'index' must be a non-negative integer"),
])  # fmt: skip
def test_bad_files_one_line_error(tmp_path, text, match):
    p = write(tmp_path, text, "bad.json")
    with pytest.raises(HMError, match=match) as e:
        load_action_labels(p)
    msg = str(e.value)
    assert "\n" not in msg and "bad.json" in msg


def test_missing_and_unreadable_file(tmp_path):
    with pytest.raises(HMError, match="action labels not found"):
        load_action_labels(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(HMError, match="cannot read action labels") as e:
        load_action_labels(tmp_path / "bin.json")
    assert "\n" not in str(e.value)


def test_labels_of_several_persons_from_a_report_and_from_json_lines():
    import json

    from hmcli.render.labels import parse_action_labels

    win = lambda s, e, l: {"start": s, "end": e, "topk": [{"label": l, "prob": 0.8}]}  # noqa: E731
    doc = {"schema": "hm.actions", "schema_version": 2, "frames": 60,
           "persons": [{"track_id": 3, "clip": [{"label": "walk", "prob": 0.7}], "timeline": [win(0, 2, "walk")]},
                       {"track_id": 8, "clip": [{"label": "jump", "prob": 0.6}], "timeline": [win(0, 2, "jump")]}]}
    tr = parse_action_labels(json.dumps(doc))
    assert tr.kind == "persons" and sorted(tr.persons) == [3, 8] and tr.num_frames == 60
    assert tr.person(3).label_at(1.0) == "walk 80 %" and tr.person(8).label_at(1.0) == "jump 80 %"
    assert tr.person(5) is None and tr.label_at(1.0) is None  # no single label for two persons
    lines = [{"index": 0, "t": 0.0, "detected": True, "topk": [{"label": "run", "prob": 0.5}], "track_id": 1},
             {"index": 1, "t": 0.03, "persons": 0},
             {"index": 2, "t": 0.07, "detected": True, "topk": [{"label": "walk", "prob": 0.9}], "track_id": 1}]
    jl = parse_action_labels("\n".join(json.dumps(r) for r in lines))
    assert jl.kind == "persons" and jl.person(1).label_at(None, 2) == "walk 90 %" and jl.label_at(None, 0) == "run 50 %"
    with pytest.raises(HMError, match="track id 3 appears twice"):
        parse_action_labels(json.dumps({**doc, "persons": [doc["persons"][0]] * 2}))
    with pytest.raises(HMError, match="integer 'track_id'"):
        parse_action_labels(json.dumps({**doc, "persons": [{"clip": [], "timeline": []}]}))
