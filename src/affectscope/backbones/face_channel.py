"""A face channel for image heads: the faces found in a picture and their expressions as one block.

EmoNet-style heads read an ImageNet network; people's faces carry affect that such a network sees
only coarsely. This "backbone" runs the face rater's detector and FER+ expression model
(:class:`affectscope.faces.pipeline.FacePipeline`, as the ``face`` rater) on the picture and returns a 12-wide block
``expressions``: the number of faces (capped at 3, divided by 3), whether there is any face, the 8
FER+ probabilities of the largest face, and its derived valence and arousal (divided by 9). A
picture without faces is all zeros. Join it to the networks by spec, e.g.
``make_backbone("lite0+lite1+lite2+faces")`` (blocks ``faces/expressions``), and train heads on
it with ``affectscope train --backbone lite0+lite1+lite2+faces``. Needs the ``faces`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectscope._checks import check_option
from affectscope.backbones.base import VIEWS, Backbone
from affectscope.faces.ferplus_cnn import FERPLUS_LABELS
from affectscope.faces.pipeline import VERSION as FACE_PIPELINE_VERSION, FacePipeline

#: Names of the 12 columns of the ``expressions`` block, in order.
FEATURES = ("faces_capped", "any_face", *FERPLUS_LABELS, "valence", "arousal")
MAX_FACES = 3


class FaceChannel(Backbone):
    """Faces and expressions of a picture as a feature block (see the module docstring).

    Parameters
    ----------
    precision : {"float32", "bfloat16"}
        Arithmetic of the FER+ expression model (as the ``face`` rater).
    """

    input_size = 0  # reads the decoded picture itself; the networks beside it set the decode size
    channel = True  # `affectscope train` takes all of its blocks, whatever --blocks names

    def __init__(self, precision: str = "float32") -> None:
        self.precision = precision

    def _pipeline(self) -> FacePipeline:
        # "never": a small picture is a scene to search, not a face crop; the largest face speaks
        return FacePipeline(whole_face="never", aggregate="largest", precision=self.precision)

    def params(self) -> dict[str, Any]:
        # "face_rater": the face pipeline version (the key name is kept so existing feature caches stay valid)
        return {"class": "FaceChannel", "face_rater": FACE_PIPELINE_VERSION, "precision": self.precision, "features": list(FEATURES)}

    def blocks(self) -> dict[str, int]:
        return {"expressions": len(FEATURES)}

    def vector(self, rgb: np.ndarray) -> np.ndarray:
        """The 12 features of one ``(H, W, 3)`` uint8 picture."""
        out = self._pipeline().rate_array(rgb)
        n = float(out["n_faces"])
        if n == 0:
            return np.zeros(len(FEATURES), np.float32)
        v = [min(n, MAX_FACES) / MAX_FACES, 1.0] + [float(out[c]) for c in FEATURES[2:10]] + [out["valence"] / 9, out["arousal"] / 9]
        return np.asarray(v, np.float32)

    def prepare(self, rgb: np.ndarray, view: str) -> Any:  # type: ignore[override]
        check_option("view", view, VIEWS)
        return self.vector(rgb)  # the face model already averages each face with its mirror image

    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return self.embed_prepared([self.vector(a) for a in batch])

    def embed_prepared(self, prepared: Sequence[Any]) -> dict[str, np.ndarray]:
        if not prepared:
            return {"expressions": np.zeros((0, len(FEATURES)), np.float32)}
        return {"expressions": np.stack([np.asarray(p, np.float32) for p in prepared])}

    def __repr__(self) -> str:
        return f"FaceChannel(precision={self.precision!r})"
