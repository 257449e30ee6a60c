"""Display objects and the comparison page: the plots show the compared numbers, compose into a
user's axes, and the page is self-contained."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import category_ratings as cats  # noqa: E402
from conftest import scale_ratings as scales  # noqa: E402
from conftest import two_colour_tables  # noqa: E402

from affectscope.cli import main  # noqa: E402
from affectscope.compare import compare_categories, compare_items, compare_structure  # noqa: E402
from affectscope.report import ConfusionDisplay, PlanDisplay, RDMDisplay, ScatterDisplay, write_compare_report  # noqa: E402


@pytest.fixture(scope="module")
def results() -> dict:
    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(24)]
    hv = rng.uniform(1, 9, 24)
    human = scales(ids, hv, rng.uniform(1, 9, 24), name="humans")
    rater = scales(ids, np.clip(hv + rng.normal(0, 1, 24), 1, 9), rng.uniform(1, 9, 24), name="model")
    p_h = rng.dirichlet(np.ones(7), 24)
    p_r = 0.7 * p_h + 0.3 * rng.dirichlet(np.ones(7), 24)
    return {
        "items": compare_items(rater, human, n_boot=50),
        "categories": compare_categories(cats(ids, p_r, name="model"), cats(ids, p_h, name="humans")),
        "structure": compare_structure(cats(ids, p_r, name="model"), cats(ids, p_h, name="humans"), n_perm=20, n_boot=0,
                                       n_null=2),
    }


def test_scatter_shows_the_compared_values(results: dict) -> None:
    res = results["items"]
    d = ScatterDisplay.from_comparison(res, "valence").plot()
    offsets = d.ax_.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], res.values["valence"]["human"])
    np.testing.assert_allclose(offsets[:, 1], res.values["valence"]["rater"])
    assert f"r = {res.table.loc['valence', 'pearson']:.3f}" in d.ax_.get_title()
    _, ax = plt.subplots()
    assert ScatterDisplay.from_comparison(res, "arousal").plot(ax=ax).ax_ is ax  # composes into the user's axes
    with pytest.raises(KeyError, match="compared scales"):
        ScatterDisplay.from_comparison(res, "dominance")
    plt.close("all")


def test_confusion_rows_are_normalised(results: dict) -> None:
    d = ConfusionDisplay.from_comparison(results["categories"]).plot()
    shown = d.ax_.images[0].get_array()
    used = results["categories"].confusion.to_numpy().sum(axis=1) > 0
    np.testing.assert_allclose(np.asarray(shown)[used].sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="normalize"):
        ConfusionDisplay.from_comparison(results["categories"], normalize="all")
    plt.close("all")


def test_rdm_and_plan_displays(results: dict) -> None:
    r = results["structure"]
    d = RDMDisplay.from_comparison(r).plot()
    shown = np.asarray(d.axes_[0].images[0].get_array())
    # percentiles of the dissimilarities: the same order of pairs, one 0-100 colour scale for both RDMs
    iu = np.triu_indices(24, 1)
    assert np.corrcoef(np.argsort(np.argsort(shown[iu])), np.argsort(np.argsort(r.rdm_a.matrix()[iu])))[0, 1] > 0.999
    assert all(ax.images[0].get_clim() == (0, 100) for ax in d.axes_)
    p = PlanDisplay.from_comparison(r).plot()
    assert np.asarray(p.ax_.images[0].get_array()).shape == (24, 24)
    assert any(line.get_label() == "own counterpart" for line in p.ax_.lines)  # the diagonal reference
    plt.close("all")


def test_structure_plots_group_items_by_category(results: dict) -> None:
    """#31.5: RDMs and the GW plan ordered by category with labelled blocks."""
    r = results["structure"]
    cats = np.array(["b", "a", "b", "c"] * 6)
    grouped = compare_structure(r.rdm_a, r.rdm_b, categories=cats, n_perm=0, n_null=0)
    d = RDMDisplay.from_comparison(grouped).plot()
    labels = [t.get_text() for t in d.axes_[0].get_xticklabels()]
    assert labels == ["b", "a", "c"]  # the biggest category first, one label per block
    p = PlanDisplay.from_comparison(grouped).plot()
    order = np.argsort([{"b": 0, "a": 1, "c": 2}[c] for c in cats], kind="stable")
    np.testing.assert_allclose(np.asarray(p.ax_.images[0].get_array()), grouped.gw.plan[np.ix_(order, order)] * 24)
    plt.close("all")


