import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args, message",
    [
        (["streaming", "--repeats", "0"], "--repeats must be at least 1, got 0"),
        (["streaming", "--budget", "-1"], "--budget must be >= 0 seconds, got -1.0"),
        (["streaming", "--threads", "-1"], "--threads must be >= 0 (0: all cores), got -1"),
        (["streaming", "--contexts", "243,0"], "--contexts must be positive integers, got '243,0'"),
        (["train", "--batch", "0"], "--batch must be at least 1, got 0"),
        (["train", "--frames", ""], "--frames must be positive integers, got ''"),
        (["throughput", "--minutes", "0"], "--minutes must be a positive number, got 0.0"),
        (["throughput", "--fps", "-30"], "--fps must be a positive number, got -30.0"),
        (["accuracy", "--steps", "0"], "--steps must be at least 1, got 0"),
        (["accuracy", "--clip-min", "90"], "need 1 <= --clip-min <= --clip-max, got 90 and 81"),
        (["accuracy", "--subsample", "1,0"], "--subsample must be positive integers, got '1,0'"),
        (["accuracy", "--split", "train"], "--split must be test or val, got 'train'"),
        (["multi-person", "--frames", "10"], "--frames must be at least 60, got 10"),
        (["multi-person", "--seed", "-1"], "--seed must be >= 0, got -1"),
        (["multi-person", "--scenes", ","], "--scenes needs at least one scene"),
        (["rendered", "--renders", "r.txt"], "--renders must name a .npz file, got 'r.txt'"),
        (["rendered", "--threads", "-1"], "--threads must be >= 0 (0: all cores), got -1"),
        (["rendered", "--camera-kind", "framed,attic"], "--camera-kind: unknown kind 'attic' (known: framed, "
                                                          "standard, ceiling, phone, webcam, sports, handheld; or all)"),
        (["rendered", "--camera-kind", ","], "--camera-kind needs at least one kind"),
    ],
)
def test_bad_option_values_are_usage_errors_before_any_work(args, message, tmp_path):
    r = runner.invoke(app, ["bench", *args, "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and r.stderr == f"hm: error: {message}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--data", "NONE"], "data directory not found: NONE"),
    (["--scenes", "cross-2,nope"], "unknown scene 'nope' (known: cross-2, cross-2-hide, cross-3-leave, gone-long)"),
])
def test_multi_person_one_line_errors_before_any_work(args, message, tmp_path):
    args = [a.replace("NONE", str(tmp_path / "none")) for a in args]
    message = message.replace("NONE", str(tmp_path / "none"))
    r = runner.invoke(app, ["bench", "multi-person", *args, "--out", str(tmp_path / "out")])
    assert r.exit_code != 0 and r.stderr.startswith(f"hm: error: {message}") and r.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_rendered_one_line_error_without_data_or_usable_renders(tmp_path):
    none = str(tmp_path / "none")
    r = runner.invoke(app, ["bench", "rendered", "--data", none, "--renders", str(tmp_path / "r.npz"),
                            "--out", str(tmp_path / "out")])
    assert r.exit_code != 0 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"hm: error: motion capture directory not found: {none}")
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.npz").exists()
