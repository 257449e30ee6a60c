"""The comparison module: known answers, agreement with rsatoolbox and POT, invariances, clear errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import category_ratings, scale_ratings
from hypothesis import given, settings
from hypothesis import strategies as st

from affectscope.compare import (
    CompareError, InSampleWarning, ceiling_from_raters, ceiling_from_split_half, ceiling_from_summary, compare_categories,
    compare_items, compare_structure, concordance, distribution_metrics, gw_align, head_class_collapse,
    kendall_tau_a, matching_rates, most_typical, rdm, rsa_statistic,
)
from affectscope.compare.rsa import RDM
from affectscope.compare.gw import gw_objective, project_to_marginals, solve_entropic
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.taxonomy import EMOTION6, OASIS_VALENCE, PROBABILITY


def scales(ids, valence, arousal=None, name="r", extra=None) -> Ratings:
    return scale_ratings(ids, valence, arousal, name=name, extra=extra)


def cats(ids, probs, name="r", taxonomy=EMOTION6) -> Ratings:
    return category_ratings(ids, probs, name=name, taxonomy=taxonomy)


# ---- items ----------------------------------------------------------------------------------
def test_items_known_answers() -> None:
    ids = [f"{i}" for i in range(50)]
    x = np.linspace(1, 9, 50)
    res = compare_items(scales(ids, x, 10 - x), scales(ids, x, x, name="h"), n_boot=200)
    v, a = res.table.loc["valence"], res.table.loc["arousal"]
    assert v["pearson"] == pytest.approx(1) and v["ccc"] == pytest.approx(1) and v["mae"] == pytest.approx(0)
    assert a["pearson"] == pytest.approx(-1) and a["spearman"] == pytest.approx(-1)
    shifted = compare_items(scales(ids, np.clip(x + 0.5, 1, 9)), scales(ids, x, name="h"), n_boot=10).table.loc["valence"]
    assert shifted["ccc"] < shifted["pearson"]  # concordance penalises the offset, correlation does not
    assert "valence" in res.summary() and res.to_dict()["scales"]["valence"]["n"] == 50


def test_items_bootstrap_ci_covers_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    ids = [str(i) for i in range(200)]
    h = rng.uniform(1, 9, 200)
    r = np.clip(h + rng.normal(0, 1.5, 200), 1, 9)
    a = compare_items(scales(ids, r), scales(ids, h, name="h"), n_boot=500, random_state=3).table.loc["valence"]
    b = compare_items(scales(ids, r), scales(ids, h, name="h"), n_boot=500, random_state=3).table.loc["valence"]
    assert a["pearson_lo"] < a["pearson"] < a["pearson_hi"] and a["pearson_lo"] == b["pearson_lo"]
    assert a["ccc_lo"] < a["ccc"] < a["ccc_hi"]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_items_invariant_to_item_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"i{i}" for i in range(30)]
    x, y = rng.uniform(1, 9, 30), rng.uniform(1, 9, 30)
    perm = rng.permutation(30)
    a = compare_items(scales(ids, x), scales(ids, y, name="h"), n_boot=1)
    b = compare_items(scales([ids[i] for i in perm], x[perm]), scales(ids, y, name="h"), n_boot=1)
    for m in ("pearson", "spearman", "ccc", "mae"):
        assert a.table.loc["valence", m] == pytest.approx(b.table.loc["valence", m])
    # pearson, spearman and CCC are symmetric in the two raters
    c = compare_items(scales(ids, y), scales(ids, x, name="h"), n_boot=1)
    for m in ("pearson", "spearman", "ccc", "mae"):
        assert c.table.loc["valence", m] == pytest.approx(a.table.loc["valence", m])


def test_items_errors_are_clear() -> None:
    ids = ["a", "b", "c", "d"]
    r = scales(ids, [1.0, 2.0, 3.0, 4.0])
    oasis = Ratings(pd.DataFrame({"item_id": ids, "valence": [1.0, 2, 3, 4]}), [ColumnSpec(name="valence", scale=OASIS_VALENCE)], RaterInfo(name="h"))
    with pytest.raises(CompareError, match="Convert one explicitly"):
        compare_items(r, oasis)
    with pytest.raises(CompareError, match="1 only humans .*on_missing='drop'"):
        compare_items(scales(ids[:3], [1.0, 2.0, 3.0]), scales(ids, [1.0, 2, 3, 4], name="h"))
    with pytest.raises(CompareError, match="NaN"):
        compare_items(scales(ids, [1.0, np.nan, 3.0, 4.0]), scales(ids, [1.0, 2, 3, 4], name="h"))
    failed = scales(ids + ["e"], [1.0, 2, 3, 4, np.nan], extra={"error": [None] * 4 + ["broken"]})
    with pytest.raises(CompareError, match="1 rater failed"):
        compare_items(failed, scales(ids + ["e"], [1.0, 2, 3, 4, 5], name="h"))
    res = compare_items(failed, scales(ids + ["e"], [1.0, 2, 3, 4, 5], name="h"), on_missing="drop", n_boot=5)
    assert res.dropped == {"rater_failed": ["e"]} and res.table.loc["valence", "n"] == 4
    with pytest.raises(CompareError, match="no scale in common"):
        compare_items(cats(ids, np.eye(7)[:4]), r)


def test_noise_ceilings() -> None:
    rng = np.random.default_rng(0)
    true = rng.uniform(2, 8, 300)
    raters = true[:, None] + rng.normal(0, 2, (300, 40))
    pr = ceiling_from_raters(raters, n_splits=20)
    sm = ceiling_from_summary(raters.mean(1), raters.std(1, ddof=1), np.full(300, 40))
    sh = ceiling_from_split_half(raters[:, :20].mean(1), raters[:, 20:].mean(1))
    expected = np.var(true) / (np.var(true) + 4 / 40)  # reliability of a 40-rater mean
    for c in (pr, sm, sh):
        assert c.reliability == pytest.approx(expected, abs=0.03)
    assert (pr.method, sm.method, sh.method) == ("per_rater", "sd_n", "split_half")
    assert sm.ceiling == pytest.approx(np.sqrt(sm.reliability))
    assert concordance(np.arange(5.0), np.arange(5.0)) == 1.0


def _with_training(r: Ratings, flags: list[str], cv: bool = False) -> Ratings:
    data = r.data.reset_index()
    data["training_item"] = flags
    specs = [*r.columns.values(), ColumnSpec(name="training_item", kind="text")]
    return Ratings(data, specs, RaterInfo(name="image", params={"training_items": "cv" if cv else "flag"}))


def test_ratings_of_training_items_are_flagged_in_sample() -> None:
    ids = [str(i) for i in range(20)]
    x = np.linspace(1, 9, 20)
    flags = ["valence arousal"] * 5 + ["arousal"] * 3 + [""] * 12
    rater = _with_training(scales(ids, x, x), flags)
    with pytest.warns(InSampleWarning) as caught:
        res = compare_items(rater, scales(ids, x, x, name="h"), n_boot=10)
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 2 and all("Rate with -p training_items=cv" in m for m in msgs)
    assert msgs[0].startswith("warning: 5 of 20 compared items were in the training data of the rater's valence model")
    assert msgs[1].startswith("warning: 8 of 20 compared items were in the training data of the rater's arousal model")
    assert res.table.loc["valence", "n_training"] == 5 and res.table.loc["arousal", "n_training"] == 8
    assert any(n.startswith("warning: 8 of 20") for n in res.notes) and "in-sample" in res.summary()
    assert res.to_dict()["scales"]["arousal"]["n_training"] == 8 and len(res.to_dict()["notes"]) == 2
    # cross-validated values: a note, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleWarning)
        cv = compare_items(_with_training(scales(ids, x, x), flags, cv=True), scales(ids, x, x, name="h"), n_boot=10)
    assert cv.notes[0].startswith("note: 5 of 20") and "warning" not in cv.summary()
    # only the compared items count; a table without the column has none
    sub = compare_items(rater, scales(ids[10:], x[10:], x[10:], name="h"), n_boot=10, on_missing="drop")
    assert sub.table.loc["valence", "n_training"] == 0 and not sub.notes
    assert compare_items(scales(ids, x), scales(ids, x, name="h"), n_boot=10).table.loc["valence", "n_training"] == 0


def test_category_ratings_of_training_items_are_flagged() -> None:
    eye = np.eye(7)
    ids = [str(i) for i in range(10)]
    labels = [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]
    rater = cats(ids, eye[labels])
    data = rater.data.reset_index()
    data["training_item"] = ["anger disgust fear joy sadness surprise neutral"] * 4 + ["valence"] * 6
    flagged = Ratings(data, [*rater.columns.values(), ColumnSpec(name="training_item", kind="text")], RaterInfo(name="image"))
    with pytest.warns(InSampleWarning, match="4 of 10 compared items were in the training data of the rater's emotion6 category model"):
        res = compare_categories(flagged, cats(ids, eye[labels], name="h"))
    assert len(res.notes) == 1 and res.notes[0] in res.summary() and res.to_dict()["notes"] == res.notes
    # re-expressed in another category set, the flags follow the mapped columns
    mapped = flagged.to_categories("artemis9")
    artemis = mapped.columns_of("category", taxonomy="artemis9")
    assert mapped.data["training_item"].tolist() == [" ".join(artemis)] * 4 + ["valence"] * 6


# ---- categories -------------------------------------------------------------------------
def test_categories_known_answers_and_collapse() -> None:
    eye = np.eye(7)
    human_labels = [0] * 6 + [1] * 3 + [2]  # anger head, disgust and fear tail
    ids = [str(i) for i in range(10)]
    perfect = compare_categories(cats(ids, eye[human_labels]), cats(ids, eye[human_labels], name="h"))
    assert perfect.metrics["accuracy"] == perfect.metrics["uar"] == perfect.metrics["macro_f1"] == 1.0
    assert perfect.metrics["head_collapse"] == 0.0 and perfect.metrics["js"] == pytest.approx(0)
    collapsed = compare_categories(cats(ids, eye[[0] * 10]), cats(ids, eye[human_labels], name="h"))
    assert collapsed.metrics["accuracy"] == pytest.approx(0.6)  # WAR looks fine ...
    assert collapsed.metrics["uar"] == pytest.approx(1 / 3)  # ... UAR shows the tail is lost
    assert collapsed.metrics["head_collapse"] == pytest.approx(1.0)
    assert collapsed.confusion.loc["disgust", "anger"] == 3
    assert collapsed.per_class.loc["fear", "recall"] == 0
    assert "UAR" in collapsed.summary() and collapsed.to_dict()["metrics"]["n"] == 10


def test_categories_through_crosswalk_and_top_k() -> None:
    from affectscope.taxonomy import BASIC7

    ids = ["a", "b"]
    basic = np.zeros((2, 7))
    basic[0, BASIC7.columns.index("happiness")] = 0.7
    basic[0, BASIC7.columns.index("surprise")] = 0.3
    basic[1, BASIC7.columns.index("sadness")] = 1.0
    human = np.zeros((2, 7))
    human[0, EMOTION6.columns.index("surprise")] = 1
    human[1, EMOTION6.columns.index("sadness")] = 1
    res = compare_categories(cats(ids, basic, taxonomy=BASIC7), cats(ids, human, name="h"))
    assert res.taxonomy == "emotion6" and res.metrics["accuracy"] == 0.5 and res.metrics["top_2"] == 1.0


def test_distribution_metrics_and_collapse_helpers() -> None:
    p = np.array([[0.5, 0.5, 0.0]])
    assert distribution_metrics(p, p)["kl"] == pytest.approx(0)
    assert distribution_metrics(np.array([[1.0, 0]]), np.array([[0, 1.0]]))["js"] == pytest.approx(1)
    m = distribution_metrics(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))  # worked by hand, base 2
    js = 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(0.5 / 0.25)) + 0.5 * np.log2(1 / 0.75)
    assert m["js"] == pytest.approx(js) and m["kl"] == pytest.approx(0.5 * np.log(0.5 / 1e-12) + 0.5 * np.log(0.5))
    assert m["cross_entropy"] == pytest.approx(-0.5 * np.log(1e-12))  # H(p) + KL = -sum p log q
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(6), 50), rng.dirichlet(np.ones(6) * 2, 50)
    ref = np.mean([np.sum(x * np.log(x / y)) for x, y in zip(a, b, strict=True)])
    assert distribution_metrics(a, b)["kl"] == pytest.approx(ref)
    idx, head = head_class_collapse(np.array([0, 0, 0, 1, 2]), np.array([1, 2, 1, 1, 2]), 3)
    assert head == [0] and idx < 0  # over-predicting the tail gives a negative index


# ---- RSA ----------------------------------------------------------------------------------
def test_rsa_equals_rsatoolbox() -> None:
    rsatoolbox = pytest.importorskip("rsatoolbox")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(25, 6)), rng.normal(size=(25, 4))
    ours_a, ours_b = rdm(x, metric="correlation"), rdm(y, metric="correlation")
    theirs_a = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method="correlation")
    np.testing.assert_allclose(ours_a.vector, theirs_a.get_vectors()[0], atol=1e-10)
    ra = rsatoolbox.rdm.RDMs(ours_a.vector[None, :])
    rb = rsatoolbox.rdm.RDMs(ours_b.vector[None, :])
    for ours, theirs in (("pearson", "corr"), ("spearman", "spearman"), ("kendall_tau_a", "tau-a")):
        assert rsa_statistic(ours_a.vector, ours_b.vector, ours) == pytest.approx(
            float(rsatoolbox.rdm.compare(ra, rb, method=theirs)[0, 0]), abs=1e-10
        ), ours


def test_structure_on_rating_scales_uses_euclidean_not_a_degenerate_correlation() -> None:
    """Bug: valence/arousal tables got 1 - r over 2 values per item, so every distance was 0 or 2
    and a rater that matched humans closely could show no RSA at all."""
    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(40)]
    v, a = rng.uniform(1, 9, 40), rng.uniform(1, 9, 40)
    human = scales(ids, v, a, name="h")
    close = scales(ids, np.clip(v + rng.normal(0, 0.3, 40), 1, 9), np.clip(a + rng.normal(0, 0.3, 40), 1, 9))
    res = compare_structure(close, human, n_perm=50, gw=False)
    assert res.settings["metric"] == "euclidean" and "RDM metric euclidean" in res.summary()
    assert res.rsa["statistic"] > 0.9
    assert set(np.round(res.rdm_b.vector, 6)) - {0.0, 2.0}  # real distances, not signs
    with pytest.raises(CompareError, match="at least 3 values per item.*valence, arousal.*metric='euclidean'"):
        compare_structure(close, human, metric="correlation", gw=False)
    p = rng.dirichlet(np.ones(7), 40)
    assert compare_structure(cats(ids, p), cats(ids, p, name="h"), n_perm=0, gw=False).settings["metric"] == "correlation"
    assert compare_structure(rdm(np.c_[v, a], metric="euclidean", item_ids=ids), res.rdm_b, n_perm=0, gw=False).settings["metric"] == "euclidean"


def test_tau_a_with_ties_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 4, 40).astype(float), rng.integers(0, 3, 40).astype(float)
    i, j = np.triu_indices(40, 1)
    brute = (np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])).sum() / len(i)
    assert kendall_tau_a(a, b) == pytest.approx(brute)


def test_structure_permutation_test_and_bootstrap() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5))
    same = compare_structure(rdm(x), rdm(x + 0.05 * rng.normal(size=x.shape)), n_perm=200, n_boot=50, gw=False)
    assert same.rsa["statistic"] > 0.9 and same.rsa["p_value"] < 0.01
    assert same.rsa["ci"][0] <= same.rsa["statistic"] <= same.rsa["ci"][1] + 1e-9
    unrelated = compare_structure(rdm(x), rdm(rng.normal(size=(30, 5))), n_perm=200, gw=False)
    assert unrelated.rsa["p_value"] > 0.01
    with pytest.raises(CompareError, match="different items"):
        compare_structure(rdm(x), rdm(x[:20]), gw=False)


# ---- GW -------------------------------------------------------------------------------------
def test_gw_recovers_a_permutation_of_a_point_cloud() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    perm = rng.permutation(40)
    a = rdm(x, metric="euclidean")
    b = rdm(x[perm], metric="euclidean", item_ids=a.item_ids)  # same labels, rows shuffled
    res = gw_align(a, b, procrustes=False)
    # row i of x sits at position argsort(perm)[i] of x[perm]: GW must find exactly that
    assert (res.plan.argmax(axis=1) == np.argsort(perm)).mean() == 1.0
    assert res.matching["item_top1"] < 0.2  # and the identity labels are (correctly) not matched


def test_gw_equals_pot_for_the_same_inputs() -> None:
    import ot

    rng = np.random.default_rng(1)
    c1 = ot.dist(rng.normal(size=(20, 2)))
    c2 = ot.dist(rng.normal(size=(20, 2)))
    c1, c2 = c1 / c1.mean(), c2 / c2.mean()
    p = np.full(20, 1 / 20)
    ours = solve_entropic(c1, c2, 0.05, max_iter=500)
    assert ours is not None
    theirs = ot.gromov.entropic_gromov_wasserstein(c1, c2, p, p, "square_loss", epsilon=0.05, max_iter=500, tol=1e-9, symmetric=True)
    assert np.isfinite(theirs).all() and theirs.sum() == pytest.approx(1)
    # ours is POT's plan projected onto the exact marginals (POT's own misses them slightly)
    np.testing.assert_allclose(ours, project_to_marginals(theirs, p, p), atol=1e-12)
    _, log = ot.gromov.entropic_gromov_wasserstein(c1, c2, p, p, "square_loss", epsilon=0.05, max_iter=500, tol=1e-9, symmetric=True, log=True)
    const_c, h1, h2 = ot.gromov.init_matrix(c1, c2, ours.sum(1), ours.sum(0), "square_loss")
    assert gw_objective(c1, c2, ours) == pytest.approx(float(ot.gromov.gwloss(const_c, h1, h2, ours)), rel=1e-12)
    # POT logs gw_dist at the iterate before its last update: equal to within the solver tolerance
    assert gw_objective(c1, c2, ours) == pytest.approx(log["gw_dist"], rel=1e-3)


def test_gw_align_matching_rates_and_null() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=5, size=(3, 4))
    labels = np.repeat([0, 1, 2], 15)
    x = centers[labels] + rng.normal(size=(45, 4))
    a, b = rdm(x, metric="euclidean"), rdm(x + 0.05 * rng.normal(size=x.shape), metric="euclidean")
    res = gw_align(a, b, categories=labels, n_null=3, n_steps=5, max_iter=200, search="anneal")
    assert res.matching["item_top1"] > 0.9 and res.matching["category_top1"] == 1.0
    assert res.matching["knn_top1"] > 0.9
    assert res.null["item_top1"]["hi"] < 0.3  # structure destroyed: near chance (1/45)
    # a permutation p-value with the +1 correction, for the k-NN rates too: with 3 shuffles at best 1/4
    assert res.null["item_top1"]["p"] == pytest.approx(0.25) and res.null["item_top1"]["n"] == 3
    assert res.null["knn_top1"]["p"] == pytest.approx(0.25) and res.null["knn_top1"]["hi"] < 0.5
    assert res.plan.sum() == pytest.approx(1, abs=1e-6)
    assert [t["stage"] for t in res.trials] == ["anneal"] * 5 + ["polish"]
    assert res.epsilon == min(res.trials, key=lambda t: t["value"])["epsilon"]


def test_default_search_runs_path_and_boundary_and_keeps_the_better_plan() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 3))
    a, b = rdm(x, metric="euclidean"), rdm(x + 0.05 * rng.normal(size=x.shape), metric="euclidean")
    res = gw_align(a, b, n_steps=4, n_grid=8, max_iter=300, n_null=2, procrustes=False)
    stages = [t["stage"] for t in res.trials]
    assert stages.count("anneal") >= 1 and stages[-1] == "boundary" and "polish" not in stages
    assert res.value == min(t["value"] for t in res.trials)
    assert res.matching["item_top1"] > 0.9 and res.null["item_top1"]["hi"] < 0.3


def test_boundary_search_stops_at_the_first_feasible_epsilon() -> None:
    from affectscope.compare.gw import search_boundary

    rng = np.random.default_rng(7)
    c = rdm(rng.normal(size=(40, 3)), metric="euclidean").matrix()
    c = c / c.mean()
    trials = search_boundary(c, c, (1e-4, 1e-1), 10, 300)
    probes = [t for t in trials if t.stage == "probe"]
    solves = [t for t in trials if t.stage == "boundary"]
    grid_probes = probes[: len(probes) - 3]  # then 3 bisection probes inside the last failed grid step
    eps = [t.epsilon for t in grid_probes]
    assert eps == sorted(eps) and eps[0] == pytest.approx(1e-4)
    assert all(t.failed for t in grid_probes[:-1]) and not grid_probes[-1].failed
    assert all(eps[-2] < t.epsilon < eps[-1] for t in probes[-3:])
    # probes are never candidate plans; converged cold solves sit at every surviving epsilon, smallest first
    assert all(t.plan is None for t in probes)
    assert [t.epsilon for t in solves] == sorted(t.epsilon for t in probes if not t.failed)
    assert not solves[0].failed
    assert min(t.value for t in solves) < 1e-3  # a structure aligned with itself: near-zero objective


def test_unknown_search_lists_the_options() -> None:
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(CompareError, match="'auto', 'anneal', 'boundary', 'optuna'"):
        gw_align(rdm(x), rdm(x), search="tpe")  # type: ignore[arg-type]


def test_objective_is_the_exact_quadratic_form_even_off_marginals() -> None:
    rng = np.random.default_rng(3)
    c1, c2 = rng.uniform(size=(5, 5)), rng.uniform(size=(4, 4))
    c1, c2 = c1 + c1.T, c2 + c2.T
    plan = rng.uniform(size=(5, 4))
    plan /= plan.sum()  # marginals deliberately not uniform
    brute = sum(
        (c1[i, k] - c2[j, m]) ** 2 * plan[i, j] * plan[k, m]
        for i in range(5) for j in range(4) for k in range(5) for m in range(4)
    )
    assert gw_objective(c1, c2, plan) == pytest.approx(brute, rel=1e-12)


def test_projection_restores_marginals() -> None:
    from affectscope.compare.gw import project_to_marginals

    rng = np.random.default_rng(4)
    plan = rng.uniform(size=(6, 6))
    p = np.full(6, 1 / 6)
    out = project_to_marginals(plan / plan.sum(), p, p)
    np.testing.assert_allclose(out.sum(axis=1), p, rtol=1e-9)
    np.testing.assert_allclose(out.sum(axis=0), p, rtol=1e-9)


def test_projection_is_exact_where_scaling_cannot_converge() -> None:
    # the support of [[a, b], [0, c]] only admits uniform marginals with b = 0: row/column scaling
    # approaches that at rate 1/k and never reaches it; rounding must finish the job exactly
    from affectscope.compare.gw import project_to_marginals

    p = np.array([0.5, 0.5])
    stuck = np.array([[0.3, 0.3], [0.0, 0.4]])
    out = project_to_marginals(stuck, p, p, max_iter=50)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), p, atol=1e-15)
    np.testing.assert_allclose(out.sum(axis=0), p, atol=1e-15)
    # an all-zero row (underflow) gets mass too
    plan = np.array([[0.5, 0.25, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.25]])
    q = np.full(3, 1 / 3)
    out = project_to_marginals(plan, q, q, max_iter=20)
    np.testing.assert_allclose(out.sum(axis=1), q, atol=1e-15)
    np.testing.assert_allclose(out.sum(axis=0), q, atol=1e-15)


def test_every_search_scores_plans_on_exact_marginals() -> None:
    # regression: the Optuna baseline and the converged polish were scored on POT's raw plans,
    # whose marginals can be ~1 % off -- enough to look better than an exactly feasible plan
    from affectscope.compare.gw import search_anneal, search_optuna

    pytest.importorskip("optuna")
    rng = np.random.default_rng(5)
    c1 = rdm(rng.normal(size=(25, 3)), metric="euclidean").matrix()
    c2 = rdm(rng.normal(size=(25, 3)), metric="euclidean").matrix()
    c1, c2 = c1 / c1.mean(), c2 / c2.mean()
    trials = search_optuna(c1, c2, (5e-3, 1e-1), n_trials=3, max_iter=200, seed=0) + search_anneal(c1, c2, (5e-3, 1e-1), 3, 200)
    p = np.full(25, 1 / 25)
    for t in trials:
        if t.plan is not None:
            np.testing.assert_allclose(t.plan.sum(axis=1), p, atol=1e-14)
            np.testing.assert_allclose(t.plan.sum(axis=0), p, atol=1e-14)


def test_failed_solve_is_never_a_plan() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    c = rdm(x, metric="euclidean").matrix()
    assert solve_entropic(c / c.mean(), c / c.mean(), 1e-3) is None  # cold start at tiny epsilon underflows
    res = gw_align(rdm(x, metric="euclidean"), rdm(x, metric="euclidean"), eps_range=(1e-3, 1e-1), n_steps=3, n_null=2, max_iter=200, procrustes=False)
    assert all(np.isfinite(t["value"]) or t["failed"] or t["stage"] == "probe" for t in res.trials)
    assert len(set(res.null)) and res.null["item_top1"]["hi"] < 0.5


def test_matching_rates_known_plan() -> None:
    plan = np.eye(4)[[1, 0, 2, 3]] / 4
    rates = matching_rates(plan, categories=np.array(["x", "x", "y", "y"]), ks=(1, 2))
    assert rates == {"item_top1": 0.5, "item_top2": 1.0, "category_top1": 1.0}


def test_most_typical() -> None:
    probs = np.eye(7)[[0, 1, 2]] * np.array([[0.9], [0.5], [0.7]])
    probs[:, 6] += 1 - probs.sum(axis=1)
    r = cats(["a", "b", "c"], probs)
    assert most_typical(r, "emotion6", 2) == ["a", "c"]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["pearson", "spearman", "kendall_tau_a"]))
def test_rsa_symmetric_and_invariant_to_item_order(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 4)), rng.normal(size=(12, 3))
    a, b = rdm(x), rdm(y)
    assert rsa_statistic(a.vector, b.vector, method) == pytest.approx(rsa_statistic(b.vector, a.vector, method))
    perm = rng.permutation(12)
    pa, pb = rdm(x[perm]), rdm(y[perm])
    assert rsa_statistic(pa.vector, pb.vector, method) == pytest.approx(rsa_statistic(a.vector, b.vector, method))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_category_metrics_invariant_to_item_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"v{i}" for i in range(25)]
    p_h, p_r = rng.dirichlet(np.ones(7), 25), rng.dirichlet(np.ones(7), 25)
    perm = rng.permutation(25)
    a = compare_categories(cats(ids, p_r), cats(ids, p_h, name="h"))
    b = compare_categories(cats([ids[i] for i in perm], p_r[perm]), cats(ids, p_h, name="h"))
    for k, v in a.metrics.items():
        assert b.metrics[k] == pytest.approx(v), k
    from sklearn.metrics import balanced_accuracy_score

    y_true, y_pred = p_h.argmax(1), p_r.argmax(1)
    if len(set(y_true)) > 1:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert a.metrics["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def _torch_devices() -> list:
    torch = pytest.importorskip("torch")
    # torch.device("cpu") takes POT's torch backend (the name "cpu" takes numpy); cuda where there is one
    return [torch.device("cpu")] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.slow
@pytest.mark.parametrize("device", _torch_devices(), ids=str)
def test_gw_on_a_torch_device_equals_numpy(device: object) -> None:
    rng = np.random.default_rng(5)
    centers = rng.normal(scale=4, size=(3, 3))
    labels = np.repeat([0, 1, 2], 10)
    x = centers[labels] + rng.normal(size=(30, 3))
    a, b = rdm(x, metric="euclidean"), rdm(x + 0.05 * rng.normal(size=x.shape), metric="euclidean")
    kw = {"categories": labels, "n_steps": 4, "n_grid": 8, "max_iter": 300, "n_null": 2, "procrustes": False}
    ref = gw_align(a, b, **kw)
    res = gw_align(a, b, device=device, **kw)  # type: ignore[arg-type]
    assert isinstance(res.plan, np.ndarray)
    # same epsilons tried, same failures, same plans up to floating-point order
    assert [(t["stage"], t["epsilon"], t["failed"]) for t in res.trials] == [(t["stage"], t["epsilon"], t["failed"]) for t in ref.trials]
    np.testing.assert_allclose(res.plan, ref.plan, rtol=0, atol=1e-9 / 900)
    assert res.value == pytest.approx(ref.value, rel=1e-8)
    assert res.matching == ref.matching and res.null == ref.null


def test_projection_and_objective_on_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    from affectscope.compare.gw import project_to_marginals

    rng = np.random.default_rng(8)
    plan = rng.uniform(size=(7, 5))
    plan[2] = 0.0  # an underflowed row: rounding must fill it
    plan /= plan.sum()
    p, q = np.full(7, 1 / 7), np.full(5, 1 / 5)
    ref = project_to_marginals(plan, p, q, max_iter=30)
    out = project_to_marginals(*(torch.as_tensor(v) for v in (plan, p, q)), max_iter=30)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=1e-15)
    c1, c2 = rng.uniform(size=(7, 7)), rng.uniform(size=(5, 5))
    c1, c2 = c1 + c1.T, c2 + c2.T
    assert gw_objective(c1, c2, ref, device=torch.device("cpu")) == pytest.approx(gw_objective(c1, c2, ref), rel=1e-12)


@pytest.mark.parametrize("device, message", [
    ("banana", "'cpu', 'cuda' or another torch device name"),
    ("cuda:7", "no such CUDA GPU here; use device='cpu'"),
])
def test_unusable_gw_device_is_a_clear_error_before_any_work(device: str, message: str) -> None:
    torch = pytest.importorskip("torch")
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(CompareError, match=re.escape(message)):
        gw_align(rdm(x), rdm(x), device=device)


def test_shuffled_null_moves_up_the_grid_where_the_chosen_epsilon_underflows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: one shuffled problem that underflowed at the chosen epsilon (a cold solve at the boundary
    search's edge) raised and lost the whole comparison (seen on 900 OASIS items)."""
    from affectscope.compare import gw

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    a, b = rdm(x, metric="euclidean"), rdm(x + 0.05 * rng.normal(size=x.shape), metric="euclidean")
    kw = {"search": "boundary", "eps_range": (1e-3, 1e-1), "n_grid": 8, "procrustes": False}
    chosen = gw_align(a, b, **kw).epsilon
    shuffled: list[np.ndarray] = []
    real_shuffle, real_solve = gw.shuffled_rdm, gw.solve_entropic

    def shuffle(c, g):  # noqa: ANN001, ANN202
        shuffled.append(real_shuffle(c, g))
        return shuffled[-1]

    def solve(c1, c2, eps, **k):  # noqa: ANN001, ANN202 - shuffled problems underflow at and below the chosen epsilon
        if any(c2 is s for s in shuffled) and eps <= chosen * (1 + 1e-9):
            return None
        return real_solve(c1, c2, eps, **k)

    monkeypatch.setattr(gw, "shuffled_rdm", shuffle)
    monkeypatch.setattr(gw, "solve_entropic", solve)
    res = gw_align(a, b, n_null=3, **kw)
    assert res.epsilon == pytest.approx(chosen)
    assert len(res.null_epsilons) == 3 and all(e > chosen for e in res.null_epsilons)
    assert set(res.null) == {"item_top1", "item_top5", "item_top10"}
    summary = compare_structure(a, b, n_perm=0, n_null=3, **kw).summary()
    assert "underflowed at epsilon" in summary and "3 of 3 repetitions" in summary
    with pytest.raises(CompareError, match="n_null must be >= 0"):
        gw_align(a, b, n_null=-1, **kw)


