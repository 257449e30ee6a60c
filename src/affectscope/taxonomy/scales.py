"""Rating scales as objects: a dimension, a numeric range and its anchors.

Every numeric column in affectscope carries a :class:`Scale`. Conversions between
scales are explicit calls (:meth:`Scale.convert`), never silent: comparing OASIS
valence (1-7) with a rater's SAM valence (1-9) first needs ``OASIS_VALENCE.convert(x, to=SAM_VALENCE)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator


class ScaleError(ValueError):
    """Raised when values or conversions do not fit a scale."""


class Scale(BaseModel):
    """A numeric rating scale.

    Parameters
    ----------
    dimension : str
        What is rated, e.g. ``"valence"``, ``"arousal"``, ``"probability"``.
        Conversion refuses to cross dimensions unless asked.
    low, high : float or None
        The end points of the scale. ``None`` marks an open end (a feature with no
        fixed bound); such a scale cannot be converted linearly.
    low_anchor, high_anchor : str
        The verbal anchors at the end points (e.g. ``"very unpleasant"``).
    name : str
        A short identifier, e.g. ``"sam9"``; used in file metadata and messages.
    source : str
        Where the scale comes from (citation), empty for project-defined scales.
    """

    model_config = ConfigDict(frozen=True)

    dimension: str
    low: float | None
    high: float | None
    low_anchor: str = ""
    high_anchor: str = ""
    name: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _check_range(self) -> "Scale":
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ScaleError(f"scale {self.label!r}: low ({self.low}) must be below high ({self.high})")
        return self

    @property
    def label(self) -> str:
        """A human-readable label such as ``valence 1-9 (sam9)``."""
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        tag = f" ({self.name})" if self.name else ""
        return f"{self.dimension} {lo}-{hi}{tag}"

    @property
    def bounded(self) -> bool:
        """True when both end points are finite."""
        return self.low is not None and self.high is not None

    @property
    def midpoint(self) -> float:
        """The neutral point of a bounded scale."""
        self._require_bounded("midpoint")
        return (self.low + self.high) / 2  # type: ignore[operator]

    def _require_bounded(self, what: str) -> None:
        if not self.bounded:
            raise ScaleError(f"scale {self.label!r} has an open end; {what} needs both end points")

    def convert(self, values: Any, to: "Scale", *, allow_dimension_change: bool = False) -> Any:
        """Map values linearly from this scale onto ``to`` (low to low, high to high).

        Parameters
        ----------
        values : float or array-like
            Values on this scale. NaN stays NaN.
        to : Scale
            The target scale.
        allow_dimension_change : bool, default False
            Converting e.g. arousal onto a valence scale is almost always a bug, so it
            raises unless this is set.

        Returns
        -------
        float or numpy.ndarray
            Same shape as ``values``.
        """
        if to.dimension != self.dimension and not allow_dimension_change:
            raise ScaleError(
                f"refusing to convert {self.label!r} to {to.label!r}: different dimensions. "
                "Pass allow_dimension_change=True if this is intended."
            )
        self._require_bounded("convert")
        to._require_bounded("convert")
        arr = np.asarray(values, dtype=float)
        out = to.low + (arr - self.low) * (to.high - to.low) / (self.high - self.low)  # type: ignore[operator]
        return float(out) if np.ndim(out) == 0 else out

    def outside(self, value: float, *, tol: float = 1e-9) -> bool:
        """Whether one finite float lies outside ``[low, high]``: :meth:`out_of_range` of a scalar,
        without building arrays (the run checks every column of every item with it)."""
        return (self.low is not None and value < self.low - tol) or (self.high is not None and value > self.high + tol)

    def out_of_range(self, values: Any, *, tol: float = 1e-9) -> np.ndarray:
        """Boolean mask of finite values outside ``[low, high]`` (NaN counts as in range)."""
        arr = np.asarray(values, dtype=float)
        mask = np.zeros(arr.shape, dtype=bool)
        if self.low is not None:
            mask |= arr < self.low - tol
        if self.high is not None:
            mask |= arr > self.high + tol
        return mask

    def check(self, values: Any, *, what: str = "values") -> None:
        """Raise :class:`ScaleError` naming the offending values if any lie outside the scale."""
        arr = np.asarray(values, dtype=float)
        bad = self.out_of_range(arr)
        if bad.any():
            examples = ", ".join(f"{v:g}" for v in arr[bad].ravel()[:5])
            raise ScaleError(
                f"{int(bad.sum())} {what} outside {self.label!r} (e.g. {examples}); "
                "check that the right scale was declared, or convert explicitly with Scale.convert"
            )

    def spread_scale(self) -> "Scale":
        """The scale of a standard deviation of ratings on this scale: 0 to half the range."""
        self._require_bounded("spread_scale")
        return Scale(
            dimension=f"{self.dimension}_sd", low=0, high=(self.high - self.low) / 2,  # type: ignore[operator]
            name=f"sd_{self.name}", source=self.source,
        )

    def same_range(self, other: "Scale") -> bool:
        """True when both scales share dimension and end points."""
        return (
            self.dimension == other.dimension
            and _eq(self.low, other.low)
            and _eq(self.high, other.high)
        )


def _eq(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b)


_SAM = "Bradley & Lang (1994), Self-Assessment Manikin, 9-point version"
_OASIS = "Kurdi, Lozano & Banaji (2017), Behav Res Methods 49:457 (OASIS), 7-point Likert"
_GAPED = "Dan-Glauser & Scherer (2011), Behav Res Methods 43:468 (GAPED), 0-100 sliders"
_ROMEO = "Romeo & Testolin (2025), R Soc Open Sci; NAPS-style 1-9 scales"

SAM_VALENCE = Scale(dimension="valence", low=1, high=9, low_anchor="very unpleasant", high_anchor="very pleasant", name="sam9", source=_SAM)
SAM_AROUSAL = Scale(dimension="arousal", low=1, high=9, low_anchor="very calm", high_anchor="very excited", name="sam9", source=_SAM)
SAM_DOMINANCE = Scale(dimension="dominance", low=1, high=9, low_anchor="controlled", high_anchor="in control", name="sam9", source=_SAM)
APPROACH_9 = Scale(dimension="approach", low=1, high=9, low_anchor="avoid", high_anchor="approach", name="approach9", source=_ROMEO)
OASIS_VALENCE = Scale(dimension="valence", low=1, high=7, low_anchor="very negative", high_anchor="very positive", name="oasis7", source=_OASIS)
OASIS_AROUSAL = Scale(dimension="arousal", low=1, high=7, low_anchor="very low", high_anchor="very high", name="oasis7", source=_OASIS)
GAPED_VALENCE = Scale(dimension="valence", low=0, high=100, low_anchor="very negative", high_anchor="very positive", name="gaped100", source=_GAPED)
GAPED_AROUSAL = Scale(dimension="arousal", low=0, high=100, low_anchor="calm", high_anchor="aroused", name="gaped100", source=_GAPED)
PROBABILITY = Scale(dimension="probability", low=0, high=1, low_anchor="never chosen", high_anchor="always chosen", name="unit")
#: Counts (raters, faces, frames, tokens): open-ended, never converted.
COUNT = Scale(dimension="count", low=0, high=None, name="count")
INTENSITY_9 = Scale(dimension="intensity", low=1, high=9, low_anchor="not at all", high_anchor="extremely", name="intensity9", source=_ROMEO)

#: Named scales users can refer to by ``"<dimension>:<name>"`` (e.g. ``"valence:oasis7"``).
SCALES: dict[str, Scale] = {
    f"{s.dimension}:{s.name}": s
    for s in (
        SAM_VALENCE, SAM_AROUSAL, SAM_DOMINANCE, APPROACH_9, OASIS_VALENCE, OASIS_AROUSAL,
        GAPED_VALENCE, GAPED_AROUSAL, PROBABILITY, INTENSITY_9,
    )
}

#: The default output scale per dimension (SAM 1-9, as most norms and MLLM studies use).
DEFAULT_SCALES: dict[str, Scale] = {
    "valence": SAM_VALENCE,
    "arousal": SAM_AROUSAL,
    "dominance": SAM_DOMINANCE,
    "approach": APPROACH_9,
}


def get_scale(spec: "str | Scale") -> Scale:
    """Resolve a scale from a :class:`Scale`, a key of :data:`SCALES`, or ``"dimension:low-high"``.

    Examples
    --------
    >>> get_scale("valence:oasis7").high
    7.0
    >>> get_scale("valence:1-7").same_range(get_scale("valence:oasis7"))
    True
    """
    if isinstance(spec, Scale):
        return spec
    if spec in SCALES:
        return SCALES[spec]
    dim, sep, rng = spec.partition(":")
    lo, dash, hi = rng.partition("-")
    if sep and dash:
        try:
            return Scale(dimension=dim, low=float(lo), high=float(hi), name=f"{lo}-{hi}")
        except ValueError:
            pass
    raise ScaleError(
        f"unknown scale {spec!r}: use one of {sorted(SCALES)} or 'dimension:LOW-HIGH' such as 'valence:1-7'"
    )
