"""Norm loaders, run on tiny synthetic files in each set's real format (never on ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from affectscope.norms import (
    NormsError, data_root, load_cowen_keltner, load_emonet_split, load_emotion6, load_ferplus,
    load_ferplus_faces, load_norms, load_oasis, load_table_norms,
)
from affectscope.taxonomy import CK34, OASIS_VALENCE, SAM_VALENCE


def test_oasis(tmp_path: Path) -> None:
    (tmp_path / "oasis").mkdir()
    (tmp_path / "oasis" / "OASIS.csv").write_text(
        ",Theme,Category,Source,Valence_mean,Valence_SD,Valence_N,Arousal_mean,Arousal_SD,Arousal_N\n"
        "I1,Acorns 1,Object,Pixabay,4.5,0.9,102,2.3,1.6,101\n"
        "I2,War 2 ,Person,Pixabay,1.2,0.5,99,6.1,1.1,98\n"
    )
    r = load_oasis(tmp_path)
    assert r.item_ids == ["Acorns 1.jpg", "War 2.jpg"]  # trailing space stripped
    assert r.columns["valence"].scale == OASIS_VALENCE and r.rater.family == "human"
    assert r.data.loc["War 2.jpg", "category"] == "Person"
    assert r.data.loc["War 2.jpg", "path"].endswith("oasis/images/War 2.jpg")
    sam = r.convert("valence", SAM_VALENCE)
    assert sam.values("valence").iloc[0] == pytest.approx(1 + (4.5 - 1) * 8 / 6)


def test_emotion6(tmp_path: Path) -> None:
    (tmp_path / "emotion6_dev").mkdir()
    (tmp_path / "emotion6_dev" / "ground_truth.tsv").write_text(
        "image\tvalence\tarousal\tanger\tdisgust\tfear\tjoy\tsadness\tsurprise\tneutral\n"
        "fear/1.jpg\t2.8\t4.8\t0.1\t0.1\t0.533333\t0.0\t0.133333\t0.0\t0.133333\n"
    )
    r = load_emotion6(tmp_path)
    assert r.item_ids == ["fear/1.jpg"] and r.data.loc["fear/1.jpg", "keyword"] == "fear"
    assert r.columns_of("category", taxonomy="emotion6") == ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]


def _ferplus(tmp_path: Path) -> None:
    (tmp_path / "ferplus").mkdir()
    votes = np.array(
        [
            [6, 4, 0, 0, 0, 0, 0, 0, 0, 0],  # neutral
            [0, 0, 0, 0, 0, 0, 0, 2, 8, 0],  # mostly unknown: dropped
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: dropped
            [0, 0, 0, 0, 1, 0, 0, 3, 0, 1],  # contempt, one not-a-face vote
        ],
        dtype=np.uint8,
    )
    cols = np.array(["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"][:8] + ["unknown", "not_a_face"])
    np.savez(
        tmp_path / "ferplus" / "ferplus_valid.npz",
        images=np.zeros((4, 48, 48), np.uint8), votes=votes,
        names=np.array([f"fer{i}.png" for i in range(4)]), vote_columns=cols,
    )


def test_ferplus(tmp_path: Path) -> None:
    _ferplus(tmp_path)
    r = load_ferplus(tmp_path, "valid")
    assert r.item_ids == ["fer0.png", "fer3.png"]
    assert r.data.loc["fer0.png", "neutral"] == pytest.approx(0.6)
    assert r.data.loc["fer3.png", "contempt"] == pytest.approx(0.75)
    assert r.data.loc["fer3.png", "not_a_face"] == pytest.approx(0.2)
    assert r.data["majority"].tolist() == ["neutral", "contempt"]
    assert len(load_ferplus(tmp_path, "valid", drop_unusable=False)) == 4
    names, faces = load_ferplus_faces(tmp_path, "valid")
    assert faces.shape == (4, 48, 48) and names[0] == "fer0.png"
    with pytest.raises(ValueError, match="test split is not provided"):
        load_ferplus(tmp_path, "test")  # type: ignore[arg-type]


def test_scored_ferplus_faces_agree_with_the_norms_tables(tmp_path: Path) -> None:
    """One read of the file gives the faces, majorities and clear-majority mask of norms:ferplus(_clear)."""
    from affectscope.norms.ferplus import load_scored_faces

    _ferplus(tmp_path)
    path = tmp_path / "ferplus" / "ferplus_valid.npz"
    with np.load(path) as z:
        data = dict(z)
    data["votes"][2] = [4, 0, 0, 4, 2, 0, 0, 0, 0, 0]  # a tie: usable, no clear majority
    data["images"][2] = 7
    np.savez(path, **data)
    faces = load_scored_faces(tmp_path, "valid")
    table = load_ferplus(tmp_path, "valid").data
    assert faces.ids == table.index.tolist() == ["fer0.png", "fer2.png", "fer3.png"]
    assert faces.images.shape == (3, 48, 48) and (faces.images[1] == 7).all()
    assert [load_ferplus(tmp_path).columns_of("category")[k] for k in faces.majority] == table["majority"].tolist()
    clear = load_ferplus(tmp_path, "valid", clear_only=True).item_ids
    assert [i for i, c in zip(faces.ids, faces.clear, strict=True) if c] == clear == ["fer0.png", "fer3.png"]


def test_ferplus_clear_majority_follows_the_fer_plus_authors_protocol() -> None:
    from affectscope.norms.ferplus import clear_majority

    votes = np.array([
        [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],  # single votes dropped: neutral 6 of 8 -> neutral
        [4, 0, 0, 4, 2, 0, 0, 0, 0, 0],  # tie, 4 of 10 -> no clear majority
        [5, 0, 0, 3, 1, 1, 0, 0, 0, 0],  # 5 of 8 once the two single votes are dropped -> neutral
        [5, 0, 0, 5, 0, 0, 0, 0, 0, 0],  # exactly half is not more than half -> none
        [0, 0, 0, 0, 0, 0, 0, 3, 1, 6],  # not-a-face holds the majority -> none
        [0, 0, 0, 0, 0, 0, 0, 7, 3, 0],  # contempt 7 of 10 -> contempt
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # all single votes -> none
    ])
    assert clear_majority(votes).tolist() == [0, -1, 0, -1, -1, 7, -1]
    with pytest.raises(ValueError, match=r"expected \(N, 10\)"):
        clear_majority(votes[:, :8])


def test_ferplus_clear_keeps_only_clear_majorities(tmp_path: Path) -> None:
    (tmp_path / "ferplus").mkdir()
    votes = np.array([[6, 4, 0, 0, 0, 0, 0, 0, 0, 0],   # clear: neutral 6 of 10
                      [4, 0, 0, 4, 2, 0, 0, 0, 0, 0],   # tie: usable, but no clear majority
                      [0, 0, 0, 0, 1, 0, 0, 3, 0, 1]],  # clear once the single votes go: contempt
                     dtype=np.uint8)
    from affectscope.norms.ferplus import VOTE_COLUMNS

    np.savez(tmp_path / "ferplus" / "ferplus_valid.npz", images=np.zeros((3, 48, 48), np.uint8), votes=votes,
             names=np.array(["a.png", "b.png", "c.png"]), vote_columns=np.array(VOTE_COLUMNS))
    assert load_ferplus(tmp_path, "valid").item_ids == ["a.png", "b.png", "c.png"]
    clear = load_norms("ferplus_clear", tmp_path)
    assert clear.item_ids == ["a.png", "c.png"] and clear.data["majority"].tolist() == ["neutral", "contempt"]
    assert clear.rater.name == "humans:ferplus_valid_clear"


def test_cowen_keltner_and_split(tmp_path: Path) -> None:
    base = tmp_path / "cowen_keltner_2017"
    (base / "emonet_kragel2019_split").mkdir(parents=True)
    dims = ["approach", "arousal", "attention", "certainty", "commitment", "control", "dominance", "effort",
            "fairness", "identity", "obstruction", "safety", "upswing", "valence"]
    header = ["Filename", *CK34.categories, *dims, "amusement", "arousal", "chills down spine"]
    row = ["0001.mp4"] + ["0.1"] * 34 + ["5"] * 14 + ["0.2", "0.3", "0"]
    (base / "CowenKeltnerEmotionalVideos.csv").write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    r = load_cowen_keltner(tmp_path)
    assert len(r.columns_of("category", taxonomy="ck34")) == 34
    assert r.values("arousal").iloc[0] == 5.0  # the dimension, not the free-response term
    assert r.values("term:arousal").iloc[0] == pytest.approx(0.3)
    assert r.values("term:chills down spine").iloc[0] == 0
    assert len(load_cowen_keltner(tmp_path, include_terms=False).columns) == 48
    for split in ("train", "test"):
        (base / "emonet_kragel2019_split" / f"kragel2019_{split}_video_ids.csv").write_text("video,emotion\n0001.mp4,Joy\n")
    assert load_emonet_split(tmp_path)["split"].tolist() == ["train", "test"]


def test_generic_table(tmp_path: Path) -> None:
    p = tmp_path / "norms.csv"
    pd.DataFrame({"stim": ["a.jpg", "b.jpg"], "Val": [10.0, 90.0]}).to_csv(p, index=False)
    r = load_table_norms(p, id_column="stim", scales={"Val": "valence:gaped100"}, name="gaped")
    assert r.rater.name == "humans:gaped" and r.rater.family == "human"


def test_missing_data_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NormsError, match="OASIS.csv not found"):
        load_oasis(tmp_path)
    with pytest.raises(NormsError, match="AFFECTSCOPE_DATA"):
        data_root(tmp_path / "nope")
    monkeypatch.setenv("AFFECTSCOPE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(KeyError, match="available"):
        load_norms("iaps")
