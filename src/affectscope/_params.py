"""Declared parameter constraints (scikit-learn's ``_parameter_constraints``, in spirit).

A rater declares, per constructor parameter, what values it takes::

    parameter_constraints = {
        "sampling": Options(("uniform", "fps", "change")),
        "k": Interval(int, 1, None),
        "fps": Interval(float, 0, None, closed="neither"),
        "series_dir": NoneOr(Text()),
    }

:func:`validate_params` checks every value and raises :class:`InvalidParameterError` (a
``ValueError``) whose message names the parameter, what is valid and what was given. The contract
tests generate invalid values from the same declarations (:meth:`Constraint.invalid_values`).
"""

from __future__ import annotations

import re

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args


class InvalidParameterError(ValueError):
    """A parameter value its owner does not take; the message names the parameter, the valid values
    and the value given.

    ``params`` lists the parameter names the message uses, so that a command line can say the
    same with its flags (:meth:`with_flags`: ``n_components`` becomes ``--n-components``)."""

    def __init__(self, message: str, params: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params = tuple(params)

    def with_flags(self) -> str:
        """The message with each of ``params`` written as its command-line flag."""
        text = str(self.args[0])
        for p in self.params:
            text = re.sub(rf"(?<![\w-]){re.escape(p)}(?!\w)", "--" + p.replace("_", "-"), text)
        return text


class Constraint:
    """What one parameter takes."""

    def is_valid(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """The valid values in words, e.g. ``"one of ('a', 'b')"``."""
        raise NotImplementedError

    def invalid_values(self) -> list[Any]:
        """Values this constraint refuses (for the contract tests)."""
        raise NotImplementedError

    def check(self, name: str, value: Any) -> Any:
        """``value``, or :class:`InvalidParameterError` naming ``name`` and what is valid."""
        if not self.is_valid(value):
            raise InvalidParameterError(f"{name} must be {self.describe()}, got {value!r}")
        return value


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    @classmethod
    def of(cls, literal: Any) -> "Options":
        """The options of a ``typing.Literal`` type."""
        return cls(tuple(get_args(literal)))

    def is_valid(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return f"one of {self.values}"

    def invalid_values(self) -> list[Any]:
        return ["__not_an_option__"]


@dataclass(frozen=True)
class Interval(Constraint):
    """A number in a range: ``type`` int (whole numbers; booleans refused) or float (any real
    number); ``low`` / ``high`` None for no bound; ``closed`` says which bounds belong to it."""

    type: type
    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def is_valid(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.type is int and not isinstance(value, int):
            return False
        if not isinstance(value, int | float) or math.isnan(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed in ("right", "neither"))):
            return False
        return not (self.high is not None
                    and (value > self.high or (value == self.high and self.closed in ("left", "neither"))))

    def describe(self) -> str:
        noun = "a whole number" if self.type is int else "a number"
        if self.high is None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}" if self.low is not None else noun
        if self.low is None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"

    def invalid_values(self) -> list[Any]:
        out: list[Any] = ["x", True]
        if self.low is not None:
            out.append(self.low if self.closed in ("right", "neither") else self.low - 1)
        if self.high is not None:
            out.append(self.high if self.closed in ("left", "neither") else self.high + 1)
        if self.type is int:
            out.append(1.5)
        return out


@dataclass(frozen=True)
class Boolean(Constraint):
    """True or False (not 0/1, not "yes")."""

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"

    def invalid_values(self) -> list[Any]:
        return ["yes", 1]


@dataclass(frozen=True)
class Text(Constraint):
    """A string; ``nonempty`` refuses ``""``."""

    nonempty: bool = False

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, str) and (bool(value) or not self.nonempty)

    def describe(self) -> str:
        return "a non-empty text" if self.nonempty else "a text"

    def invalid_values(self) -> list[Any]:
        return [3, *([""] if self.nonempty else [])]


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of ``types`` (described as ``what``), e.g. a mapping of column names to scales."""

    types: tuple[type, ...]
    what: str

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, self.types) and not isinstance(value, bool)

    def describe(self) -> str:
        return self.what

    def invalid_values(self) -> list[Any]:
        return [object()]


@dataclass(frozen=True)
class NoneOr(Constraint):
    """None, or what ``inner`` takes."""

    inner: Constraint

    def is_valid(self, value: Any) -> bool:
        return value is None or self.inner.is_valid(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"

    def invalid_values(self) -> list[Any]:
        return self.inner.invalid_values()


@dataclass(frozen=True)
class AnyOf(Constraint):
    """What any of ``choices`` takes."""

    choices: tuple[Constraint, ...]

    def is_valid(self, value: Any) -> bool:
        return any(c.is_valid(value) for c in self.choices)

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.choices)

    def invalid_values(self) -> list[Any]:
        return [v for c in self.choices for v in c.invalid_values() if not self.is_valid(v)]


def validate_params(params: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Check every parameter that has a constraint; raise :class:`InvalidParameterError` for the first that fails."""
    for name, constraint in constraints.items():
        if name in params:
            constraint.check(name, params[name])
