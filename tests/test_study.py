"""Studies: several raters against the same humans in one run (the offline example of issue #32:
generated pictures, the image, face and colour raters, an LLM on the scripted loopback server and an
imported table, against a synthetic human table made here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import gradient, solid

from affectscope.cli import main
from affectscope.compare.paired import paired_difference, williams_t
from affectscope.llm.loopback import LoopbackServer
from affectscope.study import Study, StudyError, load_study, parse_study


def _pictures(folder: Path, n: int = 8) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        if i % 2:
            out.append(gradient(folder / f"p{i}.png", size=(96, 72), seed=i))
        else:
            out.append(solid(folder / f"p{i}.png", (40 + 25 * i, 200 - 20 * i, 60 + 10 * i), size=(96, 72)))
    return out


def _humans(folder: Path, ids: list[str]) -> Path:
    """A synthetic human table (made up for the test, declared as such): means, SDs and rater counts."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"item_id": ids, "valence": rng.uniform(2, 8, len(ids)), "arousal": rng.uniform(2, 8, len(ids)),
                          "valence_sd": rng.uniform(1, 2, len(ids)), "valence_n": 30, "theme": [f"t{i // 2}" for i in range(len(ids))]})
    path = folder / "humans.csv"
    frame.to_csv(path, index=False)
    return path


def _study_text(srv: LoopbackServer, cache: Path) -> str:
    return f"""
title: offline example
stimuli:
  paths: [pictures]
humans:
  table: humans.csv
  scales: {{valence: "valence:sam9", arousal: "arousal:sam9"}}
raters:
  - name: color
    rater: color
  - name: image
    rater: image
    params: {{concepts: 0, explain: false}}
  - name: face
    rater: face
  - name: llm
    rater: llm
    params: {{base_url: "{srv.url}", model: loopback, participants: 2, cache: "{cache}", max_retries: 0}}
  - name: published
    ratings: published.csv
    scales: {{valence: "valence:sam9"}}
compare:
  levels: [items]
  n_boot: 200
"""


@pytest.fixture
def example(tmp_path: Path):  # noqa: ANN201
    pics = _pictures(tmp_path / "pictures")
    ids = [p.name for p in pics]
    _humans(tmp_path, ids)
    pd.DataFrame({"item_id": ids, "valence": np.linspace(3, 7, len(ids))}).to_csv(tmp_path / "published.csv", index=False)
    with LoopbackServer() as srv:
        (tmp_path / "study.yaml").write_text(_study_text(srv, tmp_path / "llm_cache.sqlite"))
        yield tmp_path, srv


def test_a_study_runs_every_rater_compares_each_and_reruns_without_recomputing(example) -> None:  # noqa: ANN001
    folder, srv = example
    out = folder / "out"
    first = Study.from_yaml(folder / "study.yaml").run(out, progress=False)
    res = first.results
    assert set(res["rater"]) >= {"color", "image", "face", "llm", "published"}
    # the papers' table: raters x scales, r [CI] and the share of the noise ceiling (the humans carry SD and N)
    table = first.table()
    assert list(table.columns) == ["valence", "arousal"] and set(table.index) >= {"color", "image", "llm", "published"}
    assert "% of" in table.loc["color", "valence"]
    # paired tests between every two raters on a scale both rated
    assert {"color", "image"} <= set(first.paired["rater_a"]) | set(first.paired["rater_b"])
    assert (res["level"] == "paired").any()
    # homogeneity: the LLM's participants against the humans' SDs
    homog = res[(res["level"] == "homogeneity") & (res["rater"] == "llm")]
    assert set(homog["statistic"]) == {"rater_sd_share", "human_sd_share", "sd_ratio", "n"}
    # reliability of the LLM's participants (split halves, Spearman-Brown), next to the humans' ceiling
    rel = res[(res["level"] == "reliability") & (res["rater"] == "llm")]
    assert set(rel["scale"]) == {"valence", "arousal"} and set(rel["statistic"]) == {"split_half", "n"}
    # cost: requests and tokens per rater
    cost = res[(res["level"] == "run") & (res["rater"] == "llm")].set_index("statistic")["value"]
    assert cost["requests_now"] > 0 and cost["tokens"] >= 0
    requests = srv.n_chat_requests
    # files: tidy results in CSV and Parquet, a lock file, the report
    assert pd.read_parquet(out / "results.parquet").shape == pd.read_csv(out / "results.csv").shape
    lock = json.loads((out / "study.lock.json").read_text())
    assert lock["study_file"].strip().startswith("title: offline example") and lock["versions"]["affectscope"]
    assert lock["raters"]["image"]["sha256"]["image_valence_sam9.npz"] and lock["raters"]["llm"]["sha256"]["protocol"]
    assert lock["raters"]["image"]["sha256"]["efficientnet-lite2"] and lock["raters"]["face"]["sha256"]["ferplus weights"]
    assert lock["raters"]["color"]["fingerprint"] and lock["raters"]["published"]["imported"] == "published.csv"
    assert "127.0.0.1" in lock["raters"]["llm"]["params"]["base_url"]
    page = (out / "report.html").read_text()
    assert "Agreement with the humans" in page and "Paired tests" in page and "Homogeneity" in page and "Reliability" in page
    # the rerun: nothing recomputed, no request sent, the same report
    second = Study.from_yaml(folder / "study.yaml").run(out, progress=False)
    runs = second.results[second.results["level"] == "run"].pivot_table(index="rater", columns="statistic", values="value")
    assert (runs.loc[["color", "image", "face", "llm"], "n_rated_now"] == 0).all()
    assert srv.n_chat_requests == requests
    assert (out / "report.html").read_text() == page
    pd.testing.assert_frame_equal(second.results[second.results["level"] != "run"].reset_index(drop=True),
                                  res[res["level"] != "run"].reset_index(drop=True))


