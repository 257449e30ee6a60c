"""Heads: known answers against scikit-learn, nonlinear recovery, soft labels, long-tail options,
and the npz file format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from affectscope.training.heads import (
    ALPHAS,
    Head,
    HeadError,
    KernelRidgePath,
    TrainingItems,
    class_balanced_weights,
    fit_distribution_head,
    fit_scale_head,
    ridge_loo,
)
from affectscope.taxonomy import SAM_VALENCE


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_loo_equals_sklearn_ridgecv(weighted: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 40))
    y = x[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=120)
    w = rng.uniform(0.5, 2.0, 120) if weighted else None
    coef, intercept, alpha = ridge_loo(x, y, ALPHAS, w)
    ref = RidgeCV(alphas=ALPHAS).fit(x, y, sample_weight=w)
    assert alpha[0] == pytest.approx(ref.alpha_)
    np.testing.assert_allclose(coef[0], ref.coef_, atol=1e-8)
    assert intercept[0] == pytest.approx(ref.intercept_)


def _kernel_ridge_with_intercept(k: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference: minimise |y - b - K c|^2 + alpha c'Kc, solved directly: (CK + alpha I) c = C y."""
    n = len(k)
    c_mat = np.eye(n) - 1.0 / n
    c = np.linalg.solve(c_mat @ k + alpha * np.eye(n), c_mat @ y)
    return c, (y - k @ c).mean(0)


def test_the_one_kernel_ridge_has_known_answers_and_exact_leave_one_out() -> None:
    """The image and text kernel heads fit through KernelRidgePath. Its leave-one-out errors equal
    refitting without each item; they used to be off by a factor of 3 at small alpha (the intercept
    was the plain mean of y, outside the penalised fit), which chose too large an alpha."""
    from sklearn.metrics.pairwise import rbf_kernel

    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 4))
    y = np.stack([np.sin(z[:, 0]), z[:, 1] ** 2], axis=1) + 0.1 * rng.normal(size=(60, 2))
    path = KernelRidgePath(z, y)
    gamma = 1.0 / path.median
    k = rbf_kernel(z, gamma=gamma)
    alphas = (0.01, 1.0, 100.0)
    for alpha in alphas:
        dual, icept = path.fit(1.0, alpha)
        ref_c, ref_b = _kernel_ridge_with_intercept(k, y, alpha)
        np.testing.assert_allclose(k @ dual + icept, k @ ref_c + ref_b, atol=1e-8)
    brute = []
    for alpha in alphas:
        errs = []
        for i in range(len(z)):
            keep = np.arange(len(z)) != i
            c, b = _kernel_ridge_with_intercept(k[np.ix_(keep, keep)], y[keep], alpha)
            errs.append((k[i, keep] @ c + b - y[i]) ** 2)
        brute.append(np.mean(errs, axis=0))
    np.testing.assert_allclose([path.loo_mse(1.0, a) for a in alphas], brute, rtol=1e-6)


def _blocks(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 20))}


def test_kernel_head_learns_a_nonlinear_rating_that_a_linear_head_cannot() -> None:
    tr, te = _blocks(400, 0), _blocks(200, 1)
    f = lambda b: 5 + 2 * np.sin(2 * b["a"][:, 0]) * np.cos(b["a"][:, 1])  # noqa: E731
    lin = fit_scale_head(tr, ["a", "b"], f(tr), ["valence"])
    ker = fit_scale_head(tr, ["a", "b"], f(tr), ["valence"], model="kernel", n_components=8)
    r_lin = np.corrcoef(lin.predict(te)[:, 0], f(te))[0, 1]
    r_ker = np.corrcoef(ker.predict(te)[:, 0], f(te))[0, 1]
    assert r_ker > 0.9 and r_ker > r_lin + 0.3


def test_block_scaling_gives_each_block_equal_weight() -> None:
    b = _blocks(50)
    head = fit_scale_head(b, ["a", "b"], b["a"][:, 0], ["valence"])
    z = head.scaler.transform(b)
    assert z[:, :3].var(axis=0).sum() == pytest.approx(1.0) and z[:, 3:].var(axis=0).sum() == pytest.approx(1.0)


def test_scale_head_clips_to_its_scale_and_round_trips(tmp_path: Path) -> None:
    b = _blocks(80)
    y = 5 + 10 * b["a"][:, 0]  # far outside 1-9 at the extremes
    head = fit_scale_head(b, ["a", "b"], y, ["valence"], {"valence": SAM_VALENCE}, meta={"trained_on": "synthetic"})
    pred = head.predict(b)
    assert pred.min() >= 1 and pred.max() <= 9
    for model in ("linear", "kernel"):
        h = fit_scale_head(b, ["a", "b"], y, ["valence"], {"valence": SAM_VALENCE}, model=model, n_components=5)
        path = h.save(tmp_path / f"{model}.npz")
        back = Head.load(path)
        np.testing.assert_allclose(back.predict(b), h.predict(b), rtol=1e-5, atol=1e-5)
        assert back.scales["valence"] == SAM_VALENCE and back.blocks == ["a", "b"]


