"""affectscope: measure the emotions pictures and videos evoke, and how close any rater comes to humans.

Importing the package does no work: submodules load on first attribute access.
"""

from __future__ import annotations

from affectscope._lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "Ratings": "affectscope.ratings",
    "ColumnSpec": "affectscope.ratings",
    "RaterInfo": "affectscope.ratings",
    "align": "affectscope.ratings",
    "StimulusSet": "affectscope.stimuli",
    "Stimulus": "affectscope.stimuli",
    "Rater": "affectscope.raters.base",
    "register": "affectscope.raters.registry",
    "make_rater": "affectscope.raters.registry",
    "available_raters": "affectscope.raters.registry",
    "rate": "affectscope.run.rate",
    "rate_images": "affectscope.run.rate",
    "load_norms": "affectscope.norms",
    "load_image": "affectscope.media.image",
    "extract_activations": "affectscope.brain.extract",
    "fit_encoding": "affectscope.brain.encoding",
}

__all__ = ["__version__", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)
