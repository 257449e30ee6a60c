"""RSA of each layer against the brain: the structure comparison (:func:`affectscope.compare.compare_structure`)
with a layer's RDM on one side and the brain's on the other, so the inference is the one every
structure comparison gets (cluster-aware permutation test, item bootstrap CI, optional GW)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from affectscope.brain.activations import Activations
from affectscope.brain.brain_data import BrainData
from affectscope.compare.rsa import RDM, RDMMetric, rdm
from affectscope.compare.structure import StructureComparison, compare_structure


def brain_rdm(brain: BrainData, item_ids: Sequence[str], metric: RDMMetric = "correlation") -> RDM:
    """The brain's RDM over ``item_ids``: given, or computed from its response patterns with ``metric``."""
    ids = brain.item_order(item_ids)
    if brain.rdm is not None:
        out = RDM(_condensed(brain.rdm), tuple(ids), "given")
    else:
        out = rdm(np.asarray(brain.data), metric=metric, item_ids=ids)
    return out.subset(list(item_ids)) if list(item_ids) != ids else out


def _condensed(m: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform

    return squareform(np.asarray(m, float), checks=False)


def layer_rsa(acts: Activations, brain: BrainData, *, layers: Sequence[str] | None = None,
              metric: RDMMetric = "correlation", brain_metric: RDMMetric = "correlation",
              groups: Mapping[str, Any] | Sequence[Any] | None = None, gw: bool = False,
              **options: Any) -> dict[str, StructureComparison]:
    """:func:`compare_structure` of each layer's RDM (``metric`` over the layer's units) with the
    brain's, over the items both have (the brain's items must all have activations).

    ``options`` go to :func:`compare_structure` (``method``, ``n_perm``, ``n_boot``, ``random_state``, GW options).
    """
    ids = brain.item_order(list(acts.items().item_ids))
    sel = acts.select(ids)
    target = brain_rdm(brain, ids, brain_metric)
    out = {}
    for name in layers or list(sel.layers):
        x = sel.layer(name).astype(np.float64)
        # a pattern of one or two units has no shape to correlate: such a layer (a head's valence) is compared by distance
        m = "euclidean" if metric in ("correlation", "cosine") and x.shape[1] < 3 else metric
        res = compare_structure(rdm(x, metric=m, item_ids=ids), target, groups=groups, gw=gw, **options)
        res.a_name, res.b_name = name, "brain"
        res.settings["metric"] = m if m == metric else f"{m} (a layer of {x.shape[1]} units has no pattern for {metric})"
        out[name] = res
    return out
