"""Runs persist every item, resume without recomputation, and never lose a batch to one item."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _raters import BrokenBatchRater, InterruptingRater, OutOfRangeRater, SlowRater, WrongColumnsRater

from affectscope.raters.color import ColorRater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet
from affectscope.run.store import RunStore, StoreMismatchError


def _files(folder: Path, names: list[str]) -> StimulusSet:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(n.encode())
    return StimulusSet.from_paths([folder / n for n in names])


def _logged(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()] if log.exists() else []


def test_rerun_resumes_without_recomputing(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", [f"{i}.png" for i in range(12)])
    log = tmp_path / "calls.log"
    store = tmp_path / "run.sqlite"
    first = rate(s, SlowRater(delay=0, log=str(log)), store=store, progress=False)
    assert (first.n_rated, first.n_resumed) == (12, 0)
    second = rate(s, SlowRater(delay=0, log=str(log)), store=store, progress=False)
    assert (second.n_rated, second.n_resumed) == (0, 12)
    assert sorted(_logged(log)) == sorted(s.item_ids)  # each item computed exactly once
    assert second.ratings.to_frame().equals(first.ratings.to_frame())


def test_changed_file_is_recomputed(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["a.png", "b.png"])
    store = tmp_path / "run.sqlite"
    log = tmp_path / "calls.log"
    rate(s, SlowRater(delay=0, log=str(log)), store=store, progress=False)
    (tmp_path / "in" / "b.png").write_bytes(b"a different, longer content")
    again = rate(s, SlowRater(delay=0, log=str(log)), store=store, progress=False)
    assert again.n_rated == 1
    assert _logged(log) == ["a.png", "b.png", "b.png"]


def test_store_refuses_other_rater_configuration(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["a.png"])
    store = tmp_path / "run.sqlite"
    rate(s, SlowRater(delay=0), store=store, progress=False)
    with pytest.raises(StoreMismatchError, match="--fresh"):
        rate(s, SlowRater(delay=0.5), store=store, progress=False)
    fresh = rate(s, SlowRater(delay=0.5), store=store, fresh=True, progress=False)
    assert fresh.n_rated == 1


def test_errors_are_rows_and_retried_without_duplicates(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["a.png", "b.png", "c.png"])
    store = tmp_path / "run.sqlite"
    first = rate(s, ColorRater(), store=store, progress=False)  # the files are not real images
    assert first.n_failed == 3 and "not an image" in first.ratings.errors["a.png"]
    kept = rate(s, ColorRater(), store=store, retry_errors=False, progress=False)
    assert kept.n_rated == 0 and kept.n_failed == 3
    retried = rate(s, ColorRater(), store=store, progress=False)
    assert retried.n_rated == 3
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT item_id) FROM items").fetchone() == (3, 3)


def test_output_contract_enforced_at_run_time(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["a.png", "b.png"])
    res = rate(s, OutOfRangeRater(), progress=False)
    assert res.ratings.errors.index.tolist() == ["b.png"]
    assert "outside its declared scale" in res.ratings.errors["b.png"]
    res = rate(s, WrongColumnsRater(), progress=False)
    assert "missing ['valence'], unexpected ['valance']" in res.ratings.errors["a.png"]


def test_failed_batch_falls_back_to_items(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["a.png", "b.png", "c.png", "d.png", "e.png"])
    res = rate(s, BrokenBatchRater(), progress=False)
    assert res.ratings.errors.to_dict() == {"c.png": "ValueError: cannot rate c"}
    assert res.ratings.ok().values("valence").tolist() == [3.0] * 4
    # the fallback is said, not only taken: both batches (4 + 1 items) failed as a whole
    assert res.notes == ["2 batches failed as a whole and were rated item by item (first: RuntimeError: GPU fell over)"]


def test_the_cli_says_a_batch_fallback_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from affectscope.cli import main

    _files(tmp_path / "in", ["a.png", "b.png", "c.png"])
    code = main(["rate", str(tmp_path / "in"), "--rater", "_raters:BrokenBatchRater", "--out", str(tmp_path / "r.csv"), "--quiet"])
    assert code == 3  # c.png failed
    err = capsys.readouterr().err
    assert "affectscope rate: 1 batch failed as a whole and was rated item by item (first: RuntimeError: GPU fell over)" in err


def test_interrupt_keeps_finished_items(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", [f"{i}.png" for i in range(6)])
    store = tmp_path / "run.sqlite"
    with pytest.raises(KeyboardInterrupt):
        rate(s, InterruptingRater(stop_at="3.png"), store=store, progress=False)
    with RunStore(store, rater=InterruptingRater(stop_at="3.png").info(), fingerprint=InterruptingRater(stop_at="3.png").fingerprint(), columns=InterruptingRater().outputs()) as db:
        assert sorted(db.finished()) == ["0.png", "1.png", "2.png"]


def test_video_items_get_a_clear_error_from_image_raters(tmp_path: Path) -> None:
    s = _files(tmp_path / "in", ["clip.mp4"])
    res = rate(s, ColorRater(), progress=False)
    assert "video input is not supported by rater 'color'" in res.ratings.errors["clip.mp4"]


def test_videos_are_batches_of_their_own_and_order_is_kept(tmp_path: Path) -> None:
    """Images are batched; a video is a batch alone, so a finished video is saved at once (a kill
    during the next one loses nothing) and progress moves per video."""
    from affectscope.run.rate import _batches

    s = _files(tmp_path / "in", ["a.png", "b.png", "v1.mp4", "c.png", "d.png", "e.png", "v2.mp4", "v3.mp4", "f.png"])
    got = [[x.item_id for x in b] for b in _batches(list(s), 2)]
    assert got == [["a.png", "b.png"], ["v1.mp4"], ["c.png", "d.png"], ["e.png"], ["v2.mp4"], ["v3.mp4"], ["f.png"]]
    assert [i for b in got for i in b] == s.item_ids


def test_rate_images_returns_a_dataframe_and_writes_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#31.8: the notebook shortcut (py-feat style): paths in, a DataFrame out, nothing left on disk."""
    from conftest import make_good_images

    from affectscope import make_rater, rate_images

    make_good_images(tmp_path / "imgs")
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    df = rate_images("imgs", rater="color", max_side=64)
    assert set(tmp_path.rglob("*")) == before  # no run store, no table
    assert len(df) == len(list((tmp_path / "imgs").iterdir())) and {"valence", "arousal", "error"} <= set(df.columns)
    assert df.attrs["ratings"].rater.params["max_side"] == 64
    with pytest.raises(TypeError, match="already built"):
        rate_images("imgs", rater=make_rater("color"), max_side=32)


def test_each_file_is_hashed_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#36: the run asks each stimulus for its content signature once (it was twice: to find the
    pending items and again to store each result), which cost a stat and a path resolution per item."""
    from affectscope.stimuli import Stimulus

    s = _files(tmp_path / "in", [f"{i}.png" for i in range(7)])
    calls: list[str] = []
    original = Stimulus.signature

    def counted(self: Stimulus) -> str:
        calls.append(self.item_id)
        return original(self)

    monkeypatch.setattr(Stimulus, "signature", counted)
    res = rate(s, SlowRater(delay=0), store=tmp_path / "run.sqlite", progress=False)
    assert res.n_rated == 7 and sorted(calls) == sorted(s.item_ids)
