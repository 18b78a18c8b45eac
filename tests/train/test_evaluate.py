import pytest

from hmcli.io.atomic import HMError
from hmcli.train.evaluate import EvalSetting
from hmcli.train.trainer import load_split


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(fps=0.0), "fps must be a positive number, got 0.0"),
        (dict(fps=float("nan")), "fps must be a positive number, got nan"),
        (dict(fps=30.0, cameras=0), "cameras must be at least 1, got 0"),
        (dict(fps=30.0, seed=-1), "seed must be >= 0, got -1"),
        ({"fps": 30.0, "camera_kind": "drone"}, ("unknown camera_kind 'drone' (available: any, standard, ceiling, phone, "
                                                 "webcam, sports, handheld, mixed)")),
        ({"fps": 30.0, "proportions": "giant"}, "unknown proportions 'giant' (available: none, wide, adult)"),
    ],
)
def test_eval_setting_rejects_bad_values(kw, message):
    with pytest.raises(HMError) as e:
        EvalSetting(**kw)
    assert str(e.value) == message


def test_load_split_names_the_splits(tmp_path):
    with pytest.raises(HMError, match=r"unknown split 'dev' \(available: train, val, test\)"):
        load_split(str(tmp_path), "dev")
    with pytest.raises(HMError, match="data directory not found"):
        load_split(str(tmp_path / "none"), "test")
