"""`StimulusSet`: the items to rate, with stable ids, paths, media kind and metadata."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from affectscope._hashing import file_digest

MediaKind = Literal["image", "video", "text", "unknown"]

IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".heic", ".heif", ".avif",
})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


class StimulusError(ValueError):
    """Raised when a stimulus set cannot be built (missing inputs, colliding ids, bad CSV)."""


def media_kind(path: str | os.PathLike[str]) -> MediaKind:
    """Guess the media kind from the file extension (content is checked when loading)."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return "unknown"


@dataclass(frozen=True)
class Stimulus:
    """One item to rate.

    Attributes
    ----------
    item_id : str
        Stable identifier (relative path within a folder, or given explicitly).
    path : pathlib.Path or None
        The file, if the stimulus is a file.
    media : {"image", "video", "text", "unknown"}
        ``text`` stimuli are written descriptions (``metadata["text"]``, no file), e.g. scenes
        for language raters and text-only LLM protocols.
    metadata : dict
        Free-form descriptors (category, source ...), carried along.
    """

    item_id: str
    path: Path | None
    media: MediaKind
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def signature(self) -> str:
        """A hash of the file's content (of the text for text stimuli): changes when the content
        changes, and survives copying, re-extracting or touching the file, so caches and resumed
        runs keep their finished work when a data folder is re-created."""
        if self.media == "text":
            return "text:" + hashlib.sha256(str(self.metadata.get("text", "")).encode()).hexdigest()[:16]
        if self.path is None:
            return ""
        try:
            return "sha256:" + file_digest(self.path)[:20]
        except OSError:
            return "missing"


class StimulusSet(Sequence[Stimulus]):
    """An ordered collection of stimuli with unique ids.

    Build one with :meth:`from_paths` (files and folders), :meth:`from_csv` or :meth:`from_list`.
    """

    def __init__(self, stimuli: Iterable[Stimulus], *, skipped: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(stimuli)
        #: ``(path, why)`` of folder entries that were not made items (hidden files, files not named
        #: like a picture or video, folders named like one, links to folders); see :meth:`from_paths`.
        self.skipped: list[tuple[str, str]] = list(skipped)
        seen: dict[str, Stimulus] = {}
        for s in self._items:
            if s.item_id in seen:
                raise StimulusError(
                    f"two stimuli share the id {s.item_id!r} ({seen[s.item_id].path} and {s.path}); "
                    "rate them in separate runs or give explicit ids with a CSV (StimulusSet.from_csv)"
                )
            seen[s.item_id] = s
        self._by_id = seen

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return StimulusSet(self._items[i])
        return self._items[i]

    def __iter__(self) -> Iterator[Stimulus]:
        return iter(self._items)

    def __repr__(self) -> str:
        kinds = pd.Series([s.media for s in self._items], dtype=object).value_counts().to_dict()
        return f"StimulusSet({len(self)} items: {kinds})"

    def get(self, item_id: str) -> Stimulus:
        return self._by_id[item_id]

    def pilot(self, per_group: int, *, by: str = "category", seed: int = 0) -> "StimulusSet":
        """A stratified pilot subset: ``per_group`` items drawn (seeded) from each value of the
        metadata column ``by`` (items without it form one group), in the original order. Use it
        for a cheap smoke run of a study before the full set."""
        import random

        if per_group < 1:
            raise StimulusError(f"per_group must be at least 1, got {per_group}")
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(self._items):
            groups.setdefault(str(s.metadata.get(by, "")), []).append(i)
        if list(groups) == [""] and self._items and by not in self._items[0].metadata:
            raise StimulusError(
                f"no stimulus has a {by!r} column to stratify by; give a --stimuli CSV with that column or choose --pilot-by"
            )
        rng = random.Random(seed)
        keep = sorted(i for g in sorted(groups) for i in rng.sample(groups[g], min(per_group, len(groups[g]))))
        return StimulusSet(self._items[i] for i in keep)

    @property
    def item_ids(self) -> list[str]:
        return [s.item_id for s in self._items]

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True) -> "StimulusSet":
        """Files and folders. Folders contribute every entry below them whose name has an image or
        video extension (sorted, ids relative to the folder), whatever it is: a FIFO, a device, a
        broken or looping link named ``x.jpg`` becomes an item that fails with a clear error, never
        a silent gap. Entries that are not made items are listed in :attr:`skipped` with the
        reason: hidden files, files with other extensions, folders named like a file (their
        contents are searched), links to folders (not followed). Files given directly keep their
        name as id and are included whatever their extension (a non-media file then fails per item).
        """
        items: list[Stimulus] = []
        skipped: list[tuple[str, str]] = []
        paths = list(paths)
        if not paths:
            raise StimulusError("no input paths given")
        for raw in paths:
            p = Path(raw)
            if p.is_dir():
                found, skip = _scan_folder(p, recursive)
                skipped.extend(skip)
                items.extend(Stimulus(f.relative_to(p).as_posix(), f, media_kind(f)) for f in found)
            elif p.exists() or p.is_symlink():
                items.append(Stimulus(p.name, p, media_kind(p)))
            else:
                raise StimulusError(f"input not found: {p} (give existing files or folders)")
        if not items:
            why = f" ({skipped_summary(skipped)})" if skipped else ""
            raise StimulusError(
                f"no images or videos found in {[str(p) for p in paths]}{why}; "
                f"supported extensions: {sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS)}"
            )
        return cls(items, skipped=skipped)

    @classmethod
    def from_list(cls, paths: Iterable[str | os.PathLike[str]], ids: Iterable[str] | None = None) -> "StimulusSet":
        """Explicit files, with optional explicit ids (default: file names)."""
        paths = [Path(p) for p in paths]
        id_list = [p.name for p in paths] if ids is None else [str(i) for i in ids]
        if len(id_list) != len(paths):
            raise StimulusError(f"{len(paths)} paths but {len(id_list)} ids")
        return cls(Stimulus(i, p, media_kind(p)) for i, p in zip(id_list, paths))

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> "StimulusSet":
        """Text stimuli (written descriptions), ``{item_id: text}``."""
        if not texts:
            raise StimulusError("no texts given")
        empty = [k for k, v in texts.items() if not str(v).strip()]
        if empty:
            raise StimulusError(f"empty text for item(s) {empty[:5]}; give every item a description or drop it")
        return cls(Stimulus(str(k), None, "text", {"text": str(v)}) for k, v in texts.items())

    @classmethod
    def from_csv(
        cls, csv: str | os.PathLike[str], *, path_column: str = "path", id_column: str | None = None,
        text_column: str | None = None,
    ) -> "StimulusSet":
        """A CSV with a path column (relative paths resolve against the CSV's folder), an optional
        id column (default: the path as written) and any other columns as metadata. With
        ``text_column`` the items are text stimuli (descriptions) and ``id_column`` is required."""
        csv = Path(csv)
        try:
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - report any parse failure with the file name
            raise StimulusError(f"cannot read stimulus CSV {csv}: {exc}") from None
        if text_column is not None:
            if id_column is None:
                raise StimulusError(f"{csv}: text stimuli need an id column (--id-column)")
            for col in (text_column, id_column):
                if col not in frame.columns:
                    raise StimulusError(f"{csv}: no column {col!r}; columns are {list(frame.columns)}")
            meta_cols = [c for c in frame.columns if c not in (text_column, id_column)]
            items = []
            for i, row in enumerate(frame.to_dict("records")):
                if not row[text_column].strip():
                    raise StimulusError(f"{csv}: row {i + 2} ({row[id_column]!r}) has an empty {text_column!r}; fill it or drop the row")
                items.append(Stimulus(row[id_column], None, "text", {"text": row[text_column], **{c: row[c] for c in meta_cols}}))
            return cls(items)
        for col in [path_column] + ([id_column] if id_column else []):
            if col not in frame.columns:
                raise StimulusError(f"{csv}: no column {col!r}; columns are {list(frame.columns)}")
        meta_cols = [c for c in frame.columns if c not in (path_column, id_column)]
        items = []
        for row in frame.to_dict("records"):
            rel = row[path_column]
            p = Path(rel) if Path(rel).is_absolute() else csv.parent / rel
            item_id = row[id_column] if id_column else rel
            items.append(Stimulus(item_id, p, media_kind(p), {c: row[c] for c in meta_cols}))
        return cls(items)