def test_study_file_errors_name_the_line(tmp_path: Path) -> None:
    text = "title: x\nstimuli:\n  paths: [a]\nhumans:\n  table: norms:oasis\nraters:\n  - name: one\n    rater: color\n    parms: {}\n"
    with pytest.raises(StudyError, match=r"line 9 \(raters\.0\.parms\): not a study setting"):
        parse_study(text)
    with pytest.raises(StudyError, match=r"line 2 \(stimuli\): give exactly one of"):
        parse_study("stimuli:\n  paths: [a]\n  from_humans: true\nhumans: {table: x}\nraters: [{name: a, rater: color}]\n")
    with pytest.raises(StudyError, match="two raters are named 'a'"):
        parse_study("stimuli: {paths: [a]}\nhumans: {table: x}\nraters: [{name: a, rater: color}, {name: a, rater: face}]\n")
    with pytest.raises(StudyError, match="give rater: NAME .* or ratings: FILE"):
        parse_study("stimuli: {paths: [a]}\nhumans: {table: x}\nraters: [{name: a}]\n")
    with pytest.raises(StudyError, match="line 2: not valid YAML"):
        parse_study("title: x\n  - broken: [\n")


def test_study_init_writes_an_example_that_validates_and_bad_studies_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "study.yaml"
    assert main(["study", "init", str(path)]) == 0
    spec = load_study(path)
    assert spec.humans.table == "norms:oasis" and [r.name for r in spec.raters] == ["image", "color", "face"]
    assert spec.raters[0].params == {"training_items": "cv"}  # the example rates OASIS: cross-validated image ratings
    assert main(["study", "init", str(path)]) == 2 and "exists" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("stimuli: {paths: [a]}\nhumans: {table: x}\nraters:\n  - {name: a, rater: color}\n  - {name: b, rater: nope}\n")
    capsys.readouterr()
    assert main(["study", "run", str(bad), "-o", str(tmp_path / "o"), "-q"]) == 2
    assert "rater 'b': unknown rater 'nope'" in capsys.readouterr().err  # before reading anything or rating with 'a'
    assert not (tmp_path / "o").exists()


