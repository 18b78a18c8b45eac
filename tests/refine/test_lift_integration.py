"""The refiner in the lifting chain: hmcli.lift.lift_keypoints / lift_persons and hmcli.api."""

import numpy as np
import pytest

from hmcli import api
from hmcli.lift import lift_keypoints
from tests.cli.helpers import make_keypoints, make_two_keypoints, tiny_checkpoint
from tests.refine.helpers import tiny_refiner_file

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("refine-models")
    return {"lifter": api.load_lifter(tiny_checkpoint(d / "bi.pt")),
            "identity": api.load_refiner(tiny_refiner_file(d / "id.pt")),
            "random": api.load_refiner(tiny_refiner_file(d / "rand.pt", identity=False))}


def test_an_identity_refiner_leaves_the_lift_unchanged(models):
    kp = make_keypoints(40)  # every joint found: nothing to fill
    plain = lift_keypoints(kp, models["lifter"])
    refined = lift_keypoints(kp, models["lifter"], refiner=models["identity"])
    np.testing.assert_allclose(refined.joints3d, plain.joints3d, atol=1e-4)
    np.testing.assert_allclose(refined.kpts2d.xy, plain.kpts2d.xy, atol=2e-3)


def test_a_refiner_changes_the_2d_the_lifter_sees_and_the_result_records_it(models):
    kp = make_keypoints(40)
    plain = lift_keypoints(kp, models["lifter"])
    res = lift_keypoints(kp, models["lifter"], refiner=models["random"])
    assert res.kpts2d.joint_set == "h36m17"
    assert np.abs(res.kpts2d.xy - plain.kpts2d.xy).max() > 0.1
    assert not np.allclose(res.joints3d, plain.joints3d)
    direct = api.refine_keypoints(kp, models["random"])  # the same refined 2D through the API
    np.testing.assert_allclose(direct.xy, res.kpts2d.xy, atol=1e-4)


def test_missed_frames_stay_flagged_and_joints_get_filled(models):
    det = np.ones(30, bool)
    det[[4, 5]] = False
    kp = make_keypoints(30, detected=det)
    kp.conf[10, 9] = 0.0  # a missed wrist
    res = lift_keypoints(kp, models["lifter"], refiner=models["identity"])
    assert (res.kpts2d.detected == det).all()
    assert (res.kpts2d.conf[[4, 5]] == 0).all()
    from hmcli.refine.api import FILL_CONFIDENCE

    # coco17 wrist 9 = H36M left wrist (13)
    assert res.kpts2d.conf[10, 13] == pytest.approx(FILL_CONFIDENCE)


def test_persons_are_refined_over_their_own_spans(models):
    mk = make_two_keypoints(12, late=3)
    out = api.refine_persons(mk, models["identity"])
    assert out.joint_set == "h36m17" and out.xy.shape == (2, 12, 17, 2)
    for p in range(2):
        a, b = mk.person(p).span()
        assert (out.conf[p, :a] == 0).all() and (out.conf[p, b:] == 0).all()
        assert (out.conf[p, a:b][mk.detected[p, a:b]] > 0).all()
    res = api.run_offline_persons(models["lifter"], mk, refiner=models["identity"])
    plain = api.run_offline_persons(models["lifter"], mk)
    np.testing.assert_allclose(np.nan_to_num(res.joints3d), np.nan_to_num(plain.joints3d), atol=1e-4)


def test_a_clip_far_from_the_refiners_rates_is_lifted_unrefined_with_a_warning(models):
    kp = make_keypoints(30, fps=5.0)  # the tiny refiner knows 30 fps: 20-45 fps are refined
    plain = lift_keypoints(kp, models["lifter"])
    with pytest.warns(UserWarning, match="trained at 30-30 fps; this clip runs at 5 fps"):
        res = lift_keypoints(kp, models["lifter"], refiner=models["random"])
    np.testing.assert_array_equal(res.joints3d, plain.joints3d)


def test_lifting_refined_keypoints_equals_lifting_with_the_refiner(models, monkeypatch):
    from hmcli import lift as lift_mod

    monkeypatch.setitem(lift_mod.CONFIDENCE_FLOOR, "coco17", 0.95)  # a floor, as BlazePose input has
    kp = make_keypoints(30)
    kp.conf[7, 9] = 0.0
    refined = api.refine_keypoints(kp, models["random"])
    assert refined.conf[3, 0] == pytest.approx(0.95)  # the lifter's confidence, floor applied
    direct = lift_keypoints(kp, models["lifter"], refiner=models["random"])
    via_file = lift_keypoints(refined, models["lifter"])  # hm detect --refine | hm lift -
    np.testing.assert_allclose(via_file.joints3d, direct.joints3d, atol=1e-5)
