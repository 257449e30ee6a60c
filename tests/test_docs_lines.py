"""Every command line of docs/*.md runs as written (#31.2), as the README's lines do (tests/test_readme.py).

The lines run in a scratch folder with small stand-ins for the files they name (tests/_usage.py)
and a miniature OASIS as ``$AFFECTSCOPE_DATA``. The LLM lines talk to the loopback server: its URL
and model replace the ones a line names, and the ``...`` a line leaves for "your server and model"
becomes them. The one substitution for speed is the README test's: on a CPU without bfloat16
instructions the bfloat16 line rates one picture. A docs line that fails here fails CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _usage import build_docs_scratch, build_scratch, lab_for_compare

from affectscope._cpu import fast_bfloat16
from affectscope.llm.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def doc_lines(path: Path) -> list[str]:
    """The command lines of every ```bash block of a doc, continuation lines joined."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("docs")
    data = build_scratch(folder)
    build_docs_scratch(folder, data)
    env = {**os.environ, "AFFECTSCOPE_DATA": str(data), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "AFFECTSCOPE_PROGRESS_SECONDS": "3600"}
    # the docs' `rate ... -p heads='["my_head.npz"]'` line reads a head trained beforehand
    subprocess.run(["affectscope", "train", "my_norms.csv", "my_stimuli/", "--columns", "valence", "--folds", "3",
                    "--out", "my_head.npz", "-q"], cwd=folder, env=env, check=True, capture_output=True, timeout=900)
    return folder, env


def test_the_docs_have_command_lines() -> None:
    counts = {p.name: len(doc_lines(p)) for p in DOCS}
    assert sum(counts.values()) >= 30, counts


@pytest.mark.slow
@pytest.mark.parametrize("doc", [p.name for p in DOCS if doc_lines(p)])
def test_every_docs_line_runs_as_written(doc: str, scratch: tuple[Path, dict[str, str]]) -> None:
    folder, env = scratch
    failures, log = [], []
    with LoopbackServer() as srv:
        loopback = f"--base-url {srv.url} --model loopback"
        for line in doc_lines(ROOT / "docs" / doc):
            cmd = re.sub(r"--base-url \S+ --model \S+", loopback, line)
            cmd = re.sub(r"--rater llm \.\.\.", f"--rater llm {loopback}", cmd)  # "..." = your server and model
            if "precision=bfloat16" in cmd and fast_bfloat16() is not True:
                cmd = cmd.replace("photos/", "img.jpg")  # emulated bfloat16 is ~10x slower here: one picture
            if "lab.csv" in cmd and "compare" in cmd:
                lab_for_compare(folder, with_categories="--categories" in cmd)
            t = time.perf_counter()
            proc = subprocess.run(["bash", "-c", cmd], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
            log.append(f"{proc.returncode} {time.perf_counter() - t:5.1f} s  {line}")
            if proc.returncode != 0:
                failures.append(f"{line}\n  exit {proc.returncode}\n  {proc.stderr.strip()[-800:]}")
    print("\n".join(log))
    assert not failures, f"{doc}: lines that fail as written:\n" + "\n".join(failures)
