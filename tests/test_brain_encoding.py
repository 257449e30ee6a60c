"""Encoding models and layer RSA on synthetic "brains" with known answers (issue #35)."""

from __future__ import annotations

import numpy as np
import pytest

from affectscope.brain.activations import Activations
from affectscope.brain.brain_data import BrainData
from affectscope.brain.encoding import EncodingError, compare_layers, fit_encoding, noise_ceiling
from affectscope.brain.layer_rsa import layer_rsa


def _layers(n: int = 240, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"early": rng.standard_normal((n, 60)), "middle": rng.standard_normal((n, 90)), "late": rng.standard_normal((n, 25))}


def _brain(x: np.ndarray, targets: int, noise: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Responses generated from ``x`` with known random weights, and the noiseless signal."""
    rng = np.random.default_rng(seed)
    z = (x - x.mean(0)) / x.std(0)
    signal = z @ rng.standard_normal((x.shape[1], targets)) / np.sqrt(x.shape[1])
    return signal + noise * rng.standard_normal(signal.shape), signal


def test_one_space_equals_sklearn_ridge_at_the_chosen_alpha() -> None:
    """Known answer: each fold's held-out predictions are scikit-learn's Ridge (intercept fitted) on
    features standardised with the training items, at the fold's alpha times the width."""
    from sklearn.linear_model import Ridge

    x = _layers()["middle"]
    y, _ = _brain(x, 6, 1.0)
    res = fit_encoding({"middle": x}, y, cv=4, n_perm=0)
    for f, test in enumerate(res.folds):
        train = np.setdiff1d(np.arange(len(x)), test)
        mu, sd = x[train].mean(0), x[train].std(0)
        for t in range(y.shape[1]):
            m = Ridge(alpha=res.alphas[f, t] * x.shape[1]).fit((x[train] - mu) / sd, y[train, t])
            np.testing.assert_allclose(res.predictions[test, t], m.predict((x[test] - mu) / sd), atol=1e-8)


def test_alpha_is_the_brute_force_gcv_minimum() -> None:
    """The selection equals GCV computed from the explicit hat matrix (intercept included), per target,
    with more features than training items (where leaving the intercept out of the degrees of
    freedom made the least regularisation win every time)."""
    from affectscope.brain.encoding import DEFAULT_ALPHAS, _fit_fold, _kernels

    x = _layers(n=80)["middle"]  # 90 features, 60 training items
    y, _ = _brain(x, 5, 0.8)
    train, test = np.arange(60), np.arange(60, 80)
    (k,), (kt,) = _kernels([x], train, test)
    _, chosen, _ = _fit_fold([k], [kt], y[train], np.array(DEFAULT_ALPHAS), np.ones((1, 1)))
    n = len(train)
    j = np.ones((n, n)) / n
    for t in range(y.shape[1]):
        scores = []
        for a in DEFAULT_ALPHAS:
            h = j + k @ np.linalg.solve(k + a * np.eye(n), np.eye(n) - j)
            resid = y[train, t] - h @ y[train, t]
            scores.append(n * resid @ resid / (n - np.trace(h)) ** 2)
        assert chosen[t] == DEFAULT_ALPHAS[int(np.argmin(scores))], t
    assert (chosen > DEFAULT_ALPHAS[0]).all()


def test_held_out_rows_never_reach_their_own_fold() -> None:
    """A fold's predictions do not change when its held-out items' data are replaced: alpha, weights,
    standardisation and fit all come from the training items. (Choosing alpha on all the data fails here.)"""
    xs = _layers()
    y, _ = _brain(xs["middle"], 8, 1.0)
    base = fit_encoding(xs, y, cv=5, n_perm=0, n_iter=5)
    test = base.folds[2]
    y2 = y.copy()
    y2[test] = np.random.default_rng(9).standard_normal((len(test), y.shape[1])) * 50 + 100
    other = fit_encoding(xs, y2, cv=5, n_perm=0, n_iter=5)
    np.testing.assert_allclose(other.predictions[test], base.predictions[test], atol=1e-9)
    np.testing.assert_array_equal(other.alphas[2], base.alphas[2])
    # and the alphas of the folds that trained on those rows did move: the check has teeth
    assert not np.array_equal(other.alphas[0], base.alphas[0]) or not np.allclose(other.predictions[base.folds[0]],
                                                                                   base.predictions[base.folds[0]])


def test_recovers_the_layer_that_generated_the_signal() -> None:
    xs = _layers()
    y, signal = _brain(xs["middle"], 40, 1.0)
    per_layer = compare_layers(xs, y, cv=5, n_perm=0)
    medians = {k: float(np.median(v.r)) for k, v in per_layer.items()}
    assert max(medians, key=medians.get) == "middle"
    # the expected r: the noiseless signal's correlation with the data bounds what a model can reach
    ceiling = np.median([np.corrcoef(signal[:, t], y[:, t])[0, 1] for t in range(y.shape[1])])
    assert 0.6 * ceiling < medians["middle"] <= ceiling + 0.02
    assert medians["early"] < 0.1 and medians["late"] < 0.1
    banded = fit_encoding(xs, y, cv=5, n_perm=0)
    shares = banded.space_shares()
    assert max(shares, key=shares.get) == "middle" and shares["middle"] > 0.7
    assert np.median(banded.r) > medians["middle"] - 0.05  # the unhelpful bands are weighted out, not fitted


def test_banded_model_splits_weight_between_two_generating_spaces() -> None:
    xs = _layers()
    y1, _ = _brain(xs["early"], 20, 0.5, seed=2)
    y2, _ = _brain(xs["late"], 20, 0.5, seed=3)
    res = fit_encoding(xs, np.hstack([y1, y2]), cv=5, n_perm=0)
    w = res.weights.mean(axis=0)  # (targets, spaces)
    assert (w[:20, 0] > 0.6).mean() > 0.8 and (w[20:, 2] > 0.6).mean() > 0.8


def test_permutation_p_values_and_seed() -> None:
    xs = _layers()
    y, _ = _brain(xs["late"], 10, 1.0)
    noise = np.random.default_rng(5).standard_normal((len(y), 10))
    res = fit_encoding({"late": xs["late"]}, np.hstack([y, noise]), cv=5, n_perm=199, random_state=3)
    assert (res.p_value[:10] < 0.01).all() and (res.p_fwe[:10] < 0.05).all()
    assert np.median(res.p_value[10:]) > 0.1 and (res.p_fwe[10:] > 0.05).all()
    assert (res.p_fwe >= res.p_value).all()
    again = fit_encoding({"late": xs["late"]}, np.hstack([y, noise]), cv=5, n_perm=199, random_state=3)
    np.testing.assert_array_equal(again.p_value, res.p_value)


def test_groups_hold_out_whole_runs() -> None:
    xs = _layers()
    y, _ = _brain(xs["late"], 5, 1.0)
    runs = np.repeat(np.arange(6), 40)
    res = fit_encoding({"late": xs["late"]}, y, cv=3, groups=runs, n_perm=50)
    for test in res.folds:
        held = set(runs[test])
        assert not held & set(runs[np.setdiff1d(np.arange(len(y)), test)])
    assert res.settings["cv_kind"] == "GroupKFold"
    with pytest.raises(EncodingError, match="cv=7 folds need at least as many groups; there are 6"):
        fit_encoding({"late": xs["late"]}, y, cv=7, groups=runs)


def test_noise_ceiling_known_answer() -> None:
    """Signal variance 1, noise variance 4 per repeat, 4 repeats: the mean's reliability is
    1 / (1 + 4/4) = 0.5, so the ceiling is sqrt(0.5)."""
    rng = np.random.default_rng(0)
    s = rng.standard_normal((4000, 3))
    reps = np.stack([s + 2 * rng.standard_normal(s.shape) for _ in range(4)])
    np.testing.assert_allclose(noise_ceiling(reps), np.sqrt(0.5), atol=0.02)
    two = noise_ceiling(reps[:2])  # two repeats: 1 / (1 + 4/2)
    np.testing.assert_allclose(two, np.sqrt(1 / 3), atol=0.03)
    res = fit_encoding({"s": s[:300] + 0.1 * rng.standard_normal((300, 3))}, reps[:, :300].mean(0), repeats=reps[:, :300], cv=5, n_perm=0)
    assert np.all(res.r_normalised > 0.8) and np.all(res.r_normalised < 1.2)


def test_bad_inputs_say_what_to_fix() -> None:
    x = np.zeros((10, 3))
    with pytest.raises(EncodingError, match="one row per item"):
        fit_encoding({"a": x}, np.zeros((9, 2)))
    with pytest.raises(EncodingError, match="NaN"):
        fit_encoding({"a": x}, np.full((10, 2), np.nan))
    with pytest.raises(EncodingError, match="cv must be from 2"):
        fit_encoding({"a": x}, np.zeros((10, 2)), cv=11)


def test_rsa_picks_the_layer_the_brain_patterns_came_from() -> None:
    xs = _layers(n=60)
    y, _ = _brain(xs["early"], 50, 0.7)
    ids = [f"i{k}" for k in range(60)]
    acts = Activations(np.array(ids, dtype=object), np.full(60, -1), np.full(60, np.nan), {k: v.astype(np.float32) for k, v in xs.items()})
    res = layer_rsa(acts, BrainData(ids, y, None, [f"v{j}" for j in range(50)]), n_perm=200)
    stats = {k: v.rsa["statistic"] for k, v in res.items()}
    assert max(stats, key=stats.get) == "early" and res["early"].rsa["p_value"] < 0.01
    assert res["late"].rsa["p_value"] > 0.01
    # a given RDM in a shuffled item order is matched by item id
    from scipy.spatial.distance import pdist, squareform

    order = np.random.default_rng(1).permutation(60)
    m = squareform(pdist(y[order], "correlation"))
    given = layer_rsa(acts, BrainData([ids[i] for i in order], None, None, [], m), layers=["early"], n_perm=0)
    assert given["early"].rsa["statistic"] == pytest.approx(stats["early"], abs=1e-9)
