"""The cross-fitting logic of bench/faces_prior_crossfit.py, on synthetic labels (no FER+ data needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def crossfit_module():
    path = Path(__file__).resolve().parents[1] / "bench" / "faces_prior_crossfit.py"
    spec = importlib.util.spec_from_file_location("faces_prior_crossfit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stratified_halves_split_every_class_in_two(crossfit_module):
    truth = np.repeat(np.arange(8), [40, 30, 20, 10, 7, 5, 3, 1])
    half = crossfit_module.stratified_halves(truth, np.random.default_rng(0))
    for c, n in zip(range(8), [40, 30, 20, 10, 7, 5, 3, 1]):
        assert half[truth == c].sum() in (n // 2, n - n // 2)


def test_crossfit_picks_the_right_tau_and_scores_only_held_out_halves(crossfit_module):
    m = crossfit_module
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 8, 400)
    wrong = (truth + 1) % 8
    preds = np.tile(wrong, (len(m.GRID), 1))  # every tau is wrong everywhere ...
    good = 5
    preds[good] = truth  # ... except one, which is right everywhere
    assert m.choose(preds, truth, "targets") == m.GRID[good]
    assert m.choose(preds, truth, "balanced") == m.GRID[good]
    res = m.crossfit(preds, truth, "targets", splits=5, seed=0)
    assert res["accuracy_p5_median_p95"] == [1.0, 1.0, 1.0]
    assert res["share_of_splits_meeting_both_targets"] == 1.0
    assert res["chosen_tau_p5_median_p95"][1] == m.GRID[good]


def test_crossfit_ties_go_to_the_smallest_tau(crossfit_module):
    m = crossfit_module
    truth = np.arange(8).repeat(5)
    preds = np.tile(truth, (len(m.GRID), 1))  # all taus equally right
    assert m.choose(preds, truth, "targets") == 0.0
