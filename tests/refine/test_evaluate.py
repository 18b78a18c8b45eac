import numpy as np
import pytest

from hmcli.refine.evaluate import clip_height, score_2d


def _item(f=10):
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 100, (f, 17, 2)).astype(np.float32)
    clean[:, 0, 1], clean[:, 1, 1] = 0.0, 100.0  # height 100 px
    xy = clean + 2.0  # 2.83 px off everywhere
    conf = np.ones((f, 17), np.float32)
    conf[0, 5] = 0.0
    return {"xy": xy, "conf": conf, "xy_clean": clean}


def test_clip_height():
    assert clip_height(_item()["xy_clean"]) == pytest.approx(100.0)


def test_scores_before_and_after():
    it = _item()
    perfect = score_2d([it], [(it["xy_clean"], it["conf"])])
    assert perfect.found_before == pytest.approx(100 * np.sqrt(8) / 100, rel=1e-5)
    assert perfect.found_after == 0 and perfect.missed_after == 0 and perfect.all_after == 0
    assert perfect.found_joints == 169 and perfect.missed_joints == 1
    same = score_2d([it], [(it["xy"], it["conf"])])
    assert same.found_after == pytest.approx(same.found_before)
