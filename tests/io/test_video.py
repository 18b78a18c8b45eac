import cv2
import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.video import VideoInfo, iter_frames, probe_video, sha256_file


def write_video(path, n=10, fps=25.0, size=(64, 48)):
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, : (i + 1) * w // n] = (0, 0, 255)  # a growing red bar: frames differ
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.mp4")


def test_probe(video):
    info = probe_video(video)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.num_frames) == (64, 48, 10)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(0.4)


def test_iter_frames_round_trip(video):
    frames = list(iter_frames(video))
    assert [i for i, _, _ in frames] == list(range(10))
    for i, t, frame in frames:
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert t == pytest.approx(i / 25.0, abs=1e-3)
    # content survives: the red bar grows by one step per frame
    red = [int((f[:, :, 2] > 128).all(axis=0).sum()) for _, _, f in frames]
    assert red == sorted(red) and red[-1] > red[0]


def test_iter_frames_max_frames_and_str_path(video):
    assert [i for i, _, _ in iter_frames(str(video), max_frames=3)] == [0, 1, 2]


def test_timestamps_strictly_increase(tmp_path):
    p = write_video(tmp_path / "v.mp4", n=30, fps=30.0)
    ts = np.array([t for _, t, _ in iter_frames(p)])
    assert np.all(np.diff(ts) > 0)
    assert ts[-1] == pytest.approx(29 / 30, abs=1e-3)


def _assert_one_line(err):
    msg = str(err.value)
    assert msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(HMError, match="not found") as e:
        probe_video(tmp_path / "nope.mp4")
    _assert_one_line(e)
    with pytest.raises(HMError, match="not found"):
        list(iter_frames(tmp_path / "nope.mp4"))


def test_text_file_renamed_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 20)
    with pytest.raises(HMError, match="not a readable video") as e:
        probe_video(p)
    _assert_one_line(e)
    with pytest.raises(HMError):
        list(iter_frames(p))


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(HMError, match="empty") as e:
        probe_video(p)
    _assert_one_line(e)


def test_truncated_file(tmp_path, video):
    data = video.read_bytes()
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(HMError) as e:
        probe_video(p)
    _assert_one_line(e)


def test_zero_frame_video(tmp_path):
    p = tmp_path / "zero.mp4"
    writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    writer.release()
    with pytest.raises(HMError) as e:
        probe_video(p)
    _assert_one_line(e)


def test_directory(tmp_path):
    with pytest.raises(HMError, match="directory"):
        probe_video(tmp_path)


def test_missing_camera_is_hmerror():
    with pytest.raises(HMError, match="camera"):
        next(iter_frames(97))


def test_sha256(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(HMError):
        sha256_file(tmp_path / "missing")


def test_sample_frames_spreads_over_the_clip(tmp_path):
    import cv2
    import numpy as np

    from hmcli.io.video import sample_frames

    path = tmp_path / "ramp.mp4"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for i in range(50):
        vw.write(np.full((48, 64, 3), i * 5, np.uint8))
    vw.release()
    frames = sample_frames(path, 5)
    levels = [int(f.mean()) for f in frames]
    assert len(frames) == 5 and levels == sorted(levels)
    assert abs(levels[0] - 0) <= 6 and abs(levels[-1] - 245) <= 6  # first and last frame
    assert len(sample_frames(path, 100)) == 50 and sample_frames(path, 0) == []
    assert max(int(f.mean()) for f in sample_frames(path, 3, max_frames=10)) <= 50
