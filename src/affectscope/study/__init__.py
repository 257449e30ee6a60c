"""Studies: several raters on the same stimuli, against the same humans, in one resumable run.

``Study.from_yaml("study.yaml").run("runs/study")`` or ``affectscope study run study.yaml``;
``affectscope study init`` writes a commented example. See :mod:`affectscope.study.spec` for the
study file and :mod:`affectscope.study.run` for what a run writes.
"""

from affectscope.study.run import Study, StudyResult, papers_table
from affectscope.study.spec import StudyError, StudySpec, load_study, parse_study

__all__ = ["Study", "StudyError", "StudyResult", "StudySpec", "load_study", "papers_table", "parse_study"]
