"""Every command line of the README's "Using it" block and its Python example runs as written (#31.2).

The lines run in a scratch folder that holds small stand-ins for the files they name (``photos/``,
``list.csv``, ``clip.mp4``, ``lab.csv`` ...) and a miniature OASIS folder as ``$AFFECTSCOPE_DATA``;
the LLM line talks to the loopback server (its URL and model name are substituted; on a CPU
without bfloat16 instructions the bfloat16 line rates one picture instead of six). A
README line that fails here fails CI, so the README cannot rot. Set ``AFFECTSCOPE_README_LOG`` to a
path to get each line's exit code and wall time as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _usage import build_scratch, lab_for_compare, python_block, shell_lines

from affectscope._cpu import fast_bfloat16
from affectscope.llm.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("readme")
    data = build_scratch(folder)
    env = {**os.environ, "AFFECTSCOPE_DATA": str(data), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "AFFECTSCOPE_PROGRESS_SECONDS": "3600"}
    return folder, env


@pytest.mark.slow
def test_the_readme_using_it_lines_run_as_written(scratch: tuple[Path, dict[str, str]]) -> None:
    folder, env = scratch
    lines = shell_lines(README.read_text(), "## Using it")
    assert len(lines) >= 25, "the README's 'Using it' block was not found"
    log, failures = [], []
    with LoopbackServer() as srv:
        for line in lines:
            if line.startswith("source "):
                continue  # the tests run inside that environment already
            cmd = line.replace("http://127.0.0.1:8080/v1", srv.url).replace("--model NAME", "--model loopback")
            if "precision=bfloat16" in cmd and fast_bfloat16() is not True:
                cmd = cmd.replace("photos/", "img.jpg")  # emulated bfloat16 is ~10x slower here: one picture, not six
            if "lab.csv" in cmd and "compare" in cmd:
                lab_for_compare(folder)  # the compare line's lab.csv names its columns differently
            t = time.perf_counter()
            proc = subprocess.run(["bash", "-c", cmd], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
            log.append({"line": line, "exit": proc.returncode, "seconds": round(time.perf_counter() - t, 1)})
            if proc.returncode != 0:
                failures.append(f"{line}\n  exit {proc.returncode}\n  {proc.stderr.strip()[-800:]}")
    if os.environ.get("AFFECTSCOPE_README_LOG"):
        Path(os.environ["AFFECTSCOPE_README_LOG"]).write_text(json.dumps(log, indent=1))
    assert not failures, "README lines that fail as written:\n" + "\n".join(failures)


def test_the_readme_python_example_runs_and_cleans_up(scratch: tuple[Path, dict[str, str]]) -> None:
    folder, env = scratch
    code = python_block(README.read_text(), "### Python")
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "items" in proc.stdout
    assert not (folder / "run.sqlite").exists()
