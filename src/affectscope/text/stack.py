"""A linear stack over the fine-tuned text-affect model and the NRC emotion lexicon.

The fine-tuned MiniLM sees a word's meaning; the NRC lexicon holds human judgements of which
emotions a word is associated with. A ridge regression on both — the model's three predictions, the
10 NRC category shares and a "known to the lexicon" flag — is fitted on the validation split that
the model never trained on (``scripts/train_text_affect.py --stack``) and stored as a small JSON file
beside the model weights (``stack.json``). Applying it is a matrix product.

Heads on other embeddings add their predictions as named feature blocks (``extra``): with
``TextAffect(llm=True)`` the Gemma prompt-embedding head (:mod:`affectscope.text.llm_embed`), with
``TextAffect(mpnet=True)`` the all-mpnet-base-v2 head (:mod:`affectscope.text.mpnet`). Each set of
blocks has its own stack file (:func:`stack_file`): ``stack_llm.json``, ``stack_mpnet.json``,
``stack_mpnet_llm.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope.text.nrc import NRC_CATEGORIES

STACK_FILE = "stack.json"
#: The order in which extra heads enter a stack (and its file name).
EXTRA_ORDER = ("mpnet", "llm")


def stack_file(extras: Sequence[str] = ()) -> str:
    """The stack file for a set of extra heads: ``stack.json``, ``stack_llm.json``, ``stack_mpnet_llm.json`` ..."""
    unknown = [e for e in extras if e not in EXTRA_ORDER]
    if unknown:
        raise ValueError(f"unknown extra heads {unknown}; valid: {list(EXTRA_ORDER)}")
    return "stack" + "".join(f"_{e}" for e in EXTRA_ORDER if e in extras) + ".json"


def stack_features(pred: np.ndarray, nrc: pd.DataFrame,
                   extra: Mapping[str, np.ndarray] | None = None) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (model predictions, NRC shares, lexicon flag, then each extra head's
    predictions in :data:`EXTRA_ORDER`) and its column names (``llm_0`` ... for the block ``llm``)."""
    pred = np.asarray(pred, float)
    cats = [f"nrc_{c}" for c in NRC_CATEGORIES]
    flag = (nrc["nrc_matched"].to_numpy(float) > 0).astype(float)[:, None]
    blocks = [pred, nrc[cats].to_numpy(float), flag]
    names = [f"model_{j}" for j in range(pred.shape[1])] + cats + ["nrc_known"]
    extra = dict(extra or {})
    stack_file(list(extra))  # names the valid blocks if one is unknown
    for key in sorted(extra, key=EXTRA_ORDER.index):
        block = np.asarray(extra[key], float).reshape(len(pred), -1)
        blocks.append(block)
        names += [f"{key}_{j}" for j in range(block.shape[1])]
    return np.hstack(blocks), names


def fit_stack(pred: np.ndarray, nrc: pd.DataFrame, y: np.ndarray, targets: list[str],
              alphas: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0),
              extra: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Ridge per target on :func:`stack_features`, alpha by leave-one-out CV (scikit-learn ``RidgeCV``)."""
    from sklearn.linear_model import RidgeCV

    x, names = stack_features(pred, nrc, extra)
    y = np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} predictions but {len(y)} targets")
    coef, intercept, chosen = [], [], []
    for j in range(y.shape[1]):
        ridge = RidgeCV(alphas=list(alphas)).fit(x, y[:, j])
        coef.append(ridge.coef_.tolist())
        intercept.append(float(ridge.intercept_))
        chosen.append(float(ridge.alpha_))
    return {"targets": list(targets), "features": names, "coef": coef, "intercept": intercept, "alpha": chosen,
            "n_fit": int(len(y))}


def apply_stack(params: dict[str, Any], pred: np.ndarray, nrc: pd.DataFrame,
                extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Stacked predictions ``(n, targets)`` from the model's predictions, the NRC shares and the
    extra heads' predictions the stack was fitted with."""
    x, names = stack_features(pred, nrc, extra)
    if names != params["features"]:
        raise ValueError(f"the stack was fitted on features {params['features']}, got {names}")
    return x @ np.asarray(params["coef"], float).T + np.asarray(params["intercept"], float)


def save_stack(params: dict[str, Any], folder: str | os.PathLike[str], name: str = STACK_FILE) -> Path:
    path = Path(folder) / name
    path.write_text(json.dumps(params, indent=2))
    return path


def load_stack(folder: str | os.PathLike[str], name: str = STACK_FILE) -> dict[str, Any] | None:
    """The stack stored in ``folder`` (``name``: see :func:`stack_file`), or ``None``."""
    path = Path(folder) / name
    if not path.is_file():
        return None
    params = json.loads(path.read_text())
    for key in ("targets", "features", "coef", "intercept"):
        if key not in params:
            raise ValueError(f"{path}: not a text-affect stack (no '{key}'); delete it or retrain with "
                             "scripts/train_text_affect.py --stack")
    return params
