"""Heads: linear read-outs from named feature blocks to human ratings, saved as plain arrays.

Two kinds, both fitted with scikit-learn and stored as ``.npz`` (arrays + a JSON description; no
pickle, so a head file is safe to load and readable in any numpy version):

- **scale heads** (:func:`fit_scale_head`): ridge regression per rating scale, the penalty chosen by
  efficient leave-one-out CV (``RidgeCV``), predictions clipped to the scale's range;
- **distribution heads** (:func:`fit_distribution_head`): multinomial logistic regression on
  *soft labels* (each item's human vote distribution; fitted by expanding item x class with the
  share as sample weight, which minimises the cross-entropy to the human distribution), with
  long-tail options: class-balanced weights (Cui et al. 2019, effective number of samples) and
  post-hoc logit adjustment (Menon et al. 2021, ICLR), ``tau * log prior`` subtracted at prediction.

Every block is standardised feature-wise and scaled by ``1/sqrt(width)`` so that each block carries
the same total variance and a wide block (1280-d) does not drown a narrow one (24-d colour stage).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from affectscope._files import atomic_write
from affectscope.taxonomy.scales import Scale

HEAD_FORMAT = 1
ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 22))
KERNEL_GAMMAS = (0.5, 1.0, 2.0)
KERNEL_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0)


class HeadError(ValueError):
    """A head file or training input that cannot be used."""


@dataclass
class BlockScaler:
    """Feature-wise standardisation with per-block weights ``1/sqrt(width)``."""

    blocks: list[str]
    widths: list[int]
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, blocks: Mapping[str, np.ndarray], names: Sequence[str],
            weights: Mapping[str, float] | None = None) -> "BlockScaler":
        """Standardise each feature; scale block ``n`` to total variance ``weights[n] ** 2`` (default 1)."""
        means, scales = [], []
        for n in names:
            m = np.asarray(blocks[n], np.float64)
            sd = m.std(axis=0)
            sd[sd < 1e-8] = 1.0
            means.append(m.mean(axis=0))
            scales.append(sd * np.sqrt(m.shape[1]) / float((weights or {}).get(n, 1.0)))
        return cls(list(names), [int(blocks[n].shape[1]) for n in names], np.concatenate(means), np.concatenate(scales))

    def transform(self, blocks: Mapping[str, np.ndarray]) -> np.ndarray:
        for n, w in zip(self.blocks, self.widths, strict=True):
            if n not in blocks:
                raise HeadError(f"the head needs feature block {n!r}, which the backbone did not produce (have {list(blocks)})")
            if blocks[n].shape[1] != w:
                raise HeadError(f"feature block {n!r} has width {blocks[n].shape[1]}, the head was trained on {w}: "
                                "use the backbone the head was trained with")
        x = np.concatenate([np.asarray(blocks[n], np.float64) for n in self.blocks], axis=1)
        return (x - self.mean) / self.scale


@dataclass
class KernelPart:
    """RBF kernel ridge on a PCA projection: ``k(x, t) = exp(-gamma |P(x) - t|^2)``."""

    proj_mean: np.ndarray
    proj: np.ndarray
    train: np.ndarray
    dual: np.ndarray
    gamma: float

    def project(self, x: np.ndarray) -> np.ndarray:
        return (x - self.proj_mean) @ self.proj

    def gram(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-self.gamma * sq_distances(self.project(x), self.train))


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and of ``b`` (clipped at 0)."""
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def pca_as_stored(x: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of ``x`` to at most ``n_components``: ``(mean, projection, projected x)``, the projection
    and the projected points rounded through float16 as kernel heads store them, so that a head
    predicts from its file exactly as it was fitted."""
    from sklearn.decomposition import PCA

    k = int(min(n_components, x.shape[0] - 1, x.shape[1]))
    pca = PCA(n_components=k, random_state=0).fit(x)
    proj = pca.components_.T.astype(np.float16).astype(np.float64)
    z = ((x - pca.mean_) @ proj).astype(np.float16).astype(np.float64)
    return pca.mean_, proj, z


@dataclass
class TrainingItems:
    """The items a head was fitted on, identified by content, and their out-of-fold predictions.

    Attributes
    ----------
    keys : list of str
        Content keys of the training stimuli (:meth:`affectscope.stimuli.Stimulus.signature`,
        a SHA-256 of the file), so that a renamed or copied training picture is still recognised.
    oof : ndarray, shape (n_items, n_outputs)
        Each item's prediction from the cross-validation fold that held it out: what the head
        says of the item without having been fitted on it.
    """

    keys: list[str]
    oof: np.ndarray

    def __post_init__(self) -> None:
        self.oof = np.asarray(self.oof, np.float64).reshape(len(self.keys), -1)
        self._row = {k: i for i, k in reversed(list(enumerate(self.keys)))}  # the first item of duplicates

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: str) -> int | None:
        """Row of ``key`` in :attr:`oof`, or None when the head was not trained on that content."""
        return self._row.get(key)


@dataclass
class Head:
    """A fitted head: linear, or an RBF kernel ridge on a PCA projection (``kernel`` set).

    Attributes
    ----------
    target : {"scale", "distribution"}
    outputs : list of str
        Output column names (scale names, or category names for a distribution).
    scaler : BlockScaler
    coef : ndarray, shape (n_outputs, n_features)
    intercept : ndarray, shape (n_outputs,)
    scales : dict
        For scale heads: output -> the :class:`Scale` predictions are on (clipped to its range).
    log_prior : ndarray or None
        For distribution heads: log of the training class prior (for logit adjustment).
    tau : float
        Logit adjustment strength applied at prediction (0 = none).
    meta : dict
        Provenance: backbone, view, training data, CV metrics, licence notes.
    kernel : KernelPart or None
        For kernel heads: the projection, the training points and the dual coefficients
        (``coef`` is then unused).
    training : TrainingItems or None
        What the head was trained on, by file content, with each item's out-of-fold prediction
        from the cross-validation (written by :func:`affectscope.training.train.train_head` when it is given
        the items' content keys). Raters use it to flag, or replace, in-sample ratings.
    """

    target: str
    outputs: list[str]
    scaler: BlockScaler
    coef: np.ndarray
    intercept: np.ndarray
    scales: dict[str, Scale] = field(default_factory=dict)
    log_prior: np.ndarray | None = None
    tau: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    kernel: "KernelPart | None" = None
    training: "TrainingItems | None" = None

    @property
    def blocks(self) -> list[str]:
        return self.scaler.blocks

    def decision(self, blocks: Mapping[str, np.ndarray]) -> np.ndarray:
        x = self.scaler.transform(blocks)
        if self.kernel is not None:
            return self.kernel.gram(x) @ self.kernel.dual + self.intercept
        return x @ self.coef.T + self.intercept

    def predict(self, blocks: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(n_items, n_outputs)``: scale values (clipped to range) or class probabilities."""
        z = self.decision(blocks)
        if self.target == "scale":
            for j, name in enumerate(self.outputs):
                sc = self.scales.get(name)
                if sc is not None:
                    z[:, j] = np.clip(z[:, j], sc.low, sc.high if sc.high is not None else np.inf)
            return z
        if self.log_prior is not None and self.tau:
            z = z - self.tau * self.log_prior
        return softmax(z, axis=1)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        desc = {
            "format": HEAD_FORMAT, "kind": self.target, "outputs": self.outputs, "blocks": self.scaler.blocks,
            "widths": self.scaler.widths, "tau": self.tau,
            "scales": {k: v.model_dump() for k, v in self.scales.items()}, "meta": self.meta,
        }
        arrays = {"mean": self.scaler.mean, "scale": self.scaler.scale, "coef": self.coef.astype(np.float32),
                  "intercept": self.intercept}
        if self.log_prior is not None:
            arrays["log_prior"] = self.log_prior
        if self.kernel is not None:
            desc["kernel_gamma"] = self.kernel.gamma
            arrays.update(proj_mean=self.kernel.proj_mean, proj=self.kernel.proj.astype(np.float16),
                          train=self.kernel.train.astype(np.float16), dual=self.kernel.dual)
        if self.training is not None:
            arrays.update(train_keys=np.asarray(self.training.keys, dtype=str),
                          train_oof=self.training.oof.astype(np.float32))
        return atomic_write(path, lambda tmp: np.savez_compressed(tmp, description=np.array(json.dumps(desc, default=str)), **arrays),
                            suffix=".npz")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Head":
        path = Path(path)
        if not path.is_file():
            raise HeadError(f"{path}: head file not found. Fix: train one with `affectscope train` or pass the right path")
        try:
            with np.load(path, allow_pickle=False) as z:
                desc = json.loads(str(z["description"]))
                arrays = {k: z[k] for k in z.files if k != "description"}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise HeadError(f"{path}: not an affectscope head file ({exc}). Fix: pass a .npz written by `affectscope train`") from None
        if desc.get("format") != HEAD_FORMAT:
            raise HeadError(f"{path}: head format {desc.get('format')} is not supported by this version (expects {HEAD_FORMAT})")
        scaler = BlockScaler(desc["blocks"], desc["widths"], arrays["mean"], arrays["scale"])
        return cls(
            target=desc["kind"], outputs=desc["outputs"], scaler=scaler, coef=arrays["coef"].astype(np.float64),
            intercept=arrays["intercept"], scales={k: Scale(**v) for k, v in desc["scales"].items()},
            log_prior=arrays.get("log_prior"), tau=float(desc.get("tau", 0.0)), meta=desc.get("meta", {}),
            kernel=KernelPart(arrays["proj_mean"], arrays["proj"].astype(np.float64), arrays["train"].astype(np.float64),
                              arrays["dual"], float(desc["kernel_gamma"])) if "dual" in arrays else None,
            training=TrainingItems([str(k) for k in arrays["train_keys"]], arrays["train_oof"].astype(np.float64))
            if "train_keys" in arrays else None,
        )


def _check_xy(n_items: int, y: np.ndarray, what: str) -> None:
    if y.shape[0] != n_items:
        raise HeadError(f"{what}: {y.shape[0]} targets for {n_items} items")
    if not np.all(np.isfinite(y)):
        raise HeadError(f"{what}: targets contain NaN or infinite values; drop those items first")
    if n_items < 5:
        raise HeadError(f"{what}: {n_items} items are too few to train a head (need at least 5, better hundreds)")


def ridge_loo(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = ALPHAS,
              sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression of every column of ``y`` on ``x``, each with the penalty that minimises the
    exact leave-one-out error (one SVD shared by all penalties and targets; the same criterion as
    scikit-learn's ``RidgeCV``, several times faster when there are several targets).

    Returns ``(coef (k, d), intercept (k,), alpha (k,))``.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64).reshape(len(x), -1)
    w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    sw = np.sqrt(w)
    xm = (w[:, None] * x).sum(0) / w.sum()
    ym = (w[:, None] * y).sum(0) / w.sum()
    xc = (x - xm) * sw[:, None]
    yc = (y - ym) * sw[:, None]
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc
    best = np.full(y.shape[1], np.inf)
    best_alpha = np.zeros(y.shape[1])
    lev0 = w / w.sum()  # leverage of the (weighted) intercept
    for a in alphas:
        f = s**2 / (s**2 + a)
        fitted = u @ (f[:, None] * uty)
        h = (u**2) @ f + lev0
        loo = (yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None] / np.maximum(sw, 1e-12)[:, None]
        err = (w[:, None] * loo**2).sum(0)
        better = err < best
        best[better] = err[better]
        best_alpha[better] = a
    coef = np.zeros((y.shape[1], x.shape[1]))
    for j, a in enumerate(best_alpha):
        coef[j] = vt.T @ ((s / (s**2 + a)) * uty[:, j])
    return coef, ym - coef @ xm, best_alpha


class KernelRidgePath:
    """RBF kernel ridge of the columns of ``y`` on points ``z`` over a grid of (gamma, alpha): one
    eigendecomposition of the Gram matrix per gamma serves every alpha and target. Gammas are
    relative to the median squared distance between the points (of the first ``median_of``
    points when given, to bound the cost on large sets). The one kernel ridge of the package:
    image heads (:func:`kernel_ridge_loo`) and text heads
    (:func:`affectscope.text.llm_embed.fit_kernel_head`) both fit through it."""

    def __init__(self, z: np.ndarray, y: np.ndarray, median_of: int | None = None) -> None:
        self.z = np.asarray(z, np.float64)
        y = np.asarray(y, np.float64).reshape(len(self.z), -1)
        self.d = sq_distances(self.z, self.z)
        m = len(self.z) if median_of is None else min(len(self.z), int(median_of))
        self.median = float(np.median(self.d[:m, :m][np.triu_indices(m, 1)])) or 1.0
        self.y_mean = y.mean(0)
        self.yc = y - self.y_mean
        self._eig: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def eigen(self, g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(eigenvalues >= 0, eigenvectors, eigenvectors' @ centred y)`` of the doubly centred
        Gram matrix ``C K C`` at relative gamma ``g`` (``C`` removes the mean)."""
        return self._eigen(g)[:3]

    def _eigen(self, g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if g not in self._eig:
            k = np.exp(-(g / self.median) * self.d)
            kc = k - k.mean(0, keepdims=True)
            kc -= kc.mean(1, keepdims=True)
            lam, v = np.linalg.eigh((kc + kc.T) / 2)
            self._eig = {g: (np.maximum(lam, 0.0), v, v.T @ self.yc, k)}  # one gamma held at a time
        return self._eig[g]

    def fit(self, g: float, alpha: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(dual (n, targets), intercept (targets,))`` minimising ``|y - b - K c|^2 + alpha c'Kc``
        per target (the intercept ``b`` unpenalised); ``alpha`` a number or one per target.
        Predictions are ``K(x, train) @ dual + intercept``."""
        lam, v, vty, k = self._eigen(g)
        a = np.broadcast_to(np.asarray(alpha, np.float64), (vty.shape[1],))
        dual = np.stack([v @ (vty[:, j] / (lam + a[j])) for j in range(vty.shape[1])], axis=1)
        return dual, self.y_mean - (k @ dual).mean(0)

    def loo_mse(self, g: float, alpha: float) -> np.ndarray:
        """Exact leave-one-out mean squared error per target of :meth:`fit` (a penalised least
        squares with an unpenalised intercept, so the hat-matrix identity holds exactly)."""
        lam, v, vty = self.eigen(g)
        f = lam / (lam + alpha)  # hat matrix J/n + V diag(f) V'; fitted values ybar + V diag(f) V' yc
        fitted = v @ (f[:, None] * vty)
        h = (v**2) @ f + 1.0 / len(self.z)
        return (((self.yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]) ** 2).mean(0)


def kernel_ridge_loo(z: np.ndarray, y: np.ndarray, gammas: Sequence[float], alphas: Sequence[float]
                     ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, dict[str, Any]]:
    """RBF kernel ridge of every column of ``y`` on points ``z``; ``gammas`` are relative to the
    median squared distance, ``(gamma, alpha)`` per target chosen by exact leave-one-out error
    (one eigendecomposition per gamma). One gamma is shared by all targets (it defines the
    stored kernel); alpha is per target.

    Returns ``(dual (n, k), intercept (k,), gamma (absolute), alpha (k,), info)``.
    """
    path = KernelRidgePath(z, y)
    n_targets = path.yc.shape[1]
    best: tuple[float, float, np.ndarray, np.ndarray, np.ndarray] | None = None
    for g in gammas:
        errs, alph = np.full(n_targets, np.inf), np.zeros(n_targets)
        for a in alphas:
            err = path.loo_mse(g, a)
            better = err < errs
            errs[better], alph[better] = err[better], a
        if best is None or errs.sum() < best[0]:
            best = (float(errs.sum()), g, alph.copy(), path.fit(g, alph), errs.copy())
    assert best is not None
    _, g, alph, (dual, intercept), errs = best
    return dual, intercept, g / path.median, alph, {"gamma_relative": g, "median_sqdist": path.median, "loo_mse": errs.tolist()}


def fit_scale_head(
    blocks: Mapping[str, np.ndarray], names: Sequence[str], y: np.ndarray, outputs: Sequence[str],
    scales: Mapping[str, Scale] | None = None, alphas: Sequence[float] = ALPHAS, meta: dict[str, Any] | None = None,
    model: str = "linear", n_components: int = 256, gammas: Sequence[float] = KERNEL_GAMMAS,
    kernel_alphas: Sequence[float] = KERNEL_ALPHAS, sample_weight: np.ndarray | None = None,
    block_weights: Mapping[str, float] | None = None,
) -> Head:
    """Heads for the rating scales in the columns of ``y`` (shape ``(n_items, n_outputs)``).

    ``model="linear"``: ridge, penalty by exact LOO-CV. ``model="kernel"``: PCA to
    ``n_components`` then RBF kernel ridge, gamma and penalty by exact LOO-CV (nonlinear; the
    head file then holds the projected training points). ``sample_weight`` (linear only)
    weights items, e.g. to balance two training sets. ``block_weights`` scales blocks relative
    to each other (default: every block carries the same total variance).
    """
    if model not in ("linear", "kernel"):
        raise HeadError(f"model must be 'linear' or 'kernel', got {model!r}")
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    _check_xy(len(next(iter(blocks.values()))), y, "scale head")
    if y.shape[1] != len(outputs):
        raise HeadError(f"scale head: {y.shape[1]} target columns for {len(outputs)} output names")
    scaler = BlockScaler.fit(blocks, names, block_weights)
    if model == "kernel":
        pca_mean, proj, z = pca_as_stored(scaler.transform(blocks), n_components)
        dual, intercept, gamma, alpha, info = kernel_ridge_loo(z, y, gammas, kernel_alphas)
        m = dict(meta or {})
        m.update({"model": "kernel", "n_components": proj.shape[1], "kernel_alpha": {o: float(a) for o, a in zip(outputs, alpha, strict=True)},
                  **{f"kernel_{key}": val for key, val in info.items()}})
        part = KernelPart(pca_mean, proj, z, dual, gamma)
        return Head("scale", list(outputs), scaler, np.zeros((len(outputs), 0)), intercept, dict(scales or {}), meta=m, kernel=part)
    coef, intercept, alpha = ridge_loo(scaler.transform(blocks), y, alphas, sample_weight)
    m = dict(meta or {})
    m["ridge_alpha"] = {o: float(a) for o, a in zip(outputs, alpha, strict=True)}
    edge = [o for o, a in zip(outputs, alpha, strict=True) if a in (min(alphas), max(alphas))]
    if edge:
        m["ridge_alpha_at_edge"] = edge
    return Head("scale", list(outputs), scaler, coef, intercept, dict(scales or {}), meta=m)


def class_balanced_weights(prior: np.ndarray, beta: float = 0.999, n_items: int | None = None) -> np.ndarray:
    """Cui et al. (2019) weights ``(1 - beta) / (1 - beta ** n_c)``, normalised to mean 1, where
    ``n_c`` is the (soft) number of items of class ``c``."""
    n = prior * (n_items or 1)
    w = (1.0 - beta) / np.maximum(1.0 - beta ** np.maximum(n, 1e-9), 1e-12)
    return w / w.mean()


def fit_distribution_head(
    blocks: Mapping[str, np.ndarray], names: Sequence[str], p: np.ndarray, outputs: Sequence[str], *,
    C: float = 1.0, balance: str = "none", tau: float = 0.0, meta: dict[str, Any] | None = None,
) -> Head:
    """Soft-label multinomial logistic regression.

    Parameters
    ----------
    p : ndarray, shape (n_items, n_classes)
        Human vote shares per item (rows are renormalised to sum to 1).
    C : float
        Inverse L2 penalty (scikit-learn's convention).
    balance : {"none", "class-balanced"}
        Re-weight classes by the effective number of samples.
    tau : float
        Logit adjustment at prediction time (1 = Menon et al.'s default; 0 = off).
    """
    from sklearn.linear_model import LogisticRegression

    if balance not in ("none", "class-balanced"):
        raise HeadError(f"balance must be 'none' or 'class-balanced', got {balance!r}")
    p = np.asarray(p, np.float64)
    n, k = p.shape
    _check_xy(len(next(iter(blocks.values()))), p, "distribution head")
    if np.any(p < 0) or np.any(p.sum(axis=1) <= 0):
        raise HeadError("distribution head: vote shares must be non-negative with a positive sum per item")
    p = p / p.sum(axis=1, keepdims=True)
    scaler = BlockScaler.fit(blocks, names)
    x = scaler.transform(blocks)
    prior = p.mean(axis=0)
    cw = class_balanced_weights(prior, n_items=n) if balance == "class-balanced" else np.ones(k)
    rows = np.repeat(np.arange(n), k)
    labels = np.tile(np.arange(k), n)
    weights = p.reshape(-1) * cw[labels]
    keep = weights > 0
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(x[rows[keep]], labels[keep], sample_weight=weights[keep] * (n / weights[keep].sum()))
    if list(model.classes_) != list(range(k)):
        raise HeadError("distribution head: some class has no votes at all in the training data; drop it from the outputs")
    coef, intercept = model.coef_, model.intercept_
    if k == 2:  # scikit-learn's binary model has one logit z; softmax over (0, z) is the same sigmoid
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    m = dict(meta or {})
    m.update({"C": C, "balance": balance})
    return Head("distribution", list(outputs), scaler, coef, intercept, log_prior=np.log(np.maximum(prior, 1e-12)),
                      tau=tau, meta=m)
