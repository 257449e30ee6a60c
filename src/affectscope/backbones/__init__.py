"""Feature backbones for the trained raters (EfficientNet-Lite offline; Hugging Face models by id)."""

from affectscope.backbones.base import VIEWS, Backbone, fit_square
from affectscope.backbones.weights import WEIGHTS, PretrainedWeights, WeightsError, download, resolve_weights

__all__ = ["VIEWS", "WEIGHTS", "Backbone", "PretrainedWeights", "WeightsError", "download", "fit_square", "resolve_weights"]
