"""The response cache: a rerun of a finished study sends zero requests.

Keyed by everything that changes the answer — server, model, protocol name and version, the
full request (messages with each image replaced by its SHA-256), structured-output mode,
temperature, seed, token limits, logprob settings and the participant index — and by nothing
else: the API key is never part of a key or a row. Only valid answers and refusals are replayed;
transport failures and malformed replies are not, so they are asked again next time. Refusals
are kept in their own status so they are replayed as refusals, never as answers. Failures are
recorded in a table of their own (kind and message, for the per-participant export), never
read as answers, and removed when an answer to the same request arrives.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any


def request_key(parts: dict[str, Any]) -> str:
    """SHA-256 of a canonical JSON rendering of ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def redact_media(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every data URL replaced by the SHA-256 of its bytes (for keys)."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "image_url":
                    url = p["image_url"]["url"]
                    parts.append({"type": "image_url", "sha256": hashlib.sha256(url.encode()).hexdigest(),
                                  "detail": p["image_url"].get("detail")})
                else:
                    parts.append(p)
            out.append({**m, "content": parts})
        else:
            out.append(m)
    return out


class ResponseCache:
    """SQLite cache of answers and refusals (thread-safe; one file per user by default)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS responses (
                key TEXT PRIMARY KEY,
                status TEXT NOT NULL CHECK (status IN ('answer', 'refusal')),
                item_id TEXT, question TEXT, participant INTEGER, model TEXT,
                answer TEXT, expected TEXT, raw TEXT,
                prompt_tokens INTEGER, completion_tokens INTEGER, created_at TEXT NOT NULL)"""
        )
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS failures (
                key TEXT PRIMARY KEY, item_id TEXT, question TEXT, participant INTEGER, model TEXT,
                kind TEXT NOT NULL, message TEXT, created_at TEXT NOT NULL)"""
        )
        self._db.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, answer, expected, raw, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        status, answer, expected, raw, pt, ct = row
        return {"status": status, "answer": json.loads(answer) if answer else None,
                "expected": json.loads(expected) if expected else {}, "raw": raw,
                "prompt_tokens": pt, "completion_tokens": ct}

    def put(
        self, key: str, *, status: str, item_id: str, question: str, participant: int, model: str,
        answer: dict[str, Any] | None, expected: dict[str, float] | None, raw: str, prompt_tokens: int, completion_tokens: int,
    ) -> None:
        if status not in ("answer", "refusal"):
            raise ValueError(f"only answers and refusals are cached, not {status!r}")
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, status, item_id, question, participant, model,
                 json.dumps(answer) if answer is not None else None, json.dumps(expected or {}), raw,
                 prompt_tokens, completion_tokens, _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
            )

    def put_failure(self, key: str, *, item_id: str, question: str, participant: int, model: str, kind: str, message: str) -> None:
        """Record that this request failed (its last failure): never replayed, only reported."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, item_id, question, participant, model, kind, message,
                 _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
            )

    def get_failure(self, key: str) -> tuple[str, str] | None:
        """``(kind, message)`` of the request's recorded failure, if any."""
        with self._lock:
            row = self._db.execute("SELECT kind, message FROM failures WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], row[1] or "")

    def delete_failure(self, key: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM failures WHERE key = ?", (key,))

    def delete(self, key: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        """Every stored response (for exporting per-participant answers)."""
        with self._lock:
            cur = self._db.execute("SELECT item_id, question, participant, model, status, answer, raw FROM responses ORDER BY item_id, participant, question")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
