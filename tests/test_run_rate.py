"""rate(): with a pipelined rater (issue #36) the next batch is prepared, and the previous one
stored, while worker threads run the network stage, and the table is the one a serial run gives;
the check of every output against the declared columns."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from affectscope._workers import THREAD_PREFIX, one_thread, torch_split
from affectscope.raters.base import Rater, RaterUnavailable
from affectscope.ratings import ColumnSpec
from affectscope.run.rate import OutputCheck, rate
from affectscope.run.store import RunStore
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import SAM_VALENCE


def _files(folder: Path, n: int) -> StimulusSet:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"{i:03d}.png").write_bytes(b"x" * (i + 1))
    return StimulusSet.from_paths([folder])


class _Recorder(Rater):
    """A pipelined rater that records when each stage of each batch starts and ends (batch = its
    first item), and can be told to fail a stage for the batch holding an item."""

    media = frozenset({"image", "unknown"})
    batch_size = 4
    pipelined = True
    operational = frozenset({"fail_prepare", "fail_finish", "unavailable", "wait", "n_items", "interrupt"})  # one store for all

    def __init__(self, *, fail_prepare: str = "", fail_finish: str = "", unavailable: str = "", wait: float = 0.0,
                 n_items: int = 0, interrupt: str = "") -> None:
        self.fail_prepare = fail_prepare
        self.fail_finish = fail_finish
        self.unavailable = unavailable
        self.wait = wait
        self.n_items = n_items
        self.interrupt = interrupt

    def outputs(self) -> list[ColumnSpec]:
        return [ColumnSpec(name="valence", scale=SAM_VALENCE)]

    @property
    def events(self) -> list[tuple[str, str, str]]:
        if not hasattr(self, "_events"):
            self._events: list[tuple[str, str, str]] = []
            self._prepared: dict[str, threading.Event] = {}
            self._lock = threading.Lock()
        return self._events

    def _log(self, what: str, first: str) -> None:
        _ = self.events
        with self._lock:
            self._events.append((what, first, threading.current_thread().name))
            if what == "prepare":
                self._prepared.setdefault(first, threading.Event()).set()

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        self._log("alone", stimulus.item_id)
        return {"valence": 1.0 + int(stimulus.item_id[:3]) % 9}

    def prepare_batch(self, stimuli: Sequence[Stimulus]) -> list[Stimulus]:
        self._log("prepare", stimuli[0].item_id)
        if any(s.item_id == self.fail_prepare for s in stimuli):
            raise RuntimeError("decoder fell over")
        return list(stimuli)

    def finish_batch(self, prepared: list[Stimulus]) -> list[dict[str, float]]:
        first = prepared[0].item_id
        self._log("finish", first)
        if any(s.item_id == self.unavailable for s in prepared):
            raise RaterUnavailable("the network is gone")
        if any(s.item_id == self.interrupt for s in prepared):
            raise KeyboardInterrupt  # as Ctrl-C would, in the worker thread
        if any(s.item_id == self.fail_finish for s in prepared):
            raise RuntimeError("network fell over")
        if self.wait and int(first[:3]) + self.batch_size < self.n_items:  # hold this batch until the next one is prepared
            nxt = f"{int(first[:3]) + self.batch_size:03d}.png"
            with self._lock:
                event = self._prepared.setdefault(nxt, threading.Event())
            event.wait(self.wait)
        self._log("finished", first)
        return [{"valence": 1.0 + int(s.item_id[:3]) % 9} for s in prepared]

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[dict[str, float]]:
        return self.finish_batch(self.prepare_batch(stimuli))


def test_the_next_batch_is_prepared_while_the_network_stage_runs(tmp_path: Path) -> None:
    stimuli = _files(tmp_path / "imgs", 16)  # 4 batches of 4
    rater = _Recorder(wait=3.0, n_items=16)
    res = rate(stimuli, rater, progress=False)
    ev = rater.events
    # every batch but the last was still in its network stage when the next one was prepared
    for k in range(3):
        first, nxt = f"{4 * k:03d}.png", f"{4 * k + 4:03d}.png"
        assert ev.index(("prepare", nxt, "MainThread")) < next(i for i, e in enumerate(ev) if e[:2] == ("finished", first))
    assert {e[2] for e in ev if e[0] == "finish"} == {f"{THREAD_PREFIX}_0"}
    assert {e[2] for e in ev if e[0] == "prepare"} == {"MainThread"}
    serial = _Recorder()
    serial.pipelined = False
    assert res.ratings.data.equals(rate(stimuli, serial, progress=False).ratings.data)
    assert res.n_failed == 0 and len(res.ratings.data) == 16


@pytest.mark.parametrize("stage", ["fail_prepare", "fail_finish"])
def test_a_stage_that_raises_has_its_batch_rated_item_by_item(tmp_path: Path, stage: str) -> None:
    stimuli = _files(tmp_path / "imgs", 12)
    rater = _Recorder(**{stage: "005.png"})
    res = rate(stimuli, rater, progress=False)
    assert res.n_failed == 0 and len(res.ratings.data) == 12
    assert sorted(e[1] for e in rater.events if e[0] == "alone") == ["004.png", "005.png", "006.png", "007.png"]
    assert list(res.ratings.data["valence"]) == [1.0 + i % 9 for i in range(12)]
    why = "decoder fell over" if stage == "fail_prepare" else "network fell over"
    assert res.notes == [f"1 batch failed as a whole and was rated item by item (first: RuntimeError: {why})"]


def test_rater_unavailable_in_the_network_stage_stops_the_run_and_keeps_finished_batches(tmp_path: Path) -> None:
    stimuli = _files(tmp_path / "imgs", 16)
    store = tmp_path / "run.sqlite"
    with pytest.raises(RaterUnavailable, match="the network is gone"):
        rate(stimuli, _Recorder(unavailable="009.png"), store=store, progress=False)
    rater = _Recorder()
    with RunStore(store, rater=rater.info(), fingerprint=rater.fingerprint(), columns=rater.outputs()) as db:
        assert sorted(db.finished()) == [f"{i:03d}.png" for i in range(8)]  # the batches before, whole
    res = rate(stimuli, rater, store=store, progress=False)
    assert res.n_resumed == 8 and res.n_rated == 8 and res.n_failed == 0


def test_an_interrupt_in_the_network_stage_stops_the_run_and_keeps_finished_batches(tmp_path: Path) -> None:
    stimuli = _files(tmp_path / "imgs", 16)
    store = tmp_path / "run.sqlite"
    with pytest.raises(KeyboardInterrupt):
        rate(stimuli, _Recorder(interrupt="009.png"), store=store, progress=False)
    rater = _Recorder()
    with RunStore(store, rater=rater.info(), fingerprint=rater.fingerprint(), columns=rater.outputs()) as db:
        assert sorted(db.finished()) == [f"{i:03d}.png" for i in range(8)]
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]  # no worker left behind


def test_files_are_hashed_batch_by_batch_not_all_before_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hashing of a fresh run overlaps the network stage of the batch before (it used to be
    done for every file before the first batch started)."""
    stimuli = _files(tmp_path / "imgs", 40)
    hashed: list[str] = []
    original = Stimulus.signature

    def counting(self: Stimulus) -> str:
        hashed.append(self.item_id)
        return original(self)

    monkeypatch.setattr(Stimulus, "signature", counting)
    seen_at_first_prepare: list[int] = []

    class Counting(_Recorder):
        def prepare_batch(self, stimuli: Sequence[Stimulus]) -> list[Stimulus]:
            if not seen_at_first_prepare:
                seen_at_first_prepare.append(len(hashed))
            return super().prepare_batch(stimuli)

    res = rate(stimuli, Counting(), store=tmp_path / "run.sqlite", progress=False)
    assert seen_at_first_prepare == [4]  # the first batch's files, and no more
    assert sorted(hashed) == sorted(stimuli.item_ids)  # each file once
    assert list(res.ratings.item_ids) == stimuli.item_ids


