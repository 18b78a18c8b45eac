"""hmcli.action.model (head, masked pooling, causal streaming) and window_starts maths."""

from __future__ import annotations

import pytest
import torch

from hmcli.action.api import window_starts
from hmcli.action.model import (
    ActionClassifier,
    ActionHead,
    ActionHeadConfig,
    ActionStreamer,
    causal_window_pool,
    masked_pool,
)
from hmcli.io.atomic import HMError
from hmcli.nn.registry import build_from_config
from tests.cli.helpers import TINY

pytestmark = pytest.mark.usefixtures("one_thread")

J, D, C = 17, 16, 3


def classifier(causal: bool = False, classes: int = 4, seed: int = 0) -> ActionClassifier:
    torch.manual_seed(seed)
    backbone = build_from_config("hummuss", {**TINY, "causal": causal})
    head = ActionHead(ActionHeadConfig(classes, J, int(backbone.rep.out_features), hidden=8, dropout=0.5))
    clf = ActionClassifier(backbone, head).eval()
    # non-trivial BatchNorm statistics, so eval mode is really exercised
    head.bn.running_mean.uniform_(-0.5, 0.5)
    head.bn.running_var.uniform_(0.5, 2.0)
    return clf


def inputs(b=2, m=1, f=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, m, f, J, C, generator=g)


def test_head_shapes():
    head = ActionHead(ActionHeadConfig(num_classes=5, joints=J, rep_dim=D, hidden=8)).eval()
    rep = torch.randn(3, 2, 7, J, D)
    assert masked_pool(rep).shape == (3, J, D)
    assert head(masked_pool(rep)).shape == (3, 5)
    assert head(masked_pool(rep, torch.ones(3, 2, 7))).shape == (3, 5)
    clf = classifier(classes=5)
    assert clf(inputs(b=3, m=2, f=6)).shape == (3, 5)
    assert clf.represent(inputs(b=3, m=2, f=6)).shape == (3, 2, 6, J, D)
    assert clf.head_config()["num_classes"] == 5 and not clf.causal


def test_masked_pool_is_the_weighted_mean():
    rep = torch.randn(2, 2, 5, J, D)
    w = torch.tensor([[[1, 1, 0, 1, 1], [0, 0, 0, 0, 0]], [[1, 0, 1, 0, 1], [1, 1, 1, 1, 1]]], dtype=torch.float32)
    got = masked_pool(rep, w)
    torch.testing.assert_close(got[0], rep[0, 0, [0, 1, 3, 4]].mean(0))
    torch.testing.assert_close(got[1], torch.cat([rep[1, 0, [0, 2, 4]], rep[1, 1]]).mean(0))
    torch.testing.assert_close(masked_pool(rep), rep.mean(dim=(1, 2)))


def test_masked_person_and_frame_do_not_change_logits():
    clf = classifier()
    x1 = inputs(b=2, m=1, f=10)
    base = clf(x1, torch.ones(2, 1, 10))
    # a second person with weight 0 (random, not zeros: it must not count at all)
    x2 = torch.cat([x1, 5 * torch.randn_like(x1)], 1)
    w2 = torch.cat([torch.ones(2, 1, 10), torch.zeros(2, 1, 10)], 1)
    torch.testing.assert_close(clf(x2, w2), base, atol=1e-5, rtol=1e-5)
    # a zero-weight frame: the same logits as the pool without it (representations are computed
    # on the whole clip, so compare against pooling the other frames' representations)
    rep = clf.represent(x1)
    w = torch.ones(2, 1, 10)
    w[:, :, 4] = 0
    keep = [i for i in range(10) if i != 4]
    want = clf.head(rep[:, :, keep].mean(dim=(1, 2)))
    torch.testing.assert_close(clf(x1, w), want, atol=1e-5, rtol=1e-5)
    # changing what the masked frame holds does not matter to the pool either
    rep2 = rep.clone()
    rep2[:, :, 4] = 100.0
    torch.testing.assert_close(clf.head(masked_pool(rep2, w)), want, atol=1e-5, rtol=1e-5)
    # eval mode: BatchNorm uses running statistics, so one item does not depend on the batch
    torch.testing.assert_close(clf(x1[:1], torch.ones(1, 1, 10)), base[:1], atol=1e-5, rtol=1e-5)


def test_causal_window_pool_reference():
    rep = torch.randn(1, 2, 6, J, D)
    w = torch.ones(1, 2, 6)
    w[0, 1] = 0
    w[0, 0, 2] = 0
    out = causal_window_pool(rep, w, window=3)
    assert out.shape == (1, 6, J, D)
    torch.testing.assert_close(out[0, 0], rep[0, 0, 0])
    torch.testing.assert_close(out[0, 3], rep[0, 0, [1, 3]].mean(0))  # frames 1..3, frame 2 masked
    torch.testing.assert_close(out[0, 5], rep[0, 0, 3:6].mean(0))


@pytest.mark.parametrize("m", [1, 2])
def test_streamer_equals_offline_sliding_window(m):
    clf = classifier(causal=True, seed=2)
    assert clf.causal
    f, window = 20, 6  # a window shorter than the clip
    x = inputs(b=2, m=m, f=f, seed=3)
    w = torch.ones(2, m, f)
    w[0, 0, 7:9] = 0          # frames without a person
    if m == 2:
        w[:, 1, :5] = 0       # the second person arrives late
    with torch.no_grad():
        offline = clf.per_frame_logits(x, w, window)                    # (B, F, classes)
    assert offline.shape == (2, f, 4)
    st = ActionStreamer(clf, window)
    online = torch.stack([st.step(x[:, :, i], w[:, :, i]) for i in range(f)], 1)
    torch.testing.assert_close(online, offline, atol=1e-4, rtol=1e-4)
    assert len(st.buf) == window  # the ring buffer is bounded
    # the last frame's logits differ from the whole-clip pool (the window really slides)
    with torch.no_grad():
        assert not torch.allclose(offline[:, -1], clf(x, w), atol=1e-4)


def test_streamer_needs_a_causal_backbone():
    with pytest.raises(ValueError, match="causal"):
        ActionStreamer(classifier(causal=False), 4)


# ------------------------------------------------------------------ window_starts


def test_window_starts_short_clip_is_one_window():
    assert window_starts(1.5, 2.0, 0.5) == [0.0]
    assert window_starts(2.0, 2.0, 0.5) == [0.0]


@pytest.mark.parametrize("duration, window, stride", [(5.0, 2.0, 0.5), (5.3, 2.0, 0.5), (10.0, 2.0, 3.0),
                                                      (2.04, 2.0, 1.0), (7.0, 1.0, 1.0)])  # fmt: skip
def test_window_starts_cover_the_clip(duration, window, stride):
    s = window_starts(duration, window, stride)
    assert s[0] == 0.0
    assert s[-1] + window == pytest.approx(duration)           # the last window ends at the clip's end
    assert all(b > a for a, b in zip(s, s[1:]))
    assert all(b - a <= stride + 1e-9 for a, b in zip(s, s[1:]))  # no gaps
    assert all(x + window <= duration + 1e-9 for x in s)


def test_window_starts_values():
    assert window_starts(5.0, 2.0, 0.5) == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5, 3])
    assert window_starts(5.3, 2.0, 1.0) == pytest.approx([0, 1, 2, 3, 3.3])


@pytest.mark.parametrize("window, stride", [(0, 0.5), (-1, 0.5), (2, 0), (2, -0.5)])
def test_window_starts_errors(window, stride):
    with pytest.raises(HMError, match="must be positive"):
        window_starts(5.0, window, stride)
