from hmcli.info import gather_info


def test_info_lists_action_models_apart_from_lifters():
    info = gather_info()
    names = {c["name"] for c in info["action_models"]}
    assert {"hummuss-action-cmu", "hummuss-action-causal-cmu"} <= names
    assert not any(c["name"].startswith("hummuss-action") for c in info["checkpoints"])
    row = next(c for c in info["action_models"] if c["name"] == "hummuss-action-causal-cmu")
    assert row["causal"] and row["classes"] == ["walk", "run", "jump", "dance", "exercise"]
    assert 0 < row["metrics"]["balanced_accuracy"] <= 1


def test_info_lists_2d_refiners_apart_from_lifters(tmp_path, monkeypatch):
    from tests.refine.helpers import tiny_refiner_file

    tiny_refiner_file(tmp_path / "my-refiner.pt", clip_frames=33)
    monkeypatch.setenv("HM_MODELS", str(tmp_path))
    info = gather_info()
    row = next(c for c in info["refiners"] if c["name"] == "my-refiner")
    assert row["clip_frames"] == 33 and row["params"] > 0
    assert "my-refiner" not in {c["name"] for c in info["checkpoints"] + info["action_models"]}
