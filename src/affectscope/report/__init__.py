"""HTML output."""

from affectscope.report.page import write_ratings_page

__all__ = ["write_ratings_page"]
