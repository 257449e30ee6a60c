"""What the participants of one item said, and the item's row made from it.

Each participant's reply to each question is an :class:`Outcome`: an answer, a refusal or a typed
failure. :func:`aggregate_outcomes` turns an item's outcomes into its row: per scale the mean over
the participants who answered and its SD (and the logprob expectation), per category the share of
participants choosing it, counts of answers, refusals and failures, and tokens; or, when too few
participants responded, or none answered, the reason the item has no rating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Outcome:
    """One participant's reply to one question: an answer, a refusal or a typed failure."""

    status: str  # "answer" | "refusal" | "failure"
    participant: int
    question: str
    answer: dict[str, Any] | None = None
    expected: dict[str, float] | None = None
    message: str = ""
    code: str = ""  # the failure code (RequestFailure / AnswerError), "refusal" or "prompt_dropped"
    tokens: int = 0
    cached: bool = False


@dataclass
class Aggregate:
    """An item's row (``values``; None when it has no rating, with ``error`` saying why), the
    caveats to report with it, and whether a rerun should ask again (some participants failed)."""

    values: dict[str, Any] | None
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    retry: bool = False


def aggregate_outcomes(outs: Sequence[Outcome], proto: Any, n_q: int, *, participants: int, min_participants: int | None,
                       logprobs: bool) -> Aggregate:
    """The row of one item from its ``outs`` under protocol ``proto`` with ``n_q`` questions per
    participant (see the module docstring)."""
    answers = [o for o in outs if o.status == "answer"]
    refusals = [o for o in outs if o.status == "refusal"]
    failures = [o for o in outs if o.status == "failure"]
    by_p: dict[int, int] = {}
    for o in answers:
        by_p[o.participant] = by_p.get(o.participant, 0) + 1
    n_complete = sum(1 for v in by_p.values() if v == n_q)
    failed_p = sorted({o.participant for o in failures})
    responded = participants - len(failed_p)
    need = participants if min_participants is None else int(min_participants)
    failed_list = failure_list(failures)
    if failures and responded < need:
        return Aggregate(None, f"{len(failed_p)} of {participants} participant(s) failed ({responded} responded, "
                               f"{need} needed: min_participants): {failed_list}")
    if not answers:
        if refusals:
            return Aggregate(None, f"refused: the model declined {len(refusals)} of {len(outs)} requests "
                                   f"(not scored; retry_refusals=true asks again): {refusals[0].message[:200]}")
        kinds = sorted({o.code for o in failures})
        return Aggregate(None, f"no valid answer ({', '.join(kinds)}) from {participants} participant(s): {failures[0].message[:300]}")
    out: dict[str, Any] = {}
    for sc in proto.scales:
        vals = np.array([o.answer[sc.name] for o in answers if o.answer and sc.name in o.answer], dtype=float)
        out[sc.name] = float(vals.mean()) if len(vals) else math.nan
        out[f"{sc.name}_sd"] = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
        if logprobs:
            ev = [o.expected[sc.name] for o in answers if o.expected and sc.name in o.expected]
            out[f"{sc.name}_expected"] = float(np.mean(ev)) if ev else math.nan
    if proto.categories is not None:
        c = proto.categories
        got = [o.answer[c.key] for o in answers if o.answer and c.key in o.answer]
        for cat, col in zip(c.categories(), c.columns(), strict=True):
            hits = [(cat == g) if isinstance(g, str) else (cat in g) for g in got]
            out[col] = float(np.mean(hits)) if hits else math.nan
    if proto.explanation:
        ex = sorted((o for o in answers if o.answer and o.answer.get("explanation")), key=lambda o: o.participant)
        out["explanation"] = ex[0].answer["explanation"] if ex else ""
    out["n_answers"] = float(n_complete)
    out["n_refusals"] = float(len(refusals))
    out["n_failures"] = float(len(failures))
    out["tokens"] = float(sum(o.tokens for o in outs))
    warnings = []
    if failures:
        warnings.append(f"rated from {responded} of {participants} participants; failed: {failed_list}")
    if logprobs and proto.scales:
        bare = sum(1 for o in answers if any(o.answer and sc.name in o.answer for sc in proto.scales) and not o.expected)
        if bare:
            warnings.append(f"the server sent no usable token logprobs for {bare} of {len(answers)} answer(s): "
                            "the *_expected columns leave them out (NaN when none had them)")
    return Aggregate(out, "", warnings, retry=bool(failures))


def failure_list(failures: Sequence[Outcome], limit: int = 6) -> str:
    """``participant 1 / valence: server_error (HTTP 500 ...); ...`` for a row's error or warning."""
    parts = [f"participant {o.participant} / {o.question}: {o.code} ({o.message[:240]})"
             for o in sorted(failures, key=lambda o: (o.participant, o.question))]
    more = f"; ... and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more
