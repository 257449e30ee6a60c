"""Activations of the image and face raters' networks for brain studies (``affectscope features``).

The layers are what each rater computes anyway, so extracting them costs a rating run:

- ``image``: every pooled stage of each EfficientNet-Lite the heads read (``lite0/stage2``,
  ``lite0/stage2_std`` ... ``lite0/head``, ``lite0/logits``, the same for lite1 and lite2), the
  derived blocks the heads read (``derived/...``), and each head's outputs (``head/<head file>``:
  valence, arousal, the Emotion6 probabilities);
- ``face``: the FER+ network's penultimate layer (``ferplus/penultimate``, the pooled features its
  classifier reads), its logits and its probabilities, of the largest face (``aggregate="mean"``:
  the mean over faces), face and mirror image averaged as the rater does. A picture without a face
  is an error row ("no face found"), not a row of zeros.

Videos: one row per sampled frame (``frame``, ``time``) and the stimulus' own row, the mean over
its frames (``frame == -1``). Work is saved per batch in a SQLite cache keyed by the rater's
fingerprint and the layers, so a killed extraction resumes and finished items are never
recomputed; items that failed are tried again on the next run, as in ``affectscope rate``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._progress import Progress
from affectscope.backbones.base import decode_side
from affectscope.brain.activations import ITEM_ROW, Activations, ActivationsError, stack_rows
from affectscope.media.image import MIN_SIDE, describe_error, load_image
from affectscope.media.video import sample_uniform
from affectscope.raters.base import Rater
from affectscope.raters.image import FRAME_MAX_SIDE
from affectscope.raters.registry import make_rater
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.training.features import FeatureCache

#: Raters whose networks can be read.
RATERS = ("image", "face")
#: Frames per video (evenly spaced), as the image rater samples them by default.
VIDEO_FRAMES = 8


def list_layers(rater: str | Rater = "image", **params: Any) -> dict[str, int]:
    """Layer names and their widths (units) for ``rater`` (one forward pass on a blank picture)."""
    reader = _reader(rater, params)
    got = reader.frames([np.full((48, 48, 3), 128, np.uint8)])[0]  # a face crop's size: the face rater reads it whole
    if isinstance(got, str):
        raise ActivationsError(f"the {reader.rater.name} rater gave no activations for a blank picture: {got}")
    return {k: int(v.shape[0]) for k, v in got.items()}


def extract_activations(
    stimuli: StimulusSet | Sequence[Stimulus],
    rater: str | Rater = "image",
    *,
    layers: Sequence[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    frames: int = VIDEO_FRAMES,
    progress: bool | None = None,
    **params: Any,
) -> Activations:
    """Activations of ``layers`` (default: all, see :func:`list_layers`) for every stimulus.

    Parameters
    ----------
    stimuli : StimulusSet or sequence of Stimulus
        Pictures and videos (the item ids are those of ``affectscope rate``).
    rater : {"image", "face"} or Rater
    layers : sequence of str, optional
    cache : path-like, optional
        SQLite file: finished items are kept there as each batch finishes, and a rerun reads them
        instead of recomputing (``None``: nothing is kept).
    frames : int, default 8
        Frames per video, evenly spaced.
    progress : bool or None
        As in :func:`affectscope.rate`.
    **params
        Parameters of a rater given by name.

    Returns
    -------
    Activations
        Stimuli that failed are in ``errors`` with the reason and have no rows.
    """
    if frames < 1:
        raise ActivationsError(f"frames must be at least 1, got {frames}")
    reader = _reader(rater, params)
    available = list_layers(reader.rater)
    names = list(available) if layers is None else list(layers)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ActivationsError(f"unknown layers {unknown} for the {reader.rater.name} rater; it has {list(available)} "
                               "(`affectscope features --list-layers`)")
    items = list(stimuli)
    width = 2 + sum(available[n] for n in names)  # frame, time, then the layers side by side
    key = f"activations:{reader.rater.name}:{reader.rater.fingerprint()}:{frames}:{'|'.join(names)}"
    store = FeatureCache(cache, key, {"rows": width}) if cache is not None else None
    done = store.get_many(items) if store else {}
    rows: dict[str, list[tuple[int, float, dict[str, np.ndarray]]]] = {}
    errors: dict[str, str] = {}
    bar = Progress(len(items), initial=len(done), unit="item", desc=f"activations ({reader.rater.name})", enabled=progress)
    try:
        todo = [s for s in items if s.item_id not in done]
        for start in range(0, len(todo), reader.batch_size):
            batch = todo[start:start + reader.batch_size]
            got = reader.items(batch, frames)
            finished = []
            for s in batch:
                res = got[s.item_id]
                if isinstance(res, str):
                    errors[s.item_id] = res
                    continue
                finished.append((s, _flatten(res, names)))
            if store and finished:
                store.put_many(finished)  # one transaction per batch
            done.update((s.item_id, v) for s, v in finished)
            bar.update(len(batch), failed=len(batch) - len(finished))
    finally:
        bar.close()
        if store:
            store.close()
    for s in items:
        if s.item_id in done:
            rows[s.item_id] = _unflatten(done[s.item_id], names, available, width)
    meta = {"rater": reader.rater.name, "params": reader.rater.get_params(), "fingerprint": reader.rater.fingerprint(),
            "frames_per_video": frames}
    return stack_rows(rows, names, errors, meta)


def _flatten(rows: list[tuple[int, float, dict[str, np.ndarray]]], names: Sequence[str]) -> np.ndarray:
    return np.concatenate([np.concatenate([[frame, t], *[np.asarray(v[n], np.float32) for n in names]]) for frame, t, v in rows])


def _unflatten(vec: np.ndarray, names: Sequence[str], widths: dict[str, int], width: int
               ) -> list[tuple[int, float, dict[str, np.ndarray]]]:
    out = []
    for row in np.asarray(vec, np.float32).reshape(-1, width):
        vecs, pos = {}, 2
        for n in names:
            vecs[n] = row[pos:pos + widths[n]]
            pos += widths[n]
        out.append((int(row[0]), float(row[1]), vecs))
    return out


# ---- the raters' networks -------------------------------------------------------------------------------
class _Reader:
    """Reads one rater's layers: :meth:`frames` maps RGB pictures to ``{layer: (n, width)}`` per picture
    (or an error message), :meth:`items` does it for stimuli, videos frame by frame."""

    batch_size = 16

    def __init__(self, rater: Rater) -> None:
        self.rater = rater

    def frames(self, rgbs: Sequence[np.ndarray]) -> list[dict[str, np.ndarray] | str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, s: Stimulus) -> np.ndarray:  # pragma: no cover - abstract
        """A picture decoded as the rater decodes it."""
        raise NotImplementedError

    def items(self, batch: Sequence[Stimulus], frames: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pictures, loaded = [], []
        for s in batch:
            try:
                if s.path is None or s.media not in ("image", "video"):
                    raise ValueError(f"{s.media} stimuli have no pictures to read activations from")
                if s.media == "video":
                    out[s.item_id] = self._video(s, frames)
                    continue
                pictures.append(s)
            except Exception as exc:  # noqa: BLE001 - one bad item never kills a batch
                out[s.item_id] = describe_error(exc)
        with ThreadPoolExecutor(max_workers=2) as pool:  # decoding beside the networks' previous work
            for s, got in zip(pictures, pool.map(self._load_safely, pictures), strict=True):
                loaded.append((s, got))
        ok = [(s, a) for s, a in loaded if not isinstance(a, str)]
        out.update({s.item_id: a for s, a in loaded if isinstance(a, str)})
        for (s, _), acts in zip(ok, self.frames([a for _, a in ok]) if ok else [], strict=True):
            out[s.item_id] = acts if isinstance(acts, str) else [(ITEM_ROW, float("nan"), acts)]
        return out

    def _load_safely(self, s: Stimulus) -> np.ndarray | str:
        try:
            return self.load(s)
        except Exception as exc:  # noqa: BLE001
            return describe_error(exc)

    def _video(self, s: Stimulus, k: int) -> list[tuple[int, float, dict[str, np.ndarray]]] | str:
        sampled = sample_uniform(s.path, k, max_side=FRAME_MAX_SIDE)  # type: ignore[arg-type]  # as the image rater samples
        per_frame = self.frames([f.rgb for f in sampled])
        rows = [(f.index, round(f.time, 4), a) for f, a in zip(sampled, per_frame, strict=True) if not isinstance(a, str)]
        if not rows:
            reasons = sorted({a for a in per_frame if isinstance(a, str)})
            return f"no sampled frame gave activations ({'; '.join(reasons) or 'no frames'})"
        mean = {k2: np.mean([r[2][k2] for r in rows], axis=0) for k2 in rows[0][2]}
        return [*rows, (ITEM_ROW, float("nan"), mean)]


class _ImageReader(_Reader):
    def load(self, s: Stimulus) -> np.ndarray:
        _, backbone, _ = self.rater._loaded  # type: ignore[attr-defined]
        return load_image(s.path, max_side=decode_side(backbone), min_side=MIN_SIDE)  # type: ignore[arg-type]  # as the rater decodes

    def frames(self, rgbs: Sequence[np.ndarray]) -> list[dict[str, np.ndarray] | str]:
        rater: Any = self.rater
        _, backbone, view = rater._loaded
        acts = rater.activations([backbone.prepare(x, view) for x in rgbs])
        return [{k: v[i] for k, v in acts.items()} for i in range(len(rgbs))]


class _FaceReader(_Reader):
    batch_size = 64

    def load(self, s: Stimulus) -> np.ndarray:
        return load_image(s.path, max_side=1280, min_side=MIN_SIDE, mode="L")  # type: ignore[arg-type]

    def frames(self, rgbs: Sequence[np.ndarray]) -> list[dict[str, np.ndarray] | str]:
        import torch

        from affectscope.faces import ferplus_cnn

        pipe: Any = self.rater.pipeline()  # type: ignore[attr-defined]
        if not pipe.fer_plus:
            raise ActivationsError("activations are read from the FER+ networks: model='ferplus' or 'ferplus_large' "
                                   f"(the rater has model={pipe.model!r})")
        found = [pipe.find(x) for x in rgbs]
        crops = [c for f in found for c in f.crops]
        out: list[dict[str, np.ndarray] | str] = []
        if not crops:
            return ["no face found" for _ in rgbs]
        model = ferplus_cnn.load_ferplus_cnn(variant=pipe.model)
        x = torch.from_numpy(ferplus_cnn.preprocess(np.stack(crops)))
        with torch.inference_mode():
            pen = []
            for i in range(0, len(x), 64):
                xb = x[i:i + 64]
                if pipe.mirror:
                    both = model[:-1](torch.cat([xb, torch.flip(xb, dims=[3])]).contiguous(memory_format=torch.channels_last))
                    pen.append((both[: len(xb)] + both[len(xb):]) / 2)  # the classifier is linear: the mean logits follow
                else:
                    pen.append(model[:-1](xb.contiguous(memory_format=torch.channels_last)))
            penultimate = torch.cat(pen)
            logits = model[-1](penultimate)
            probs = ferplus_cnn.correct_prior(torch.softmax(logits, dim=1).numpy(), float(pipe.prior_correction))
        penultimate_np, logits_np = penultimate.numpy(), logits.numpy()
        start = 0
        for f in found:
            n = len(f.crops)
            sl = slice(start, start + n)
            start += n
            if n == 0:
                out.append("no face found")
                continue
            pick = (lambda a: a[sl][0]) if pipe.aggregate == "largest" else (lambda a: a[sl].mean(axis=0))
            out.append({f"{pipe.model}/penultimate": pick(penultimate_np), f"{pipe.model}/logits": pick(logits_np),
                        f"{pipe.model}/probabilities": pick(probs)})
        return out


def _reader(rater: str | Rater, params: dict[str, Any]) -> _Reader:
    if isinstance(rater, str):
        if rater not in RATERS:
            raise ActivationsError(f"activations come from the image or face rater's networks; got rater={rater!r}. "
                                   f"Choose one of {list(RATERS)}")
        rater = make_rater(rater, **params)
    elif params:
        raise TypeError(f"parameters {sorted(params)} go to a rater given by name; {rater.name!r} is already built")
    if rater.name == "image":
        return _ImageReader(rater)
    if rater.name == "face":
        return _FaceReader(rater)
    raise ActivationsError(f"activations come from the image or face rater's networks, not {rater.name!r}")


def cache_path_for(output: str | os.PathLike[str]) -> Path:
    """The CLI's default cache beside an output file: ``acts.npz`` -> ``acts.npz.cache.sqlite``."""
    out = Path(output)
    return out.with_name(out.name + ".cache.sqlite")
