"""HTML output and plots (matplotlib is imported only when a plot is drawn)."""

from affectscope.report.compare_page import write_compare_report
from affectscope.report.ratings_report import write_report
from affectscope.report.item_grid import write_ratings_page
from affectscope.report.plots import (
    CategoryDistributionDisplay, ConfusionDisplay, DistributionDisplay, PlanDisplay, RDMDisplay, ScatterDisplay,
    TimeSeriesDisplay,
)

__all__ = ["CategoryDistributionDisplay", "ConfusionDisplay", "DistributionDisplay", "PlanDisplay", "RDMDisplay", "ScatterDisplay", "TimeSeriesDisplay",
           "write_compare_report", "write_ratings_page", "write_report"]