def test_gw_category_matching_reads_the_human_tables_categories() -> None:
    """categories= a column of the human table (OASIS's 'category') or 'top', read after pairing."""
    rng = np.random.default_rng(1)
    ids = [f"i{k:02d}" for k in range(24)]
    v, a = rng.uniform(1, 9, 24), rng.uniform(1, 9, 24)
    labels = rng.choice(["Animal", "Object", "Person", "Scene"], 24)
    human = Ratings(pd.DataFrame({"item_id": ids, "valence": v, "arousal": a, "category": labels}),
                    [ColumnSpec(name="valence", scale=scale_ratings(["x"], [1.0]).columns["valence"].scale),
                     ColumnSpec(name="arousal", scale=scale_ratings(["x"], [1.0], [1.0]).columns["arousal"].scale),
                     ColumnSpec(name="category", kind="text")], RaterInfo(name="h"))
    vr, ar = np.clip(v + rng.normal(0, 1.5, 24), 1, 9), np.clip(a + rng.normal(0, 1.5, 24), 1, 9)
    rater = scales(ids[::-1], vr[::-1], ar[::-1])  # reversed order: categories must follow the pairing
    kw = {"n_perm": 0, "eps_range": (1e-2, 1e-1), "n_steps": 3, "n_grid": 4, "procrustes": False}
    res = compare_structure(rater, human, categories="category", **kw)
    by_pair = compare_structure(rater, human, categories=labels[::-1], **kw)  # an array follows the pairing: the rater's order
    wrong = compare_structure(rater, human, categories=labels, **kw)
    assert wrong.gw.matching["category_top1"] != pytest.approx(res.gw.matching["category_top1"])
    assert res.gw.matching["category_top1"] == pytest.approx(by_pair.gw.matching["category_top1"])
    assert res.gw.matching["category_top1"] >= res.gw.matching["item_top1"] and res.gw.matching["item_top1"] < 1
    p = rng.dirichlet(np.ones(7), 24)
    top = compare_structure(cats(ids, p), cats(ids, p, name="h"), categories="top", **kw)
    assert "category_top1" in top.gw.matching
    with pytest.raises(CompareError, match="no column 'genre'"):
        compare_structure(rater, human, categories="genre", **kw)
    with pytest.raises(CompareError, match="needs category columns"):
        compare_structure(rater, human, categories="top", **kw)


