"""The rater registry: names to classes, with no if/elif wiring.

Built-in raters are the modules of :mod:`affectscope.raters` that use :func:`register`;
they are discovered by importing those modules on first look-up (rater modules keep heavy
imports inside methods, so this stays cheap). Other packages add raters through the
``affectscope.raters`` entry-point group. ``"package.module:Class"`` works too, for a rater
that is not registered anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import Any, TypeVar

from affectscope.raters.base import Rater

_REGISTRY: dict[str, type[Rater]] = {}
_DISCOVERED = False
_NOT_RATER_MODULES = {"base", "registry"}

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
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import affectscope.raters as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in _NOT_RATER_MODULES and not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    for ep in entry_points(group="affectscope.raters"):
        if ep.name not in _REGISTRY:
            cls = ep.load()
            register(ep.name)(cls)


def available_raters() -> dict[str, type[Rater]]:
    """Every registered rater, by name (sorted)."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


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
    raters = available_raters()
    if name not in raters:
        raise UnknownRaterError(
            f"unknown rater {name!r}; available: {', '.join(raters)} (or 'package.module:Class')"
        )
    return raters[name]


def make_rater(name: str, **params: Any) -> Rater:
    """Instantiate a rater by name with keyword parameters; unknown parameters raise, listing the valid ones."""
    cls = get_rater_class(name)
    valid = cls._param_names()
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise TypeError(f"rater {name!r} has no parameter(s) {unknown}; valid: {valid or 'none'}")
    return cls(**params)
