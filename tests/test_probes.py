"""The colour probe: generated fields, the CLI, and a known answer from the colour baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from affectscope.cli import main
from affectscope.probes import HUES, RAMP, color_probe_images


def test_probe_images_are_the_colours_they_claim(tmp_path: Path) -> None:
    table = color_probe_images(tmp_path, size=16)
    assert len(table) == len(HUES) + len(RAMP) * 4
    row = table[(table.family == "hue") & (table.hue == 120)].iloc[0]
    assert np.asarray(Image.open(row.path))[0, 0].tolist() == [0, 255, 0]
    white = table[(table.family == "brightness") & (table.value == 1.0)].iloc[0]
    assert np.asarray(Image.open(white.path)).min() == 255


def test_cli_probe_colors_with_the_colour_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "colors", "--rater", "color", "--out-dir", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "plot:" in out and (tmp_path / "colors.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "colors.csv")
    grey = table[table.family == "brightness"].sort_values("value")
    # Valdez & Mehrabian: pleasure rises with brightness, so the baseline's valence must too
    assert np.all(np.diff(grey["valence"]) > 0)


def test_cli_probe_unknown_rater(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "colors", "--rater", "nope", "--out-dir", str(tmp_path)]) == 2
    assert "unknown rater" in capsys.readouterr().err
