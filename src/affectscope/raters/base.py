"""The rater contract.

A rater turns stimuli into rating values for a fixed, declared set of columns. It is built
from parameters only (no work in ``__init__``), declares what it outputs
(:meth:`Rater.outputs`), and rates items one at a time or in batches. A failure on one item
is returned as an :class:`ItemError`, never raised, so one bad item never kills a batch.

Writing a rater = one module in :mod:`affectscope.raters` (or any package, via the
``affectscope.raters`` entry point) with a class decorated by :func:`register`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from affectscope._params import Constraint, validate_params
from affectscope._workers import Workers, one_thread
from affectscope.media.image import describe_error
from affectscope.ratings import ColumnSpec, RaterInfo
from affectscope.stimuli import Stimulus, StimulusSet


@dataclass(frozen=True)
class ItemError:
    """A per-item failure: which item, what went wrong, what to do."""

    item_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.item_id}: {self.message}"


class RaterUnavailable(RuntimeError):
    """The rater cannot rate anything in this run (a server that cannot be reached, a model that
    cannot see pictures): the run stops with this message instead of failing every item alike.
    Items finished before it stay in the run store."""


class Flagged(dict):  # type: ignore[type-arg]
    """A rating that came back with a caveat: the values (a plain ``dict``, usable as such) plus a
    ``warning`` that the run stores in the item's ``warning`` column and reports. ``retry=True``
    marks the item incomplete (e.g. some LLM participants failed): a rerun computes it again,
    unless errors are not retried."""

    def __init__(self, values: dict[str, Any], warning: str, *, retry: bool = False) -> None:
        super().__init__(values)
        self.warning = warning
        self.retry = retry


RateResult = dict[str, float] | ItemError


class Rater(ABC):
    """Base class of every rater.

    Class attributes
    ----------------
    name : str
        Registry name (``affectscope rate --rater NAME``).
    family : {"model", "llm", "human", "file", "baseline"}
        What kind of rater this is (its tables' ``RaterInfo.family``).
    summary : str
        One line for ``affectscope raters``.
    version : str
        Bump when outputs change for the same parameters (invalidates resumable stores).
    media : frozenset of str
        Media kinds the rater accepts; other items get an :class:`ItemError`.
    deterministic : bool
        Same input and parameters give the same output (checked by the contract tests).
    batch_size : int
        Items passed to :meth:`rate_batch` at once.
    pipelined : bool
        True when a batch splits into :meth:`prepare_batch` (reading, decoding, detection: Python
        work that holds the GIL) and :meth:`finish_batch` (the network pass, which releases it).
        :func:`affectscope.rate` then prepares the next batch and stores the previous one while
        worker threads (:meth:`finish_workers`) run the network on the batches before.
        ``finish_batch`` must be safe to run in those threads, beside itself and beside
        ``prepare_batch`` in the caller's thread.
    operational : frozenset of str
        Parameters that change how a run goes but never what it outputs (threads, where side
        files go, timeouts ...). They are left out of :meth:`fingerprint`, so changing one keeps
        a resumable run store usable.
    parameter_constraints : dict
        ``{parameter: Constraint}`` (:mod:`affectscope._params`): what each constructor parameter
        takes. :meth:`validate_params` checks them (``make_rater`` does, and every rater before its
        first output), and the contract tests generate invalid values from them.
    requires : dict
        ``{module: what it is for}``: modules every item needs (OpenCV for face detection). A
        run checks them before the first item (as it checks PyAV when there are videos) and
        stops with the install command, instead of failing every item alike.

    Subclasses implement :meth:`outputs` and either :meth:`rate_one` or :meth:`rate_batch`.
    Constructor parameters must be keyword arguments stored under the same attribute names
    (as in scikit-learn), so :meth:`get_params` can read them back.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = "model"
    summary: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    media: ClassVar[frozenset[str]] = frozenset({"image"})
    deterministic: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1
    pipelined: ClassVar[bool] = False
    operational: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[dict[str, str]] = {}
    parameter_constraints: ClassVar[dict[str, Constraint]] = {}

    # ---- to implement --------------------------------------------------------------------
    @abstractmethod
    def outputs(self) -> list[ColumnSpec]:
        """The columns this rater writes, with their scales."""
        raise NotImplementedError

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        """Rate one item; raise any exception to mark the item failed."""
        raise NotImplementedError(f"{type(self).__name__} implements neither rate_one nor rate_batch")

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[RateResult]:
        """Rate several items. The default calls :meth:`rate_one` per item and turns each
        exception into an :class:`ItemError`; override for real batching (and return
        ``ItemError`` for failed items yourself)."""
        return [self.rate_safely(s) for s in stimuli]

    def prepare_batch(self, stimuli: Sequence[Stimulus]) -> Any:
        """The first stage of a :attr:`pipelined` rater's :meth:`rate_batch`: everything before the
        network pass, per-item failures recorded in what it returns. The default passes the
        stimuli on."""
        return stimuli

    def finish_batch(self, prepared: Any) -> list[RateResult]:
        """The second stage: the results of a batch from what :meth:`prepare_batch` returned, one
        per stimulus, in order. The default rates the stimuli (:meth:`rate_batch`). A pipelined
        rater's ``rate_batch(s)`` equals ``finish_batch(prepare_batch(s))`` (the contract tests check it)."""
        return self.rate_batch(prepared)

    def finish_workers(self) -> AbstractContextManager[Workers]:
        """Where a pipelined run calls :meth:`finish_batch`: worker threads and how many batches
        may be in flight in them (:mod:`affectscope._workers`). Default: one thread, one batch."""
        return one_thread()

    # ---- provided ------------------------------------------------------------------------
    def rate_safely(self, stimulus: Stimulus) -> RateResult:
        """:meth:`rate_one` with media-kind checking and exceptions turned into ``ItemError``."""
        if stimulus.media not in self.media:
            return ItemError(
                stimulus.item_id,
                f"{stimulus.media} input is not supported by rater {self.name!r} (accepts {sorted(self.media)}); "
                f"use a rater that accepts {stimulus.media} (see `affectscope raters`)"
                if stimulus.media != "unknown"
                else f"not a recognised image or video file extension ({stimulus.path.suffix if stimulus.path else 'no file'}); "
                "convert it to JPEG/PNG/MP4 or remove it",
            )
        try:
            return self.rate_one(stimulus)
        except RaterUnavailable:
            raise  # not this item's fault: nothing can be rated
        except Exception as exc:  # noqa: BLE001 - the contract: one bad item never kills a batch
            return ItemError(stimulus.item_id, describe_error(exc))

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters of this instance."""
        return {n: getattr(self, n) for n in self._param_names()}

    def validate_params(self) -> None:
        """Check every parameter against :attr:`parameter_constraints`; raise
        :class:`~affectscope._params.InvalidParameterError` (a ``ValueError``) naming the first
        invalid one, what it takes and what it got."""
        validate_params(self.get_params(), self.parameter_constraints)

    def output_params(self) -> dict[str, Any]:
        """The parameters that can change the output (all but :attr:`operational`)."""
        return {k: v for k, v in self.get_params().items() if k not in self.operational}

    def fingerprint(self) -> str:
        """A hash of everything that changes the output: name, version and the parameters that are
        not :attr:`operational`."""
        blob = json.dumps({"name": self.name, "version": self.version, "params": self.output_params()}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def info(self) -> RaterInfo:
        """Provenance for the Ratings this rater produces."""
        return RaterInfo(
            name=self.name, family=self.family, version=self.version,  # type: ignore[arg-type]
            params={k: (str(v) if isinstance(v, Path) else v) for k, v in self.get_params().items()},
            source=self.summary,
        )

    @classmethod
    def describe_outputs(cls) -> list[str]:
        """Output column names for listings (``affectscope raters``); raters whose columns depend
        on their parameters override this with a description."""
        return [c.name for c in cls().outputs()]

    @classmethod
    def contract_params(cls, workdir: Path, stimuli: "StimulusSet | None" = None) -> dict[str, Any]:
        """Parameters for the common contract tests (override when the defaults cannot run,
        e.g. a rater that needs a file: write a small one for ``stimuli`` into ``workdir``)."""
        return {}

    @classmethod
    def contract_deterministic(cls) -> bool:
        """Whether two runs with :meth:`contract_params` give equal tables (the contract tests check
        it); the LLM rater is not deterministic in general, but is against its scripted server."""
        return cls.deterministic

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

