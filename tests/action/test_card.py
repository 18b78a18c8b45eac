"""hmcli.action.card: the model card from a training summary (figures, confusion, earlier versions)."""

from __future__ import annotations

from hmcli.action.card import write_action_card

CLASSES = ["walk", "run", "dance"]


def summary(**cfg):
    return {"classes": CLASSES, "time_s": 600.0,
            "test": {"balanced_accuracy": 0.75, "top1": 0.8, "windows": 10,
                     "confusion": [[4, 0, 0], [1, 1, 0], [0, 1, 3]]},
            "counts": {"train": {c: {"clips": 2, "subjects": ["01"]} for c in CLASSES},
                       "test": {c: {"clips": 1, "subjects": ["09"]} for c in CLASSES}},
            "config": {"dropout": 0.5, "hidden": 512, "window_s": 2.0, "feature_windows": 4800, "head_steps": 3000,
                       "lr": 0.001, "head_batch": 256, "steps": 60, "batch_size": 16, "backbone_lr_mult": 0.1,
                       "eval_stride_s": 1.0, "eval_cameras": 2, **cfg}}


def test_card_figures_and_previous(tmp_path):
    p = tmp_path / "card.md"
    prev = {"balanced_accuracy": 0.5, "top1": 0.6, "windows": 10, "confusion": [[4, 0, 0], [2, 0, 0], [0, 2, 2]]}
    write_action_card(p, summary(rate_range=[5.0, 60.0], rate_p=1.0), "m", "hm train --task action x=1", "ab" * 32,
                      6_000_000, ["one limit"], "a backbone", previous=[("previous m", prev)])
    text = p.read_text(encoding="utf-8")
    assert text.startswith("# m\n") and "- Reproduce: `hm train --task action x=1`" in text
    assert "**Balanced accuracy 75.0 %**" in text and "top-1 80.0 %, 10 windows" in text
    assert "| run | 1 | 1 | 0 | 50 % |" in text
    assert "log-uniform in 5-60 fps" in text and "the rest at 30 fps" not in text
    assert "| previous m | 50.0 % | 60.0 % | 10 | 100 % | 0 % | 50 % |" in text
    assert "| m (this card) | 75.0 % | 80.0 % | 10 | 100 % | 50 % | 75 % |" in text
    assert text.rstrip().endswith("- one limit")
    assert not list(tmp_path.glob("*.tmp*"))


def test_card_without_extras(tmp_path):
    p = tmp_path / "card.md"
    write_action_card(p, summary(rate_range=[5.0, 30.0], rate_p=0.5), "m", "cmd", "0" * 64, 1, [], "b")
    text = p.read_text(encoding="utf-8")
    assert "the rest at 30 fps" in text and "earlier versions" not in text
    write_action_card(p, summary(), "m", "cmd", "0" * 64, 1, [], "b")
    text = p.read_text(encoding="utf-8")
    assert "Frame-rate augmentation" not in text and "Label smoothing" not in text and "Mixup" not in text
    assert "Body shapes" not in text


def test_card_names_the_body_augmentation(tmp_path):
    p = tmp_path / "card.md"
    write_action_card(p, summary(proportions="wide", bone_jitter=0.05), "m", "cmd", "0" * 64, 1, [], "b")
    line = next(x for x in p.read_text(encoding="utf-8").splitlines() if x.startswith("- Body shapes"))
    assert "`wide` proportions" in line and "std 0.05" in line and line.startswith("- Body shapes: every training")
    write_action_card(p, summary(proportions="wide", body_p=0.5), "m", "cmd", "0" * 64, 1, [], "b")
    line = next(x for x in p.read_text(encoding="utf-8").splitlines() if x.startswith("- Body shapes"))
    assert line.startswith("- Body shapes: 50 % of the training windows' bodies are redrawn with")


def test_card_with_rendered_training_and_evaluation(tmp_path):
    p = tmp_path / "card.md"
    s = summary(data_rendered=["runs/a.npz"], rendered_p=0.5)
    s["rendered"] = {"train_clips": 200, "train_frames": 20000}
    s["test_rendered"] = {"balanced_accuracy": 0.6, "top1": 0.7, "windows": 10, "confusion": [[4, 0, 0], [1, 1, 0], [0, 2, 2]]}
    prev = {"balanced_accuracy": 0.5, "top1": 0.6, "windows": 10, "confusion": [[4, 0, 0], [2, 0, 0], [0, 2, 2]],
            "rendered": {"balanced_accuracy": 0.4, "top1": 0.5, "windows": 10, "confusion": [[4, 0, 0], [2, 0, 0], [0, 4, 0]]}}
    write_action_card(p, s, "m", "cmd", "0" * 64, 1, [], "b", previous=[("previous m", prev)])
    text = p.read_text(encoding="utf-8")
    assert "50 % of each class's 30 fps training windows (both stages) come from 200 rendered clips (runs/a.npz" in text
    assert "**Balanced accuracy 60.0 %**, top-1 70.0 %, 10 windows" in text and "| dance | 0 | 2 | 2 | 50 % |" in text
    assert "| previous m, real detector on renders | 40.0 % | 50.0 % | 10 | 100 % | 0 % | 0 % |" in text
    assert "| m (this card), real detector on renders | 60.0 % | 70.0 % | 10 | 100 % | 50 % | 50 % |" in text


