"""Network activations for brain studies: export layers (:mod:`~affectscope.brain.extract`), fit
cross-validated encoding models (:mod:`~affectscope.brain.encoding`) and compare each layer's RDM
with the brain's (:mod:`~affectscope.brain.layer_rsa`). Names load on first use."""

from __future__ import annotations

from affectscope._lazy import lazy_getattr

_LAZY = {
    "Activations": "affectscope.brain.activations",
    "ActivationsError": "affectscope.brain.activations",
    "extract_activations": "affectscope.brain.extract",
    "list_layers": "affectscope.brain.extract",
    "BrainData": "affectscope.brain.brain_data",
    "BrainDataError": "affectscope.brain.brain_data",
    "load_brain": "affectscope.brain.brain_data",
    "EncodingResult": "affectscope.brain.encoding",
    "EncodingError": "affectscope.brain.encoding",
    "fit_encoding": "affectscope.brain.encoding",
    "compare_layers": "affectscope.brain.encoding",
    "noise_ceiling": "affectscope.brain.encoding",
    "layer_rsa": "affectscope.brain.layer_rsa",
    "brain_rdm": "affectscope.brain.layer_rsa",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
