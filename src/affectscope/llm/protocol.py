"""Rating protocols as data.

A protocol is a YAML file: who the participant is (persona), what they are told (instructions),
and what they are asked — scales with anchors (valence 1-9 ...) and category questions (choose
the emotions of a taxonomy). Shipped protocols live in ``affectscope/llm/protocols/``; any YAML
file with the same fields works (``--protocol my_study.yaml``).

The *design* decides how questions are grouped into requests: ``joint`` asks everything in one
request; ``per_scale`` asks each scale or category question in its own fresh request, as
between-subject norming studies did (one rating cannot anchor another).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from affectscope.taxonomy import Scale, get_category_set, get_scale

Design = Literal["joint", "per_scale"]
DESIGNS = ("joint", "per_scale")
MEDIUM_WORDS = {"image": "image", "video": "video", "text": "description"}


class ProtocolError(ValueError):
    """A protocol file that cannot be used, with what to change."""


class ScaleQuestion(BaseModel):
    """One rating scale: the column it fills, its scale and the question asked. ``labels`` names
    every point of the scale, low to high (a labelled Likert scale, e.g. OASIS's seven); without
    them the end points are named by ``low_anchor`` / ``high_anchor`` (or the scale's own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    scale: str
    question: str
    low_anchor: str | None = None
    high_anchor: str | None = None
    labels: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _labels_fit(self) -> "ScaleQuestion":
        if self.labels is not None and len(self.labels) != self.high - self.low + 1:
            raise ValueError(f"scale {self.name!r} runs {self.low}-{self.high}: give {self.high - self.low + 1} labels, "
                             f"one per point, not {len(self.labels)}")
        return self

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, v: str) -> str:
        s = get_scale(v)
        if s.low is None or s.high is None or s.low != int(s.low) or s.high != int(s.high):
            raise ValueError(f"scale {v!r} must have integer end points to be asked as a rating")
        if s.high - s.low > 100:
            raise ValueError(f"scale {v!r} has more than 101 points; use a shorter scale")
        return v

    @property
    def scale_obj(self) -> Scale:
        return get_scale(self.scale)

    @property
    def low(self) -> int:
        return int(self.scale_obj.low)  # type: ignore[arg-type]

    @property
    def high(self) -> int:
        return int(self.scale_obj.high)  # type: ignore[arg-type]

    def anchors(self) -> tuple[str, str]:
        if self.labels:
            return self.labels[0], self.labels[-1]
        s = self.scale_obj
        return self.low_anchor or s.low_anchor, self.high_anchor or s.high_anchor


class CategoryQuestion(BaseModel):
    """A category question over a taxonomy: ``choose`` one, or ``select`` all that apply.

    The output per category is the share of participants who chose it (as in Cowen & Keltner
    2017, where the human value is the proportion of raters choosing each category).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    taxonomy: str
    mode: Literal["choose", "select"] = "choose"
    question: str
    key: str = Field(default="emotions", pattern=r"^[a-z][a-z0-9_]*$")

    @field_validator("taxonomy")
    @classmethod
    def _known_taxonomy(cls, v: str) -> str:
        get_category_set(v)  # raises with the valid names
        return v

    def categories(self) -> tuple[str, ...]:
        return tuple(get_category_set(self.taxonomy).categories)

    def columns(self) -> tuple[str, ...]:
        return tuple(get_category_set(self.taxonomy).columns)


class Provenance(BaseModel):
    """Where a protocol's wording comes from, part by part: what is the source's own wording
    (``verbatim``), what says the same in other words (``paraphrased``), what was rebuilt without
    access to the source's text (``reconstructed``), and ``why`` anything is not verbatim."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    verbatim: tuple[str, ...] = ()
    paraphrased: tuple[str, ...] = ()
    reconstructed: tuple[str, ...] = ()
    why: str = ""


class Protocol(BaseModel):
    """A rating protocol (see the module docstring; shipped examples in ``llm/protocols/``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    title: str = ""
    source: str = ""
    persona: str
    instructions: str
    scales: tuple[ScaleQuestion, ...] = ()
    categories: CategoryQuestion | None = None
    explanation: bool = False
    explanation_question: str = "In one or two sentences, say what in the {medium} made you feel this way."
    design: Design = "joint"
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _check(self) -> "Protocol":
        if not self.scales and self.categories is None:
            raise ValueError("a protocol needs at least one scale or a category question")
        names = [s.name for s in self.scales] + ([self.categories.key] if self.categories else [])
        if self.explanation:
            names.append("explanation")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"answer keys must be unique; repeated: {dup}")
        return self

    def questions(self, design: Design | None = None) -> list["Question"]:
        """The requests one participant answers per item under ``design`` (default: the protocol's)."""
        design = design or self.design
        if design not in DESIGNS:
            raise ProtocolError(f"unknown design {design!r}; valid: {', '.join(DESIGNS)}")
        if design == "joint":
            return [Question("all", self.scales, self.categories, self.explanation)]
        qs = [Question(s.name, (s,), None, False) for s in self.scales]
        if self.categories is not None:
            qs.append(Question(self.categories.key, (), self.categories, False))
        if self.explanation:
            qs.append(Question("explanation", (), None, True))
        return qs


@dataclass(frozen=True)
class Question:
    """What one request asks: some scales, maybe a category question, maybe an explanation."""

    id: str
    scales: tuple[ScaleQuestion, ...]
    categories: CategoryQuestion | None
    explanation: bool

    @property
    def keys(self) -> list[str]:
        keys = [s.name for s in self.scales]
        if self.categories is not None:
            keys.append(self.categories.key)
        if self.explanation:
            keys.append("explanation")
        return keys


def _protocol_dir() -> Path:
    return Path(str(resources.files("affectscope.llm") / "protocols"))


def list_protocols() -> dict[str, Protocol]:
    """The shipped protocols, by name."""
    out = {}
    for f in sorted(_protocol_dir().glob("*.yaml")):
        p = load_protocol(f)
        out[p.name] = p
    return out


def load_protocol(spec: "str | os.PathLike[str] | Protocol") -> Protocol:
    """A shipped protocol by name, or any protocol YAML file by path."""
    if isinstance(spec, Protocol):
        return spec
    import yaml

    path = Path(spec)
    if not path.suffix:
        path = _protocol_dir() / f"{spec}.yaml"
        if not path.is_file():
            names = sorted(f.stem for f in _protocol_dir().glob("*.yaml"))
            raise ProtocolError(f"unknown protocol {str(spec)!r}; shipped: {', '.join(names)} (or give a .yaml file path)")
    if not path.is_file():
        raise ProtocolError(f"protocol file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}: the file must hold a mapping of protocol fields")
    try:
        return Protocol.model_validate(data)
    except Exception as exc:  # noqa: BLE001 - pydantic's message lists every bad field
        raise ProtocolError(f"{path}: invalid protocol:\n{exc}") from None