def test_card_names_the_training_camera_kinds(tmp_path):
    p = tmp_path / "card.md"
    write_action_card(p, summary(camera_kind="mixed"), "m", "cmd", "0" * 64, 1, [], "b")
    assert "- Cameras: the training windows are seen through the lifter's `mixed` camera kinds" in p.read_text()
    write_action_card(p, summary(camera_kind="any"), "m", "cmd", "0" * 64, 1, [], "b")
    assert "- Cameras:" not in p.read_text()


def test_card_names_the_extra_data_and_its_labelled_trials(tmp_path):
    p = tmp_path / "card.md"
    write_action_card(p, summary(data_extra=["../shared/data/cmu-amc-extra"]), "m", "cmd", "0" * 64, 1, [], "b")
    line = next(x for x in p.read_text(encoding="utf-8").splitlines() if x.startswith("- More data"))
    assert "`../shared/data/cmu-amc-extra`" in line
    assert '01_01 "playground - forward jumps, turn around"; 02_04 "jump, balance" (its first 2.5 s)' in line
    s = summary(data_extra=["x"])
    s["extra_trials"] = [{"trial": "01_01", "description": "forward jumps", "seconds": 22.925}]
    write_action_card(p, s, "m", "cmd", "0" * 64, 1, [], "b")                  # what the run recorded wins
    line = next(x for x in p.read_text(encoding="utf-8").splitlines() if x.startswith("- More data"))
    assert '01_01 "forward jumps" (22.925 s). They only train.' in line and "02_04" not in line
    write_action_card(p, summary(), "m", "cmd", "0" * 64, 1, [], "b")
    assert "- More data" not in p.read_text(encoding="utf-8")


def test_card_cross_validation_section(tmp_path):
    from hmcli.action.card import folds_markdown
    from hmcli.action.train import pool_folds

    f0 = {"balanced_accuracy": 0.75, "top1": 0.8, "windows": 6, "confusion": [[4, 0, 0], [1, 1, 0], [0, 0, 0]],
          "per_subject": {"09": {"windows": 6, "confusion": [[4, 0, 0], [1, 1, 0], [0, 0, 0]]}}}
    f1 = {"balanced_accuracy": 0.5, "top1": 0.5, "windows": 4, "confusion": [[0, 0, 0], [0, 0, 0], [0, 2, 2]],
          "per_subject": {"55": {"windows": 4, "confusion": [[0, 0, 0], [0, 0, 0], [0, 2, 2]]}}}
    report = {"classes": CLASSES, "pooled": pool_folds([f0, f1]), "pooled_unseen_backbone": pool_folds([f0, f1]),
              "folds": {"1": {"test_subjects": ["02", "55"], **f1}, "0": {"test_subjects": ["09", "49"], **f0}}}
    lines = folds_markdown(report)
    assert lines.index("| 0 | 09, 49 | 6 | 75.0 % | 80.0 % |") < lines.index("| 1 | 02, 55 | 4 | 50.0 % | 50.0 % |")
    # pooled: walk 4/4, run 1/2, dance 2/4 -> (1 + 0.5 + 0.5) / 3
    assert "| all | 2 folds | 10 | **66.7 %** | 70.0 % |" in lines
    assert "| 09 | 6 | 100.0 % (4) | 50.0 % (2) |  |" in lines and "| 55 | 4 |  |  | 50.0 % (4) |" in lines
    assert "| dance | 0 | 2 | 2 | 50 % |" in lines
    assert "Folds 0 and 1 alone (subjects the backbone never saw): 66.7 %" in lines[-1]
    p = tmp_path / "card.md"
    write_action_card(p, summary(), "m", "cmd", "0" * 64, 1, ["a limit"], "b", folds=report)
    text = p.read_text(encoding="utf-8")
    assert text.index("## Cross-validation by subject") < text.index("## Limits")
    assert "| all | 2 folds | 10 | **66.7 %** | 70.0 % |" in text
    # with the real detector's figures of each fold (scripts/action_folds.py --renders)
    report["folds"]["0"]["real_detector"] = f0
    report["pooled_real_detector"] = pool_folds([f0])
    lines = folds_markdown(report)
    assert lines[0].endswith("| top-1 | real detector: windows | balanced accuracy |")
    assert "| 0 | 09, 49 | 6 | 75.0 % | 80.0 % | 6 | 75.0 % |" in lines and "| 1 | 02, 55 | 4 | 50.0 % | 50.0 % | - | - |" in lines
    assert "| all | 2 folds | 10 | **66.7 %** | 70.0 % | 6 | **75.0 %** |" in lines
    write_action_card(p, summary(), "m", "cmd", "0" * 64, 1, [], "b", folds=report)
    assert "The real-detector columns score each fold's classifier" in p.read_text(encoding="utf-8")
