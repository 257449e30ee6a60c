"""A weak but honest baseline: low-level colour statistics and the colour-emotion formulas of
Valdez & Mehrabian (1994).

Valdez, P., & Mehrabian, A. (1994). Effects of color on emotions. J Exp Psychol Gen 123:394-409.
From ratings of colour chips they report (standardised) regressions of pleasure, arousal and
dominance on brightness (Y) and saturation (S):

    pleasure  =  0.69 Y + 0.22 S
    arousal   = -0.31 Y + 0.60 S
    dominance = -0.76 Y + 0.32 S

As in Machajdik & Hanbury (2010, ACM MM), Y and S are here the mean HSV value and saturation of
the picture, each in [0, 1]. Each formula's range over Y, S in [0, 1] is mapped linearly onto the
SAM 1-9 scale (e.g. pleasure 0 -> 1, 0.91 -> 9). These are colour-chip effects applied to whole
photographs: expect weak agreement with human norms. The trained raters replace this one as the
default.
"""

from __future__ import annotations

import math

import numpy as np

from affectscope._params import Interval
from affectscope.media.image import load_image
from affectscope.raters.base import Rater
from affectscope.raters.registry import register
from affectscope.ratings import ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import SAM_AROUSAL, SAM_DOMINANCE, SAM_VALENCE, Scale

# (weight on brightness Y, weight on saturation S) per dimension, Valdez & Mehrabian (1994).
VALDEZ_MEHRABIAN = {"valence": (0.69, 0.22), "arousal": (-0.31, 0.60), "dominance": (-0.76, 0.32)}

#: Hasler & Suesstrunk colourfulness is at most 1.3 * 255 * sqrt(2) for 8-bit RGB.
COLOURFULNESS_MAX = 1.3 * 255 * math.sqrt(2)

FEATURES = {
    "brightness": Scale(dimension="brightness", low=0, high=1, low_anchor="black", high_anchor="white", name="hsv_value"),
    "saturation": Scale(dimension="saturation", low=0, high=1, low_anchor="grey", high_anchor="pure colour", name="hsv_saturation"),
    "colourfulness": Scale(
        dimension="colourfulness", low=0, high=COLOURFULNESS_MAX, low_anchor="not colourful", high_anchor="extremely colourful",
        name="hasler2003", source="Hasler & Suesstrunk (2003), Proc SPIE 5007:87; ~33 moderately, ~59 quite, ~109 extremely colourful",
    ),
    "contrast": Scale(dimension="contrast", low=0, high=0.5, low_anchor="flat", high_anchor="maximal", name="rms_luma"),
}


def _formula_range(wy: float, ws: float) -> tuple[float, float]:
    corners = [wy * y + ws * s for y in (0.0, 1.0) for s in (0.0, 1.0)]
    return min(corners), max(corners)


def colour_statistics(rgb: np.ndarray) -> dict[str, float]:
    """Brightness, saturation (mean HSV V and S), Hasler-Suesstrunk colourfulness and RMS contrast
    of an ``(H, W, 3)`` uint8 image."""
    x = rgb.reshape(-1, 3).astype(np.float64)
    mx = x.max(axis=1)
    mn = x.min(axis=1)
    value = mx / 255.0
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-12), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    luma = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
    return {
        "brightness": float(value.mean()),
        "saturation": float(sat.mean()),
        "colourfulness": float(colourfulness),
        "contrast": float(luma.std()),
    }


def valdez_mehrabian(brightness: float, saturation: float) -> dict[str, float]:
    """Valence, arousal and dominance on SAM 1-9 from brightness and saturation in [0, 1]."""
    out = {}
    for dim, (wy, ws) in VALDEZ_MEHRABIAN.items():
        lo, hi = _formula_range(wy, ws)
        raw = wy * brightness + ws * saturation
        out[dim] = 1.0 + 8.0 * (raw - lo) / (hi - lo)
    return out


@register("color")
class ColorRater(Rater):
    """Colour statistics + Valdez & Mehrabian (1994) valence/arousal/dominance. A weak baseline.

    Parameters
    ----------
    max_side : int, default 256
        Images are downscaled to this longer side before measuring (statistics of means and
        spreads barely change; decoding gets much faster).
    """

    family = "baseline"
    summary = "weak baseline: colour statistics + Valdez & Mehrabian (1994) colour-emotion formulas"
    version = "1"

    parameter_constraints = {"max_side": Interval(int, 8, None)}

    def __init__(self, *, max_side: int = 256) -> None:
        self.max_side = max_side

    def outputs(self) -> list[ColumnSpec]:
        self.validate_params()
        vm = "Valdez & Mehrabian (1994) formula on mean HSV brightness/saturation, mapped to 1-9 (weak baseline)"
        specs = [
            ColumnSpec(name="valence", kind="scale", scale=SAM_VALENCE, description=vm),
            ColumnSpec(name="arousal", kind="scale", scale=SAM_AROUSAL, description=vm),
            ColumnSpec(name="dominance", kind="scale", scale=SAM_DOMINANCE, description=vm),
        ]
        specs += [ColumnSpec(name=n, kind="feature", scale=s, description=s.source or s.name) for n, s in FEATURES.items()]
        return specs

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        if stimulus.path is None:
            raise ValueError("stimulus has no file path")
        stats = colour_statistics(load_image(stimulus.path, max_side=self.max_side))
        return {**valdez_mehrabian(stats["brightness"], stats["saturation"]), **stats}
