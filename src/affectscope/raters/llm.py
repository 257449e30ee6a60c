"""A multimodal LLM as a participant in a rating experiment (``--rater llm``).

The rater runs a protocol (:mod:`affectscope.llm.protocol`: persona, instructions, scales,
categories) over any OpenAI-compatible server. Per item it asks ``participants`` independent
participants (seeds ``seed + p``), each in fresh requests, and reports per scale the mean over
the participants who answered and its SD, per category the share of participants choosing it,
and counts of answers, refusals and failures. What came back is validated (pydantic); invalid
answers are re-asked ``answer_retries`` times with the validation error, then recorded as typed
failures. Refusals are recorded as refusals: never scored, never cached as answers. Valid answers
are cached (:mod:`affectscope.llm.cache`), so a rerun of a finished study sends no requests.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import pandas as pd

from affectscope._params import Boolean, Interval, InvalidParameterError, NoneOr, Options, Text
from affectscope.backbones.weights import cache_dir
from affectscope.llm import vision
from affectscope.llm.answers import question_prompt, system_prompt
from affectscope.llm.asking import Asker
from affectscope.llm.cache import ResponseCache, redact_media, request_key
from affectscope.llm.client import ChatClient, RequestFailure, STRUCTURED_MODES, redact_url
from affectscope.llm.loopback import LoopbackServer
from affectscope.llm.media import face_model, image_content, video_content
from affectscope.llm.outcomes import Outcome, aggregate_outcomes
from affectscope.llm.protocol import DESIGNS, load_protocol
from affectscope.media.image import describe_error
from affectscope.media.video import truncation_warning
from affectscope.raters.base import Flagged, ItemError, RateResult, Rater, RaterUnavailable
from affectscope.raters.registry import register
from affectscope.ratings import ColumnSpec
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import COUNT, PROBABILITY

#: Parameters that change how a run goes but not what is answered (left out of the fingerprint).
OPERATIONAL = frozenset({"concurrency", "timeout", "max_retries", "cache", "api_key_env", "retry_refusals", "vision_check"})
SYSTEM_ROLES = ("auto", "system", "user")
#: Model families whose chat templates have no system role (their servers drop or reject it):
#: with ``system_role="auto"`` the persona and instructions go into the user turn for them.
NO_SYSTEM_ROLE = re.compile(r"gemma", re.IGNORECASE)


@register("llm")
class LLMRater(Rater):
    """A multimodal LLM as an experiment participant, over an OpenAI-compatible API.

    Parameters
    ----------
    base_url : str
        Server root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8080/v1`` (llama.cpp,
        vLLM, Ollama ``http://localhost:11434/v1``, LM Studio ``http://localhost:1234/v1``).
    model : str
        Model name as the server knows it.
    protocol : str
        A shipped protocol name (``affectscope protocols``) or a protocol YAML path.
    design : {None, "joint", "per_scale"}
        ``joint``: one request per participant asks everything; ``per_scale``: one fresh request
        per scale (between-subject norming). None: the protocol's own design.
    participants : int, default 1
        Independent participants per item (use temperature > 0 so they can differ).
    temperature : float, default 1.0
    seed : int or None, default 0
        Participant ``p`` gets seed ``seed + p`` (servers that honour seeds are then reproducible).
    structured : {"auto", "json_schema", "json_object", "grammar", "tool", "none"}
        How the answer format is enforced (see :mod:`affectscope.llm.client`).
    logprobs : bool, default False
        Also output ``<scale>_expected``: the probability-weighted rating from token logprobs.
    image_size : int, default 512
        Longer side of images (and keyframes) sent as data URLs.
    keyframes : int, default 4
        Keyframes sent per video.
    context : bool, default True
        Videos: describe the frames between keyframes in words (context enrichment); False = ablation.
    max_tokens : int, default 400
    answer_retries : int, default 2
        Re-asks after an invalid answer (with the validation error), before a typed failure.
    concurrency : int, default 4
        Requests in flight at once.
    timeout : float, default 120
        Seconds per request attempt.
    max_retries : int, default 4
        Transport retries with exponential backoff (429, 5xx, timeouts, connection errors).
    api_key_env : str, default "OPENAI_API_KEY"
        The NAME of the environment variable that holds the key (the key itself is never a parameter).
    cache : str, default "auto"
        Response cache: "auto" (``$AFFECTSCOPE_CACHE/llm_responses.sqlite``), "none", or a file path.
    retry_refusals : bool, default False
        Ask again where the cache holds a refusal.
    vision_check : bool, default True
        Before the first picture or video, ask the colour of two solid-colour test pictures; a
        model that cannot see them stops the run with a message saying why (a text-only model, or a
        chat format that drops images). Text stimuli need no check.
    system_role : {"auto", "system", "user"}, default "auto"
        Where the persona and instructions go: a system message, or the start of the user turn
        (for chat formats without a system role, which drop it). ``auto``: the user turn for
        model names matching Gemma, whose templates have no system role; else a system message.
    min_participants : int or None, default None
        Participants who must respond (every question answered or declined; a failure is no
        response) for the item to be rated; below it the item is an error row naming every
        failed participant-question. None: all ``participants``. Items rated with fewer than all
        carry the failures in their ``warning`` and are asked again (only the failed
        participant-questions: answers come from the cache) on the next run that retries errors.
    """

    family = "llm"
    summary = "a multimodal LLM as a participant in a rating experiment (protocols as data; any OpenAI-compatible server)"
    version = "1"
    media = frozenset({"image", "video", "text"})
    deterministic = False
    batch_size = 8
    operational = OPERATIONAL
    parameter_constraints = {
        "base_url": Text(nonempty=True),
        "model": Text(),  # empty: the check below says how to name one
        "protocol": Text(nonempty=True),
        "design": NoneOr(Options(DESIGNS)),
        "participants": Interval(int, 1, None),
        "temperature": Interval(float, 0, None),
        "seed": NoneOr(Interval(int, None, None)),
        "structured": Options(STRUCTURED_MODES),
        "logprobs": Boolean(),
        "image_size": Interval(int, 32, None),
        "keyframes": Interval(int, 1, None),
        "context": Boolean(),
        "max_tokens": Interval(int, 16, None),
        "answer_retries": Interval(int, 0, None),
        "concurrency": Interval(int, 1, None),
        "timeout": Interval(float, 0, None, closed="neither"),
        "max_retries": Interval(int, 0, None),
        "api_key_env": Text(nonempty=True),
        "cache": Text(nonempty=True),
        "retry_refusals": Boolean(),
        "min_participants": NoneOr(Interval(int, 1, None)),
        "vision_check": Boolean(),
        "system_role": Options(SYSTEM_ROLES),
    }

    def __init__(
        self, *, base_url: str = "http://127.0.0.1:8080/v1", model: str = "", protocol: str = "romeo_testolin_2025",
        design: str | None = None, participants: int = 1, temperature: float = 1.0, seed: int | None = 0,
        structured: str = "auto", logprobs: bool = False, image_size: int = 512, keyframes: int = 4, context: bool = True,
        max_tokens: int = 400, answer_retries: int = 2, concurrency: int = 4, timeout: float = 120.0, max_retries: int = 4,
        api_key_env: str = "OPENAI_API_KEY", cache: str = "auto", retry_refusals: bool = False,
        min_participants: int | None = None, vision_check: bool = True, system_role: str = "auto",
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.protocol = protocol
        self.design = design
        self.participants = participants
        self.temperature = temperature
        self.seed = seed
        self.structured = structured
        self.logprobs = logprobs
        self.image_size = image_size
        self.keyframes = keyframes
        self.context = context
        self.max_tokens = max_tokens
        self.answer_retries = answer_retries
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.api_key_env = api_key_env
        self.cache = cache
        self.retry_refusals = retry_refusals
        self.min_participants = min_participants
        self.vision_check = vision_check
        self.system_role = system_role

    # ---- configuration -----------------------------------------------------------------------
    def _check(self) -> None:
        if not self.model:
            raise InvalidParameterError("the llm rater needs a model name: --model NAME (as the server at --base-url knows it)")
        self.validate_params()
        if self.min_participants is not None and not 1 <= int(self.min_participants) <= int(self.participants):
            raise InvalidParameterError(f"min_participants must be from 1 to participants ({self.participants}), got {self.min_participants!r}")

    @cached_property
    def _protocol(self):  # noqa: ANN202
        return load_protocol(self.protocol)

    @cached_property
    def _questions(self):  # noqa: ANN202
        return self._protocol.questions(self.design)

    @cached_property
    def _client(self):  # noqa: ANN202
        key = os.environ.get(self.api_key_env) or "no-key-needed"
        # the client redacts the key and any credentials in base_url from every failure message
        return ChatClient(self.base_url, self.model, key, structured=self.structured, logprobs=self.logprobs,  # type: ignore[arg-type]
                          timeout=self.timeout, max_retries=self.max_retries)

    @cached_property
    def _cache(self):  # noqa: ANN202
        if self.cache == "none":
            return None
        if self.cache == "auto":
            return ResponseCache(cache_dir() / "llm_responses.sqlite")
        return ResponseCache(self.cache)

    def fingerprint(self) -> str:
        params = self.output_params()
        p = self._protocol
        blob = repr((self.name, self.version, sorted(params.items()), p.model_dump_json()))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def info(self):  # noqa: ANN201 - RaterInfo
        """Provenance, with any credentials in ``base_url`` masked (it is written to the run store,
        the CSV's metadata and reports)."""

        info = super().info()
        return info.model_copy(update={"params": {**info.params, "base_url": redact_url(str(self.base_url))}})

    def __repr__(self) -> str:
        params = {**self.get_params(), "base_url": redact_url(str(self.base_url))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    @property
    def usage(self) -> dict[str, int]:
        """Requests sent and tokens used by this rater so far (cached answers cost none)."""
        return self._client.usage.as_dict() if "_client" in self.__dict__ else {"requests": 0, "asks": 0, "prompt_tokens": 0, "completion_tokens": 0, "failures": 0}

    @cached_property
    def _asker(self) -> Asker:
        return Asker(self._client, self._cache, model=self.model, temperature=self.temperature, max_tokens=self.max_tokens,
                     logprobs=self.logprobs, answer_retries=self.answer_retries, retry_refusals=self.retry_refusals)

    @cached_property
    def _keys(self) -> dict[tuple[str, str, int, str], str]:
        """Cache keys of the requests made in this rater's life, by (item, file signature,
        participant, question): :meth:`participant_answers` reuses them instead of encoding the
        stimulus again (costly for videos with context enrichment)."""
        return {}

    def run_summary(self) -> str:
        """One line for the end of a run: requests sent (every HTTP request, the SDK's retries and
        rejected structured-mode fallbacks included), tokens, answers taken from the cache."""
        u = self.usage
        hits = self._asker.n_cache_hits if "_asker" in self.__dict__ else 0
        return (f"LLM usage: {u['requests']} requests sent over the wire ({u['failures']} asks failed after retries), "
                f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens; "
                f"{hits} replies from the cache")

    def failure_summary(self) -> str | None:
        """One stderr line when any participant-question failed in this rater's life, by kind;
        ``None`` when none did."""
        return self._asker.failure_summary() if "_asker" in self.__dict__ else None

    # ---- outputs -------------------------------------------------------------------------------
    def outputs(self) -> list[ColumnSpec]:
        self._check()
        p = self._protocol
        specs: list[ColumnSpec] = []
        for s in p.scales:
            specs.append(ColumnSpec(name=s.name, scale=s.scale_obj, description=f"mean over participants; {s.question}"))
            specs.append(ColumnSpec(name=f"{s.name}_sd", kind="other", description=f"SD of {s.name} over participants (NaN below 2)"))
            if self.logprobs:
                specs.append(ColumnSpec(name=f"{s.name}_expected", scale=s.scale_obj,
                                        description=f"probability-weighted {s.name} from token logprobs, mean over participants"))
        if p.categories is not None:
            c = p.categories
            how = "chose" if c.mode == "choose" else "selected"
            specs += [ColumnSpec(name=col, kind="category", scale=PROBABILITY, taxonomy=c.taxonomy,
                                 description=f"share of participants who {how} {cat}")
                      for cat, col in zip(c.categories(), c.columns(), strict=True)]
        if p.explanation:
            specs.append(ColumnSpec(name="explanation", kind="text", description="the first answering participant's explanation"))
        specs += [
            ColumnSpec(name="n_answers", kind="count", scale=COUNT, description="participants with every question answered validly"),
            ColumnSpec(name="n_refusals", kind="count", scale=COUNT, description="requests the model declined (not scored)"),
            ColumnSpec(name="n_failures", kind="count", scale=COUNT, description="requests with no valid answer after retries (typed failures)"),
            ColumnSpec(name="tokens", kind="count", scale=COUNT, description="prompt + completion tokens of the answers used"),
        ]
        return specs

    @classmethod
    def describe_outputs(cls) -> list[str]:
        return ["<scale>, <scale>_sd per protocol scale; category shares; explanation; n_answers, n_refusals, n_failures, tokens"]

    @classmethod
    def contract_deterministic(cls) -> bool:
        return True  # the scripted loopback server of contract_params answers the same request alike

    @classmethod
    def contract_params(cls, workdir: Path, stimuli: StimulusSet | None = None) -> dict[str, Any]:
        srv = LoopbackServer().start()  # daemon thread; lives as long as the test process
        return {"base_url": srv.url, "model": "loopback", "cache": str(workdir / "llm_cache.sqlite"), "max_retries": 0}

    # ---- rating --------------------------------------------------------------------------------
    def _content(self, s: Stimulus) -> Any:
        if s.media == "text":
            return "Description: " + str(s.metadata.get("text", ""))
        if s.path is None:
            raise ValueError("stimulus has no file path")
        if s.media == "video":
            return video_content(s.path, keyframes=self.keyframes, max_side=self.image_size, context=self.context)
        return image_content(s.path, self.image_size)

    def rate_batch(self, stimuli: Sequence[Stimulus]) -> list[RateResult]:
        self._check()
        _ = (self._client, self._cache, self._asker, self._keys, self._questions)  # before the threads
        self.check_server()
        if self.vision_check and any(s.media in ("image", "video") for s in stimuli):
            self.check_vision()
        results: list[RateResult | None] = [None] * len(stimuli)
        jobs = []
        for i, s in enumerate(stimuli):
            if s.media not in self.media:
                results[i] = self.rate_safely(s)
                continue
            try:
                content = self._content(s)
            except Exception as exc:  # noqa: BLE001 - one unreadable file fails alone
                results[i] = ItemError(s.item_id, describe_error(exc))
                continue
            for p in range(self.participants):
                for q in self._questions:
                    jobs.append((i, s, content, p, q))
        with ThreadPoolExecutor(max_workers=max(1, int(self.concurrency))) as pool:
            outcomes = list(pool.map(lambda j: self._ask(*j[1:]), jobs))
        per_item: dict[int, list[Outcome]] = {}
        for (i, *_), o in zip(jobs, outcomes, strict=True):
            per_item.setdefault(i, []).append(o)
        for i, outs in per_item.items():
            results[i] = self._aggregate(stimuli[i], outs)
        return [r if r is not None else ItemError(s.item_id, "not rated") for r, s in zip(results, stimuli, strict=True)]

    def rate_one(self, stimulus: Stimulus) -> dict[str, Any]:
        res = self.rate_batch([stimulus])[0]
        if isinstance(res, ItemError):
            raise RuntimeError(res.message)
        return res

    def _messages(self, s: Stimulus, content: Any, q: Any) -> list[dict[str, Any]]:
        medium = s.media
        ask = question_prompt(self._protocol, q, medium)
        user: Any = f"{content}\n\n{ask}" if isinstance(content, str) else [*content, {"type": "text", "text": ask}]
        return self._with_system(system_prompt(self._protocol, medium), user)

    @property
    def persona_in_user_turn(self) -> bool:
        """Whether the persona and instructions open the user turn (see ``system_role``)."""
        return self.system_role == "user" or (self.system_role == "auto" and bool(NO_SYSTEM_ROLE.search(self.model)))

    def _with_system(self, system: str, user: Any) -> list[dict[str, Any]]:
        """The messages: ``system`` as a system message, or folded into the start of the user turn."""
        if not self.persona_in_user_turn:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if isinstance(user, str):
            return [{"role": "user", "content": f"{system}\n\n{user}"}]
        return [{"role": "user", "content": [{"type": "text", "text": system}, *user]}]

    def check_server(self) -> None:
        """Check once, before the first item, that the server answers, takes the key and serves the
        model; raise :class:`RaterUnavailable` (the CLI exits 2) instead of failing every item after
        its retries."""

        if self.__dict__.get("_server_checked"):
            return
        where = f"{self.model!r} at {redact_url(self.base_url)}"
        try:
            self._client.check_server()
        except RequestFailure as exc:
            fix = {"connection": "Is the server running? Check --base-url",
                   "timeout": "Is the server running? Check --base-url",
                   "auth": "Set the API key variable (-p api_key_env=NAME names it)",
                   "unknown_model": "Check --model"}.get(exc.code, "Check --base-url and --model")
            raise RaterUnavailable(f"cannot use {where}: {exc}. Nothing was rated. {fix}") from None
        self._server_checked = True

    def check_vision(self) -> None:
        """Run the vision check (once per rater; a pass is cached) and raise :class:`RaterUnavailable`
        when the model cannot see pictures or the server cannot be used."""

        if self.__dict__.get("_vision_passed"):
            return
        key = request_key({"vision_check": 1, "base_url": self.base_url.rstrip("/"), "model": self.model,
                           "structured": self._structured_key, "system_role": self.persona_in_user_turn})
        cache = self._cache
        if cache is not None and (hit := cache.get(key)) is not None and hit["status"] == "answer":
            self._vision_passed = True
            return

        def ask(parts: list[dict[str, Any]]) -> tuple[str, str | None]:
            messages = self._with_system(vision.SYSTEM, parts)
            c = self._client.complete(messages, schema=vision.schema(), grammar=vision.grammar(), temperature=0.0,
                                      seed=self.seed, max_tokens=20)
            return c.text, vision.prompt_dropped(messages, c.prompt_tokens)

        where = f"{self.model!r} at {redact_url(self.base_url)}"
        try:
            result = vision.run_vision_check(ask)
        except RequestFailure as exc:
            raise RaterUnavailable(f"the vision check could not reach {where}: {exc}. Check --base-url, --model and the "
                                   "API key variable (api_key_env), or pass -p vision_check=false") from None
        if not result.passed:
            raise RaterUnavailable(
                f"{where} failed the vision check: {result.detail}. The model cannot see the pictures: it is text-only, or "
                "the server's chat format drops images (llama.cpp's --chat_format gemma drops every message that holds "
                "an image: serve a multimodal model with its vision projector and chat handler). Nothing was rated. "
                "Pass -p vision_check=false to rate anyway")
        if cache is not None:
            cache.put(key, status="answer", item_id="<vision check>", question="vision_check", participant=-1, model=self.model,
                      answer={"answers": list(result.answers)}, expected=None, raw=result.detail, prompt_tokens=0, completion_tokens=0)
        self._vision_passed = True

    @property
    def _structured_key(self) -> str:
        """The structured mode as the cache key sees it: ``auto`` first tries ``json_schema`` and
        sends the same request, so both share cached answers."""
        return "json_schema" if self.structured == "auto" else self.structured

    def _ask(self, s: Stimulus, content: Any, p: int, q: Any) -> Outcome:
        """Participant ``p``'s outcome for question ``q`` (see :class:`~affectscope.llm.asking.Asker`)."""
        messages, seed, key = self._request(s, content, p, q)
        self._keys[(s.item_id, s.signature(), p, q.id)] = key
        return self._asker.ask(s.item_id, messages, seed, key, p, q)

    def _request(self, s: Stimulus, content: Any, p: int, q: Any) -> tuple[list[dict[str, Any]], int | None, str]:
        """The messages, seed and cache key of participant ``p``'s request for question ``q``."""

        messages = self._messages(s, content, q)
        seed = None if self.seed is None else int(self.seed) + p
        key = request_key({
            "base_url": self.base_url.rstrip("/"), "model": self.model, "protocol": self._protocol.name,
            "protocol_version": self._protocol.version, "messages": redact_media(messages), "structured": self._structured_key,
            "temperature": self.temperature, "seed": seed, "max_tokens": self.max_tokens, "logprobs": self.logprobs,
            "participant": p, "question": q.id,
        })
        return messages, seed, key

    def participant_answers(self, stimuli: Sequence[Stimulus]) -> pd.DataFrame:
        """Every participant's answer to every question, from the response cache (no requests):
        ``item_id``, ``participant``, ``question``, ``status`` (answer, refusal, failure or missing:
        never asked), ``failure_kind`` and ``failure_message`` of a failure (kept until an answer
        replaces it), and one column per answer key (lists of categories joined with "; ").
        Per-rater data for noise ceilings and spread analyses."""
        import pandas as pd

        self._check()
        rows: list[dict[str, Any]] = []
        cache = self._cache
        asks = [(p, q) for p in range(self.participants) for q in self._questions]
        for s in stimuli:
            sig = s.signature()
            keys = [self._keys.get((s.item_id, sig, p, q.id)) for p, q in asks]
            if None in keys:  # not asked by this rater instance (e.g. resumed): derive the keys
                try:
                    content = self._content(s)
                except Exception:  # noqa: BLE001 - unreadable items have no answers
                    continue
                keys = [self._request(s, content, p, q)[2] for p, q in asks]
            for (p, q), key in zip(asks, keys, strict=True):
                hit = cache.get(key) if cache is not None else None
                row: dict[str, Any] = {"item_id": s.item_id, "participant": p, "question": q.id,
                                       "status": hit["status"] if hit else "missing", "failure_kind": "", "failure_message": ""}
                if hit is None:
                    failed = (cache.get_failure(key) if cache is not None else None) or self._asker.failed.get((s.item_id, p, q.id))
                    if failed is not None:
                        row.update(status="failure", failure_kind=failed[0], failure_message=failed[1])
                for k, v in ((hit or {}).get("answer") or {}).items():
                    row[k] = "; ".join(v) if isinstance(v, list) else v
                rows.append(row)
        return pd.DataFrame(rows)

    def write_details(self, stimuli: Sequence[Stimulus], out: Path) -> Path:
        """Write :meth:`participant_answers` beside a run's output as ``<out>.participants.csv``."""
        path = out.with_name(out.name + ".participants.csv")
        self.participant_answers(stimuli).to_csv(path, index=False)
        return path

    def _aggregate(self, s: Stimulus, outs: list[Outcome]) -> RateResult:
        agg = aggregate_outcomes(outs, self._protocol, len(self._questions), participants=self.participants,
                                 min_participants=self.min_participants, logprobs=self.logprobs)
        if agg.values is None:
            return ItemError(s.item_id, agg.error)
        warnings = []
        if s.media == "video" and s.path is not None:
            if (cut := truncation_warning(s.path)) is not None:  # frames were counted when the video was encoded
                warnings.append(cut)
            if self.context:
                if (why := face_model()[2]) is not None:
                    warnings.append(why)
        warnings += agg.warnings
        if warnings:
            return Flagged(agg.values, "; ".join(warnings), retry=agg.retry)
        return agg.values
