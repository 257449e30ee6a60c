"""Shared helpers of the norm loaders: finding the data folder, building human-rater provenance."""

from __future__ import annotations

import os
from pathlib import Path

from affectscope.ratings import RaterInfo

DATA_ENV = "AFFECTSCOPE_DATA"


class NormsError(FileNotFoundError):
    """A norm set's files are missing or not in the expected format."""


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the norm sets: ``root``, else ``$AFFECTSCOPE_DATA``, else ``../shared/data``
    (relative to the working directory), checked in that order."""
    tried = []
    for cand in (root, os.environ.get(DATA_ENV), Path.cwd().parent / "shared" / "data"):
        if cand is None:
            continue
        p = Path(cand)
        tried.append(str(p))
        if p.is_dir():
            return p
        if cand is root:
            break
    raise NormsError(
        f"norms folder not found (tried {tried}); pass root=... or set {DATA_ENV} to the folder holding "
        "oasis/, emotion6_dev/, ferplus/, cowen_keltner_2017/"
    )


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise NormsError(f"{what} not found at {path}; check the data folder (see the norms' README)")
    return path


def human(name: str, source: str, **params: object) -> RaterInfo:
    return RaterInfo(name=f"humans:{name}", kind="human", source=source, params=dict(params))


