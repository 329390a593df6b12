"""Tests for uva_cli.metrics: golden values from the MIT-benchmark conventions plus properties."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uva_cli import metrics as M

H, W = 48, 64
FIXATIONS = [(20, 40), (22, 38), (18, 43), (35, 15), (30, 50), (10, 10)]
SETTINGS = settings(max_examples=30, deadline=None)


def _gauss(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sigma: float) -> np.ndarray:
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))


def _fixmap(fixations, shape=(H, W)) -> np.ndarray:
    f = np.zeros(shape)
    for r, c in fixations:
        f[r, c] = 1.0
    return f


def _density(fixations, shape=(H, W), sigma: float = 4.0) -> np.ndarray:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return sum(_gauss(x, y, c, r, sigma) for r, c in fixations)


@pytest.fixture(scope="module")
def golden():
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    s = _gauss(x, y, 40, 20, 8) + 0.3 * _gauss(x, y, 15, 35, 5)
    b = np.exp(-(((x - (W - 1) / 2) / (0.5 * W)) ** 2 + ((y - (H - 1) / 2) / (0.5 * H)) ** 2) / 2)
    return s, _fixmap(FIXATIONS), _density(FIXATIONS), b


def test_golden_values(golden):
    s, f, g, b = golden
    assert M.nss(s, f) == pytest.approx(1.911728, abs=1e-5)
    assert M.cc(s, g) == pytest.approx(0.754601, abs=1e-5)
    assert M.sim(s, g) == pytest.approx(0.608106, abs=1e-5)
    assert M.kld(s, g) == pytest.approx(1.301959, abs=1e-5)
    assert M.auc_judd(s, f, jitter=False) == pytest.approx(0.856790, abs=1e-5)
    assert M.info_gain(s, f, b) == pytest.approx(-0.188584, abs=1e-5)


def test_auc_borji_below_judd_and_seeded(golden):
    s, f, _, _ = golden
    judd = M.auc_judd(s, f)
    borji = M.auc_borji(s, f, seed=3)
    assert judd - 0.1 < borji < judd
    assert borji == M.auc_borji(s, f, seed=3)
    assert borji != M.auc_borji(s, f, seed=4)


def _borji_loop(p, pos, neg, step):
    """Literal per-split reference (thresholds 0:step:max, reversed) to check vectorisation."""
    aucs = []
    for curfix in neg:
        top = max(pos.max(), curfix.max())
        thresh = np.arange(int(np.floor(top / step + 1e-9)) + 1)[::-1] * step
        tp = [0.0] + [np.mean(pos >= t) for t in thresh] + [1.0]
        fp = [0.0] + [np.mean(curfix >= t) for t in thresh] + [1.0]
        aucs.append(np.trapezoid(tp, fp))
    return float(np.mean(aucs))


def test_auc_borji_matches_loop_reference(golden):
    s, f, _, _ = golden
    p = (s - s.min()) / np.ptp(s)
    idx = np.random.default_rng(0).integers(0, s.size, size=(20, len(FIXATIONS)))
    expected = _borji_loop(p, p.ravel()[f.ravel() > 0], p.ravel()[idx], 0.1)
    assert M.auc_borji(s, f, n_splits=20, seed=0) == pytest.approx(expected, abs=1e-12)


def test_sauc_centre_bias_and_shape_check(golden):
    s, f, _, _ = golden
    assert M.sauc(s, f, f) == pytest.approx(0.5)  # negatives == positives: chance level
    centre = np.zeros((H, W))
    centre[H // 2 - 4 : H // 2 + 4, W // 2 - 4 : W // 2 + 4] = 1
    assert M.sauc(s, f, centre) > 0.5
    with pytest.raises(ValueError):
        M.sauc(s, f, np.ones((4, 4)))


def test_score_frame_dispatch(golden):
    s, f, g, b = golden
    out = M.score_frame(s, f, g, metrics=tuple(M.METRICS), other_fixmap=f, baseline=b, jitter=False)
    assert set(out) == set(M.METRICS)
    assert out["nss"] == M.nss(s, f) and out["auc_judd"] == M.auc_judd(s, f, jitter=False)
    assert set(M.score_frame(s, f, g)) == {"nss", "cc", "auc_judd"}
    with pytest.raises(ValueError):
        M.score_frame(s, f, g, metrics=("nope",))
    with pytest.raises(ValueError):
        M.score_frame(s, f, None, metrics=("cc",))


def test_resize_map_corners_and_constant():
    small = np.arange(12.0).reshape(3, 4)
    big = M.resize_map(small, (7, 10))
    assert big.shape == (7, 10)
    assert big[0, 0] == small[0, 0] and big[-1, -1] == small[-1, -1]
    assert np.allclose(M.resize_map(np.full((3, 5), 2.5), (9, 11)), 2.5)


def test_degenerate_maps_stay_finite(golden):
    _, f, g, _ = golden
    flat = np.ones((H, W))
    assert M.nss(flat, f) == 0.0 and M.cc(flat, g) == 0.0
    assert 0.0 <= M.auc_judd(flat, f, jitter=False) <= 1.0
    assert np.isnan(M.nss(flat, np.zeros((H, W))))


# ---------------------------------------------------------------- property tests
maps = arrays(np.float64, (12, 16), elements=st.floats(0.0, 1.0))
fix_lists = st.lists(st.tuples(st.integers(0, H - 1), st.integers(0, W - 1)), min_size=1, max_size=6)


def _random_fixmap(pred_shape, seed: int, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.zeros(pred_shape)
    f.ravel()[rng.choice(f.size, size=n, replace=False)] = 1.0
    return f


@SETTINGS
@given(maps, st.floats(0.1, 100.0), st.floats(-100.0, 100.0), st.integers(0, 1000))
def test_cc_nss_affine_invariant(pred, a, b, seed):
    assume(pred.std() > 1e-3)
    f = _random_fixmap(pred.shape, seed)
    g = _random_fixmap(pred.shape, seed + 1) + pred**2
    assert M.nss(a * pred + b, f) == pytest.approx(M.nss(pred, f), abs=1e-7)
    assert M.cc(a * pred + b, g) == pytest.approx(M.cc(pred, g), abs=1e-7)


@SETTINGS
@given(maps, st.integers(0, 1000), st.booleans())
def test_aucs_and_sim_in_unit_interval(pred, seed, jitter):
    f = _random_fixmap(pred.shape, seed)
    other = _random_fixmap(pred.shape, seed + 1, n=8)
    for value in (
        M.auc_judd(pred, f, jitter=jitter),
        M.auc_borji(pred, f, n_splits=10, seed=seed),
        M.sauc(pred, f, other, n_splits=10, seed=seed),
        M.sim(pred, other + pred),
    ):
        assert 0.0 <= value <= 1.0 + 1e-12


@SETTINGS
@given(fix_lists)
def test_perfect_prediction_wins(fixations):
    f, g = _fixmap(fixations), _density(fixations)
    shuffled = np.random.default_rng(0).permutation(g.ravel()).reshape(g.shape)
    assert M.cc(g, g) == pytest.approx(1.0)
    assert M.nss(g, f) > M.nss(np.ones_like(g), f) == 0.0
    assert M.nss(g, f) >= M.nss(shuffled, f)


@SETTINGS
@given(st.integers(2, 20), st.integers(2, 20), fix_lists)
def test_prediction_resized_from_smaller_map(h, w, fixations):
    f, g = _fixmap(fixations), _density(fixations)
    small = M.resize_map(g, (h, w))
    assert small.shape == (h, w)
    big = M.resize_map(small, (H, W))
    assert big.shape == (H, W)
    assert small.min() - 1e-12 <= big.min() and big.max() <= small.max() + 1e-12
    scores = M.score_frame(small, f, g, metrics=("nss", "cc", "sim", "kld", "auc_judd"))
    assert all(np.isfinite(v) for v in scores.values())
