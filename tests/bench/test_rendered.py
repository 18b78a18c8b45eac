"""hm bench rendered on synthetic renders (no renderer, no detector): a tiny lifter and exact landmarks."""

import numpy as np
import pytest

from hmcli.bench.detector2d import save_clips
from hmcli.bench.rendered import rendered_bench, rendered_table
from hmcli.io.atomic import HMError
from tests.bench.test_detector2d import _world_clip
from tests.cli.helpers import tiny_checkpoint


def _renders(path, world: bool = True) -> str:
    clips = []
    for i in range(2):
        c = _world_clip(F=12, seed=i)
        c.label, c.meta = f"clip{i}", {"action": "walk"}
        if not world:
            c.det_world = None
        clips.append(c)
    save_clips(clips, str(path))
    return str(path)


@pytest.mark.usefixtures("one_thread")
def test_rendered_bench_scores_mediapipe_and_each_lifter_on_the_same_frames(tmp_path):
    renders = _renders(tmp_path / "r.npz")
    lifter = tiny_checkpoint(tmp_path / "bi.pt")
    r = rendered_bench((lifter,), renders, data=str(tmp_path / "unused"))
    assert {x["camera_kind"] for x in r["rows"]} == {"framed"}                # renders without a kind: framed
    by = {(x["model"], x["input"]): x for x in r["rows"]}
    assert set(by) == {("MediaPipe", "world landmarks, cmu map"), ("MediaPipe", "world landmarks, midpoints map"),
                       ("tiny-bi", "detector 2D (as hm lift)"), ("tiny-bi", "exact 2D (the lifter's floor)")}
    assert all(x["frames"] == 24 for x in r["rows"])                          # every source on the same frames
    exact = by[("MediaPipe", "world landmarks, midpoints map")]                # the truth is these landmarks
    assert exact["p_mpjpe_mm"] < 0.01 and exact["mpjpe_mm"] < 0.01
    hm = by[("tiny-bi", "detector 2D (as hm lift)")]
    assert hm["p_mpjpe_mm"] > 0 and hm["p_mpjpe_mm"] <= hm["mpjpe_mm"] + 1e-6
    mp = by[("MediaPipe", "world landmarks, cmu map")]
    assert r["ratios"]["framed: tiny-bi / MediaPipe, P-MPJPE"] == pytest.approx(hm["p_mpjpe_mm"] / mp["p_mpjpe_mm"])
    assert [c["clip"] for c in r["per_clip"]] == ["clip0", "clip1"]
    assert any("beats MediaPipe's P-MPJPE on" in n and "of 2 clips" in n for n in r["notes"])
    per_joint, per_clip = r["tables"]
    assert len(per_joint["rows"]) == 17 and per_joint["columns"] == ["joint", "MediaPipe", "tiny-bi"]
    assert len(per_clip["rows"]) == 2
    title, cols, rows = rendered_table(r)
    assert "2 rendered held-out clips" in title and len(rows) == 4 and all(len(x) == len(cols) for x in rows)
    assert all(c["MediaPipe"] > 0 and c["tiny-bi"] > 0 for c in r["per_clip"])
    from hmcli.bench.report import write_outputs

    paths = write_outputs(r, tmp_path / "out", "rendered")
    assert [p.rsplit(".", 1)[1] for p in paths] == ["json", "md", "png"]
    assert "P-MPJPE per joint" in (tmp_path / "out" / "rendered.md").read_text()


