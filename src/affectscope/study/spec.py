"""The study file: what a study rates, against which humans, with which raters, compared how.

A YAML file validated with pydantic; an error names the line of the study file it is about::

    title: OASIS valence and arousal, three raters
    stimuli:
      from_humans: true            # the human table's path column (norms:oasis has one)
    humans:
      table: norms:oasis           # or a file, with its columns declared (scales:, categories:, id_column:)
      to_scale: {valence: "valence:sam9", arousal: "arousal:sam9"}
    raters:
      - name: image                # a label: the table, the figures and the files use it
        rater: image
      - name: gpt
        rater: llm
        params: {base_url: "http://127.0.0.1:8080/v1", model: gpt-4o, participants: 5}
      - name: published
        ratings: published.csv     # an imported table of a rater's outputs (not rated here)
        scales: {valence: "valence:sam9"}
    compare:
      levels: [items, categories]
      n_boot: 2000

Relative paths are read from the study file's folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
Level = Literal["items", "categories", "structure"]


class StudyError(ValueError):
    """A study that cannot run as written; the message names the study file's line where it can."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StimuliSpec(_Spec):
    """Where the stimuli are: ``paths`` (files or folders), a ``csv`` listing them, or
    ``from_humans`` (the human table's ``path`` column)."""

    paths: list[str] = Field(default_factory=list)
    csv: str | None = None
    path_column: str = "path"
    id_column: str | None = None
    from_humans: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "StimuliSpec":
        given = [bool(self.paths), self.csv is not None, self.from_humans]
        if sum(given) != 1:
            raise ValueError("give exactly one of paths (files or folders), csv (a stimulus list) or from_humans: true")
        return self


class TableSpec(_Spec):
    """How to read a ratings table that has no affectscope metadata, and how to adjust it."""

    scales: dict[str, str] = Field(default_factory=dict)
    categories: str | None = None
    id_column: str = "item_id"
    rename: dict[str, str] = Field(default_factory=dict)
    to_scale: dict[str, str] = Field(default_factory=dict)


class HumansSpec(TableSpec):
    """The human norms: ``norms:NAME`` (a shipped loader) or a ratings file."""

    table: str


class RaterSpec(TableSpec):
    """One rater: a registered ``rater`` with ``params``, rated here; or ``ratings``, a table of a
    rater's outputs made elsewhere (published model outputs), imported as it is."""

    name: str
    rater: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    ratings: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(f"rater names are letters, digits, '_', '.', '-' (they name files), got {v!r}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "RaterSpec":
        if (self.rater is None) == (self.ratings is None):
            raise ValueError("give rater: NAME (rated in this study) or ratings: FILE (imported), one of them")
        if self.ratings is not None and self.params:
            raise ValueError("params belong to a rater rated here (rater: NAME), not to imported ratings")
        return self


class CompareSpec(_Spec):
    """Which comparisons to run, and their settings (those of ``affectscope compare``)."""

    levels: list[Level] = Field(default_factory=lambda: ["items", "categories"])
    key: Literal["item_id", "name", "stem"] = "item_id"
    n_boot: int = Field(2000, ge=0)
    ci_method: Literal["bca", "percentile"] = "bca"
    groups: str | None = "auto"
    paired: bool = True
    n_null: int = Field(0, ge=0)
    random_state: int = 0


class StudySpec(_Spec):
    """A whole study (see the module docstring)."""

    title: str = "affectscope study"
    stimuli: StimuliSpec
    humans: HumansSpec
    raters: list[RaterSpec] = Field(min_length=1)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    data_root: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> "StudySpec":
        seen: set[str] = set()
        for r in self.raters:
            if r.name in seen:
                raise ValueError(f"two raters are named {r.name!r}: give each its own name")
            seen.add(r.name)
        return self


def _node_at(node: Any, loc: tuple[Any, ...]) -> Any:
    """The YAML node at a pydantic error location (as deep as the file goes)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
            if nxt is None:
                return node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


def parse_study(text: str, source: str = "study.yaml") -> StudySpec:
    """A validated study from YAML text; :class:`StudyError` names ``source``'s line for every problem."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{source}, line {mark.line + 1}" if mark is not None else source
        raise StudyError(f"{at}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise StudyError(f"{source}: a study file is a YAML mapping (title:, stimuli:, humans:, raters:, compare:); "
                         "`affectscope study init` writes an example")
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
            node = _node_at(root, loc)
            line = node.start_mark.line + 1 if node is not None else 1
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "not a study setting (check the spelling; `affectscope study init` writes every setting)"
            lines.append(f"{source}, line {line} ({_where(loc)}): {msg}")
        raise StudyError("the study file has problems:\n  " + "\n  ".join(lines)) from None


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file."""
    p = Path(path)
    if not p.is_file():
        raise StudyError(f"study file not found: {p} (`affectscope study init {p}` writes an example)")
    return parse_study(p.read_text(encoding="utf-8"), str(p))
