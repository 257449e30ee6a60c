"""Progress of long work: a bar on a terminal, a line every few seconds in a log file.

With stderr redirected (CI, ``nohup``, a cluster job) a tqdm bar either vanishes or fills the log
with carriage returns; there :class:`Progress` prints one plain line every
``AFFECTSCOPE_PROGRESS_SECONDS`` seconds (default 30): done / total, rate, ETA and failures.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from tqdm import tqdm

PROGRESS_ENV = "AFFECTSCOPE_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(PROGRESS_ENV, DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Counts finished units of work and shows it: a tqdm bar where ``stream`` is a terminal, else
    a line every ``interval`` seconds (and one at the end if any was printed).

    Parameters
    ----------
    total : int or None
        None: work whose amount is not known in advance (the lines then say how many units are done,
        at what rate, and ``note`` when given; no share or ETA).
    desc, unit : str
    initial : int
        Units already done (resumed work); they do not count towards the rate.
    enabled : bool or None
        ``False``: silent. ``True`` or ``None``: a bar on a terminal, lines elsewhere.
    stream : file, optional
        Default: ``sys.stderr``.
    interval : float, optional
        Seconds between lines; default ``$AFFECTSCOPE_PROGRESS_SECONDS`` or 30.
    """

    def __init__(self, total: int | None, *, desc: str, unit: str = "item", initial: int = 0, enabled: bool | None = None,
                 stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.initial, self.failed = initial, initial, 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.t0 = self._last = time.monotonic()
        self.lines = 0
        self._printed = -1
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "off" if enabled is False else ("bar" if tty else "lines")
        self._bar: Any = (tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, file=self.stream)
                          if self.mode == "bar" else None)

    def update(self, n: int = 1, *, failed: int = 0) -> None:
        """``n`` more units done, ``failed`` of them failed."""
        self.done += n
        self.failed += failed
        if self._bar is not None:
            self._bar.update(n)
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
        elif self.mode == "lines" and time.monotonic() - self._last >= self.interval:
            self._line()

    #: A short text appended to the lines (e.g. the best result so far); set it between updates.
    note: str = ""

    def line(self) -> str:
        """The progress line as it stands: ``"rating (image): 120/900 items (13 %), 2.4 items/s, ETA 5 min 25 s"``."""
        elapsed = time.monotonic() - self.t0
        new = self.done - self.initial
        rate = new / elapsed if elapsed > 0 else 0.0
        if self.total is None:
            text = f"{self.desc}: {self.done} {self.unit}s, {rate:.2f} {self.unit}s/s"
        else:
            share = f" ({self.done / self.total:.0%})" if self.total else ""
            text = f"{self.desc}: {self.done}/{self.total} {self.unit}s{share}, {rate:.2f} {self.unit}s/s"
            if rate > 0 and self.done < self.total:
                text += f", ETA {_duration((self.total - self.done) / rate)}"
        if self.note:
            text += f", {self.note}"
        text += f", {_duration(elapsed)} elapsed"
        if self.failed:
            text += f", {self.failed} failed"
        return text

    def _line(self) -> None:
        print(self.line(), file=self.stream, flush=True)
        self._last = time.monotonic()
        self._printed = self.done
        self.lines += 1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines" and self.lines and self._printed != self.done:
            self._line()  # the final count, where earlier lines were printed and it is not the last one

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
