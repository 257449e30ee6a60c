"""Asking one participant one question: from the response cache, or over the wire.

:class:`Asker` is the caching client of the LLM rater. For one request (messages, seed, cache
key) it returns the participant's :class:`~affectscope.llm.outcomes.Outcome`:

- a cached answer or refusal is returned as is (a cached refusal is asked again only with
  ``retry_refusals``);
- otherwise the request is sent; an invalid answer is re-asked ``answer_retries`` times with the
  validation error in the conversation, then becomes a typed failure; a refusal is recorded as a
  refusal; a reply to a prompt the model never received (the server dropped the image) is a
  failure, never an answer;
- answers and refusals go into the cache; a failure goes into the cache's failure table and is kept
  (in memory too) until an answer replaces it, so a rerun asks exactly the failed questions again.

It counts what it did (questions resolved, cache hits, failures by kind) for the run's summary
lines. It is thread-safe: the rater calls :meth:`Asker.ask` from a pool of threads.
"""

from __future__ import annotations

import threading
from typing import Any

from affectscope.llm.answers import AnswerError, expected_ratings, gbnf, json_schema, parse_answer
from affectscope.llm.cache import ResponseCache
from affectscope.llm.client import ChatClient, RequestFailure
from affectscope.llm.outcomes import Outcome
from affectscope.llm.vision import prompt_dropped


class Asker:
    """Ask participants questions through ``client``, caching in ``cache`` (None: no cache).

    Parameters
    ----------
    client : ChatClient
    cache : ResponseCache or None
    model : str
        The model name recorded with each cached answer.
    temperature, max_tokens : float, int
        Sampling settings of every request.
    logprobs : bool
        Also compute the probability-weighted ratings of each answer.
    answer_retries : int
        Re-asks after an invalid answer before a typed failure.
    retry_refusals : bool
        Ask again where the cache holds a refusal.
    """

    def __init__(self, client: ChatClient, cache: ResponseCache | None, *, model: str, temperature: float, max_tokens: int,
                 logprobs: bool, answer_retries: int, retry_refusals: bool) -> None:
        self.client = client
        self.cache = cache
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.logprobs = logprobs
        self.answer_retries = answer_retries
        self.retry_refusals = retry_refusals
        self.n_asked = 0  # participant-questions resolved
        self.n_cache_hits = 0
        #: ``(item_id, participant, question) -> (code, message)`` of the participant-questions
        #: that failed (the last outcome of each; a later answer removes it).
        self.failed: dict[tuple[str, int, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def ask(self, item_id: str, messages: list[dict[str, Any]], seed: int | None, key: str, p: int, q: Any) -> Outcome:
        """Participant ``p``'s outcome for question ``q`` of item ``item_id``, recorded."""
        out = self._resolve(item_id, messages, seed, key, p, q)
        with self._lock:
            self.n_asked += 1
            if out.status == "failure":
                self.failed[(item_id, p, q.id)] = (out.code, out.message)
            else:
                self.failed.pop((item_id, p, q.id), None)
        if self.cache is not None:
            if out.status == "failure":
                self.cache.put_failure(key, item_id=item_id, question=q.id, participant=p, model=self.model,
                                       kind=out.code, message=out.message)
            elif not out.cached:
                self.cache.delete_failure(key)
        return out

    def failure_summary(self) -> str | None:
        """One line when any participant-question failed, by code; None when none did."""
        with self._lock:
            failed = dict(self.failed)
        if not failed:
            return None
        codes: dict[str, int] = {}
        for code, _ in failed.values():
            codes[code] = codes.get(code, 0) + 1
        by = ", ".join(f"{k} {n}" for k, n in sorted(codes.items(), key=lambda kv: -kv[1]))
        items = len({k[0] for k in failed})
        return (f"LLM: {len(failed)} of {self.n_asked} participant-questions failed ({by}) in {items} item(s); "
                "see the 'error' and 'warning' columns and <out>.participants.csv. Run the same command again to ask "
                "exactly those again (answers come from the cache), or raise max_retries/timeout")

    # ---- one request ---------------------------------------------------------------------------
    def _from_cache(self, key: str, p: int, q: Any) -> Outcome | None:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is None or (hit["status"] == "refusal" and self.retry_refusals):
            return None
        with self._lock:
            self.n_cache_hits += 1
        toks = int(hit["prompt_tokens"] or 0) + int(hit["completion_tokens"] or 0)
        if hit["status"] == "answer":
            return Outcome("answer", p, q.id, hit["answer"], hit["expected"], tokens=toks, cached=True)
        return Outcome("refusal", p, q.id, message=hit["raw"] or "", code="refusal", tokens=toks, cached=True)

    def _resolve(self, item_id: str, messages: list[dict[str, Any]], seed: int | None, key: str, p: int, q: Any) -> Outcome:
        if (hit := self._from_cache(key, p, q)) is not None:
            return hit
        schema, grammar = json_schema(q), gbnf(q)
        convo = list(messages)
        tokens = 0
        last: AnswerError | None = None
        for _attempt in range(int(self.answer_retries) + 1):
            try:
                c = self.client.complete(convo, schema=schema, grammar=grammar, temperature=self.temperature,
                                         seed=seed, max_tokens=self.max_tokens)
            except RequestFailure as exc:
                return Outcome("failure", p, q.id, message=exc.args[0], code=exc.code, tokens=tokens)
            tokens += c.prompt_tokens + c.completion_tokens
            dropped = prompt_dropped(convo, c.prompt_tokens)
            if dropped:  # the reply cannot answer a prompt the model never received: never an answer
                return Outcome("failure", p, q.id, message=dropped, code="prompt_dropped", tokens=tokens)
            if c.refusal or c.finish_reason == "content_filter":
                return self._refused(key, item_id, p, q, c.refusal or f"finish_reason={c.finish_reason}", tokens, c)
            try:
                answer = parse_answer(c.text, q)
            except AnswerError as exc:
                if exc.code == "refusal":
                    return self._refused(key, item_id, p, q, c.text, tokens, c)
                last = exc
                convo = [*convo, {"role": "assistant", "content": c.text or ""},
                         {"role": "user", "content": f"That reply is not a valid answer ({exc}). Reply again with only the JSON object, "
                                                     f"keys {q.keys}, values as asked."}]
                continue
            expected = expected_ratings(c.text, c.tokens, q) if self.logprobs else {}
            if self.cache is not None:
                self.cache.put(key, status="answer", item_id=item_id, question=q.id, participant=p, model=self.model,
                               answer=answer, expected=expected, raw=c.text, prompt_tokens=c.prompt_tokens,
                               completion_tokens=c.completion_tokens)
            return Outcome("answer", p, q.id, answer, expected, tokens=tokens)
        assert last is not None
        return Outcome("failure", p, q.id, message=f"no valid answer after {self.answer_retries + 1} tries: {last}", code=last.code,
                       tokens=tokens)

    def _refused(self, key: str, item_id: str, p: int, q: Any, why: str, tokens: int, c: Any) -> Outcome:
        if self.cache is not None:
            self.cache.put(key, status="refusal", item_id=item_id, question=q.id, participant=p, model=self.model,
                           answer=None, expected=None, raw=why, prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens)
        return Outcome("refusal", p, q.id, message=why, code="refusal", tokens=tokens)
