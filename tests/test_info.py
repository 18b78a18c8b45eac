from hmcli.info import gather_info


def test_info_lists_action_models_apart_from_lifters():
    info = gather_info()
    names = {c["name"] for c in info["action_models"]}
    assert {"hummuss-action-cmu", "hummuss-action-causal-cmu"} <= names
    assert not any(c["name"].startswith("hummuss-action") for c in info["checkpoints"])
    row = next(c for c in info["action_models"] if c["name"] == "hummuss-action-causal-cmu")
    assert row["causal"] and row["classes"] == ["walk", "run", "jump", "dance", "exercise"]
    assert 0 < row["metrics"]["balanced_accuracy"] <= 1
