import h5py
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.paths import default_output, find_source_video, input_kind, output_dir_check


def test_input_kind(tmp_path):
    (tmp_path / "op").mkdir()
    assert input_kind(tmp_path / "clip.mp4") == "video"
    assert input_kind(tmp_path / "k.JSON") == "keypoints" and input_kind(tmp_path / "op") == "keypoints"
    for schema, kind in (("hm.pose3d", "lifted"), ("hm.mesh", "lifted"), ("hm.keypoints2d", "keypoints")):
        p = tmp_path / f"{schema}.h5"
        with h5py.File(p, "w") as f:
            f.attrs["schema"] = schema
            f.attrs["schema_version"] = 1
        assert input_kind(p, lifted=True) == kind and input_kind(p) == "keypoints"


def test_default_output_never_the_input(tmp_path):
    assert default_output(tmp_path / "clip.mp4", ".h5", "3d") == tmp_path / "clip.h5"
    (tmp_path / "k.h5").write_bytes(b"")
    assert default_output(tmp_path / "k.h5", ".h5", "3d") == tmp_path / "k.3d.h5"
    (tmp_path / "op").mkdir()
    assert default_output(tmp_path / "op", ".h5", "3d") == tmp_path / "op.h5"


def test_output_dir_check(tmp_path):
    output_dir_check(tmp_path / "x.h5")
    with pytest.raises(HMError, match="output directory does not exist"):
        output_dir_check(tmp_path / "nope" / "x.h5")


def test_find_source_video(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    assert find_source_video("/elsewhere/v.mp4", tmp_path / "r.h5") == tmp_path / "v.mp4"
    assert find_source_video("camera:0", tmp_path / "r.h5") is None and find_source_video(None, tmp_path / "r.h5") is None
