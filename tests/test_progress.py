"""Progress where nobody watches a terminal (#31.4): lines in a log, a bar on a terminal, nothing when quiet."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_good_images

from affectscope._progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_file_gets_plain_progress_lines_with_rate_eta_and_failures() -> None:
    log = io.StringIO()
    p = Progress(10, desc="rating (color)", initial=2, stream=log, interval=0.0)
    p.update(3)
    p.update(1, failed=1)
    p.close()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("rating (color): 5/10 items (50%), ") and "items/s, ETA " in lines[0]
    assert lines[1].startswith("rating (color): 6/10 items (60%)") and lines[1].endswith("1 failed")
    assert "\r" not in log.getvalue()
    assert len(lines) == 2  # the last line already showed the final count: not repeated on close


def test_lines_wait_for_their_interval_and_quiet_is_silent() -> None:
    log = io.StringIO()
    with Progress(10, desc="x", stream=log, interval=3600) as p:
        p.update(5)
    assert log.getvalue() == ""  # nothing printed within the interval, so no closing line either
    with Progress(10, desc="x", stream=log, interval=0.0, enabled=False) as p:
        p.update(5)
    assert log.getvalue() == ""


def test_a_terminal_gets_a_bar() -> None:
    tty = _Tty()
    with Progress(4, desc="bar", stream=tty, interval=0.0) as p:
        assert p.mode == "bar"
        p.update(4)
    assert "bar" in tty.getvalue() and "4/4" in tty.getvalue()


def test_rate_redirected_to_a_file_prints_progress_lines(tmp_path: Path) -> None:
    make_good_images(tmp_path / "imgs")
    env = {"AFFECTSCOPE_PROGRESS_SECONDS": "0", "PATH": str(Path(sys.executable).parent)}
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.run([sys.executable, "-m", "affectscope.cli", "rate", str(tmp_path / "imgs"), "--rater", "color",
                               "-o", str(tmp_path / "r.csv")], stderr=log, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.returncode == 0
    text = (tmp_path / "log.txt").read_text()
    assert "rating (color): 1/" in text and "items/s" in text and "\r" not in text


def test_the_gw_epsilon_search_prints_progress_lines_to_a_log(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """#31.4: the epsilon search (solves whose number depends on where the solver underflows)
    prints lines in a log: solves done, rate, the best objective so far; no total or ETA."""
    import numpy as np

    from affectscope.compare import gw_align
    from affectscope.compare.rsa import rdm

    monkeypatch.setenv("AFFECTSCOPE_PROGRESS_SECONDS", "0")
    x = np.random.default_rng(0).normal(size=(12, 3))
    res = gw_align(rdm(x), rdm(x[::-1]), search="anneal", n_steps=4)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("GW epsilon search (anneal)")]
    assert lines and lines[-1].startswith(f"GW epsilon search (anneal): {len(res.trials)} solves, ")
    assert "best objective" in lines[-1] and "ETA" not in lines[-1]


def test_open_ended_progress_counts_without_a_total() -> None:
    log = io.StringIO()
    with Progress(None, desc="search", unit="solve", stream=log, interval=0.0) as p:
        p.note = "best 0.1"
        p.update(2)
    assert log.getvalue().splitlines()[0].startswith("search: 2 solves, ") and "best 0.1" in log.getvalue()
