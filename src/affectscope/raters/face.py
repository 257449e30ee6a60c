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
from typing import Any

import numpy as np
from PIL import Image

from affectscope._checks import check_option
from affectscope.media.image import MIN_SIDE, load_image
from affectscope.raters.base import Rater
from affectscope.raters.registry import register
from affectscope.ratings import TRAINING_COLUMN, ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import COUNT, PROBABILITY, SAM_AROUSAL, SAM_VALENCE

WHOLE_FACE_MAX_SIDE = 128

#: Valence and arousal (1-9) of each expression label *as a word*: the means of Warriner, Kuperman &
#: Brysbaert (2013, Behav Res Methods 45:1191) for these exact words. The face rater's ``valence``
#: and ``arousal`` are the probability-weighted means of these (a documented derivation, not a
#: model trained on dimensional face labels).
LABEL_VA: dict[str, tuple[float, float]] = {
    # FER+ labels
    "neutral": (5.50, 3.45), "happiness": (8.48, 6.50), "surprise": (7.44, 6.57), "sadness": (2.40, 2.81),
    "anger": (2.50, 5.93), "disgust": (3.32, 5.00), "fear": (2.93, 6.14), "contempt": (3.22, 4.61),
    # FER2013 labels (fer's spelling)
    "angry": (2.53, 6.20), "happy": (8.47, 6.05), "sad": (2.10, 3.49),
}


