"""The rater registry: names to classes, with no if/elif wiring.

Built-in raters are listed in :data:`BUILTIN` as ``name -> "module:Class"`` (as lm-eval maps
model names), so looking one up imports its module alone: rater modules import what they use at
the top, and ``affectscope rate --rater color`` never loads torch. Their classes also carry
:func:`register`, which names them. Other packages add raters through the ``affectscope.raters``
entry-point group (loaded when their name is asked for, or when every rater is listed).
``"package.module:Class"`` works too, for a rater that is not registered anywhere.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, TypeVar

from affectscope.raters.base import Rater

#: The built-in raters: name -> "module:Class", imported on first use.
BUILTIN: dict[str, str] = {
    "color": "affectscope.raters.color:ColorRater",
    "face": "affectscope.raters.face:FaceRater",
    "image": "affectscope.raters.image:ImageRater",
    "llm": "affectscope.raters.llm:LLMRater",
    "table": "affectscope.raters.table:TableRater",
}

_REGISTRY: dict[str, type[Rater]] = {}

R = TypeVar("R", bound=type[Rater])


class UnknownRaterError(KeyError):
    """Raised for a rater name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register(name: str):
    """Class decorator: make a :class:`Rater` subclass available under ``name``."""

    def deco(cls: R) -> R:
        if not (isinstance(cls, type) and issubclass(cls, Rater)):
            raise TypeError(f"@register({name!r}) must decorate a Rater subclass, got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"rater name {name!r} is taken by {_REGISTRY[name].__module__}.{_REGISTRY[name].__name__}")
        if name in BUILTIN and BUILTIN[name] != f"{cls.__module__}:{cls.__qualname__}":
            raise ValueError(f"rater name {name!r} is taken by the built-in {BUILTIN[name]}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="affectscope.raters")}


def rater_names() -> list[str]:
    """Every rater name (built-in, entry point, registered at run time), sorted, importing none."""
    return sorted({*BUILTIN, *_entry_points(), *_REGISTRY})


def _load(name: str) -> type[Rater] | None:
    """The class registered as ``name``, importing its module if it is built in or an entry point."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in BUILTIN:
        mod_name, _, cls_name = BUILTIN[name].partition(":")
        cls = getattr(importlib.import_module(mod_name), cls_name)
        if _REGISTRY.get(name) is not cls:
            raise RuntimeError(f"built-in rater {name!r} maps to {BUILTIN[name]}, which is not registered as {name!r}")
        return cls
    ep = _entry_points().get(name)
    if ep is None:
        return None
    return register(name)(ep.load())


def available_raters() -> dict[str, type[Rater]]:
    """Every rater, by name (sorted); imports every rater module (use :func:`rater_names` for names alone)."""
    return {name: cls for name in rater_names() if (cls := _load(name)) is not None}


def get_rater_class(name: str) -> type[Rater]:
    """The class registered as ``name``, or imported from ``"package.module:Class"``."""
    if ":" in name:
        mod_name, _, cls_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name)
        except (ImportError, AttributeError) as exc:
            raise UnknownRaterError(f"cannot import rater {name!r}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Rater)):
            raise UnknownRaterError(f"{name!r} is not a Rater subclass")
        if not cls.name:
            cls.name = name
        return cls
    cls = _load(name)
    if cls is None:
        raise UnknownRaterError(
            f"unknown rater {name!r}; available: {', '.join(rater_names())} (or 'package.module:Class')"
        )
    return cls


def make_rater(name: str, **params: Any) -> Rater:
    """Instantiate a rater by name with keyword parameters, checked: unknown parameters raise
    ``TypeError`` listing the valid ones, invalid values :class:`~affectscope._params.InvalidParameterError`."""
    cls = get_rater_class(name)
    valid = cls._param_names()
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise TypeError(f"rater {name!r} has no parameter(s) {unknown}; valid: {valid or 'none'}")
    rater = cls(**params)
    rater.validate_params()
    return rater