def test_structure_compares_the_columns_both_tables_share() -> None:
    """Bug: a rater with emotion probabilities and valence/arousal, compared with valence/arousal
    norms, was compared on its emotions' RDM (its own category columns) against the humans' scales."""
    rng = np.random.default_rng(3)
    ids = [f"i{k}" for k in range(30)]
    v, a = rng.uniform(1, 9, 30), rng.uniform(1, 9, 30)
    probs = rng.dirichlet(np.ones(7), 30)
    rater_frame = cats(ids, probs).data.assign(valence=v, arousal=a)
    specs = [*cats(ids, probs).columns.values(), *scales(ids, v, a).columns.values()]
    rater = Ratings(rater_frame, specs, RaterInfo(name="model"))
    res = compare_structure(rater, scales(ids, v, a, name="h"), n_perm=0, gw=False)
    assert res.settings["columns_a"] == ["valence", "arousal"] == res.settings["columns_b"]
    assert res.rsa["statistic"] == pytest.approx(1.0) and "patterns over valence, arousal" in res.summary()
    # nothing shared (two different descriptions of the items): each table's own columns
    other = compare_structure(cats(ids, probs), scales(ids, v, a, name="h"), n_perm=0, gw=False)
    assert other.settings["columns_a"] == list(EMOTION6.columns) and other.settings["columns_b"] == ["valence", "arousal"]
    assert "(r) and valence, arousal (h)" in other.summary()