def derived_va(probs: dict[str, float]) -> tuple[float, float]:
    """Probability-weighted word valence and arousal of the expression labels (see :data:`LABEL_VA`)."""
    num_v = num_a = tot = 0.0
    for k, p in probs.items():
        if k in LABEL_VA and p == p:  # skip NaN
            num_v += p * LABEL_VA[k][0]
            num_a += p * LABEL_VA[k][1]
            tot += p
    return (num_v / tot, num_a / tot) if tot > 0 else (float("nan"), float("nan"))


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
        Engine of the FER+ CNN: ``"onnxruntime"`` (extra ``faces-onnx``; float32 or int8) gives, in
        float32, the same probabilities (within 1e-6) 1.07-1.24x faster on a 2-core AMD CPU without
        AMX; FER+ models only.
    mirror : bool
        True (default): average each face and its mirror image; False: the face alone, half the
        work at a small cost in accuracy (docs/faces.md); FER+ models only.
    """

    kind = "model"
    summary = "facial expressions: Haar face detection + a CNN trained on FER+ votes (8 emotions; or fer's FER2013 model)"
    version = "5"  # 5: training_item column; 4: FER+ CNN retrained (affine augmentation, 30 epochs); 3: Haar frontalface_alt, fused CNN
    batch_size = 1
    media = frozenset({"image", "video"})
    operational = frozenset({"series_dir"})
    requires = {"cv2": "face detection (OpenCV)"}

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

    def _model(self) -> tuple[tuple[str, ...], str, int, Any]:
        """(labels, taxonomy, input size, predict function)."""
        from affectscope.faces import ferplus_cnn as m

        if self.model in m.VARIANTS:
            variant, precision, tau, runtime, mirror = (self.model, self.precision, float(self.prior_correction), self.runtime,
                                                        bool(self.mirror))

            def predict(grey: np.ndarray) -> np.ndarray:
                return m.predict_proba(grey, m.load_ferplus_cnn(variant=variant), precision=precision, prior_correction=tau,
                                       runtime=runtime, mirror=mirror)

            return m.FERPLUS_LABELS, "ferplus8", m.INPUT_SIZE, predict
        from affectscope.faces import mini_xception as x

        return x.FER2013_LABELS, "fer2013", x.INPUT_SIZE, x.predict_proba

    def _check(self) -> None:
        from affectscope.faces.video import STRATEGIES

        if self.sampling not in STRATEGIES:
            raise ValueError(f"sampling must be one of {', '.join(STRATEGIES)}, got {self.sampling!r}")
        if self.whole_face not in ("auto", "always", "never"):
            raise ValueError(f"whole_face must be 'auto', 'always' or 'never', got {self.whole_face!r}")
        if self.aggregate not in ("largest", "mean"):
            raise ValueError(f"aggregate must be 'largest' or 'mean', got {self.aggregate!r}")
        from affectscope.faces.ferplus_cnn import (
            PRECISIONS,
            VARIANTS,
            check_int8,
            check_prior_correction,
            check_runtime,
        )

        check_option("model", self.model, (*VARIANTS, "fer2013"))
        fer_plus = self.model in VARIANTS
        check_option("precision", self.precision, PRECISIONS)
        if not isinstance(self.mirror, bool):
            raise ValueError(f"mirror must be true or false, got {self.mirror!r}")
        if not self.mirror and not fer_plus:
            raise ValueError("mirror=False needs a FER+ model, e.g. model='ferplus' (the FER2013 port reads the face once)")
        if self.precision != "float32" and not fer_plus:
            raise ValueError(f"precision={self.precision!r} needs a FER+ model, e.g. model='ferplus' (the FER2013 port runs in float32)")
        check_runtime(self.runtime, self.precision)
        if self.precision == "int8" and fer_plus:
            check_int8(self.model)
        if self.runtime != "torch" and not fer_plus:
            raise ValueError(f"runtime={self.runtime!r} needs a FER+ model, e.g. model='ferplus' (the FER2013 port runs in torch)")
        if check_prior_correction(self.prior_correction) and not fer_plus:
            raise ValueError("prior_correction needs a FER+ model, e.g. model='ferplus' (its training prior is known)")

    def outputs(self) -> list[ColumnSpec]:
        self._check()
        labels, taxonomy, _, _ = self._model()
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
        if stimulus.path is None:
            raise ValueError("stimulus has no file path")
        if stimulus.kind == "video":
            return self.rate_video(stimulus)
        rgb = load_image(stimulus.path, max_side=1280, min_side=MIN_SIDE)
        out = self.rate_array(rgb)
        out.update({"n_frames": 1.0, "episode": "", TRAINING_COLUMN: self._training_item(rgb, out)})
        return out

    def _training_item(self, rgb: np.ndarray, out: dict[str, Any]) -> str:
        """The outputs made by a model trained on this very picture (a 48x48 training face), else ""."""
        from affectscope.faces.training_faces import FACE_SIDE, is_training_face

        if rgb.shape[:2] != (FACE_SIDE, FACE_SIDE) or self.whole_face == "never":
            return ""
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        return " ".join(k for k in (*self._model()[0], "valence", "arousal") if k in out) if is_training_face(grey) else ""

    def rate_video(self, stimulus: Stimulus) -> dict[str, Any]:
        """Mean expression over the sampled frames, frames processed, strongest episode."""
        from affectscope.faces.video import SamplingSpec, aggregate, frame_series

        self._check()
        labels = list(self._model()[0])
        spec = SamplingSpec(strategy=self.sampling, k=int(self.k), fps=float(self.fps))
        series, n_decoded = frame_series(stimulus.path, self, spec)  # type: ignore[arg-type]
        if self.series_dir:
            from affectscope.media.video import write_series

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
        from affectscope.media.video import truncation_warning
        from affectscope.raters.base import Flagged

        warning = truncation_warning(stimulus.path, n_decoded)  # type: ignore[arg-type]
        return Flagged(out, warning) if warning else out

    def rate_array(self, rgb: np.ndarray) -> dict[str, Any]:
        """Rate one RGB frame (``(H, W, 3)`` uint8), e.g. a decoded video frame."""
        from affectscope.faces.detect import FaceBox, HaarDetector

        self._check()
        labels, _, size, predict_proba = self._model()
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        h, w = grey.shape
        whole = self.whole_face == "always" or (self.whole_face == "auto" and max(h, w) <= WHOLE_FACE_MAX_SIDE)
        boxes = [FaceBox(0, 0, w, h)] if whole else HaarDetector().detect(grey)[: self.max_faces]
        out: dict[str, Any] = {"n_faces": float(len(boxes))}
        if not boxes:
            out.update({c: float("nan") for c in labels})
            out["valence"] = out["arousal"] = float("nan")
            out["faces"] = "[]"
            return out
        crops = []
        for b in boxes:
            m = 0 if whole else self.margin
            x0, y0 = max(0, int(b.x - m * b.w)), max(0, int(b.y - m * b.h))
            x1, y1 = min(w, int(b.x + b.w * (1 + m))), min(h, int(b.y + b.h * (1 + m)))
            crop = Image.fromarray(grey[y0:y1, x0:x1]).resize((size, size), Image.Resampling.BILINEAR)
            crops.append(np.asarray(crop))
        p = predict_proba(np.stack(crops))
        agg = p[0] if self.aggregate == "largest" else p.mean(axis=0)
        out.update({c: float(agg[j]) for j, c in enumerate(labels)})
        out["valence"], out["arousal"] = derived_va({c: out[c] for c in labels})
        out["faces"] = json.dumps([{"box": [b.x, b.y, b.w, b.h], "top": labels[int(q.argmax())], "p": round(float(q.max()), 3)}
                                   for b, q in zip(boxes, p, strict=True)])
        return out