def test_a_file_edited_after_its_batch_was_hashed_is_rated_again_by_the_next_run(tmp_path: Path) -> None:
    """The signature stored with an item is that of the content before it was rated."""
    stimuli = _files(tmp_path / "imgs", 8)
    target = stimuli[5].path

    class Editing(_Recorder):
        def finish_batch(self, prepared: list[Stimulus]) -> list[dict[str, float]]:
            if any(s.path == target for s in prepared):
                target.write_bytes(b"edited while its batch ran")
            return super().finish_batch(prepared)

    store = tmp_path / "run.sqlite"
    rate(stimuli, Editing(), store=store, progress=False)
    again = rate(stimuli, _Recorder(), store=store, progress=False)
    assert again.n_rated == 1 and again.n_resumed == 7


def test_face_rater_pipelined_equals_serial_with_bad_files_a_photo_and_a_video(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    from affectscope.raters.face import FaceRater

    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(150):
        Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(folder / f"f{i:03d}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    os.mkfifo(folder / "pipe.png")
    face = tmp_path / "face.png"
    from skimage import data

    Image.fromarray(data.astronaut()).save(face)  # a photo: Haar detection, then the network
    from affectscope.media.video import write_video

    clip = write_video(tmp_path / "clip.mp4", [data.astronaut()[:256, 96:352]] * 12, fps=12)  # a batch of its own
    extra = StimulusSet.from_paths([face, clip])
    stimuli = StimulusSet(list(StimulusSet.from_paths([folder])) + list(extra))
    piped = rate(stimuli, FaceRater(), progress=False)
    serial_rater = FaceRater()
    serial_rater.pipelined = False
    serial = rate(stimuli, serial_rater, progress=False)
    assert piped.ratings.data.equals(serial.ratings.data)
    assert piped.n_failed == 2 and len(piped.ratings.data) == 154
    assert piped.ratings.data.loc["face.png", "n_faces"] >= 1
    assert piped.ratings.data.loc["clip.mp4", "n_frames"] >= 1


def test_torch_split_gives_each_worker_a_share_of_the_threads_and_puts_the_count_back() -> None:
    torch = pytest.importorskip("torch")
    total = torch.get_num_threads()
    with torch_split(2) as workers:
        seen = set(workers.executor.map(lambda _: torch.get_num_threads(), range(8)))
    assert workers.depth == min(2, total)
    assert seen == {max(1, total // workers.depth)}
    after: list[int] = []
    t = threading.Thread(target=lambda: after.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert after == [total] and torch.get_num_threads() == total
    with one_thread() as workers:
        assert workers.depth == 1


def test_the_output_check_names_what_is_wrong() -> None:
    columns = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="note", kind="text")]
    check = OutputCheck(columns)
    assert check({"valence": 5.0, "note": "x"}) is None
    assert check({"valence": float("nan"), "note": ""}) is None  # a missing value
    assert check({"valence": np.float32(3.5), "note": ""}) is None
    assert "missing ['note'], unexpected ['notes']" in check({"valence": 5.0, "notes": ""})
    assert "non-numeric value 'high' for 'valence'" in check({"valence": "high", "note": ""})
    assert "returned 10 for 'valence', outside its declared scale" in check({"valence": 10.0, "note": ""})
    assert "returned inf for 'valence'" in check({"valence": float("inf"), "note": ""})
    assert "returned list for an item, not a dict" in check([5.0, "x"])  # type: ignore[arg-type]
