"""HTML output and plots (matplotlib is imported only when a plot is drawn)."""

from affectscope.report.compare_page import write_compare_report
from affectscope.report.page import write_ratings_page
from affectscope.report.plots import ConfusionDisplay, PlanDisplay, RDMDisplay, ScatterDisplay

__all__ = ["ConfusionDisplay", "PlanDisplay", "RDMDisplay", "ScatterDisplay", "write_compare_report", "write_ratings_page"]
