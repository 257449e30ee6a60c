"""Raters: the contract (:mod:`.base`), the registry (:mod:`.registry`) and one module per rater."""

from affectscope.raters.base import ItemError, Rater
from affectscope.raters.registry import available_raters, get_rater_class, make_rater, register

__all__ = ["ItemError", "Rater", "available_raters", "get_rater_class", "make_rater", "register"]