# ---- issue #33: tiny n, degenerate resamples, rsatoolbox's euclidean -------------------------------------
def test_tiny_n_gives_clipped_cis_counted_degenerate_resamples_and_a_note() -> None:
    from affectscope.compare import compare_items

    a = scale_ratings(["a", "b", "c"], [2.0, 5.0, 8.0], name="rater")
    h = scale_ratings(["a", "b", "c"], [3.0, 4.0, 9.0], name="humans")
    res = compare_items(a, h, columns=["valence"], n_boot=2000)
    row = res.table.loc["valence"]
    for m in ("pearson", "spearman", "ccc"):
        assert -1.0 <= row[f"{m}_lo"] <= row[f"{m}_hi"] <= 1.0, m
    # with 3 items, 3 of 27 equally likely resamples draw one item thrice (constant): about 11 %
    assert 0.08 < row["n_degenerate"] / 2000 < 0.14
    assert any("only 3 items" in n for n in res.notes) and any("left out of every CI alike" in n for n in res.notes)


def test_degenerate_resamples_are_left_out_of_every_statistic_alike() -> None:
    from affectscope.compare.items import _rowwise_ccc, bootstrap_cis

    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.0, 3.2])  # every non-constant resample agrees: CCC > 0
    cis = bootstrap_cis(x, y, n_boot=500, ci=0.95, rng=np.random.default_rng(0))
    idx = np.random.default_rng(0).integers(0, 3, size=(500, 3))  # the same resamples
    bx, by = x[idx], y[idx]
    ok = (bx.std(axis=1) > 0) & (by.std(axis=1) > 0)
    assert cis["n_degenerate"] == int((~ok).sum()) > 0
    ccc = _rowwise_ccc(bx[ok], by[ok])
    assert cis["ccc"] == (float(np.quantile(ccc, 0.025)), float(np.quantile(ccc, 0.975)))
    with np.errstate(invalid="ignore", divide="ignore"):
        kept_as_zero = np.nan_to_num(_rowwise_ccc(bx, by))  # the old way: a constant resample's CCC is 0
    assert np.quantile(kept_as_zero, 0.025) == 0 < cis["ccc"][0]  # ~11 % zeros pulled the old bound to 0


