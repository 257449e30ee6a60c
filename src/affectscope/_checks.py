"""Parameter checks whose messages list the valid options (scikit-learn's validate_params, in spirit)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from affectscope._params import InvalidParameterError


def check_option(name: str, value: Any, options: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise :class:`InvalidParameterError` (a
    ``ValueError``) naming them."""
    if value not in options:
        raise InvalidParameterError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value