def test_scatter_has_a_regression_line_and_the_ceiling_and_confusion_rows_their_counts(results: dict) -> None:
    """#31.6: what people expect on these plots."""
    d = ScatterDisplay.from_comparison(results["items"], "valence").plot()
    assert any("least squares" in line.get_label() for line in d.ax_.lines)
    c = ConfusionDisplay.from_comparison(results["categories"]).plot()
    rows = results["categories"].confusion.to_numpy().sum(axis=1)
    assert [t.get_text() for t in c.ax_.get_yticklabels()][0].endswith(f"(n={int(rows[0])})")
    m = results["categories"].confusion.to_numpy(float)
    shares = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    assert [[t.get_text() for t in row] for row in c.text_] == [[f"{v:.2f}" for v in row] for row in shares]  # every cell written
    plt.close("all")


def test_compare_page_is_self_contained(results: dict, tmp_path: Path) -> None:
    page = write_compare_report(results, tmp_path / "c.html", title="t <&>")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 2 + 1 + 2  # scatter x2, confusion, RDMs, plan
    assert "t &lt;&amp;&gt;" in text and "http://" not in text and "https://" not in text
    assert 'class="warn"' not in text


def test_compare_page_boxes_in_sample_warnings(results: dict, tmp_path: Path) -> None:
    from dataclasses import replace

    warned = replace(results["items"], notes=["warning: 3 of 24 compared items were in <the> training data"])
    text = write_compare_report({"items": warned}, tmp_path / "w.html").read_text()
    assert text.count('<div class="warn">warning: 3 of 24 compared items were in &lt;the&gt; training data') == 1


def test_cli_compare_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_colour_tables(tmp_path)
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--n-boot", "20", "--report", str(tmp_path / "c.html")]) == 0
    assert f"report: {(tmp_path / 'c.html').resolve()}" in capsys.readouterr().out
    assert (tmp_path / "c.html").read_text().count("data:image/png;base64,") == 3  # valence, arousal, dominance


def test_run_summary_table() -> None:
    import io

    import numpy as np
    from conftest import scale_ratings

    from affectscope.report.summary import print_summary, summary_rows

    r = scale_ratings(["a", "b", "c"], [2.0, 4.0, np.nan], arousal=[5.0, 5.0, 6.0])
    rows = {x["column"]: x for x in summary_rows(r)}
    assert rows["valence"]["n"] == 2 and rows["valence"]["mean"] == 3.0 and rows["arousal"]["max"] == 6.0
    buf = io.StringIO()
    print_summary(r, file=buf)
    text = buf.getvalue()
    assert "valence" in text and "1-9" in text and "3 items, 0 failed" in text


def test_category_distribution_shows_mean_probability_and_top_share() -> None:
    """#31.6: the emotion distribution, not only valence and arousal histograms."""
    from affectscope.report import CategoryDistributionDisplay

    p = np.array([[0.7, 0.1, 0.1, 0.05, 0.05, 0.0, 0.0], [0.1, 0.6, 0.1, 0.1, 0.1, 0.0, 0.0],
                  [0.4, 0.4, 0.1, 0.1, 0.0, 0.0, 0.0]])
    d = CategoryDistributionDisplay.from_ratings(cats(["a", "b", "c"], p, name="m")).plot()
    np.testing.assert_allclose(d.mean, p.mean(axis=0))
    np.testing.assert_allclose(d.top_share[:2], [0.5, 0.5])  # the tie of item c is split
    assert d.n == 3 and len(d.ax_.patches) == 2 * 7
    plt.close("all")


def test_the_face_episode_is_shaded_on_the_video_time_series() -> None:
    """#31.6: the strongest episode (as the face rater writes it) is a shaded span with its peak marked."""
    import pandas as pd

    from affectscope.report.plots import TimeSeriesDisplay, episode_span

    episode = "surprise 1.00-1.50 s (peak 0.93 at 1.25 s)"
    assert episode_span(episode) == (1.0, 1.5, 1.25) and episode_span("") is None
    series = pd.DataFrame({"time": np.arange(0, 3, 0.25), "surprise": [0.1] * 4 + [0.8, 0.9, 0.93] + [0.1] * 5})
    d = TimeSeriesDisplay.from_series(series, ["surprise"], title="clip", episode=episode).plot()
    (span,) = [p for p in d.ax_.patches if p.get_label() == "episode"]
    x0, x1 = span.get_x(), span.get_x() + span.get_width()
    assert x0 < 1.0 and 1.5 < x1 and x1 - x0 < 1.0
    assert any(np.allclose(line.get_xdata(), 1.25) for line in d.ax_.lines)
    plain = TimeSeriesDisplay.from_series(series, ["surprise"], title="clip").plot()
    assert not [p for p in plain.ax_.patches if p.get_label() == "episode"]
    plt.close("all")
