"""The Ratings data model: validation, IO round trips, alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import scale_ratings

from affectscope.ratings import ColumnSpec, RaterInfo, Ratings, RatingsError, align, sidecar_path
from affectscope.taxonomy import EMOTION6, OASIS_VALENCE, PROBABILITY, SAM_VALENCE


def make(ids, valence, arousal=None, rater="r", extra=None) -> Ratings:
    return scale_ratings(ids, valence, arousal, name=rater, extra=extra)


def test_validation_errors_are_specific() -> None:
    with pytest.raises(RatingsError, match="duplicate item ids: \\['a'\\]"):
        make(["a", "a"], [1.0, 2.0])
    with pytest.raises(RatingsError, match="outside 'valence 1-9"):
        make(["a", "b"], [1.0, 12.0])
    with pytest.raises(RatingsError, match="without a ColumnSpec: \\['mystery'\\]"):
        make(["a"], [1.0], extra={"mystery": [3]})
    # ColumnSpec is a pydantic model: its checks surface as ValueError (pydantic's ValidationError)
    with pytest.raises(ValueError, match="needs a scale"):
        ColumnSpec(name="valence", kind="scale")
    with pytest.raises(ValueError, match="reserved"):
        ColumnSpec(name="path", kind="text")
    with pytest.raises(ValueError, match="not in emotion6"):
        ColumnSpec(name="contempt", kind="category", scale=PROBABILITY, taxonomy=EMOTION6.name)


def test_errors_and_ok() -> None:
    r = make(["a", "b"], [5.0, np.nan], extra={"error": [None, "broken file"]})
    assert r.errors.to_dict() == {"b": "broken file"}
    assert r.ok().item_ids == ["a"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_keeps_specs_and_provenance(tmp_path: Path, suffix: str) -> None:
    r = make(["x/1.jpg", "2.jpg"], [1.5, 8.25], [2.0, 3.0], extra={"path": ["/p/1.jpg", "/p/2.jpg"], "error": [None, None]})
    r.rater = RaterInfo(name="color", kind="baseline", version="3", params={"max_side": 256})
    out = r.save(tmp_path / f"r{suffix}")
    if suffix == ".csv":
        assert sidecar_path(out).exists()
        assert out.read_text().splitlines()[0] == "item_id,path,valence,arousal,error"
    back = Ratings.load(out)
    assert back.item_ids == r.item_ids
    assert back.columns == r.columns
    assert back.rater == r.rater
    pd.testing.assert_frame_equal(back.data[["valence", "arousal"]], r.data[["valence", "arousal"]])


def test_plain_csv_needs_scales(tmp_path: Path) -> None:
    p = tmp_path / "plain.csv"
    pd.DataFrame({"id": ["a", "b"], "V": [1.0, 7.0], "junk": ["x", "y"]}).to_csv(p, index=False)
    with pytest.raises(RatingsError, match="declare its rating columns.*--scale valence=valence:1-7"):
        Ratings.load(p, id_column="id")
    r = Ratings.load(p, id_column="id", scales={"V": "valence:oasis7"})
    assert list(r.columns) == ["V"] and r.columns["V"].scale == OASIS_VALENCE
    with pytest.raises(RatingsError, match="no id column.*--id-column"):
        Ratings.load(p, scales={"V": "valence:1-7"})
    with pytest.raises(RatingsError, match="use a .csv or .parquet"):
        r.save(tmp_path / "r.xlsx")


def test_plain_file_with_declared_categories(tmp_path: Path) -> None:
    p = tmp_path / "votes.csv"
    shares = pd.DataFrame({"stim": ["a", "b", "c"], "joy": [0.7, 0.1, 0.2], "fear": [0.3, 0.9, 0.8],
                           "valence": [6.0, 2.0, 3.0], "note": ["x", "y", "z"]})
    shares.to_csv(p, index=False)
    with pytest.raises(RatingsError, match=r"'emotion6' needs a column per category; missing \['anger', 'disgust', 'sadness'"):
        Ratings.load(p, id_column="stim", categories="emotion6")
    shares = shares.assign(anger=0.0, disgust=0.0, sadness=0.0, surprise=0.0, neutral=0.0)
    shares.to_csv(p, index=False)
    r = Ratings.load(p, id_column="stim", categories="emotion6", scales={"valence": "valence:sam9"})
    assert r.columns_of("category", taxonomy="emotion6") == ["anger", "disgust", "fear", "joy", "sadness", "surprise",
                                                             "neutral"]  # in the category set's order
    assert r.columns_of("scale") == ["valence"] and "note" not in r.data.columns
    assert r.data.loc["b", "fear"] == pytest.approx(0.9)
    shares.assign(fear=[3, 9, 8]).to_csv(p, index=False)
    with pytest.raises(RatingsError, match=r"\['fear'\] hold values above 1.*divide vote counts"):
        Ratings.load(p, id_column="stim", categories="emotion6")
    pd.DataFrame({"stim": ["a"], "x": [1.0]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(RatingsError, match="no column is named after a category of 'emotion6'.*expected some of"):
        Ratings.load(tmp_path / "other.csv", id_column="stim", categories="emotion6")
    with pytest.raises(KeyError, match="unknown category set 'emotion7'"):
        Ratings.load(p, id_column="stim", categories="emotion7")


def test_convert_is_explicit() -> None:
    r = make(["a"], [5.0])
    r.columns["valence"]  # noqa: B018
    oasis = Ratings(pd.DataFrame({"item_id": ["a"], "valence": [4.0]}), [ColumnSpec(name="valence", scale=OASIS_VALENCE)], RaterInfo(name="h"))
    conv = oasis.convert("valence", "valence:sam9")
    assert conv.values("valence").iloc[0] == 5.0
    assert conv.columns["valence"].scale == SAM_VALENCE
    assert oasis.values("valence").iloc[0] == 4.0  # original untouched


def test_rename_keeps_scales_and_training_marks() -> None:
    spec = [ColumnSpec(name="Valence_mean", scale=OASIS_VALENCE), ColumnSpec(name="training_item", kind="text")]
    lab = Ratings(pd.DataFrame({"item_id": ["a", "b"], "Valence_mean": [4.0, 6.0], "training_item": ["Valence_mean", None]}),
                  spec, RaterInfo(name="lab"))
    r = lab.rename({"Valence_mean": "valence"})
    assert list(r.columns) == ["valence", "training_item"] and r.columns["valence"].scale == OASIS_VALENCE
    assert r.values("valence").tolist() == [4.0, 6.0]
    assert r.data["training_item"].iloc[0] == "valence" and pd.isna(r.data["training_item"].iloc[1])
    assert list(lab.columns)[0] == "Valence_mean"  # original untouched
    assert r.convert("valence", "valence:sam9").values("valence").tolist() == pytest.approx([5.0, 1 + 5 * 8 / 6])
    with pytest.raises(RatingsError, match="cannot rename \\['valance'\\]: no such rating column"):
        lab.rename({"valance": "valence"})
    with pytest.raises(RatingsError, match="reserved"):
        lab.rename({"Valence_mean": "path"})
    with pytest.raises(RatingsError, match="reserved"):
        lab.rename({"training_item": "notes"})
    with pytest.raises(RatingsError, match="two columns the name"):
        make(["a"], [5.0], [3.0]).rename({"arousal": "valence"})
    swapped = make(["a"], [5.0], [3.0]).rename({"arousal": "valence", "valence": "arousal"})
    assert swapped.values("valence").tolist() == [3.0] and swapped.columns["valence"].scale.dimension == "arousal"


def test_align_reports_what_did_not_match() -> None:
    a = make(["1.jpg", "2.jpg", "3.jpg"], [1.0, 2.0, 3.0], rater="model")
    b = make(["3.jpg", "1.jpg", "9.jpg"], [7.0, 5.0, 1.0], rater="humans")
    al = align(a, b)
    assert al.left.item_ids == al.right.item_ids == ["1.jpg", "3.jpg"]
    assert al.right.values("valence").tolist() == [5.0, 7.0]
    assert al.only_left == ["2.jpg"] and al.only_right == ["9.jpg"]
    assert "1 only in left (model" in al.summary() and "1 only in right (humans" in al.summary()
    with pytest.raises(RatingsError, match="strict alignment failed"):
        align(a, b, strict=True)


def test_align_key_modes_and_no_match_hint() -> None:
    a = make(["imgs/cat.jpg", "imgs/dog.jpg"], [1.0, 2.0])
    b = make(["cat", "dog"], [3.0, 4.0])
    with pytest.raises(RatingsError, match="try key='name' or key='stem'"):
        align(a, b)
    al = align(a, b, key="stem")
    assert al.n == 2 and al.left.item_ids == ["imgs/cat.jpg", "imgs/dog.jpg"]
    with pytest.raises(RatingsError, match="collide"):
        align(make(["x/a.jpg", "y/a.jpg"], [1.0, 2.0]), b, key="name")


def test_align_is_order_invariant() -> None:
    ids = [f"{i}.png" for i in range(20)]
    rng = np.random.default_rng(0)
    v = rng.uniform(1, 9, 20)
    a = make(ids, v)
    perm = rng.permutation(20)
    b = make([ids[i] for i in perm], v[perm])
    al = align(a, b)
    np.testing.assert_array_equal(al.left.values("valence").to_numpy(), al.right.values("valence").to_numpy())


def _emotion6_table(with_error: bool = False) -> Ratings:
    probs = np.array([[0.1, 0.05, 0.05, 0.6, 0.1, 0.05, 0.05], [0.0, 0.0, 0.7, 0.0, 0.1, 0.2, 0.0]])
    df = pd.DataFrame(probs, columns=list(EMOTION6.columns))
    df.insert(0, "item_id", ["a", "b"])
    df["valence"] = [7.0, 2.0]
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE)] + [
        ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=EMOTION6.name) for c in EMOTION6.columns]
    if with_error:
        df.loc[2] = ["c"] + [np.nan] * 8
        df["error"] = [None, None, "unreadable image"]
    return Ratings(df, specs, RaterInfo(name="r"))


def test_to_categories_maps_through_the_crosswalk(tmp_path: Path) -> None:
    r = _emotion6_table(with_error=True)
    art = r.to_categories("artemis9")
    assert art.columns_of("category") == ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear",
                                          "sadness", "something_else"]
    assert set(art.columns_of("category", taxonomy="artemis9")) == set(art.columns_of("category"))
    assert art.values("contentment")["a"] == pytest.approx(0.6) and art.values("fear")["b"] == pytest.approx(0.7)
    # surprise and neutral land in 'something else'; nothing is dropped
    assert art.values("something_else")["b"] == pytest.approx(0.2)
    np.testing.assert_allclose(art.data.loc[["a", "b"], art.columns_of("category")].sum(axis=1), 1.0)
    assert art.values("artemis9_unmapped").loc[["a", "b"]].eq(0).all()
    assert "emotion6->artemis9" in art.columns["fear"].description
    # other columns and failed rows are kept as they were
    assert art.values("valence").tolist()[:2] == [7.0, 2.0] and art.errors.to_dict() == {"c": "unreadable image"}
    back = Ratings.load(art.save(tmp_path / "art.csv"))
    assert back.columns["fear"].taxonomy == "artemis9"


def test_to_categories_errors_name_the_fix() -> None:
    r = _emotion6_table()
    with pytest.raises(RatingsError, match="no crosswalk from 'emotion6' to 'ferplus8'"):
        r.to_categories("ferplus8")
    with pytest.raises(RatingsError, match="no 'basic7' category columns; it has \\['emotion6'\\]"):
        r.to_categories("artemis9", source="basic7")
    with pytest.raises(RatingsError, match="name one as source="):
        r.select(["valence"]).to_categories("artemis9")
