"""Backbone features for a stimulus set: prefetched decoding, batching, and a resumable cache.

Decoding and resizing run in background threads (Pillow releases the GIL) while the backbone
computes the previous batch, so preprocessing does not hold the network up. Features are cached
in a SQLite file keyed by the backbone's fingerprint, the view and a hash of each file's content
(so a copied or re-extracted data folder keeps its features): a killed extraction resumes where
it stopped, and training several heads reads the cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._progress import Progress
from affectscope.backbones.base import Backbone, Ensemble, load_prepared
from affectscope.stimuli import Stimulus, StimulusSet


@dataclass
class Features:
    """Features of items: ``blocks[name]`` is ``(len(item_ids), width)``; failed items are in
    ``errors`` (item id -> message) and absent from ``item_ids``."""

    item_ids: list[str]
    blocks: dict[str, np.ndarray]
    errors: dict[str, str] = field(default_factory=dict)

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """The named blocks side by side, ``(n_items, sum of widths)``."""
        missing = [n for n in names if n not in self.blocks]
        if missing:
            raise KeyError(f"feature blocks {missing} not available; have {list(self.blocks)}")
        return np.concatenate([self.blocks[n] for n in names], axis=1)

    def subset(self, item_ids: Sequence[str]) -> "Features":
        pos = {k: i for i, k in enumerate(self.item_ids)}
        idx = [pos[k] for k in item_ids]
        return Features(list(item_ids), {k: v[idx] for k, v in self.blocks.items()}, {})


class FeatureCache:
    """SQLite cache of per-item feature vectors for one backbone + view."""

    def __init__(self, path: str | Path, key: str, widths: dict[str, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.widths = widths
        self.con = sqlite3.connect(self.path)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("CREATE TABLE IF NOT EXISTS feats (key TEXT, item_id TEXT, signature TEXT, vec BLOB, PRIMARY KEY (key, item_id))")
        self.con.commit()

    def get_many(self, stimuli: Sequence[Stimulus]) -> dict[str, np.ndarray]:
        rows = dict(
            ((item, sig), vec)
            for item, sig, vec in self.con.execute("SELECT item_id, signature, vec FROM feats WHERE key = ?", (self.key,))
        )
        out = {}
        for s in stimuli:
            vec = rows.get((s.item_id, s.signature()))
            if vec is not None:
                out[s.item_id] = np.frombuffer(vec, dtype=np.float32)
        return out

    def put_many(self, items: Sequence[tuple[Stimulus, np.ndarray]]) -> None:
        self.con.executemany(
            "INSERT OR REPLACE INTO feats VALUES (?, ?, ?, ?)",
            [(self.key, s.item_id, s.signature(), np.ascontiguousarray(v, np.float32).tobytes()) for s, v in items],
        )
        self.con.commit()

    def close(self) -> None:
        self.con.close()


def _batches(stimuli: Sequence[Stimulus], backbone: Backbone, view: str, batch_size: int, workers: int
             ) -> Iterator[list[tuple[Stimulus, Any]]]:
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        chunks = [list(stimuli[i:i + batch_size]) for i in range(0, len(stimuli), batch_size)]
        pending = None
        for chunk in chunks:
            fut = [pool.submit(load_prepared, backbone, s, view) for s in chunk]
            if pending is not None:
                yield [(s, f.result()) for s, f in pending]
            pending = list(zip(chunk, fut, strict=True))
        if pending is not None:
            yield [(s, f.result()) for s, f in pending]


def _embed_chunk(backbone: Backbone, batch: Sequence[tuple[Stimulus, Any]]) -> tuple[list[Stimulus], np.ndarray | None, dict[str, str]]:
    """(the batch's stimuli, the features of those that loaded side by side, why the others did not)."""
    failed = {s.item_id: arrs for s, arrs in batch if isinstance(arrs, str)}
    ok = [arrs for _, arrs in batch if not isinstance(arrs, str)]
    flat = None
    if ok:
        feats = backbone.embed_prepared(ok)
        flat = np.concatenate([feats[n] for n in backbone.blocks()], axis=1)
    return [s for s, _ in batch], flat, failed


class FeatureWorker:
    """A Ray actor's body: one copy of the backbone, decoding (two threads) and embedding batches."""

    def __init__(self, backbone: Backbone, view: str) -> None:
        self.backbone, self.view = backbone, view

    def embed(self, stimuli: Sequence[Stimulus]) -> tuple[list[Stimulus], np.ndarray | None, dict[str, str]]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            prepared = list(pool.map(lambda s: load_prepared(self.backbone, s, self.view), stimuli))
        return _embed_chunk(self.backbone, list(zip(stimuli, prepared, strict=True)))


def _ray_chunks(todo: Sequence[Stimulus], backbone: Backbone, view: str, batch_size: int, n_workers: int
                ) -> Iterator[tuple[list[Stimulus], np.ndarray | None, dict[str, str]]]:
    """:func:`_embed_chunk` results from Ray actors, in the order they finish (two batches in flight per actor)."""
    from affectscope._ray import connect, stream

    ray = connect()
    actor = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(FeatureWorker)
    actors = [actor.remote(backbone, view) for _ in range(max(1, n_workers))]
    chunks = (list(todo[i:i + batch_size]) for i in range(0, len(todo), batch_size))
    for _, _, ref in stream(actors, lambda a, chunk: a.embed.remote(chunk), chunks):
        yield ray.get(ref)


def extract_features(
    stimuli: StimulusSet | Sequence[Stimulus],
    backbone: Backbone,
    *,
    view: str = "center",
    batch_size: int = 32,
    workers: int = 2,
    cache: str | Path | None = None,
    progress: bool = True,
    engine: str = "local",
    ray_workers: int = 2,
) -> Features:
    """Features of every item (images only; other items are reported in ``errors``).

    Parameters
    ----------
    stimuli : StimulusSet or sequence of Stimulus
    backbone : Backbone
    view : str
        See :data:`affectscope.backbones.VIEWS`.
    batch_size, workers : int
        Images per forward pass; decoding threads.
    cache : path, optional
        SQLite file to cache features in (resumable).
    progress : bool
        Show a progress bar.
    engine : {"local", "ray"}, default "local"
        ``"ray"``: batches are decoded and embedded by ``ray_workers`` Ray actors (each with its own
        copy of the network; a local Ray runtime, or the cluster named by ``$RAY_ADDRESS``); this
        process keeps the cache and writes each batch as it comes back. Workers read the files'
        paths (a shared file system).
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', not {engine!r}")
    items = list(stimuli)
    if isinstance(backbone, Ensemble):  # per member, so each member's cache is shared with single-backbone runs
        parts = [(tag, extract_features(items, b, view=view, batch_size=batch_size, workers=workers, cache=cache,
                                        progress=progress, engine=engine, ray_workers=ray_workers)) for tag, b in backbone.members]
        errors = {k: v for _, f in parts for k, v in f.errors.items()}
        ids = [s.item_id for s in items if s.item_id not in errors]
        return Features(ids, {f"{tag}/{n}": v for tag, f in parts for n, v in f.subset(ids).blocks.items()}, errors)
    widths = backbone.blocks()
    total = sum(widths.values())
    store = FeatureCache(cache, f"{backbone.fingerprint()}:{view}", widths) if cache else None
    got: dict[str, np.ndarray] = store.get_many(items) if store else {}
    errors: dict[str, str] = {}
    todo = [s for s in items if s.item_id not in got]
    bar = Progress(len(items), initial=len(items) - len(todo), unit="img", desc=f"features {backbone!r}", enabled=progress)
    try:
        chunks = (_ray_chunks(todo, backbone, view, batch_size, ray_workers) if engine == "ray"
                  else (_embed_chunk(backbone, batch) for batch in _batches(todo, backbone, view, batch_size, workers)))
        for batch, flat, failed in chunks:
            errors.update(failed)
            ok = [s for s in batch if s.item_id not in failed]
            if ok:
                new = [(s, flat[i]) for i, s in enumerate(ok)]
                got.update((s.item_id, v) for s, v in new)
                if store:
                    store.put_many(new)
            bar.update(len(batch), failed=len(failed))
    finally:
        bar.close()
        if store:
            store.close()
    ids = [s.item_id for s in items if s.item_id in got]
    mat = np.stack([got[i] for i in ids]) if ids else np.zeros((0, total), np.float32)
    blocks, start = {}, 0
    for name, w in widths.items():
        blocks[name] = mat[:, start:start + w]
        start += w
    return Features(ids, blocks, errors)
