"""Test-only raters, reached as "_raters:ClassName" (never registered)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from affectscope.raters.base import Rater
from affectscope.ratings import ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import SAM_VALENCE


class _OneColumn(Rater):
    media = frozenset({"image", "unknown"})

    def outputs(self) -> list[ColumnSpec]:
        return [ColumnSpec(name="valence", scale=SAM_VALENCE)]


class SlowRater(_OneColumn):
    """Sleeps per item and appends every item it computes to a log file (pid-tagged)."""

    def __init__(self, *, delay: float = 0.01, log: str = "") -> None:
        self.delay = delay
        self.log = log

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        time.sleep(self.delay)
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(f"{os.getpid()} {stimulus.item_id}\n")
        return {"valence": 1.0 + (len(stimulus.item_id) % 9)}


class OutOfRangeRater(_OneColumn):
    def __init__(self) -> None:
        pass

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        return {"valence": 42.0} if stimulus.item_id.startswith("b") else {"valence": 5.0}


class WrongColumnsRater(_OneColumn):
    def __init__(self) -> None:
        pass

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        return {"valance": 5.0}


class BrokenBatchRater(_OneColumn):
    """rate_batch blows up; the runner must fall back to per-item calls."""

    batch_size = 4

    def __init__(self) -> None:
        pass

    def rate_batch(self, stimuli: Sequence[Stimulus]):
        raise RuntimeError("GPU fell over")

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        if stimulus.item_id == "c.png":
            raise ValueError("cannot rate c")
        return {"valence": 3.0}


class InterruptingRater(_OneColumn):
    """Raises KeyboardInterrupt on the item named ``stop_at`` (a user pressing Ctrl-C)."""

    def __init__(self, *, stop_at: str = "") -> None:
        self.stop_at = stop_at

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        if stimulus.item_id == self.stop_at:
            raise KeyboardInterrupt
        return {"valence": 2.0}


class SlowPipelinedRater(_OneColumn):
    """SlowRater as a pipelined rater: batches of 8, the per-item sleep and log in ``finish_batch``
    (the stage a run puts in a worker thread)."""

    batch_size = 8
    pipelined = True

    def __init__(self, *, delay: float = 0.01, log: str = "") -> None:
        self.delay = delay
        self.log = log

    def prepare_batch(self, stimuli: Sequence[Stimulus]) -> list[Stimulus]:
        return list(stimuli)

    def finish_batch(self, prepared: list[Stimulus]) -> list[dict[str, float]]:
        out = []
        for s in prepared:
            time.sleep(self.delay)
            if self.log:
                with open(self.log, "a") as fh:
                    fh.write(f"{os.getpid()} {s.item_id}\n")
            out.append({"valence": 1.0 + (len(s.item_id) % 9)})
        return out

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[dict[str, float]]:
        return self.finish_batch(self.prepare_batch(stimuli))
