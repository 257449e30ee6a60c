"""Shared helpers of the norm loaders: finding the data folder, building human-rater provenance."""

from __future__ import annotations

import os
from pathlib import Path

from affectscope.ratings import RaterInfo

DATA_ENV = "AFFECTSCOPE_DATA"


class NormsError(FileNotFoundError):
    """A norm set's files are missing or not in the expected format."""


def _beside_checkout() -> Path | None:
    """``../shared/data`` beside the source checkout this package runs from (an editable install),
    so ``norms:`` names resolve from any working directory; ``None`` for an installed package."""
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "data" if (repo / "pyproject.toml").is_file() else None


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the norm sets: ``root``, else ``$AFFECTSCOPE_DATA``, else ``../shared/data``
    relative to the working directory, else ``../shared/data`` beside the source checkout (editable
    installs), checked in that order."""
    tried = []
    for cand in (root, os.environ.get(DATA_ENV), Path.cwd().parent / "shared" / "data", _beside_checkout()):
        if cand is None:
            continue
        p = Path(cand)
        if str(p) in tried:
            continue
        tried.append(str(p))
        if p.is_dir():
            return p
        if cand is root:
            break
    raise NormsError(
        f"norms folder not found (tried {tried}); give the folder holding oasis/, emotion6_dev/, ferplus/, "
        f"cowen_keltner_2017/: --data-root DIR on the command line, root=... in Python, or set {DATA_ENV}"
    )


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise NormsError(f"{what} not found at {path}; check the data folder (see the norms' README)")
    return path


def human(name: str, source: str, **params: object) -> RaterInfo:
    return RaterInfo(name=f"humans:{name}", kind="human", source=source, params=dict(params))


