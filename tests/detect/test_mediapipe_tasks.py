"""The multi-person MediaPipe Tasks backend: the bundle builder (cache, key, atomic write,
errors) and a real run on a two-person composite. Needs the optional '.[mediapipe]' extra
except for the error-path tests."""

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import hmcli.detect.mediapipe_tasks as mt
from hmcli.io.atomic import HMError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "jumping_jacks.mp4"


def _has_mediapipe() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


needs_mp = pytest.mark.skipif(not _has_mediapipe(), reason="the '.[mediapipe]' extra is not installed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mpcache")


def test_cache_dir_choice(monkeypatch, tmp_path):
    monkeypatch.delenv("HM_MEDIAPIPE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mt.pose_cache_dir() == tmp_path / "xdg" / "hm" / "mediapipe"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mt.pose_cache_dir() == Path.home() / ".cache" / "hm" / "mediapipe"
    monkeypatch.setenv("HM_MEDIAPIPE_CACHE", str(tmp_path / "env"))
    assert mt.pose_cache_dir() == tmp_path / "env"
    assert mt.pose_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_missing_wheel_models_is_one_line_hmerror(tmp_path):
    with pytest.raises(HMError) as e:
        mt.build_pose_bundle(tmp_path / "cache", mediapipe_root=tmp_path)  # an empty "package"
    msg = str(e.value)
    assert "pose_detection/pose_detection.tflite" in msg and "reinstall" in msg and "\n" not in msg
    (tmp_path / "modules" / "pose_detection").mkdir(parents=True)
    (tmp_path / "modules" / "pose_detection" / "pose_detection.tflite").write_bytes(b"x")
    with pytest.raises(HMError, match="pose_landmark/pose_landmark_full.tflite"):
        mt.build_pose_bundle(tmp_path / "cache", mediapipe_root=tmp_path)
    assert not (tmp_path / "cache").exists()  # nothing written


def test_mediapipe_missing_same_message_as_single_person(monkeypatch):
    import importlib.util

    from hmcli.detect.mediapipe_pose import MediaPipePose

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "mediapipe" else real(n, *a))
    with pytest.raises(HMError) as single:
        MediaPipePose()
    with pytest.raises(HMError) as multi:
        mt.MediaPipeTasksPose(2)
    assert str(multi.value) == str(single.value) and "not installed" in str(multi.value)


def test_bundle_key_depends_on_both_inputs():
    k = mt._bundle_key(b"det", b"lmk")
    assert len(k) == 64 and k == mt._bundle_key(b"det", b"lmk")
    assert len({k, mt._bundle_key(b"det2", b"lmk"), mt._bundle_key(b"det", b"lmk2"), mt._bundle_key(b"detl", b"mk")}) == 4


@needs_mp
def test_bundle_is_built_once_and_cached(cache, monkeypatch):
    path = mt.build_pose_bundle(cache)
    assert path.parent == cache and path.name.startswith("pose_landmarker_full-") and path.suffix == ".task"
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted([mt.DETECTOR_MEMBER, mt.LANDMARKS_MEMBER])
        det, _ = mt.wheel_pose_models()
        assert z.read(mt.DETECTOR_MEMBER) == det.read_bytes()
    mtime = path.stat().st_mtime_ns

    def boom(_):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(mt, "_landmarks_with_metadata", boom)
    assert mt.build_pose_bundle(cache) == path and path.stat().st_mtime_ns == mtime
    assert [p.name for p in cache.iterdir()] == [path.name]


@needs_mp
def test_failed_build_leaves_no_file(tmp_path, monkeypatch):
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    def half(members, out):
        Path(out).write_bytes(b"PK-partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_asset_bundle_utils, "create_model_asset_bundle", half)
    with pytest.raises(OSError):
        mt.build_pose_bundle(tmp_path)
    assert list(tmp_path.iterdir()) == []


@needs_mp
def test_one_person_matches_the_single_person_backend(cache):
    from hmcli.detect import get_detector
    from hmcli.io.video import iter_frames

    frames = list(iter_frames(SAMPLE, max_frames=6))
    single = get_detector("mediapipe")
    multi = mt.MediaPipeTasksPose(1, cache_dir=cache)
    try:
        assert multi.joint_set == single.joint_set == "blazepose33"
        for _, t, f in frames:
            xy, conf, found = single.detect(f, t)
            people = multi.detect_multi(f, t)
            assert found and len(people) == 1
            assert np.linalg.norm(people[0][0] - xy, axis=-1).mean() < 5.0  # px on a 540x540 frame
            assert np.abs(people[0][1] - conf).max() < 0.1  # conf: the same visibility
            assert len(multi.last_world) == 1 and multi.last_world[0].shape == (33, 3)
        assert multi.tiles == [mt.TileSpan(0, 540)]
        with pytest.raises(HMError, match="earlier frames"):
            multi.detect_multi(np.zeros((100, 100, 3), np.uint8), 10.0)
    finally:
        single.close()
        multi.close()
    with pytest.raises(RuntimeError, match="closed"):
        multi.detect_multi(frames[0][2], 1.0)


def _composite(n, height=360, lag=12):
    """Two persons side by side: the sample clip, and the same clip mirrored and ``lag`` frames
    later (so the two persons do not move in step). (height, 2 * height, 3) BGR frames."""
    from hmcli.io.video import iter_frames

    src = [cv2.resize(f, (height, height), interpolation=cv2.INTER_AREA) for _, _, f in iter_frames(SAMPLE, max_frames=n + lag)]
    return [(i, i / 30.0, np.hstack([src[i], src[i + lag][:, ::-1]])) for i in range(n)]


@needs_mp
@pytest.mark.skipif(not SAMPLE.exists(), reason="sample video not in this checkout")
def test_two_people_side_by_side(cache):
    from hmcli.detect import run_detector_multi

    frames = _composite(24)
    det = mt.MediaPipeTasksPose(2, cache_dir=cache)
    try:
        m = run_detector_multi(det, frames, min_track_length=3)
    finally:
        det.close()
    assert len(det.tiles) == 2 and m.width == 720 and m.height == 360
    assert m.num_persons == 2, m.track_ids
    both = m.detected.all(axis=0)  # (F,)
    assert both.mean() >= 0.9, both  # 24/24 with tiling here (the untiled graph misses the second person for ~8 frames)
    # each row stays on its own half: no id switch
    hip_x = m.xy[:, :, 23:25, 0].mean(-1)  # (P, F)
    sides = [set((hip_x[p, m.detected[p]] >= 360).tolist()) for p in range(2)]
    assert sorted(map(tuple, sides)) == [(False,), (True,)]


@needs_mp
def test_get_multi_detector_picks_tasks_backend(cache, monkeypatch):
    from hmcli.detect import SingleAsMulti, get_multi_detector

    monkeypatch.setenv("HM_MEDIAPIPE_CACHE", str(cache))
    det = get_multi_detector("mediapipe", 3)
    try:
        assert isinstance(det, mt.MediaPipeTasksPose) and det.max_persons == 3 and det.bundle.parent == cache
    finally:
        det.close()
    det = get_multi_detector("mediapipe", 1)
    try:
        assert isinstance(det, SingleAsMulti)
    finally:
        det.close()
