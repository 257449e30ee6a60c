"""Shared fixtures: small generated images, good and bad, made fresh in a temporary folder.
No test reads ../shared."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.taxonomy import EMOTION6, PROBABILITY, SAM_AROUSAL, SAM_VALENCE

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def scale_ratings(ids, valence, arousal=None, name: str = "r", extra: dict | None = None) -> Ratings:
    """A small Ratings with SAM valence (and arousal) columns, for tests."""
    data = {"item_id": ids, "valence": valence}
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE)]
    if arousal is not None:
        data["arousal"] = arousal
        specs.append(ColumnSpec(name="arousal", scale=SAM_AROUSAL))
    if extra:
        data.update(extra)
    return Ratings(pd.DataFrame(data), specs, RaterInfo(name=name))


def solid(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> Path:
    Image.new("RGB", size, rgb).save(path)
    return path


def gradient(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def make_good_images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        solid(folder / "red.png", (255, 0, 0)),
        solid(folder / "grey.jpg", (128, 128, 128)),
        gradient(folder / "noise.png", seed=1),
        gradient(folder / "sub_noise.bmp", seed=2),
    ]


def make_bad_files(folder: Path) -> dict[str, Path]:
    """One file per failure case that must give a clear per-item error."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    out["zero_byte"] = folder / "empty.jpg"
    out["zero_byte"].write_bytes(b"")
    out["not_image"] = folder / "notes.png"
    out["not_image"].write_text("this is a text file, not a picture\n")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    out["truncated"] = folder / "truncated.jpg"
    out["truncated"].write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[200:2000] = b"\x00" * 1800  # wipe the header tables and the start of the scan
    out["corrupt"] = folder / "corrupt.jpg"
    out["corrupt"].write_bytes(bytes(corrupt))
    out["bomb"] = folder / "bomb.png"
    Image.new("1", (14_000, 14_000)).save(out["bomb"], optimize=True)  # 196 Mpx, a few kB on disk
    return out


@pytest.fixture
def good_images(tmp_path: Path) -> list[Path]:
    return make_good_images(tmp_path / "good")


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    return make_bad_files(tmp_path / "bad")


def two_colour_tables(tmp_path: Path) -> tuple[Path, Path]:
    """Two ratings files of the same 4 images from the colour baseline (full size and 32 px):
    similar but not identical, for comparison tests."""
    from affectscope.cli import main

    make_good_images(tmp_path / "imgs")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(a), "--rater", "color", "-q"]) == 0
    assert main(["rate", str(tmp_path / "imgs"), "-o", str(b), "--rater", "color", "-q", "-p", "max_side=32"]) == 0
    return a, b


def category_ratings(ids, probs, name: str = "r", taxonomy=EMOTION6) -> Ratings:  # noqa: ANN001
    """A Ratings table of category probabilities (rows of ``probs``) over ``taxonomy``."""
    frame = pd.DataFrame(probs, columns=list(taxonomy.columns))
    frame.insert(0, "item_id", ids)
    specs = [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=taxonomy.name) for c in taxonomy.columns]
    return Ratings(frame, specs, RaterInfo(name=name))


def skip_or_fail(require_env: str, missing: str, fix: str) -> None:
    """Skip a test whose optional piece is ``missing`` here, or fail it when ``$require_env`` is
    ``1`` (CI sets these, so that a skip there means a broken set-up, not a passed test)."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{missing}, and {require_env}=1 requires it: {fix}")
    pytest.skip(f"{missing} ({fix})")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """The README's main job (`affectscope demo`), run once per test session: (its folder, exit code, stdout)."""
    from affectscope.cli import main

    out = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--out-dir", str(out), "-q"])
    return out, code, buf.getvalue()
