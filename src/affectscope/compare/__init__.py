"""Compare any rater with humans: items (:func:`compare_items`), categories
(:func:`compare_categories`) and structure (:func:`compare_structure`: RSA and GW)."""

from affectscope.compare.errors import CompareError, InSampleWarning
from affectscope.compare.pairing import TRAINING_COLUMN, TrainingOverlap
from affectscope.compare.categories import CategoryComparison, compare_categories, distribution_metrics, head_class_collapse
from affectscope.compare.gw import GWResult, gw_align, matching_rates
from affectscope.compare.items import (
    ItemComparison, NoiseCeiling, ceiling_from_raters, ceiling_from_split_half, ceiling_from_summary, compare_items, concordance,
)
from affectscope.compare.rsa import RDM, kendall_tau_a, rdm, rsa_statistic
from affectscope.compare.structure import StructureComparison, compare_structure, most_typical, top_category

__all__ = [
    "CompareError", "InSampleWarning", "TRAINING_COLUMN", "TrainingOverlap", "CategoryComparison", "compare_categories", "distribution_metrics", "head_class_collapse",
    "GWResult", "gw_align", "matching_rates", "ItemComparison", "NoiseCeiling", "ceiling_from_raters",
    "ceiling_from_split_half", "ceiling_from_summary", "compare_items", "concordance", "RDM", "kendall_tau_a", "rdm",
    "rsa_statistic", "StructureComparison", "compare_structure", "most_typical", "top_category",
]