def test_training_items_round_trip_and_old_files_have_none(tmp_path: Path) -> None:
    b = _blocks(40)
    head = fit_scale_head(b, ["a", "b"], 5 + b["a"][:, 0], ["valence"], {"valence": SAM_VALENCE})
    back = Head.load(head.save(tmp_path / "plain.npz"))
    assert back.training is None  # a head saved without them (as every head before them)
    keys = [f"sha256:{i:020x}" for i in range(40)] + ["sha256:" + "0" * 20]  # the last duplicates the first
    oof = np.r_[np.linspace(2, 8, 40), 9.0][:, None]
    head.training = TrainingItems(keys, oof)
    back = Head.load(head.save(tmp_path / "with.npz"))
    assert back.training is not None and len(back.training) == 41
    assert back.training.row("sha256:" + f"{7:020x}") == 7 and back.training.row("sha256:unknown") is None
    assert back.training.row("sha256:" + "0" * 20) == 0  # duplicates resolve to the first item
    np.testing.assert_allclose(back.training.oof[:, 0], oof[:, 0], rtol=1e-6)


def test_head_file_errors(tmp_path: Path) -> None:
    with pytest.raises(HeadError, match="not found"):
        Head.load(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(HeadError, match="not an affectscope head"):
        Head.load(junk)
    b = _blocks(30)
    head = fit_scale_head(b, ["a", "b"], b["a"][:, 0], ["valence"])
    with pytest.raises(HeadError, match="feature block 'b'"):
        head.predict({"a": b["a"]})
    with pytest.raises(HeadError, match="width"):
        head.predict({"a": b["a"], "b": b["b"][:, :5]})
    with pytest.raises(HeadError, match="NaN"):
        fit_scale_head(b, ["a"], np.full(30, np.nan), ["valence"])


def test_distribution_head_fits_soft_labels() -> None:
    """Items whose true class distribution depends on a feature: the head recovers the shares."""
    rng = np.random.default_rng(0)
    b = {"a": rng.normal(size=(600, 2))}
    logits = np.stack([2 * b["a"][:, 0], -2 * b["a"][:, 0], np.zeros(600)], axis=1)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    head = fit_distribution_head(b, ["a"], p, ["x", "y", "z"], C=100.0)
    q = head.predict(b)
    np.testing.assert_allclose(q.sum(1), 1.0)
    assert np.abs(q - p).mean() < 0.02


def test_long_tail_options_raise_rare_class_predictions() -> None:
    rng = np.random.default_rng(1)
    n = 500
    b = {"a": rng.normal(size=(n, 4))}
    y = np.where(rng.uniform(size=n) < 0.1, 1, 0)  # class 1 is rare
    b["a"][:, 0] += 1.0 * y
    p = np.eye(2)[y]
    plain = fit_distribution_head(b, ["a"], p, ["common", "rare"])
    balanced = fit_distribution_head(b, ["a"], p, ["common", "rare"], balance="class-balanced")
    adjusted = fit_distribution_head(b, ["a"], p, ["common", "rare"], tau=1.0)
    rare_share = {k: (h.predict(b).argmax(1) == 1).mean() for k, h in (("plain", plain), ("bal", balanced), ("adj", adjusted))}
    assert rare_share["bal"] > rare_share["plain"] and rare_share["adj"] > rare_share["plain"]
    w = class_balanced_weights(np.array([0.9, 0.1]), n_items=n)
    assert w[1] > w[0] and w.mean() == pytest.approx(1.0)
    with pytest.raises(HeadError, match="balance"):
        fit_distribution_head(b, ["a"], p, ["common", "rare"], balance="oversample")


def test_shipped_heads_list_their_training_pictures() -> None:
    """The default heads know their OASIS / Emotion6 pictures by content, with one cross-validated
    prediction each (what the image rater's training_items=cv gives them)."""
    from affectscope.raters.image import default_head_paths

    sizes = {"image_valence_sam9.npz": 2400, "image_arousal_sam9.npz": 900, "image_basic_emotions.npz": 1500}
    for path in default_head_paths():
        head = Head.load(path)
        tr = head.training
        n = sizes[Path(path).name]
        assert tr is not None and len(tr) == len(set(tr.keys)) == n == head.meta["cv"]["n_items"]
        assert all(k.startswith("sha256:") and len(k) == 27 for k in tr.keys)
        assert tr.oof.shape == (n, len(head.outputs)) and np.isfinite(tr.oof).all()
        if head.target == "scale":
            assert tr.oof.min() >= 1 and tr.oof.max() <= 9 and tr.oof.std() > 0.5
        else:
            np.testing.assert_allclose(tr.oof.sum(axis=1), 1, atol=1e-4)
