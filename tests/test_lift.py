"""The lifting engine (hmcli.lift): timing paths, chunking, flagged frames, model checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataclasses import replace

from hmcli import lift as L
from hmcli.skeleton.convert import flip_pose
from hmcli.skeleton.joints import get_joint_set
from hmcli.io.atomic import HMError
from hmcli.io.checkpoint import CheckpointError, load_checkpoint
from tests.cli.helpers import make_keypoints, tiny_checkpoint


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bi(tmp_path_factory):
    return L.load_lifter(tiny_checkpoint(tmp_path_factory.mktemp("m") / "bi.pt"))


@pytest.fixture(scope="module")
def short_memory(tmp_path_factory):
    # Large Δ: every temporal SSM forgets within ~20 frames, so 60 frames of context suffice.
    return L.load_lifter(tiny_checkpoint(tmp_path_factory.mktemp("m") / "short.pt", dt_min=0.1, dt_max=1.0))


def model_input(lm, kp):
    return torch.from_numpy(L.to_model_input(lm, kp.xy, kp.conf, kp.joint_set, kp.width, kp.height)[2])[None]


def decode(lm, y):
    return np.asarray(lm.codec.decode_3d(y[0].numpy()), np.float32)


# ------------------------------------------------------------------ timing


def test_uniform_timestamps_use_dt_scale():
    tm = L.frame_timing(np.arange(50) / 15.0, train_fps=30.0)
    assert tm.uniform and tm.steps is None
    assert tm.fps == pytest.approx(15.0) and tm.dt_scale == pytest.approx(2.0)


def test_jitter_below_one_percent_is_uniform_above_is_variable():
    rng = np.random.default_rng(0)
    gaps = 0.04 * (1 + rng.uniform(-0.004, 0.004, 40))
    assert L.frame_timing(np.cumsum(gaps), 30.0).uniform
    gaps[10] = 0.08  # one dropped frame
    tm = L.frame_timing(np.cumsum(gaps), 30.0)
    assert not tm.uniform and tm.dt_scale == 1.0
    assert tm.steps[10].item() == pytest.approx(0.08 * 30.0, rel=1e-5)
    assert tm.steps[1].item() == pytest.approx(gaps[1] * 30.0, rel=1e-5)
    from hmcli.nn.ssm import steps_from_timestamps

    ref = steps_from_timestamps(torch.tensor(np.cumsum(gaps), dtype=torch.float64), 30.0)
    np.testing.assert_allclose(tm.steps.numpy(), ref.numpy(), rtol=1e-5)


def test_fps_overrides_timestamps():
    tm = L.frame_timing(np.array([0.0, 0.1, 0.15, 0.5]), 30.0, fps=60.0)
    assert tm.uniform and tm.dt_scale == pytest.approx(0.5)


@pytest.mark.parametrize("ts, msg", [([0.0, 0.1, 0.1], "increase"), ([0.0, np.nan, 0.2], "NaN")])
def test_bad_timestamps_are_hmerrors(ts, msg):
    with pytest.raises(HMError, match=msg):
        L.frame_timing(np.array(ts), 30.0)


def test_bad_fps():
    with pytest.raises(HMError, match="fps"):
        L.frame_timing(np.arange(3) / 10, 30.0, fps=0.0)


# ------------------------------------------------------------------ lifting


def test_shapes_root_provenance(bi):
    kp = make_keypoints(40)
    res = L.lift_keypoints(kp, bi)
    assert res.joints3d.shape == (40, 17, 3) and res.joints3d.dtype == np.float32
    assert np.isfinite(res.joints3d).all()
    np.testing.assert_array_equal(res.joints3d[:, 0], 0.0)  # root-relative
    assert res.kpts2d.joint_set == "h36m17" and res.kpts2d.xy.shape == (40, 17, 2)
    np.testing.assert_array_equal(res.kpts2d.timestamps, kp.timestamps)
    assert res.model_id == "tiny-bi" and res.model_hash == bi.sha256 and len(res.model_hash) == 64
    assert (res.kpts2d.detector, res.kpts2d.source) == ("synthetic", "synthetic.npz")


def test_uniform_path_is_the_fft_forward_at_dt_scale(bi):
    kp = make_keypoints(30, fps=15.0)
    res = L.lift_keypoints(kp, bi, flip=False)
    with torch.no_grad():
        ref = decode(bi, bi.model(model_input(bi, kp), dt_scale=2.0))
    np.testing.assert_allclose(res.joints3d, ref, atol=1e-6)


def test_variable_path_equals_model_with_steps(short_memory):
    bi = short_memory
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.uniform(0.02, 0.06, 30))
    kp = make_keypoints(timestamps=ts)
    res = L.lift_keypoints(kp, bi, flip=False)
    steps = bi.model.steps_for(torch.tensor(ts, dtype=torch.float32))
    with torch.no_grad():
        ref = decode(bi, bi.model(model_input(bi, kp), steps=steps))
        uniform = decode(bi, bi.model(model_input(bi, kp), dt_scale=bi.model.cfg.fps * np.median(np.diff(ts))))
    np.testing.assert_allclose(res.joints3d, ref, atol=1e-6)
    assert np.abs(res.joints3d - uniform).max() > 1e-4  # the timing really went into the model


def test_fps_argument_sets_rate_and_timestamps(bi):
    kp = make_keypoints(20, fps=25.0)
    res = L.lift_keypoints(kp, bi, fps=10.0, flip=False)
    np.testing.assert_allclose(res.kpts2d.timestamps, np.arange(20) / 10.0)
    with torch.no_grad():
        ref = decode(bi, bi.model(model_input(bi, kp), dt_scale=3.0))
    np.testing.assert_allclose(res.joints3d, ref, atol=1e-6)


# ------------------------------------------------------------------ test-time flip


def test_flip_averages_the_direct_and_the_mirrored_estimate(bi):
    kp = make_keypoints(30, fps=30.0)
    res = L.lift_keypoints(kp, bi)  # flip is the default
    x = model_input(bi, kp)  # (1, F, J, C)
    with torch.no_grad():
        batched = L.merge_flip(bi.codec, bi.model(L.flip_batch(bi.codec, x)))  # one forward pass of 2
        direct, mirrored = bi.model(x), bi.model(bi.codec.flip_2d(x))  # reference: two separate passes
    np.testing.assert_allclose(res.joints3d, decode(bi, batched), atol=1e-6)
    np.testing.assert_allclose(decode(bi, batched), decode(bi, 0.5 * (direct + flip_pose(mirrored, "h36m17"))), atol=1e-6)
    assert np.abs(res.joints3d - L.lift_keypoints(kp, bi, flip=False).joints3d).max() > 1e-4


@pytest.mark.parametrize("flip", [True, False])
def test_flip_makes_lifting_mirror_equivariant(bi, flip):
    kp = make_keypoints(30, fps=30.0)  # coco17, 320 px wide
    perm = list(get_joint_set("coco17").flip_index)
    xy = kp.xy[:, perm].copy()
    xy[..., 0] = kp.width - xy[..., 0]  # the mirrored picture
    mirror_kp = replace(kp, xy=xy, conf=kp.conf[:, perm])
    a = L.lift_keypoints(kp, bi, flip=flip).joints3d
    b = L.lift_keypoints(mirror_kp, bi, flip=flip).joints3d
    gap = np.abs(flip_pose(a, "h36m17") - b).max()
    if flip:  # the mirrored video gives exactly the mirrored 3D
        assert gap < 1e-5
    else:  # a random model on its own is not mirror-symmetric
        assert gap > 1e-3


def test_flip_batches_windows_and_irregular_steps(tmp_path, monkeypatch):
    lm = _with_clip(tmp_path, 40)
    rng = np.random.default_rng(2)
    kp = make_keypoints(300, timestamps=np.cumsum(rng.uniform(0.02, 0.06, 300)))  # per-step Δ, several windows
    batched = L.lift_keypoints(kp, lm).joints3d
    monkeypatch.setattr(L, "WINDOW_BATCH_FRAMES", 1)  # one window (and its mirror) per pass
    np.testing.assert_allclose(batched, L.lift_keypoints(kp, lm).joints3d, atol=1e-5)


def test_frames_without_person_are_kept_and_flagged(bi):
    det = np.ones(30, bool)
    det[10:14] = False
    kp = make_keypoints(30, detected=det)
    res = L.lift_keypoints(kp, bi)
    assert res.joints3d.shape == (30, 17, 3) and np.isfinite(res.joints3d).all()
    np.testing.assert_array_equal(res.kpts2d.detected, det)
    assert (res.kpts2d.conf[10:14] == 0).all() and (res.kpts2d.xy[10:14] == 0).all()
    # the model saw zeros there (codec), so its input equals an all-missing frame
    x = model_input(bi, kp)[0]
    assert (x[10:14] == 0).all()


def test_nobody_anywhere_gives_nan(bi):
    res = L.lift_keypoints(make_keypoints(8, detected=np.zeros(8, bool)), bi)
    assert res.joints3d.shape == (8, 17, 3) and np.isnan(res.joints3d).all()
    assert not res.kpts2d.detected.any()


def test_other_joint_sets(bi):
    kp = make_keypoints(10)
    bad = type(kp)(**{**kp.__dict__, "joint_set": "nonsense"})
    with pytest.raises(HMError, match="h36m17"):
        L.lift_keypoints(bad, bi)


# ------------------------------------------------------------------ chunks


@pytest.mark.parametrize("n", [1, 300, 301, 450, 1000, 1234])
def test_chunk_weights_partition_unity(n):
    windows, weights = L.chunk_windows(n, chunk=300, context=60, blend=30)
    total = np.zeros(n)
    for (a, b), w in zip(windows, weights):
        assert 0 <= a < b <= n and len(w) == b - a
        total[a:b] += w
        used = np.flatnonzero(w > 0)
        if a > 0:
            assert used[0] >= 60  # the first `context` frames of an inner window are never used
        if b < n:
            assert used[-1] < (b - a) - 60
    np.testing.assert_allclose(total, 1.0)
    if n <= 300:
        assert windows == [(0, n)]


def test_chunk_args_validated():
    with pytest.raises(ValueError):
        L.chunk_windows(1000, chunk=100, context=50, blend=10)


def test_chunked_equals_unchunked_far_from_seams(short_memory):
    kp = make_keypoints(900, fps=30.0)
    full = L.lift_keypoints(kp, short_memory).joints3d
    parts = L.lift_keypoints(kp, short_memory, chunk=300, context=60, blend=30).joints3d
    windows, weights = L.chunk_windows(900, 300, 60, 30)
    single = np.zeros(900, bool)  # frames where exactly one window contributes (no blending)
    for (a, b), w in zip(windows, weights):
        single[a:b] |= w == 1.0
    assert single.sum() > 600
    np.testing.assert_allclose(parts[single], full[single], atol=2e-4)
    assert np.abs(parts - full).max() < 2e-3


def test_chunk_seams_do_not_jump(bi):
    """Default-initialised (long-memory) random model, windows 800 / context 243 / blend 128 on
    a smooth input: the windows disagree a little (truncated context), but with the
    cross-fade no frame-to-frame step near a seam exceeds the largest step elsewhere."""
    n, chunk, context, blend = 2400, 800, 243, 128
    kp = make_keypoints(n, fps=30.0)
    out = L.lift_keypoints(kp, bi, chunk=chunk, context=context, blend=blend).joints3d
    step = np.linalg.norm(np.diff(out, axis=0), axis=-1).max(axis=-1)  # (F-1,) largest joint move
    windows, weights = L.chunk_windows(n, chunk, context, blend)
    assert len(windows) >= 3
    seam = np.zeros(n - 1, bool)
    for w, (a, b) in zip(weights, windows):
        blended = np.flatnonzero((w > 0) & (w < 1)) + a
        seam[np.clip(blended - 1, 0, n - 2)] = True
        seam[np.clip(blended, 0, n - 2)] = True
    assert seam.sum() > 0 and (~seam).sum() > 500
    assert step[seam].max() <= step[~seam].max()


# ------------------------------------------------------------------ models


def test_default_model_names_are_constants():
    assert L.DEFAULT_MODEL == "hummuss-small-cmu" and L.DEFAULT_CAUSAL_MODEL == "hummuss-small-causal-cmu"


def test_causal_needs_causal_model(bi):
    with pytest.raises(CheckpointError, match="bidirectional"):
        L.load_lifter(bi, causal=True)


def test_missing_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HM_MODELS", str(tmp_path))
    with pytest.raises(CheckpointError, match="not found"):
        L.load_lifter(str(tmp_path / "nope.pt"))


def test_causal_offline_is_causal(tmp_path):
    lm = L.load_lifter(tiny_checkpoint(tmp_path / "c.pt", causal=True), causal=True)
    kp = make_keypoints(40)
    full = L.lift_keypoints(kp, lm).joints3d
    kp2 = make_keypoints(40)
    kp2.xy[30:] += 50.0  # change the future only
    part = L.lift_keypoints(kp2, lm).joints3d
    np.testing.assert_allclose(part[:30], full[:30], atol=1e-5)
    assert np.abs(part[30:] - full[30:]).max() > 1e-4


def test_load_checkpoint_roundtrip(tmp_path):
    p = tiny_checkpoint(tmp_path / "x.pt")
    lm = L.load_lifter(p)
    assert lm.sha256 == load_checkpoint(p).sha256


def test_millisecond_rounded_timestamps_are_uniform():
    ts = np.round(np.arange(60) / 30.0, 3)  # 33 / 34 ms gaps
    tm = L.frame_timing(ts, 30.0)
    assert tm.uniform and tm.fps == pytest.approx(30.0, rel=0.02)
    ts[20:] += 0.0333  # one dropped frame is not a rounding
    assert not L.frame_timing(ts, 30.0).uniform


def test_pass_length_from_memory_budget(bi):
    from hmcli.nn.registry import build

    with torch.device("meta"):
        small, full = build("hummuss-small"), build("hummuss")
    assert L.max_pass_frames(small) >= 25000  # ~14 min at 30 fps in one pass
    assert 8000 <= L.max_pass_frames(full) < L.max_pass_frames(small)
    assert L.max_pass_frames(small, budget=1) == L.CHUNK_FRAMES
    # by default a long input is one pass: same as an unlimited window
    kp = make_keypoints(L.CHUNK_FRAMES + 50, fps=30.0)
    np.testing.assert_array_equal(L.lift_keypoints(kp, bi).joints3d, L.lift_keypoints(kp, bi, chunk=10**9).joints3d)


# ------------------------------------------------------------------ trained-length windows


def _with_clip(tmp_path, clip_max, name="clip.pt"):
    torch.manual_seed(0)
    from hmcli.nn.registry import build_from_config
    from hmcli.skeleton import PoseCodec
    from hmcli.io.checkpoint import save_checkpoint
    from tests.cli.helpers import TINY

    model = build_from_config("hummuss", dict(TINY))
    meta = {"model_id": "clip", "train": {"clip_max": clip_max}}
    save_checkpoint(tmp_path / name, model, "hummuss", PoseCodec(), meta=meta)
    return L.load_lifter(str(tmp_path / name))


def test_offline_windows_follow_the_trained_clip_length(tmp_path, bi):
    lm = _with_clip(tmp_path, 40)
    longest = L.max_pass_frames(lm.model)
    assert L.trained_clip_frames(lm) == 40 and L.trained_clip_frames(bi) is None
    assert L.offline_windows(lm) == L.Windows(40, 8, 4)
    assert L.offline_windows(lm, fps=60.0) == L.Windows(80, 16, 8)  # same span of time at twice the rate
    assert L.offline_windows(lm, one_pass=True) == L.Windows(longest, L.CHUNK_CONTEXT, L.CHUNK_BLEND)
    assert L.offline_windows(bi) == L.Windows(longest, L.CHUNK_CONTEXT, L.CHUNK_BLEND)  # no training record
    assert L.offline_windows(_with_clip(tmp_path, 4, "short.pt")).chunk == L.MIN_WINDOW


def test_lift_runs_trained_windows_unless_one_pass(tmp_path):
    lm = _with_clip(tmp_path, 40)
    kp = make_keypoints(300, fps=30.0)
    windowed = L.lift_keypoints(kp, lm).joints3d
    explicit = L.lift_keypoints(kp, lm, chunk=40, context=8, blend=4).joints3d
    np.testing.assert_array_equal(windowed, explicit)
    whole = L.lift_keypoints(kp, lm, one_pass=True, flip=False).joints3d
    y = lm.model.eval()(model_input(lm, kp)).detach()
    np.testing.assert_allclose(whole, decode(lm, y), atol=1e-5)
    assert np.abs(windowed - whole).max() > 1e-4  # a random long-memory model: the context matters


def test_batched_windows_equal_one_window_at_a_time(tmp_path, monkeypatch):
    lm = _with_clip(tmp_path, 40)
    kp = make_keypoints(700, fps=30.0)
    batched = L.lift_keypoints(kp, lm, flip=False).joints3d  # several 40-frame windows per forward pass
    monkeypatch.setattr(L, "WINDOW_BATCH_FRAMES", 1)  # one window per pass
    single = L.lift_keypoints(kp, lm, flip=False).joints3d
    x = model_input(lm, kp)[0]  # reference: each window on its own, weighted
    windows, weights = L.chunk_windows(700, 40, 8, 4)
    ref = np.zeros((700, 17, 3))
    with torch.no_grad():
        for (a, b), w in zip(windows, weights):
            ref[a:b] += w[:, None, None] * lm.model(x[None, a:b])[0].double().numpy()
    np.testing.assert_allclose(single, decode(lm, torch.from_numpy(ref).float()[None]), atol=1e-5)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert len(windows) > 500 // 40  # more windows than fit in one pass


def test_batched_windows_with_irregular_timestamps(tmp_path, monkeypatch):
    lm = _with_clip(tmp_path, 40)
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.02, 0.06, 300))  # variable frame rate: per-step Δ
    kp = make_keypoints(300, timestamps=ts)
    assert not L.frame_timing(ts, 30.0).uniform
    batched = L.lift_keypoints(kp, lm).joints3d
    monkeypatch.setattr(L, "WINDOW_BATCH_FRAMES", 1)
    np.testing.assert_allclose(batched, L.lift_keypoints(kp, lm).joints3d, atol=1e-5)


# ------------------------------------------------------------------ baselines (hm train --arch)

BASELINES = {
    "dstformer": dict(dim=16, depth=1, heads=2, mlp_ratio=2.0, rep_dim=16, maxlen=32),
    "mixste": dict(dim=16, depth=2, heads=2, mlp_ratio=2.0, maxlen=32),
    "pstmo": dict(frames=9, strides=(3, 3), dim=16, heads=2, ffn_dim=24, sem_hidden=24, tem_depth=1),
}


def _baseline(tmp_path, arch, causal=False, clip_max=None):
    from hmcli.nn.registry import build_from_config
    from hmcli.skeleton import PoseCodec
    from hmcli.io.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_from_config(arch, {**BASELINES[arch], "causal": causal, "fps": 25.0})
    meta = {"model_id": f"tiny-{arch}", "train": {"clip_max": clip_max} if clip_max else {}}
    path = tmp_path / f"{arch}-{causal}.pt"
    save_checkpoint(path, model, arch, PoseCodec(), meta=meta)
    return L.load_lifter(str(path))


@pytest.mark.parametrize("arch", sorted(BASELINES))
def test_baselines_lift_offline_in_their_own_windows(tmp_path, arch):
    from hmcli.nn.call import call_model

    lm = _baseline(tmp_path, arch)
    assert not L.is_continuous(lm) and not L.is_causal(lm) and L.train_fps(lm) == 25.0
    kp = make_keypoints(70, fps=25.0)  # longer than the 32-frame positional table: several windows
    res = L.lift_keypoints(kp, lm)
    assert res.joints3d.shape == (70, 17, 3) and np.isfinite(res.joints3d).all()
    np.testing.assert_array_equal(res.joints3d[:, 0], 0.0)
    x = model_input(lm, kp)  # (1, F, J, 3)
    with torch.no_grad():  # reference: the evaluation windows, direct and mirrored, averaged
        y = 0.5 * (call_model(lm.model, x) + flip_pose(call_model(lm.model, lm.codec.flip_2d(x)), "h36m17"))
    np.testing.assert_allclose(res.joints3d, decode(lm, y), atol=1e-5)
    with pytest.raises(HMError, match="one pass and explicit windows are for HumMUSS"):
        L.lift_keypoints(kp, lm, one_pass=True)
    with pytest.raises(CheckpointError, match="bidirectional"):
        L.load_lifter(lm, causal=True)


def test_baselines_warn_at_another_frame_rate(tmp_path):
    lm = _baseline(tmp_path, "dstformer")
    with pytest.warns(UserWarning, match=r"no frame timing: it lifts 50 fps input as if it came at its training rate, 25 fps"):
        L.lift_keypoints(make_keypoints(20, fps=50.0), lm)


@pytest.mark.parametrize("arch", sorted(BASELINES))
def test_causal_baselines_stream_like_their_offline_model(tmp_path, arch):
    from hmcli import api

    lm = _baseline(tmp_path, arch, causal=True, clip_max=20)
    s = L.make_streamer(lm)
    assert isinstance(s, L.FixedRateStreamer) and s.window == (9 if arch == "pstmo" else 20)
    assert L.make_streamer(lm, one_pass=True).window == (9 if arch == "pstmo" else 32)
    n = 9 if arch == "pstmo" else 20  # within one window, streaming computes the offline causal model
    kp = make_keypoints(n, fps=25.0)
    offline = L.lift_keypoints(kp, lm).joints3d
    streamed = np.array([r["joints3d"] for r in api.stream(kp, lm)])
    np.testing.assert_allclose(streamed, offline, atol=1e-4)
    longer = np.array([r["joints3d"] for r in api.stream(make_keypoints(30, fps=25.0), lm)])
    assert longer.shape == (30, 17, 3) and np.isfinite(longer).all()  # past the window it slides


# ------------------------------------------------------------------ several persons


def _two_persons(n=40, shift=120.0):
    from hmcli.types import MultiKeypoints2D

    a = make_keypoints(n)
    det = np.zeros(n, bool)
    det[10:30] = True
    det[18:21] = False  # a gap inside the span
    b = make_keypoints(n, detected=det)
    b = replace(b, xy=np.where(det[:, None, None], b.xy + np.float32(shift), 0).astype(np.float32))
    return a, b, MultiKeypoints2D.from_persons([a, b], [7, 3])


def test_lift_persons_each_person_as_alone_over_its_span(bi):
    a, b, mk = _two_persons()
    res = L.lift_persons(mk, bi, flip=False)
    assert res.track_ids.tolist() == [7, 3] and res.joints3d.shape == (2, 40, 17, 3)
    alone = L.lift_keypoints(a, bi, flip=False)
    np.testing.assert_array_equal(res.persons[0].joints3d, alone.joints3d)
    np.testing.assert_array_equal(res.persons[0].kpts2d.xy, alone.kpts2d.xy)
    span = replace(b, xy=b.xy[10:30], conf=b.conf[10:30], timestamps=b.timestamps[10:30], detected=b.detected[10:30])
    ref = L.lift_keypoints(span, bi, flip=False)
    np.testing.assert_array_equal(res.persons[1].joints3d[10:30], ref.joints3d)
    assert np.isnan(res.persons[1].joints3d[:10]).all() and np.isnan(res.persons[1].joints3d[30:]).all()
    assert res.persons[1].kpts2d.detected.tolist() == b.detected.tolist()
    np.testing.assert_array_equal(res.persons[1].kpts2d.timestamps, a.timestamps)
    assert (res.persons[1].kpts2d.conf[:10] == 0).all()


def test_lift_persons_progress_and_no_persons(bi):
    _, _, mk = _two_persons()
    seen = []
    L.lift_persons(mk, bi, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (60, 60)  # 40 + 20 frames of spans
    from hmcli.types import MultiKeypoints2D

    empty = MultiKeypoints2D.from_persons([], [], template=make_keypoints(5))
    res = L.lift_persons(empty, bi)
    assert res.num_persons == 0 and res.num_frames == 5 and res.joints3d.shape == (0, 5, 17, 3)


@pytest.fixture(scope="module")
def causal(tmp_path_factory):
    return L.load_lifter(tiny_checkpoint(tmp_path_factory.mktemp("m") / "c.pt", causal=True), causal=True)


def test_multi_frame_lifter_one_state_per_track_equals_separate_streams(causal):
    a, b, mk = _two_persons()
    ml = L.MultiFrameLifter(causal, "coco17", 320, 240, nominal_fps=25.0)
    fa = L.FrameLifter(causal, "coco17", 320, 240, nominal_fps=25.0)
    fb = L.FrameLifter(causal, "coco17", 320, 240, nominal_fps=25.0)
    for i in range(mk.num_frames):
        rows = np.flatnonzero(mk.detected[:, i])
        out = ml.step(mk.xy[rows, i], mk.conf[rows, i], float(mk.timestamps[i]), mk.track_ids[rows])
        by_id = {o.track_id: o for o in out}
        assert sorted(by_id) == sorted(mk.track_ids[rows].tolist())
        np.testing.assert_array_equal(by_id[7].joints3d, fa.step(a.xy[i], a.conf[i], float(a.timestamps[i]))[2])
        if mk.detected[1, i]:  # person 3 is stepped only when seen: Δ spans its gap
            np.testing.assert_array_equal(by_id[3].joints3d, fb.step(b.xy[i], b.conf[i], float(b.timestamps[i]))[2])
    assert ml.live_tracks == [3, 7] and ml.state_bytes() > 0


def test_multi_frame_lifter_tracks_drops_and_caps(causal, bi):
    from hmcli.track import TrackerConfig

    a, b, _ = _two_persons()
    ml = L.MultiFrameLifter(causal, "coco17", 320, 240, nominal_fps=25.0, tracker=TrackerConfig(max_lost=3))
    for i in range(5):  # the tracker gives ids 1 and 2
        out = ml.step(np.stack([a.xy[i], a.xy[i] + 150]), np.stack([a.conf[i]] * 2), float(a.timestamps[i]))
        assert [o.track_id for o in out] == [1, 2]
    one = ml.state_bytes() // 2
    for i in range(5, 10):  # person 2 gone: its state is dropped after max_lost frames
        ml.step(a.xy[i][None], a.conf[i][None], float(a.timestamps[i]))
    assert ml.live_tracks == [1] and ml.state_bytes() == one
    capped = L.MultiFrameLifter(causal, "coco17", 320, 240, nominal_fps=25.0, max_persons=1)
    out = capped.step(np.stack([a.xy[0], a.xy[0] + 150]), np.stack([a.conf[0]] * 2), 0.0)
    assert [o.track_id for o in out] == [1] and capped.live_tracks == [1]
    with pytest.raises(CheckpointError):
        L.MultiFrameLifter(bi, "coco17", 320, 240)


def test_model_confidence_floors_found_blazepose_joints_only():
    c = np.array([[0.0, 0.05, 0.5, 0.8, 0.99]], np.float32)
    np.testing.assert_allclose(L.model_confidence(c, "blazepose33"), [[0.0, 0.8, 0.8, 0.8, 0.99]])
    np.testing.assert_array_equal(L.model_confidence(c, "coco17"), c)  # no measured floor: the detector's own
    np.testing.assert_array_equal(L.model_confidence(c, "blazepose33", floor=0.0), c)
    np.testing.assert_allclose(L.model_confidence(c, "h36m17", floor=0.3), [[0.0, 0.3, 0.5, 0.8, 0.99]])


def test_model_confidence_is_zero_outside_the_image_as_in_training():
    c = np.full((1, 5), 0.9, np.float32)
    xy = np.array([[[10, 10], [-1, 10], [10, 480], [639.5, 479.5], [np.nan, 5]]], np.float32)
    np.testing.assert_array_equal(L.inside_image(xy, 640, 480), [[True, False, False, True, False]])
    np.testing.assert_allclose(L.model_confidence(c, "coco17", xy=xy, width=640, height=480), [[0.9, 0, 0, 0.9, 0]])
    np.testing.assert_allclose(L.model_confidence(c, "coco17"), c)            # without positions: unchanged
    # the training corruption masks the same joints (hmcli.data.corrupt, mask_outside_image)
    from hmcli.data.corrupt import CorruptionConfig, corrupt

    pts = np.full((3, 17, 2), 300.0)
    pts[:, 1] = (-30.0, 10.0)
    pts[:, 2] = (10.0, 500.0)                                                 # (3, 17, 2)
    zero = CorruptionConfig(sigma_frac=(0.0, 0.0), swap_prob=0.0, outlier_prob=0.0, conf_noise=0.0, mask_prob=0.0,
                            dropout_fraction=0.0, frame_drop_fraction=0.0)
    _, conf_train = corrupt(pts, np.random.default_rng(0), zero, width=640, height=480)
    np.testing.assert_array_equal(conf_train > 0, L.inside_image(pts, 640, 480))


def test_to_model_input_masks_joints_outside_the_image():
    class _LM:
        class codec:
            @staticmethod
            def encode_2d(xy, conf, w, h):
                return np.concatenate([xy, conf[..., None]], axis=-1)

    xy = np.full((2, 33, 2), 100.0, np.float32)
    conf = np.full((2, 33), 0.9, np.float32)
    xy[1, 27:] = (100.0, 700.0)                                               # knees, ankles, feet below the frame
    hxy, hconf, x = L.to_model_input(_LM(), xy, conf, "blazepose33", 640, 480)
    assert (x[0, :, 2] > 0).all()
    low = ~L.inside_image(hxy[1], 640, 480)
    assert low.any() and (x[1, low, 2] == 0).all() and (x[1, ~low, 2] > 0).all()
    assert (hconf[1, low] > 0).all()                                           # results keep the detector's own


def test_to_model_input_floors_the_models_confidence_but_returns_the_detectors():
    class _LM:  # only the codec is used
        class codec:
            @staticmethod
            def encode_2d(xy, conf, w, h):
                return np.concatenate([xy, conf[..., None]], axis=-1)

    rng = np.random.default_rng(0)
    xy = rng.uniform(100, 300, (4, 33, 2)).astype(np.float32)
    conf = rng.uniform(0.0, 1.0, (4, 33)).astype(np.float32)
    conf[0] = 0.0  # a lost frame stays lost
    hxy, hconf, x = L.to_model_input(_LM(), xy, conf, "blazepose33", 640, 480)
    _, raw, x0 = L.to_model_input(_LM(), xy, conf, "blazepose33", 640, 480, confidence_floor=0.0)
    np.testing.assert_array_equal(hconf, raw)  # what results store: the detector's confidence
    np.testing.assert_array_equal(x[..., :2], x0[..., :2])
    np.testing.assert_allclose(x[..., 2], L.model_confidence(raw, "blazepose33"))
    assert (x[0, :, 2] == 0).all() and (x[1:, :, 2] >= 0.8).all()
