"""The colour baseline: known answers for the statistics and the Valdez & Mehrabian formulas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import solid

from affectscope.raters.color import COLOURFULNESS_MAX, ColorRater, colour_statistics, valdez_mehrabian
from affectscope.stimuli import StimulusSet


def test_statistics_known_values() -> None:
    black = np.zeros((4, 4, 3), np.uint8)
    s = colour_statistics(black)
    assert s == {"brightness": 0.0, "saturation": 0.0, "colourfulness": 0.0, "contrast": 0.0}
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    s = colour_statistics(red)
    assert s["brightness"] == 1.0 and s["saturation"] == 1.0 and s["contrast"] == 0.0
    # rg = 255, yb = 127.5 everywhere: only the mean term counts
    assert s["colourfulness"] == pytest.approx(0.3 * math.hypot(255, 127.5))
    half = np.zeros((2, 2, 3), np.uint8)
    half[0] = 255
    assert colour_statistics(half)["contrast"] == pytest.approx(0.5)


def test_valdez_mehrabian_end_points() -> None:
    dark_grey = valdez_mehrabian(0.0, 0.0)
    assert dark_grey["valence"] == pytest.approx(1.0)  # pleasure 0 is the formula's minimum
    bright_vivid = valdez_mehrabian(1.0, 1.0)
    assert bright_vivid["valence"] == pytest.approx(9.0)
    assert bright_vivid["arousal"] == pytest.approx(1 + 8 * (0.29 + 0.31) / 0.91)
    # brighter -> more pleasant and less dominant, as the paper reports
    assert valdez_mehrabian(0.9, 0.5)["valence"] > valdez_mehrabian(0.2, 0.5)["valence"]
    assert valdez_mehrabian(0.9, 0.5)["dominance"] < valdez_mehrabian(0.2, 0.5)["dominance"]
    # more saturated -> more arousing
    assert valdez_mehrabian(0.5, 0.9)["arousal"] > valdez_mehrabian(0.5, 0.1)["arousal"]


def test_rater_on_files(tmp_path: Path) -> None:
    files = [solid(tmp_path / "white.png", (255, 255, 255)), solid(tmp_path / "blue.png", (0, 0, 255))]
    out = ColorRater().rate_batch(list(StimulusSet.from_list(files)))
    white, blue = out
    assert white["brightness"] == 1.0 and white["saturation"] == 0.0
    assert blue["saturation"] == 1.0 and blue["arousal"] > white["arousal"]
    assert 0 <= blue["colourfulness"] <= COLOURFULNESS_MAX
