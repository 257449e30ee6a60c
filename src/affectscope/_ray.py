"""Ray, the optional engine for scaling out: imported on first use, with the install command when it is missing."""

from __future__ import annotations

import os
from typing import Any

RAY_INSTALL = "pip install 'affectscope[ray]'"


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (Ray not installed, no cluster at the address, a rater
    the workers cannot build); nothing was computed."""


def require_ray() -> Any:
    """The ``ray`` module, or :class:`EngineUnavailable` naming the install command."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(f"engine 'ray' needs Ray, which is not installed. Nothing was run. Fix: {RAY_INSTALL}") from None
    return ray


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` or to a local Ray runtime started
    now (once per process; a process already connected keeps its connection)."""
    ray = require_ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from an offline lab machine
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=True, configure_logging=False)
        except ConnectionError as exc:
            raise EngineUnavailable(f"cannot reach the Ray cluster at {address!r} ({exc}). Nothing was run. "
                                    "Fix: check --ray-address (e.g. ray://HEAD:10001), or leave it out for a local runtime") from None
    return ray