def _scan_folder(root: Path, recursive: bool) -> tuple[list[Path], list[tuple[str, str]]]:
    """Entries below ``root`` named like stimuli, and the skipped ones with their reason. Links to
    folders are not followed (no loops); nothing is opened or read."""
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        here = Path(top)
        keep_dirs = []
        for d in sorted(dirs):
            sub = here / d
            if d.startswith("."):
                skipped.append((str(sub), "hidden folder"))
            elif sub.is_symlink():
                skipped.append((str(sub), "link to a folder (not followed; give it as an input to rate its files)"))
            elif not recursive:
                skipped.append((str(sub), "sub-folder (not searched: recursive=False)"))
            else:
                if media_kind(sub) != "unknown":
                    skipped.append((str(sub), "a folder named like a picture or video (its files are searched)"))
                keep_dirs.append(d)
        dirs[:] = keep_dirs
        for name in sorted(files):
            f = here / name
            if name.startswith("."):
                skipped.append((str(f), "hidden file"))
            elif media_kind(f) == "unknown":
                skipped.append((str(f), f"not named like a picture or video ({f.suffix or 'no extension'})"))
            else:
                found.append(f)
    return sorted(found), skipped


def skipped_summary(skipped: Sequence[tuple[str, str]]) -> str:
    """``skipped N entries: 2 hidden file e.g. '.x.jpg'; ...`` for :attr:`StimulusSet.skipped`:
    a count and one example per reason."""
    counts: dict[str, list[str]] = {}
    for path, why in skipped:
        counts.setdefault(why.split(" (")[0], []).append(path)
    parts = [f"{len(v)} {k} e.g. {Path(v[0]).name!r}" for k, v in sorted(counts.items(), key=lambda kv: -len(kv[1]))]
    return f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'}: " + "; ".join(parts)