def test_rsatoolbox_euclidean_is_the_squared_distance_per_channel() -> None:
    from affectscope.compare.rsa import rdm

    x = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 5.0], [0.0, 1.0, 1.0]])
    d = rdm(x, metric="rsatoolbox_euclidean").vector
    want = [((x[i] - x[j]) ** 2).sum() / 3 for i in range(3) for j in range(i + 1, 3)]
    assert np.allclose(d, want, atol=1e-15)
    assert np.allclose(rdm(x, metric="euclidean").vector, np.sqrt(np.array(want) * 3))


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    from affectscope.compare import compare_items

    rng = np.random.default_rng(0)
    # 12 clusters of 8 near-copies: 96 items but only 12 independent ones
    base = rng.normal(5, 1.5, 12)
    hv = np.clip(np.repeat(base, 8) + rng.normal(0, 0.05, 96), 1, 9)
    rv = np.clip(np.repeat(base + rng.normal(0, 1.0, 12), 8) + rng.normal(0, 0.05, 96), 1, 9)
    ids = [f"i{k}" for k in range(96)]
    themes = [f"t{k // 8}" for k in range(96)]
    plain_h = scale_ratings(ids, hv, name="humans")
    h = Ratings(plain_h.data.assign(theme=themes), [*plain_h.columns.values(), ColumnSpec(name="theme", kind="text")], plain_h.rater)
    r = scale_ratings(ids, rv, name="rater")
    clustered = compare_items(r, h, columns=["valence"], n_boot=1000)
    plain = compare_items(r, h, columns=["valence"], n_boot=1000, groups=None)
    width = lambda res: res.table.loc["valence", "pearson_hi"] - res.table.loc["valence", "pearson_lo"]  # noqa: E731
    assert width(clustered) > 1.8 * width(plain)  # 12 clusters, not 96 items
    assert clustered.table.loc["valence", "n_clusters"] == 12 and plain.table.loc["valence", "n_clusters"] == 96
    assert any("12 theme values" in n for n in clustered.notes) and not any("cluster" in n for n in plain.notes)
    same = compare_items(r, h, columns=["valence"], n_boot=1000, groups={i: t for i, t in zip(ids, themes)})
    assert same.table.loc["valence", "pearson_lo"] == clustered.table.loc["valence", "pearson_lo"]
    with pytest.raises(CompareError, match="no column 'block'"):
        compare_items(r, h, columns=["valence"], groups="block")


