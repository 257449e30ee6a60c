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
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from affectscope._cpu import fast_bfloat16
from affectscope.llm.loopback import LoopbackServer
from affectscope.media.video import write_video
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.taxonomy import EMOTION6, PROBABILITY, SAM_VALENCE

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EMOTIONS = list(EMOTION6.columns)


def shell_lines(markdown: str, heading: str) -> list[str]:
    """The command lines of the ```bash blocks under ``heading`` (up to the next heading of its
    level), continuation lines joined."""
    level = heading.split(" ")[0]
    section = markdown.split(heading, 1)[1]
    section = re.split(rf"\n{level} ", section, maxsplit=1)[0]
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def python_block(markdown: str, heading: str) -> str:
    section = markdown.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)  # type: ignore[union-attr]


def _picture(path: Path, seed: int, size: int = 96) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    noise = rng.normal(0, 40, (size, size, 3))
    ramp = np.linspace(0, 1, size)[None, :, None] * rng.integers(-120, 120, 3)
    Image.fromarray(np.clip(base + noise + ramp, 0, 255).astype(np.uint8)).save(path)


def _ratings_table(ids: list[str], rng: np.random.Generator) -> Ratings:
    probs = rng.dirichlet(np.ones(len(EMOTIONS)), len(ids))
    df = pd.DataFrame(probs, columns=EMOTIONS)
    df.insert(0, "item_id", ids)
    df["valence"] = rng.uniform(2, 8, len(ids))
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE)] + [
        ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=EMOTION6.name) for c in EMOTIONS]
    return Ratings(df, specs, RaterInfo(name="lab"))


def build_scratch(folder: Path) -> Path:
    """The files the README's lines name, small; returns the data root (a miniature OASIS)."""
    rng = np.random.default_rng(0)
    data = folder / "data"
    oasis = data / "oasis" / "images"
    oasis.mkdir(parents=True)
    themes = [f"{word} {k}" for word in ("Dog", "Lake", "Fire", "Tree") for k in range(1, 7)]  # 24 pictures, 4 themes
    for i, t in enumerate(themes):
        _picture(oasis / f"{t}.jpg", i)
    pd.DataFrame({
        "Theme": themes, "Category": ["Animal"] * 6 + ["Scene"] * 12 + ["Object"] * 6, "Source": "test",
        "Valence_mean": rng.uniform(1.5, 6.5, 24), "Valence_SD": rng.uniform(0.8, 1.6, 24), "Valence_N": 100,
        "Arousal_mean": rng.uniform(1.5, 6.5, 24), "Arousal_SD": rng.uniform(0.8, 1.6, 24), "Arousal_N": 100,
    }).to_csv(data / "oasis" / "OASIS.csv")
    # photos/: six of the OASIS pictures, so norms:oasis lines find them (--drop-missing for the rest)
    (folder / "photos").mkdir()
    for t in themes[::4]:
        (folder / "photos" / f"{t}.jpg").write_bytes((oasis / f"{t}.jpg").read_bytes())
    photos = sorted(p.name for p in (folder / "photos").iterdir())
    pd.DataFrame({"path": [f"photos/{p}" for p in photos], "name": [p.rsplit(".", 1)[0] for p in photos]}).to_csv(
        folder / "list.csv", index=False)
    _picture(folder / "img.jpg", 99)
    (folder / "imgs").mkdir()
    for k in range(2):
        _picture(folder / "imgs" / f"i{k}.jpg", 50 + k)
    # my_stimuli/ + my_norms.csv (a saved table: valence and the Emotion6 distribution)
    for name in ("my_stimuli", "stimuli"):
        (folder / name).mkdir()
        for i, t in enumerate(themes):
            (folder / name / f"s{i:02d}.jpg").write_bytes((oasis / f"{t}.jpg").read_bytes())
    ids = sorted(p.name for p in (folder / "my_stimuli").iterdir())
    _ratings_table(ids, rng).save(folder / "my_norms.csv")
    # lab.csv: a plain spreadsheet with its own column names (train reads file/valence, compare stimulus/Valence_mean)
    pd.DataFrame({"file": ids, "valence": rng.uniform(1, 7, len(ids))}).to_csv(folder / "lab.csv", index=False)
    # humans.csv and lab_norms.csv describe the photos (ids as `rate photos/` gives them)
    _ratings_table(photos, rng).save(folder / "humans.csv")
    lab = pd.DataFrame({"stimulus": photos, "valence": rng.uniform(1, 7, len(photos))})
    lab[EMOTIONS] = rng.dirichlet(np.ones(len(EMOTIONS)), len(photos))
    lab.to_csv(folder / "lab_norms.csv", index=False)
    frames = [np.clip(np.full((64, 64, 3), 90 + 3 * k) + rng.normal(0, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
              for k in range(30)]
    write_video(folder / "clip.mp4", frames, fps=10)
    (folder / "clips").mkdir()
    write_video(folder / "clips" / "c1.mp4", frames[:20], fps=10)
    return data


def _lab_for_compare(folder: Path) -> None:
    """lab.csv for the compare lines: the photos' ids, valence under another name."""
    photos = sorted(p.name for p in (folder / "photos").iterdir())
    pd.DataFrame({"stimulus": photos, "Valence_mean": np.linspace(2, 6, len(photos))}).to_csv(folder / "lab.csv", index=False)


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
                _lab_for_compare(folder)  # the compare line's lab.csv names its columns differently
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
