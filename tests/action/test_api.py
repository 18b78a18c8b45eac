"""hm action's API with several persons: per-person reports and group pooling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hmcli.action import api as action_api
from hmcli.io.atomic import HMError
from hmcli.types import MultiKeypoints2D
from tests.cli.helpers import make_keypoints
from tests.cli.test_action_cli import tiny_action

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def la(ckpts, tmp_path_factory):
    return action_api.load_classifier(tiny_action(tmp_path_factory.mktemp("a") / "a.pt", ckpts["bi"]))


def probs(rep):
    return np.asarray(rep.probs)


def test_group_of_one_and_of_identical_persons_equals_the_single_clip(la):
    kp = make_keypoints(50, 25.0)
    ref = action_api.classify(kp, la, stride_s=0.5)
    one = action_api.classify(MultiKeypoints2D.from_single(kp), la, stride_s=0.5)
    np.testing.assert_allclose(probs(one), probs(ref), atol=1e-6)
    two = action_api.classify(MultiKeypoints2D.from_persons([kp, kp], [1, 2]), la, stride_s=0.5)
    np.testing.assert_allclose(probs(two), probs(ref), atol=1e-5)  # the mean of equal persons
    absent = replace(kp, detected=np.zeros(50, bool), conf=np.zeros_like(kp.conf))
    masked = action_api.classify(MultiKeypoints2D.from_persons([kp, absent], [1, 2]), la, stride_s=0.5)
    np.testing.assert_allclose(probs(masked), probs(ref), atol=1e-5)  # an absent person does not count
    other = replace(kp, xy=kp.xy[::-1].copy())
    mixed = action_api.classify(MultiKeypoints2D.from_persons([kp, other], [1, 2]), la, stride_s=0.5)
    assert not np.allclose(probs(mixed), probs(ref), atol=1e-4)  # both persons enter the pooling


def test_classify_persons_labels_each_track_alone(la):
    a = make_keypoints(50, 25.0)
    det = np.arange(50) >= 25
    b = replace(make_keypoints(50, 25.0, detected=det), xy=make_keypoints(50, 25.0).xy[::-1].copy() * det[:, None, None])
    nobody = replace(a, detected=np.zeros(50, bool), conf=np.zeros_like(a.conf))
    mk = MultiKeypoints2D.from_persons([a, nobody, b], [4, 5, 9])
    reps = action_api.classify_persons(mk, la, stride_s=0.5)
    assert [tid for tid, _ in reps] == [4, 9]
    np.testing.assert_allclose(probs(reps[0][1]), probs(action_api.classify(a, la, stride_s=0.5)), atol=1e-6)
    tl = reps[1][1].timeline
    assert tl[0]["topk"] == [] and tl[-1]["topk"]  # person 9 only in the second second
    doc = action_api.persons_doc(reps, 50, "clip.mp4")
    assert doc["schema_version"] == 2 and [p["track_id"] for p in doc["persons"]] == [4, 9]
    assert "clip" not in doc and doc["persons"][0]["clip"] and doc["frames"] == 50 and doc["classes"]
    with pytest.raises(HMError, match="no person"):
        action_api.classify_persons(MultiKeypoints2D.from_single(nobody), la)
    with pytest.raises(HMError, match="no person"):
        action_api.classify(MultiKeypoints2D.from_persons([nobody], [1]), la)