def test_a_study_cli_run_prints_the_papers_table(example, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    folder, _ = example
    text = (folder / "study.yaml").read_text()
    small = text.split("  - name: image")[0] + "  - name: published\n    ratings: published.csv\n    scales: {valence: \"valence:sam9\"}\n" \
        + "compare:\n  levels: [items]\n  n_boot: 100\n"
    (folder / "small.yaml").write_text(small)
    assert main(["study", "run", str(folder / "small.yaml"), "-o", str(folder / "o"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "valence" in out and "color" in out and "published" in out and "paired tests" in out
    assert "report:" in out and (folder / "o" / "report.html").exists()


# ---- paired tests: known answers --------------------------------------------------------------------
def test_williams_t_is_zero_for_equal_correlations_and_signed() -> None:
    assert williams_t(0.6, 0.6, 0.5, 100)[0] == pytest.approx(0.0)
    t, p = williams_t(0.7, 0.4, 0.5, 100)
    assert t > 0 and 0 < p < 0.01
    assert williams_t(0.4, 0.7, 0.5, 100)[0] == pytest.approx(-t)


def test_paired_tests_hold_their_level_under_the_null_and_find_a_real_difference() -> None:
    rng = np.random.default_rng(3)
    rejections_w = rejections_b = 0
    sims = 150
    for _ in range(sims):
        h = rng.normal(size=60)
        a = h + rng.normal(size=60)  # two raters equally close to the humans
        b = h + rng.normal(size=60)
        d = paired_difference(a, b, h, n_boot=300, rng=rng)
        rejections_w += d.williams_p < 0.05
        rejections_b += d.p_bootstrap < 0.05
    assert 0.01 <= rejections_w / sims <= 0.10 and 0.01 <= rejections_b / sims <= 0.12
    h = rng.normal(size=200)
    d = paired_difference(h + 0.5 * rng.normal(size=200), h + 2 * rng.normal(size=200), h, n_boot=500, rng=rng)
    assert d.delta > 0 and d.delta_lo > 0 and d.p_bootstrap < 0.01 and d.williams_p < 0.001
    # clusters: the bootstrap resamples whole clusters (here 20 of 10 items each)
    dc = paired_difference(h + 0.5 * rng.normal(size=200), h + 2 * rng.normal(size=200), h, n_boot=200, rng=rng,
                           groups=[i // 10 for i in range(200)])
    assert dc.n_clusters == 20


def test_split_half_reliability_known_answers() -> None:
    from affectscope.study.run import split_half

    rng = np.random.default_rng(1)
    truth = rng.normal(size=200)
    rows = [{"item_id": f"i{i}", "participant": p, "status": "answer", "v": truth[i] + rng.normal(scale=1.0)}
            for i in range(200) for p in range(4)]
    rel, n = split_half(pd.DataFrame(rows), "v")
    # 4 participants with noise variance 1 around a unit-variance truth: reliability 4 / (4 + 1) = 0.8
    assert n == 200 and rel == pytest.approx(0.8, abs=0.06)
    rows = [{"item_id": f"i{i}", "participant": p, "status": "answer", "v": rng.normal()} for i in range(200) for p in range(4)]
    assert abs(split_half(pd.DataFrame(rows), "v")[0]) < 0.2  # participants who share nothing
    one = pd.DataFrame([{"item_id": "a", "participant": 0, "status": "answer", "v": 1.0}])
    assert split_half(one, "v") == (pytest.approx(float("nan"), nan_ok=True), 0)


@pytest.mark.slow  # GW with a shuffled null: ~15 s
def test_structure_level_gives_the_rater_by_rater_rdm_matrix(tmp_path: Path) -> None:
    pics = _pictures(tmp_path / "pictures")
    ids = [p.name for p in pics]
    _humans(tmp_path, ids)
    pd.DataFrame({"item_id": ids, "valence": np.linspace(3, 7, len(ids)), "arousal": np.linspace(7, 3, len(ids))}).to_csv(
        tmp_path / "pub.csv", index=False)
    study = Study.from_text(
        "stimuli: {paths: [pictures]}\nhumans: {table: humans.csv, scales: {valence: 'valence:sam9', arousal: 'arousal:sam9'}}\n"
        "raters:\n  - {name: color, rater: color}\n  - {name: pub, ratings: pub.csv, scales: {valence: 'valence:sam9', "
        "arousal: 'arousal:sam9'}}\ncompare: {levels: [items, structure], n_boot: 50}\n", base=tmp_path)
    res = study.run(tmp_path / "out", progress=False)
    m = res.comparisons["_structure_matrix"]["matrix"]
    assert list(m.index) == ["color", "pub", "humans"] and np.allclose(np.diag(m), 1) and np.allclose(m, m.T)
    rows = res.results[(res.results["level"] == "structure") & (res.results["statistic"] == "rdm_spearman")]
    assert set(rows["rater"]) == {"color vs pub", "color vs humans", "pub vs humans"}
    assert "Structure: whose" in res.report.read_text()
    # GW matching rates with their shuffled null, per rater, in the same table
    gw = Study.from_text(study.text.replace("levels: [items, structure], n_boot: 50", "levels: [structure], n_boot: 0, n_null: 2"),
                         base=tmp_path).run(tmp_path / "out_gw", progress=False).results
    stats = set(gw[(gw["rater"] == "color") & (gw["level"] == "structure")]["statistic"])
    assert {"gw_item_top1", "gw_item_top1_null_mean", "gw_item_top1_p", "rsa_statistic", "rsa_p_value"} <= stats


def test_nothing_is_left_out_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder entry that is no stimulus, a picture that cannot be read, a normed item nobody rated:
    each is said on stderr, counted in the results and listed in the report; the run exits 3."""
    from conftest import make_bad_files

    pics = _pictures(tmp_path / "pictures", n=6)
    bad = make_bad_files(tmp_path / "bad")["truncated"]
    bad = bad.rename(tmp_path / "pictures" / bad.name)
    (tmp_path / "pictures" / "notes.txt").write_text("not a stimulus")
    _humans(tmp_path, [p.name for p in pics] + [bad.name, "never_rated.png"])
    (tmp_path / "s.yaml").write_text("stimuli: {paths: [pictures]}\nhumans: {table: humans.csv, scales: {valence: 'valence:sam9'}}\n"
                                     "raters: [{name: color, rater: color}]\ncompare: {levels: [items], n_boot: 50}\n")
    assert main(["study", "run", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err
    assert "study: skipped 1 entr" in err and "notes.txt" in err
    assert f"color: 1 item(s) failed (see {tmp_path / 'out' / 'raters' / 'color.csv'}, column 'error')" in err
    assert "color (items): 1 item(s) not compared: rater_failed" in err and "1 item(s) not compared: only_humans" in err
    res = pd.read_csv(tmp_path / "out" / "results.csv").set_index(["rater", "statistic"])["value"]
    assert res[("stimuli", "n_skipped_entries")] == 1 and res[("color", "dropped_rater_failed")] == 1
    assert res[("color", "dropped_only_humans")] == 1 and res[("color", "n_failed")] == 1
    assert "Left out" in (tmp_path / "out" / "report.html").read_text()