@pytest.mark.usefixtures("one_thread")
def test_rendered_bench_scores_each_camera_kind_apart_and_renders_only_what_is_missing(tmp_path):
    renders = _renders(tmp_path / "r.npz")                                   # "framed" clips only
    lifter = tiny_checkpoint(tmp_path / "bi.pt")
    asked = []

    def render(kind):                                                        # a known clip with 4 frames lost
        asked.append(kind)
        c = _world_clip(F=10, seed=7)
        c.label, c.meta = f"clip {kind}", {"action": "jump", "camera_kind": kind}
        c.detected[:4] = False
        return [c]

    r = rendered_bench((lifter,), renders, kinds=("framed", "ceiling"), render=render)
    assert asked == ["ceiling"]                                                # framed came from the file
    assert [x["camera_kind"] for x in r["rows"]] == ["framed"] * 4 + ["ceiling"] * 4
    ceiling = [x for x in r["rows"] if x["camera_kind"] == "ceiling"]
    assert all(x["frames"] == 6 for x in ceiling)                              # the detected frames only
    assert "ceiling: the detector found the person in 6 of 10 frames" in r["notes"]
    assert set(r["ratios"]) == {"framed: tiny-bi / MediaPipe, P-MPJPE", "ceiling: tiny-bi / MediaPipe, P-MPJPE"}
    from hmcli.bench.detector2d import load_clips

    assert sorted(c.meta.get("camera_kind", "framed") for c in load_clips(renders)) == ["ceiling", "framed", "framed"]
    asked.clear()
    rendered_bench((lifter,), renders, kinds=("ceiling",), render=render)
    assert asked == []                                                         # all in the file now
    with pytest.raises(HMError, match="unknown camera kind 'attic'"):
        rendered_bench((lifter,), renders, kinds=("attic",))


def test_rendered_bench_refuses_renders_without_world_landmarks_and_a_missing_data_dir(tmp_path):
    renders = _renders(tmp_path / "old.npz", world=False)
    with pytest.raises(HMError, match="made without the detector's world landmarks; remove it to render again"):
        rendered_bench((None,), renders)
    with pytest.raises(HMError, match="motion capture directory not found"):
        rendered_bench((None,), str(tmp_path / "new.npz"), data=str(tmp_path / "none"))
    assert not (tmp_path / "new.npz").exists()
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(HMError, match="cannot read renders"):
        rendered_bench((None,), str(tmp_path / "bad.npz"))


def test_render_set_of_one_split_keeps_the_whole_sets_draws(monkeypatch):
    """The held-out clips rendered alone get the cameras, bodies and looks they get in the whole set."""
    from hmcli.bench import detector2d as d2

    seen = []

    def fake_render(body, prior, clip_world, betas, cam, look, rng, label, split, keep_frame=None):
        seen.append((label, split, look, float(betas[0]), float(cam.fx)))
        F = clip_world.shape[0]
        z = np.zeros((F, 17, 2), np.float32)
        return d2.RenderedClip(label, split, np.zeros((F, 33, 2), np.float32), np.zeros((F, 33), np.float32),
                               np.ones(F, bool), z, clip_world, z, clip_world, np.ones(F, np.float32), 1.0, 4, 4), None

    class Seq:
        def __init__(self, tid):
            self.trial_id, self.fps, self.action = tid, 30.0, "walk"
            self.joints = np.random.default_rng(0).normal(size=(60, 17, 3))

    class Body:
        num_betas = 4
        name = "anny"

    import hmcli.mesh.api as mesh_api
    from hmcli.data import cmu
    from hmcli.mesh import prior

    settings = d2.Detector2DSettings(frames=30, train_clips=(("05_02", 0), ("06_12", 0)),
                                     test_clips=(("09_12", 0), ("49_03", 0)))
    monkeypatch.setattr(d2, "render_clip", fake_render)
    monkeypatch.setattr(mesh_api, "load_body_model", lambda name: Body())
    monkeypatch.setattr(prior, "load_prior", lambda p: None)
    monkeypatch.setattr(prior, "default_prior_path", lambda n: None)
    monkeypatch.setattr(cmu, "load_cmu_dir", lambda data, subjects: [Seq(t) for t in ("05_02", "06_12", "09_12", "49_03")
                                                                     if t.split("_")[0] in subjects])
    d2.render_set(settings, keep_frame=None)
    whole = [s for s in seen if s[1] == "test"]
    seen.clear()
    d2.render_set(settings, keep_frame=None, split="test")
    assert seen == whole and len(whole) == 4


@pytest.mark.usefixtures("one_thread")
def test_rendered_bench_names_two_checkpoints_of_one_run_by_their_paths(tmp_path):
    renders = _renders(tmp_path / "r.npz")
    a = tiny_checkpoint(tmp_path / "best.pt")
    b = tiny_checkpoint(tmp_path / "last.pt", seed=1)                          # same model_id: tiny-bi
    r = rendered_bench((a, b), renders)
    assert [x["model"] for x in r["rows"][2:]] == [a, a, b, b]
    assert r["per_clip"][0][a] != r["per_clip"][0][b]