def test_null_summary_p_value_has_the_plus_one_correction() -> None:
    from affectscope.compare.gw import null_summary

    null = [0.1, 0.2, 0.3, 0.4]
    assert null_summary(0.35, null)["p"] == pytest.approx((1 + 1) / 5)  # one shuffle at least as high
    assert null_summary(0.9, null)["p"] == pytest.approx(1 / 5)  # never 0
    assert null_summary(0.0, null)["p"] == pytest.approx(1.0)
    assert null_summary(0.9, [0.1] * 20)["p"] < 0.05 <= null_summary(0.9, [0.1] * 19)["p"]


def test_tied_top_categories_are_kept_and_match_when_the_sets_intersect() -> None:
    from affectscope.compare.gw import matching_rates
    from affectscope.compare.structure import top_category

    cols = list(EMOTION6.columns)
    shares = np.zeros((3, len(cols)))
    shares[0, [0, 1]] = 0.5  # a tie between the first two categories
    shares[1, 1] = 1.0
    shares[2, 2] = 1.0
    r = Ratings(pd.DataFrame(shares, columns=cols, index=pd.Index(["x", "y", "z"], name="item_id")),
                [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy="emotion6") for c in cols], RaterInfo(name="h"))
    tops = top_category(r, "emotion6")
    assert tops[0] == f"{cols[0]}|{cols[1]}" and tops[1] == cols[1] and tops[2] == cols[2]
    # x's top match is y: their top sets share cols[1]; under the old first-in-order rule x was cols[0] and missed
    plan = np.array([[0.0, 0.3, 0.03], [0.3, 0.0, 0.03], [0.0, 0.03, 0.3]])
    assert matching_rates(plan, tops)["category_top1"] == pytest.approx(1.0)
    assert matching_rates(plan, np.array([cols[0], cols[1], cols[2]]))["category_top1"] == pytest.approx(1 / 3)


