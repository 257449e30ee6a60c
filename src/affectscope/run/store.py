"""The run store: every finished batch of items is written to SQLite, in one transaction, the moment it is done.

A killed run loses at most the batch in flight; running the same command again resumes,
skipping finished items (unless their file changed) and never writing an item twice
(``item_id`` is the primary key). Failures are stored as rows with their message, and are
retried on the next run by default; so are rated items marked incomplete (``retry``, e.g. an LLM
item some of whose participants failed). A rated item may carry a ``warning``.

One run at a time: a store is locked for as long as it is open (``<store>.lock`` holds the
owner's pid), so a second run on the same output stops with :class:`StoreLockedError` instead of
doing all the work again.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from affectscope.ratings import ColumnSpec, RaterInfo, Ratings, from_records

SCHEMA_VERSION = "1"


class StoreMismatchError(RuntimeError):
    """The store was made by a different rater configuration than the one asked for now."""


class StoreLockedError(RuntimeError):
    """Another process has the store open (a run on the same output is going on)."""


class StoredItem(NamedTuple):
    """One finished item, as :meth:`RunStore.put_many` persists it and :meth:`RunStore.items`
    reads it back: exactly one of ``values`` and ``error``."""

    item_id: str
    path: str | None
    signature: str
    values: dict[str, Any] | None
    error: str | None
    seconds: float
    warning: str | None = None
    retry: bool = False


class RunStore:
    """Per-item persistence of one rater's run.

    Parameters
    ----------
    path : path-like or ":memory:"
        SQLite file (created if missing).
    rater : RaterInfo
        Who rates; stored on first use.
    fingerprint : str
        Hash of everything that changes the output (see :meth:`Rater.fingerprint`). A store made
        with another fingerprint raises :class:`StoreMismatchError` unless ``fresh``.
    columns : sequence of ColumnSpec
    fresh : bool, default False
        Discard whatever the store holds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rater: RaterInfo,
        fingerprint: str,
        columns: Sequence[ColumnSpec],
        fresh: bool = False,
    ) -> None:
        self.path = str(path)
        self.rater = rater
        self.fingerprint = fingerprint
        self.columns = list(columns)
        self._lock_fd: int | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _acquire_lock(self.path + ".lock")
        try:
            self._open(fresh)
        except BaseException:
            if hasattr(self, "_db"):
                self._db.close()
            self._release_lock()
            raise

    def _open(self, fresh: bool) -> None:
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS items (
                item_id TEXT PRIMARY KEY,
                path TEXT,
                signature TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
                payload TEXT,
                error TEXT,
                seconds REAL NOT NULL,
                finished_at TEXT NOT NULL,
                warning TEXT,
                retry INTEGER NOT NULL DEFAULT 0
            );
            """
        )
        have = {r[1] for r in self._db.execute("PRAGMA table_info(items)")}
        with self._db:  # stores written before warnings and incomplete items existed
            if "warning" not in have:
                self._db.execute("ALTER TABLE items ADD COLUMN warning TEXT")
            if "retry" not in have:
                self._db.execute("ALTER TABLE items ADD COLUMN retry INTEGER NOT NULL DEFAULT 0")
        if fresh:
            with self._db:
                self._db.execute("DELETE FROM items")
                self._db.execute("DELETE FROM meta")
        self._check_or_init_meta()

    def _check_or_init_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with self._db:
                self._db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema", SCHEMA_VERSION),
                        ("fingerprint", self.fingerprint),
                        ("rater", self.rater.model_dump_json(by_alias=True)),
                        ("columns", json.dumps([c.model_dump(mode="json") for c in self.columns])),
                    ],
                )
            return
        if meta.get("fingerprint") != self.fingerprint:
            old = RaterInfo.model_validate_json(meta["rater"]) if "rater" in meta else None
            was = f"{old.name} {old.params}" if old else "an unknown rater"
            raise StoreMismatchError(
                f"the run store {self.path} was made by {was}, not by {self.rater.name} {self.rater.params}; "
                "rerun with --fresh to discard it, or write to another output file"
            )

    # ---- writing -------------------------------------------------------------------------
    def put(self, item_id: str, path: str | None, signature: str, values: dict[str, Any] | None, error: str | None,
            seconds: float, *, warning: str | None = None, retry: bool = False) -> None:
        """Persist one finished item (replacing an earlier failure of the same item). A rated item
        may carry a ``warning``; ``retry`` marks it incomplete (computed again by the next run that
        retries errors)."""
        self.put_many([StoredItem(item_id, path, signature, values, error, seconds, warning, retry)])

    def put_many(self, items: Sequence[StoredItem]) -> None:
        """Persist the finished items of one batch in one transaction: after a crash (kill -9, power
        loss) either all of them are in the store or none is, so a rerun computes a batch again
        whole and never writes an item twice. One commit per batch instead of per item."""
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        rows = []
        for it in items:
            if (it.values is None) == (it.error is None):
                raise ValueError(f"{it.item_id}: give exactly one of values or error")
            payload = None if it.values is None else json.dumps({k: _jsonable(v) for k, v in it.values.items()})
            rows.append((it.item_id, it.path, it.signature, "ok" if it.error is None else "error", payload, it.error, it.seconds,
                         now, it.warning, int(bool(it.retry))))
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO items (item_id, path, signature, status, payload, error, seconds, finished_at, warning, retry) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # ---- reading -------------------------------------------------------------------------
    def finished(self, *, include_errors: bool = False) -> dict[str, str]:
        """``{item_id: signature}`` of finished items (failed and incomplete ones too if ``include_errors``)."""
        q = "SELECT item_id, signature FROM items" + ("" if include_errors else " WHERE status = 'ok' AND retry = 0")
        return dict(self._db.execute(q).fetchall())

    def incomplete(self) -> set[str]:
        """Ids of rated items marked incomplete (``retry``): a run that retries errors computes them again."""
        return {r[0] for r in self._db.execute("SELECT item_id FROM items WHERE status = 'ok' AND retry = 1")}

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def items(self) -> Iterator[StoredItem]:
        q = "SELECT item_id, path, signature, payload, error, seconds, warning, retry FROM items"
        for item_id, path, sig, payload, error, seconds, warning, retry in self._db.execute(q):
            yield StoredItem(item_id, path, sig, json.loads(payload) if payload else None, error, seconds, warning, bool(retry))

    def to_ratings(self, item_ids: Sequence[str] | None = None) -> Ratings:
        """The stored results as :class:`Ratings`, in the order of ``item_ids`` (default: all, by id)."""
        rows = {it.item_id: it for it in self.items()}
        order = sorted(rows) if item_ids is None else [i for i in item_ids if i in rows]
        records = []
        for i in order:
            it = rows[i]
            rec: dict[str, Any] = {"item_id": i, "path": it.path, "error": it.error, "warning": it.warning}
            if it.values:
                rec.update(it.values)
            records.append(rec)
        return from_records(records, self.columns, self.rater)

    def close(self) -> None:
        self._db.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path + ".lock")  # still ours: we hold the lock while removing it
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(v: Any) -> Any:
    if type(v) is float:  # the common case first (numpy scalars, float subclasses, go below)
        return v if math.isfinite(v) else None
    if type(v) is str:
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return v


def _acquire_lock(lock_path: str) -> int | None:
    """An exclusive, non-blocking ``flock`` on ``lock_path`` (created, holding our pid); raises
    :class:`StoreLockedError` naming the holder's pid. Where ``fcntl`` does not exist (Windows),
    no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return None
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            store = lock_path[: -len(".lock")]
            raise StoreLockedError(
                f"the run store {store} is in use by another run (pid {holder}); wait for it to finish, stop it, "
                "or write to another output file"
            ) from None
        try:  # the file may have been removed by the previous holder between our open and our lock
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)
