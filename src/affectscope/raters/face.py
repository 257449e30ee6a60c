"""The face rater: facial expressions of the faces in a picture.

Faces are found with an OpenCV Haar cascade (offline) and classified by an expression model:
``model="ferplus"`` (default), the project's CNN trained on FER+ vote distributions, 8 categories
(:mod:`affectscope.faces.ferplus_cnn`; ``"ferplus_large"``: a wider, more accurate, slower one); or
``model="fer2013"``, the FER2013 mini-Xception that ``fer`` ships (PyTorch port,
:mod:`affectscope.faces.mini_xception`), 7 categories. Small images (longer side <= 128 px, e.g. the
48x48 FER/FER+ faces) are taken as one pre-cropped face, so
``affectscope rate faces/ --rater face`` works on face datasets without flags.

Videos are rated frame by frame on the frames a sampling strategy chooses
(:mod:`affectscope.faces.video`; default ``change``-aware, which catches 0.25 s micro-expressions
while processing few frames). The row of a video holds the mean probabilities over processed frames
with a face, the number of frames processed, and the strongest non-neutral episode (label,
onset-offset, peak); ``series_dir`` also writes each video's per-frame series as CSV.

Faces the expression models were trained on (48x48 images pixel-identical to a FER+ train /
FER2013 Training face, under any file name) are named in the ``training_item`` column: their ratings
are in-sample, and `affectscope compare` warns about them (:mod:`affectscope.faces.training_faces`).

``valence`` and ``arousal`` (1-9) are derived, documentedly: the probability-weighted Warriner et
al. (2013) norms of the expression words (:data:`LABEL_VA`), not a model of dimensional face labels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affectscope._params import Boolean, Interval, NoneOr, Options, Text
from affectscope._workers import Workers, one_thread, torch_split
from affectscope.faces.ferplus_cnn import PRECISIONS, RUNTIMES
from affectscope.faces.pipeline import AGGREGATES, LABEL_VA, MODELS, WHOLE_FACE, WHOLE_FACE_MAX_SIDE, FacePipeline, Found, derived_va
from affectscope.faces.pipeline import VERSION as PIPELINE_VERSION
from affectscope.faces.video import STRATEGIES, SamplingSpec, aggregate, frame_series
from affectscope.media.image import MIN_SIDE, describe_error, load_image
from affectscope.media.video import truncation_warning, write_series
from affectscope.raters.base import Flagged, ItemError, Rater, RateResult, RaterUnavailable
from affectscope.raters.registry import register
from affectscope.ratings import TRAINING_COLUMN, ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import COUNT, PROBABILITY, SAM_AROUSAL, SAM_VALENCE

__all__ = ["LABEL_VA", "WHOLE_FACE_MAX_SIDE", "FaceRater", "derived_va"]

@dataclass
class _FaceBatch:
    """A batch between :meth:`FaceRater.prepare_batch` and :meth:`FaceRater.finish_batch`: the
    pictures' faces found, and the rows already known (videos, failures)."""

    face: FacePipeline
    stimuli: list[Stimulus]
    results: list[RateResult | None]
    where: list[int] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)