def _two_views(seed: int, n: int = 40) -> tuple[RDM, RDM]:
    """Clustered points and a noisy nonlinear view of them: a GW problem with several basins."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 6))[rng.integers(0, 5, n)] + 0.7 * rng.normal(size=(n, 6))
    y = np.tanh(x @ rng.normal(size=(6, 3))) + 0.3 * rng.normal(size=(n, 3))
    return rdm(x, metric="euclidean"), rdm(y, metric="euclidean")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [14, 28])
def test_default_search_is_never_worse_than_a_cold_solve_at_any_epsilon_it_visited(seed: int) -> None:
    """#33.5: the old search kept the smallest surviving epsilon's plan (or the warm-started path's)
    although a cold solve at another epsilon it visited scored lower (here 0.0901 vs 0.0868 and
    0.0726 vs 0.0451): near the boundary the objective is not monotone in epsilon."""
    from affectscope.compare.gw import _normalised, solve_entropic

    a, b = _two_views(seed)
    res = gw_align(a, b, procrustes=False)
    c1, c2 = _normalised(a), _normalised(b)
    visited = sorted({t["epsilon"] for t in res.trials if not t["failed"]})
    assert len(visited) >= 3
    for eps in visited:
        plan = solve_entropic(c1, c2, eps, max_iter=1000)  # POT's own defaults, from scratch
        if plan is not None:
            assert res.value <= gw_objective(c1, c2, plan) * (1 + 1e-6), eps


def test_cluster_permutation_moves_whole_clusters_of_equal_size() -> None:
    from affectscope.compare.pairing import cluster_members
    from affectscope.compare.rsa import cluster_permutation, exchangeable_share

    groups = ["a", "a", "b", "b", "c", "c", "d", "e", "e", "e"]
    clusters = cluster_members(groups)
    assert [list(c) for c in clusters] == [[0, 1], [2, 3], [4, 5], [6], [7, 8, 9]]
    assert exchangeable_share(clusters) == pytest.approx(0.6)
    seen = set()
    for k in range(30):
        perm = cluster_permutation(clusters, len(groups), np.random.default_rng(k))
        assert sorted(perm) == list(range(10))
        assert list(perm[6:]) == [6, 7, 8, 9]  # a singleton and a triple have no partner of their size
        pairs = {tuple(perm[0:2]), tuple(perm[2:4]), tuple(perm[4:6])}
        assert pairs == {(0, 1), (2, 3), (4, 5)}  # whole pairs move, in order
        seen.add(tuple(perm[:6]))
    assert len(seen) == 6  # every arrangement of the three pairs turns up


def test_rsa_permutation_over_clusters_holds_its_false_positive_rate() -> None:
    """Two structures that share only the grouping of items (independent cluster centres): relabelling
    single items breaks the shared clusters and 'finds' agreement most of the time; relabelling whole
    clusters keeps the rate near the nominal 5 %."""
    from affectscope.compare.rsa import permutation_test

    groups = np.repeat(np.arange(12), 4)
    item_p, cluster_p = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(12, 3))[groups] + 0.3 * rng.normal(size=(48, 3))
        y = rng.normal(size=(12, 3))[groups] + 0.3 * rng.normal(size=(48, 3))
        a, b = rdm(x, metric="euclidean"), rdm(y, metric="euclidean")
        item_p.append(permutation_test(a, b, "spearman", n_perm=99, rng=np.random.default_rng(1))[0])
        cluster_p.append(permutation_test(a, b, "spearman", n_perm=99, rng=np.random.default_rng(1), groups=groups)[0])
    assert np.mean(np.array(item_p) < 0.05) > 0.4
    assert np.mean(np.array(cluster_p) < 0.05) <= 0.15


def test_structure_comparison_resamples_the_human_tables_themes_by_default() -> None:
    rng = np.random.default_rng(0)
    theme = np.repeat([f"t{k}" for k in range(20)], 5)
    centres = rng.normal(size=(20, 2))[np.repeat(np.arange(20), 5)]
    ids = [f"i{k}.jpg" for k in range(100)]

    def table(name: str, noise: float) -> Ratings:
        v = centres + noise * rng.normal(size=centres.shape)
        r = scale_ratings(ids, 5 + v[:, 0], 5 + v[:, 1], name=name)
        if name == "humans":
            r = Ratings(r.data.assign(theme=theme), [*r.columns.values(), ColumnSpec(name="theme", kind="text")], r.rater)
        return r

    rater, humans = table("rater", 0.5), table("humans", 0.3)
    by_item = compare_structure(rater, humans, gw=False, n_perm=100, n_boot=300, groups=None)
    by_theme = compare_structure(rater, humans, gw=False, n_perm=100, n_boot=300)
    assert by_item.rsa["statistic"] == by_theme.rsa["statistic"]
    assert by_theme.rsa["n_clusters"] == 20 and by_item.rsa["n_clusters"] == 100
    width = lambda r: r.rsa["ci"][1] - r.rsa["ci"][0]  # noqa: E731
    assert width(by_theme) > 1.2 * width(by_item)
    assert "20 theme values of the human table" in by_theme.summary()
    with pytest.raises(CompareError, match="no column 'session'"):
        compare_structure(rater, humans, gw=False, n_perm=10, groups="session")
    with pytest.raises(CompareError, match="3 entries for 100 items"):
        compare_structure(rdm(centres, metric="euclidean"), rdm(centres, metric="euclidean"), gw=False, n_perm=10, groups=[1, 2, 3])


def test_gw_null_repetitions_run_in_threads_with_the_same_result() -> None:
    """#33.4: the shuffles run in parallel, and the null does not depend on how many threads ran it."""
    a, b = _two_views(3, n=30)
    kw = dict(n_null=4, search="boundary", procrustes=True, max_iter=300)
    one = gw_align(a, b, n_jobs=1, **kw)
    two = gw_align(a, b, n_jobs=2, **kw)
    assert (one.null_workers, two.null_workers) == (1, 2)
    assert one.null == two.null and one.null_epsilons == two.null_epsilons
    assert gw_align(a, b, n_jobs=None, **kw).null_workers >= 1
    with pytest.raises(CompareError, match="n_jobs must be a whole number >= 1"):
        gw_align(a, b, n_jobs=0, **kw)


