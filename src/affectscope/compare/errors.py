"""What goes wrong when comparing: an error for inputs that cannot be compared as given, a
warning for ratings from a model fitted on the compared items."""

from __future__ import annotations


class CompareError(ValueError):
    """Inputs that cannot be compared as given: the message says why and what to do."""


class InSampleWarning(UserWarning):
    """Some compared ratings come from a model fitted on those very items (and those norms)."""
