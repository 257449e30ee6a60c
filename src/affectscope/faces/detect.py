"""Face detection with the Haar cascades that ship inside ``opencv-python-headless`` (< 5; version 5
ships none), so it works offline. Viola-Jones frontal-face detection: fast on a CPU, misses
profiles and small or occluded faces. ``bench/face_detection.py`` measures recall and false positives
on real faces at known places; the default cascade is ``frontalface_alt``: the same recall as
``frontalface_default`` there, with ~25x fewer false positives (numbers in docs/faces.md)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._checks import check_option
from affectscope._install import install_hint

CASCADES = ("frontalface_default", "frontalface_alt", "frontalface_alt2")
#: One loaded cascade per thread and name: an OpenCV CascadeClassifier gives wrong detections when
#: two threads run detectMultiScale on the same instance (found by the image rater's face channel,
#: which detects in its decoding threads).
_PER_THREAD = threading.local()


@dataclass(frozen=True)
class FaceBox:
    """A face: top-left corner, width and height in pixels of the analysed image."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


def _cascade(name: str) -> Any:
    loaded = _PER_THREAD.__dict__.setdefault("cascades", {})
    if name not in loaded:
        loaded[name] = _load_cascade(name)
    return loaded[name]


def _load_cascade(name: str) -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise ImportError(f"face detection needs OpenCV. {install_hint('core')}") from exc
    path = Path(cv2.data.haarcascades) / f"haarcascade_{name}.xml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Haar cascade not found. Fix: pip install 'opencv-python-headless<5' (5.x ships none)")
    c = cv2.CascadeClassifier(str(path))
    if c.empty():
        raise OSError(f"{path}: OpenCV could not load the cascade")
    return c


class HaarDetector:
    """Frontal faces with an OpenCV Haar cascade.

    Parameters
    ----------
    cascade : {"frontalface_alt", "frontalface_default", "frontalface_alt2"}
    scale_factor, min_neighbors : OpenCV's ``detectMultiScale`` parameters.
    min_size : float
        Smallest face side as a fraction of the image's shorter side.
    """

    def __init__(self, cascade: str = "frontalface_alt", scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: float = 0.08) -> None:
        self.cascade = check_option("cascade", cascade, CASCADES)
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, grey: np.ndarray) -> list[FaceBox]:
        """Faces in an ``(H, W)`` uint8 grey image, largest first."""
        side = max(12, int(self.min_size * min(grey.shape[:2])))
        c = _cascade(self.cascade)
        found = c.detectMultiScale(np.ascontiguousarray(grey), scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                   minSize=(side, side))
        boxes = [FaceBox(int(x), int(y), int(w), int(h)) for x, y, w, h in (found if len(found) else [])]
        return sorted(boxes, key=lambda b: -b.area)