def test_frames_of_one_clip_are_resampled_together_by_default() -> None:
    """#33.1, videos: frame items '<video>#<frame>' (as `train --frames` names them) form clusters."""
    rng = np.random.default_rng(2)
    videos = np.repeat(np.arange(15), 6)
    ids = [f"clip{v}.mp4#{k % 6}" for k, v in enumerate(videos)]
    base = rng.normal(size=15)[videos]
    rater = scale_ratings(ids, 5 + base + 0.3 * rng.normal(size=90), name="rater")
    humans = scale_ratings(ids, 5 + base + 0.3 * rng.normal(size=90), name="humans")
    by_clip = compare_items(rater, humans, n_boot=500)
    by_frame = compare_items(rater, humans, n_boot=500, groups=None)
    assert by_clip.table.loc["valence", "n_clusters"] == 15 and by_frame.table.loc["valence", "n_clusters"] == 90
    assert any("15 videos" in n for n in by_clip.notes)
    width = lambda c: c.table.loc["valence", "pearson_hi"] - c.table.loc["valence", "pearson_lo"]  # noqa: E731
    assert width(by_clip) > 1.2 * width(by_frame)


# ---- #28: CIs through scipy.stats.bootstrap (BCa by default) ------------------------------------
def test_percentile_cis_are_the_quantiles_of_the_same_resamples_and_bca_is_scipys() -> None:
    from scipy import stats as st

    from affectscope.compare.items import rowwise_pearson, bootstrap_cis

    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 0.7 * x + rng.normal(size=40)
    pct = bootstrap_cis(x, y, n_boot=800, ci=0.9, rng=np.random.default_rng(0), method="percentile")
    idx = np.random.default_rng(0).integers(0, 40, size=(800, 40))  # the resamples scipy draws
    r = rowwise_pearson(x[idx], y[idx])
    assert pct["method"] == "percentile" and pct["pearson"] == pytest.approx((np.quantile(r, 0.05), np.quantile(r, 0.95)))
    bca = bootstrap_cis(x, y, n_boot=800, ci=0.9, rng=np.random.default_rng(0))
    ref = st.bootstrap((x, y), lambda a, b, axis=-1: rowwise_pearson(np.atleast_2d(a), np.atleast_2d(b)).reshape(np.shape(a)[:-1]),
                       paired=True, vectorized=True, n_resamples=800, confidence_level=0.9, method="BCa",
                       random_state=np.random.default_rng(0))
    assert bca["method"] == "bca" and bca["pearson"] == pytest.approx(tuple(ref.confidence_interval))
    assert bca["pearson"] != pct["pearson"]


def test_bca_misses_the_true_correlation_evenly_where_the_percentile_ci_leans() -> None:
    """Correlations near 1 have skewed sampling distributions; the percentile CI of r then lies too
    often wholly above the truth. Known answer by simulation (rho 0.8, n 15, 90 % CIs, 500 samples,
    fixed seeds): each tail should be missed ~25 times. Percentile: 61 above, 28 below; BCa: 44, 34."""
    from affectscope.compare.items import bootstrap_cis

    rho, n = 0.8, 15
    rng = np.random.default_rng(1)
    miss = {"bca": [0, 0], "percentile": [0, 0]}
    for k in range(500):
        x = rng.normal(size=n)
        y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
        for m in miss:
            lo, hi = bootstrap_cis(x, y, n_boot=499, ci=0.90, rng=np.random.default_rng(k), method=m)["pearson"]
            miss[m][0] += rho < lo
            miss[m][1] += rho > hi
    lean = {m: abs(a - b) for m, (a, b) in miss.items()}
    assert lean["bca"] * 2 < lean["percentile"] and sum(miss["bca"]) < sum(miss["percentile"])
    with pytest.raises(ValueError, match="ci_method must be one of"):
        bootstrap_cis(np.arange(5.0), np.arange(5.0), n_boot=10, ci=0.9, rng=np.random.default_rng(0), method="bc")