@register("face")
class FaceRater(Rater):
    """Facial expressions of detected or pre-cropped faces (FER+ CNN by default; or fer's FER2013 model).

    Parameters
    ----------
    whole_face : {"auto", "always", "never"}
        "auto": images whose longer side is at most 128 px are one pre-cropped face, larger ones
        are searched for faces; "always": every image is one face; "never": always detect.
    aggregate : {"largest", "mean"}
        Per-image probabilities: those of the largest face, or the mean over faces.
    margin : float
        Fraction of the face box added on every side before cropping.
    max_faces : int
        At most this many faces (largest first) are classified per image.
    model : {"ferplus", "ferplus_large", "fer2013"}
        The expression model (see the module docstring; accuracy and speed of each in docs/faces.md).
    sampling : {"change", "fps", "uniform"}
        Videos: which frames are processed (:mod:`affectscope.faces.video`).
    fps : float
        Frames per second for ``sampling="fps"``.
    k : int
        Frames for ``sampling="uniform"``.
    series_dir : str or None
        Videos: write each per-frame series to ``<series_dir>/<item_id>.csv``.
    precision : {"float32", "bfloat16", "int8"}
        Arithmetic of the FER+ CNN: ``"bfloat16"`` is about twice as fast on CPUs with AMX or
        AVX512-BF16, probabilities within ~0.01 (see docs/faces.md); ``"int8"`` runs the shipped
        int8 model of ``ferplus_large`` in ONNX Runtime (``runtime="onnxruntime"``), faster on CPUs
        without AMX at the same FER+ validation accuracy; FER+ models only.
    prior_correction : float
        0 (default) to 2: divide the FER+ CNN's probabilities by its training class prior to this
        power (post-hoc logit adjustment). 0.1 with ``model="ferplus_large"`` keeps accuracy and
        lifts UAR (FER+ authors' protocol, tau cross-fitted: 0.878 / 0.766); 0.5 raises the recall of
        rare expressions (contempt, disgust, fear) further at more cost in accuracy (FER+ validation
        trade-off in docs/faces.md); FER+ models only.
    runtime : {"torch", "onnxruntime"}
        Engine of the FER+ CNN: ``"onnxruntime"`` (in the default install; float32 or int8) gives, in
        float32, the same probabilities (within 1e-6) 1.07-1.24x faster on a 2-core AMD CPU without
        AMX; FER+ models only.
    mirror : bool
        True (default): average each face and its mirror image; False: the face alone, half the
        work at a small cost in accuracy (docs/faces.md); FER+ models only.
    """

    family = "model"
    summary = "facial expressions: Haar face detection + a CNN trained on FER+ votes (8 emotions; or fer's FER2013 model)"
    version = PIPELINE_VERSION
    batch_size = 64  # pictures per batch: every face of a batch goes through the network together
    pipelined = True  # a run finds the faces of the next batch while the network classifies this one
    media = frozenset({"image", "video"})
    operational = frozenset({"series_dir"})
    requires = {"cv2": "face detection (OpenCV)"}
    parameter_constraints = {
        "whole_face": Options(WHOLE_FACE),
        "aggregate": Options(AGGREGATES),
        "margin": Interval(float, 0, None),
        "max_faces": Interval(int, 1, None),
        "model": Options(MODELS),
        "sampling": Options(STRATEGIES),
        "fps": Interval(float, 0, None, closed="neither"),
        "k": Interval(int, 1, None),
        "series_dir": NoneOr(Text()),
        "precision": Options(PRECISIONS),
        "prior_correction": Interval(float, 0, 2),
        "runtime": Options(RUNTIMES),
        "mirror": Boolean(),
    }

    def __init__(self, *, whole_face: str = "auto", aggregate: str = "largest", margin: float = 0.1, max_faces: int = 10,
                 model: str = "ferplus", sampling: str = "change", fps: float = 4.0, k: int = 16,
                 series_dir: str | None = None, precision: str = "float32", prior_correction: float = 0.0,
                 runtime: str = "torch", mirror: bool = True) -> None:
        self.whole_face = whole_face
        self.aggregate = aggregate
        self.margin = margin
        self.max_faces = max_faces
        self.model = model
        self.sampling = sampling
        self.fps = fps
        self.k = k
        self.series_dir = series_dir
        self.precision = precision
        self.prior_correction = prior_correction
        self.runtime = runtime
        self.mirror = mirror

    def pipeline(self) -> FacePipeline:
        """The detection + expression pipeline these parameters describe (validated)."""
        face = FacePipeline(whole_face=self.whole_face, aggregate=self.aggregate, margin=self.margin, max_faces=self.max_faces,
                            model=self.model, precision=self.precision, prior_correction=self.prior_correction,
                            runtime=self.runtime, mirror=self.mirror)
        self.validate_params()
        face.check()
        return face

    def _check(self) -> FacePipeline:
        return self.pipeline()

    def outputs(self) -> list[ColumnSpec]:
        face = self._check()
        labels, taxonomy = face.labels, face.taxonomy
        how = "largest face" if self.aggregate == "largest" else "mean over faces"
        specs = [ColumnSpec(name="n_faces", kind="count", scale=COUNT, description="faces found (pre-cropped images count as 1)")]
        specs += [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=taxonomy,
                             description=f"{self.model} model probability, {how}; NaN when no face") for c in labels]
        specs.append(ColumnSpec(name="faces", kind="text", description="per face: box [x, y, w, h] in image pixels, top expression, probability (JSON); "
                                                                       "videos: per processed frame, time, top expression, probability"))
        specs.append(ColumnSpec(name="valence", scale=SAM_VALENCE,
                                description="derived: probability-weighted Warriner (2013) valence of the expression words; NaN when no face"))
        specs.append(ColumnSpec(name="arousal", scale=SAM_AROUSAL,
                                description="derived: probability-weighted Warriner (2013) arousal of the expression words; NaN when no face"))
        specs.append(ColumnSpec(name="n_frames", kind="count", scale=COUNT, description="frames processed (1 for an image)"))
        specs.append(ColumnSpec(name="episode", kind="text", description="videos: strongest non-neutral episode, label onset-offset (peak); empty if none"))
        specs.append(ColumnSpec(name=TRAINING_COLUMN, kind="text",
                                description="outputs of a model trained on this face: set when the image is pixel-identical to a "
                                            "FER+ train / FER2013 Training face (in-sample ratings); empty otherwise"))
        return specs

    def rate_one(self, stimulus: Stimulus) -> dict[str, Any]:
        """Rate one video (:meth:`rate_video`) or picture (as :meth:`rate_batch` does, a failure raised)."""
        if stimulus.path is None:
            raise ValueError("stimulus has no file path")
        if stimulus.media == "video":
            return self.rate_video(stimulus)
        face = self.pipeline()
        found = face.find(load_image(stimulus.path, max_side=1280, min_side=MIN_SIDE, mode="L"))
        return self._picture_row(face, found, face.classify([found])[0])

    @staticmethod
    def _picture_row(face: FacePipeline, found: Found, out: dict[str, Any]) -> dict[str, Any]:
        """A picture's row: the pipeline's outputs, one frame, no episode, and the training-face check."""
        out.update({"n_frames": 1.0, "episode": "", TRAINING_COLUMN: face.training_outputs if found.in_training else ""})
        return out

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[RateResult]:
        """Pictures: each decoded and searched for faces on its own (one unreadable file fails
        alone), then every face through the expression network in batches of
        :data:`~affectscope.faces.pipeline.BATCH`. Videos: :meth:`rate_video` each (their sampled
        frames' faces are batched within the video). The two stages are :meth:`prepare_batch` and
        :meth:`finish_batch`; a run overlaps them across batches (the rater is :attr:`pipelined`)."""
        return self.finish_batch(self.prepare_batch(stimuli))

    def prepare_batch(self, stimuli: Sequence[Stimulus]) -> "_FaceBatch":
        """Decode and search each picture for faces (videos are rated whole here); nothing is classified yet."""
        face = self._check()
        batch = _FaceBatch(face, list(stimuli), [None] * len(stimuli))
        for i, s in enumerate(stimuli):
            if s.media != "image" or s.path is None:
                batch.results[i] = self.rate_safely(s)
                continue
            try:
                batch.found.append(face.find(load_image(s.path, max_side=1280, min_side=MIN_SIDE, mode="L")))  # the picture is not kept
                batch.where.append(i)
            except RaterUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad item never kills a batch
                batch.results[i] = ItemError(s.item_id, describe_error(exc))
        return batch

    def finish_batch(self, prepared: "_FaceBatch") -> list[RateResult]:
        """Every face of the prepared pictures through the expression network; the rows in order."""
        face, results = prepared.face, list(prepared.results)
        for i, f, out in zip(prepared.where, prepared.found, face.classify(prepared.found), strict=True):
            results[i] = self._picture_row(face, f, out)
        return [r if r is not None else ItemError(s.item_id, "not rated") for r, s in zip(results, prepared.stimuli, strict=True)]

    def finish_workers(self) -> AbstractContextManager[Workers]:
        """Torch: two workers, each with half of torch's threads (:func:`~affectscope._workers.torch_split`;
        on 2 cores, 3,000 crops: 1,131 against 1,030 faces/s serial, medians of 5 in bench/throughput.py). ONNX
        Runtime: one worker (its session has threads of its own)."""
        return torch_split(2) if self.runtime == "torch" else one_thread()

    def rate_video(self, stimulus: Stimulus) -> dict[str, Any]:
        """Mean expression over the sampled frames, frames processed, strongest episode."""
        face = self._check()
        labels = list(face.labels)
        spec = SamplingSpec(strategy=self.sampling, k=int(self.k), fps=float(self.fps))
        series, n_decoded = frame_series(stimulus.path, face, spec)  # type: ignore[arg-type]
        if self.series_dir:
            write_series(self.series_dir, stimulus.item_id, series)
        out = aggregate(series, labels)
        out["valence"], out["arousal"] = derived_va({c: out[c] for c in labels})
        out["n_faces"] = float(series["n_faces"].max()) if len(series) else 0.0
        tops = []
        for _, row in series.iterrows():
            p = row[labels].to_numpy(float)
            if not np.isnan(p).all():
                j = int(np.nanargmax(p))
                tops.append({"t": float(row["time"]), "top": labels[j], "p": round(float(p[j]), 3)})
        out["faces"] = json.dumps(tops)
        out["n_frames"] = float(len(series))
        out[TRAINING_COLUMN] = ""
        warning = truncation_warning(stimulus.path, n_decoded)  # type: ignore[arg-type]
        return Flagged(out, warning) if warning else out

    def rate_array(self, rgb: np.ndarray) -> dict[str, Any]:
        """Rate one RGB frame (``(H, W, 3)`` uint8), e.g. a decoded video frame (see :meth:`FacePipeline.rate_array`)."""
        return self.pipeline().rate_array(rgb)
