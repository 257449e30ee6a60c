"""kill -9 in the middle of a real CLI run of a few hundred items, then rerun: every item exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).parent


def _count(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("rater", ["SlowRater", "SlowPipelinedRater"])
def test_kill_9_then_resume(tmp_path: Path, rater: str) -> None:
    """Also for a pipelined rater (its network stage in worker threads, batches in flight when the
    process dies): only stored batches count as finished, and the rerun computes the rest once."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    n = 300
    for i in range(n):
        (folder / f"{i:04d}.png").write_bytes(b"x")
    out = tmp_path / "ratings.csv"
    store = tmp_path / "run.sqlite"
    log = tmp_path / "calls.log"
    cmd = [
        sys.executable, "-m", "affectscope.cli", "rate", str(folder), "--rater", f"_raters:{rater}",
        "-p", "delay=0.01", "-p", f"log={log}", "--out", str(out), "--store", str(store), "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(store) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done_before = _count(store)
    assert 60 <= done_before < n
    assert not out.exists()  # the table is written only at the end

    with sqlite3.connect(store) as db:
        finished_before = {r[0] for r in db.execute("SELECT item_id FROM items")}
    calls_first = log.read_text().splitlines()

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done_before} resumed" in rerun.stdout

    table = pd.read_csv(out, dtype={"item_id": str})
    assert len(table) == n and table["item_id"].is_unique
    assert set(table["item_id"]) == {f"{i:04d}.png" for i in range(n)}
    assert table["error"].isna().all()
    second_pid_calls = [line.split(" ", 1)[1] for line in log.read_text().splitlines()[len(calls_first):]]
    assert not set(second_pid_calls) & finished_before  # nothing finished was recomputed
    assert len(second_pid_calls) == n - done_before
