"""One chat request to any OpenAI-compatible server, through the official ``openai`` SDK.

The same code talks to OpenAI, vLLM, Ollama, LM Studio and llama.cpp: only ``base_url`` and the
model name change. Structured output is requested in the strongest form asked for:

``json_schema``
    ``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM, llama.cpp, LM Studio).
``json_object``
    ``response_format={"type": "json_object", "schema": ...}``: JSON mode; llama.cpp servers
    also constrain to the schema, other servers take the schema from the prompt.
``grammar``
    a GBNF grammar in the request body (llama.cpp servers).
``tool``
    a forced function call whose parameters are the answer schema.
``none``
    the prompt alone.
``auto``
    ``json_schema``, falling back to ``json_object`` and then ``none`` when the server rejects a
    mode (an error — 400/422, or a 500 as llama-cpp-python sends — whose text names the mode's
    parameter: ``response_format``, ``json_schema``, ``grammar``, ``tools`` ...); the mode that worked
    is remembered. Any other 400 is a failure of its own, never taken for a missing mode.

Token limit: ``max_tokens``, or ``max_completion_tokens`` once a server answers that ``max_tokens``
is not supported and names the other (OpenAI's reasoning models); the switch is remembered.

Transport failures (429, 5xx, timeouts, refused connections) are retried by the SDK with
exponential backoff (it honours ``Retry-After``); what is still failing after ``max_retries``
becomes a :class:`RequestFailure` with a typed ``code``. The API key lives only in the SDK
client object: it is never part of a result or a cache key, and it is redacted (with any
credentials in ``base_url``) from every failure message, even when a server or proxy quotes the
``Authorization`` header in its error body. Every HTTP request that goes over the wire is counted
(an httpx event hook), so the SDK's own retries and rejected structured-mode fallbacks appear in
:attr:`ChatClient.usage`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from affectscope.llm.answers import TokenLogprob
from affectscope._install import install_hint

StructuredMode = Literal["auto", "json_schema", "json_object", "grammar", "tool", "none"]
STRUCTURED_MODES = ("auto", "json_schema", "json_object", "grammar", "tool", "none")
_AUTO_ORDER = ("json_schema", "json_object", "none")
TOOL_NAME = "submit_answer"


class RequestFailure(RuntimeError):
    """A request that got no usable response; ``code`` is one of ``rate_limited``,
    ``server_error``, ``timeout``, ``connection``, ``auth``, ``bad_request``, ``bad_response``
    (a body that does not parse), ``empty`` (no choices)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


@dataclass
class Completion:
    """What the server sent back for one request."""

    text: str
    refusal: str | None
    finish_reason: str | None
    tokens: list[TokenLogprob] | None
    prompt_tokens: int
    completion_tokens: int
    mode: str


@dataclass
class Usage:
    """Running totals over a client's life (thread-safe).

    ``requests`` counts HTTP requests sent over the wire (SDK retries and rejected fallback modes
    included); ``asks`` counts :meth:`ChatClient.complete` calls, ``failures`` those that raised.
    """

    requests: int = 0
    asks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def sent(self) -> None:
        with self._lock:
            self.requests += 1

    def add(self, c: Completion | None) -> None:
        with self._lock:
            self.asks += 1
            if c is None:
                self.failures += 1
            else:
                self.prompt_tokens += c.prompt_tokens
                self.completion_tokens += c.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "asks": self.asks, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "failures": self.failures}


def redact_url(url: str) -> str:
    """``url`` with any user name, password and query-parameter values replaced by ``***``
    (``https://user:secret@host/v1?key=abc`` -> ``https://***@host/v1?key=***``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(f"{k}=***" for k, _ in parse_qsl(parts.query, keep_blank_values=True)) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries (user info, password, query values), for redaction."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v]
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found += [userinfo, *userinfo.split(":", 1)]
    return [f for f in found if len(f) >= 4]


class Redactor:
    """Replaces each secret (and its URL-encoded and Base64 forms) with ``***`` in any text."""

    def __init__(self, secrets: list[str]) -> None:
        import base64
        from urllib.parse import quote

        forms: set[str] = set()
        for sec in secrets:
            if not sec or len(sec) < 4:
                continue
            forms |= {sec, quote(sec, safe=""), base64.b64encode(sec.encode()).decode()}
        self._pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))) if forms else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern is not None else text


class ChatClient:
    """A chat-completions client for one server and model.

    Parameters
    ----------
    base_url : str
        The server's OpenAI-compatible root, e.g. ``http://127.0.0.1:8080/v1``.
    model : str
    api_key : str
        Local servers accept any string.
    structured : {"auto", "json_schema", "json_object", "grammar", "tool", "none"}
    logprobs : bool
        Ask for token logprobs (``top_logprobs`` alternatives per token).
    top_logprobs : int
    timeout : float
        Seconds per attempt.
    max_retries : int
        SDK retries on 429, 5xx, timeouts and connection errors (exponential backoff).
    """

    def __init__(
        self, base_url: str, model: str, api_key: str, *, structured: StructuredMode = "auto",
        logprobs: bool = False, top_logprobs: int = 10, timeout: float = 60.0, max_retries: int = 4,
    ) -> None:
        try:
            from openai import OpenAI
        except ImportError:
            raise ImportError(f"the LLM rater needs the openai SDK. {install_hint('core')}") from None
        self.model = model
        self.structured = structured
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        import openai

        self.usage = Usage()
        self.redact = Redactor([api_key, *url_secrets(base_url)] if api_key != "no-key-needed" else url_secrets(base_url))
        http = openai.DefaultHttpxClient(event_hooks={"request": [lambda request: self.usage.sent()]})
        self._sdk = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, http_client=http)
        self._mode: str | None = None if structured == "auto" else structured
        self._mode_lock = threading.Lock()
        self.token_param = "max_tokens"

    def complete(
        self, messages: list[dict[str, Any]], *, schema: dict[str, Any], grammar: str,
        temperature: float, seed: int | None, max_tokens: int,
    ) -> Completion:
        """One request; raises :class:`RequestFailure` when no response could be had."""
        modes = [self._mode] if self._mode else list(_AUTO_ORDER)
        last: Exception | None = None
        for mode in modes:
            try:
                c = self._request_redacted(mode, messages, schema, grammar, temperature, seed, max_tokens)
            except RequestFailure as exc:
                if self.structured == "auto" and self._mode is None and mode != modes[-1] and _mode_rejected(exc, mode):
                    last = exc
                    continue  # the server does not take this mode: try the next weaker one
                self.usage.add(None)
                raise
            with self._mode_lock:
                if self._mode is None:
                    self._mode = mode
            self.usage.add(c)
            return c
        self.usage.add(None)
        raise last if last else RequestFailure("bad_request", "no structured-output mode was accepted")

    def _request_redacted(self, mode, messages, schema, grammar, temperature, seed, max_tokens) -> Completion:  # noqa: ANN001
        """:meth:`_request`, switching to ``max_completion_tokens`` when the server asks for it, with
        every credential redacted from a failure's message."""
        try:
            try:
                return self._request(mode, messages, schema, grammar, temperature, seed, max_tokens)
            except RequestFailure as exc:
                if not (exc.code == "bad_request" and self.token_param == "max_tokens" and _wants_completion_tokens(exc)):
                    raise
                self.token_param = "max_completion_tokens"
                return self._request(mode, messages, schema, grammar, temperature, seed, max_tokens)
        except RequestFailure as raw:  # no credential leaves this client in a message
            raise RequestFailure(raw.code, self.redact(raw.args[0])) from None

    def check_server(self) -> list[str] | None:
        """Ask the server which models it serves (``GET /models``, one attempt, no retries) before
        any real request, so that an unreachable server or a refused key stops a run at once.

        Returns the listed model ids, or ``None`` where the server has no such endpoint. Raises
        :class:`RequestFailure` (``connection``, ``timeout``, ``auth``; ``unknown_model`` when the
        model is not listed and one tiny request for it is rejected: some servers, llama.cpp's
        among them, list one alias and answer to any name). These requests are not counted in
        :attr:`usage`."""
        import openai

        # a client of its own, without the usage hook: the check's requests are not the study's
        sdk = openai.OpenAI(base_url=self._sdk.base_url, api_key=self._sdk.api_key, max_retries=0, timeout=15.0)
        try:
            try:
                ids = [m.id for m in sdk.models.list().data]
            except openai.APIConnectionError as exc:
                raise RequestFailure("connection", f"cannot reach the server: {_msg(exc)}") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise RequestFailure("auth", f"HTTP {exc.status_code}: the server refused the API key "
                                             "(set the variable named by api_key_env)") from None
            except (openai.APIError, ValueError, TypeError, AttributeError):
                return None  # no model list here (404, 405, a body in another shape): nothing to check
            if not ids or self.model in ids:
                return ids
            try:
                sdk.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "Reply OK."}],
                                            **{self.token_param: 1})
            except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                raise RequestFailure("unknown_model", f"the server does not serve {self.model!r} "
                                                      f"(HTTP {exc.status_code}); it lists {ids[:10]}") from None
            except openai.APIError:
                pass  # anything else is for the real requests to meet and count
            return ids
        except RequestFailure as raw:
            raise RequestFailure(raw.code, self.redact(raw.args[0])) from None
        finally:
            sdk.close()

    @property
    def mode(self) -> str | None:
        """The structured-output mode in use (``None`` until ``auto`` has found one)."""
        return self._mode

    def _request(self, mode: str, messages, schema, grammar, temperature, seed, max_tokens) -> Completion:  # noqa: ANN001
        import openai

        kw: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature, self.token_param: max_tokens}
        if seed is not None:
            kw["seed"] = seed
        if self.logprobs and mode != "tool":
            kw["logprobs"] = True
            kw["top_logprobs"] = self.top_logprobs
        if mode == "json_schema":
            kw["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        elif mode == "json_object":
            # llama.cpp's OpenAI-compatible servers constrain to the schema given here; others ignore it
            kw["response_format"] = {"type": "json_object", "schema": schema}
        elif mode == "grammar":
            kw["extra_body"] = {"grammar": grammar}
        elif mode == "tool":
            kw["tools"] = [{"type": "function", "function": {"name": TOOL_NAME, "description": "Submit your answer.", "parameters": schema}}]
            kw["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        try:
            resp = self._sdk.chat.completions.create(**kw)
        except openai.RateLimitError as exc:
            raise RequestFailure("rate_limited", f"HTTP 429 after retries: {_msg(exc)}") from None
        except openai.APITimeoutError:
            raise RequestFailure("timeout", "no response within the timeout, after retries") from None
        except openai.APIConnectionError as exc:
            raise RequestFailure("connection", f"cannot reach the server: {_msg(exc)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise RequestFailure("auth", f"HTTP {exc.status_code}: the server refused the API key (set the variable named by api_key_env)") from None
        except openai.APIStatusError as exc:
            kind = "server_error" if exc.status_code >= 500 else "bad_request"
            raise RequestFailure(kind, f"HTTP {exc.status_code}: {_msg(exc)}") from None
        except openai.APIError as exc:
            raise RequestFailure("server_error", f"unusable response: {_msg(exc)}") from None
        except (ValueError, TypeError, AttributeError) as exc:  # a body that is not the JSON it claims to be
            raise RequestFailure("bad_response", f"the server sent an unparseable body ({type(exc).__name__}: {_msg(exc)})") from None
        if not getattr(resp, "choices", None):
            raise RequestFailure("empty", "the response has no choices")
        ch = resp.choices[0]
        msg = ch.message
        text = msg.content or ""
        if mode == "tool" and msg.tool_calls:
            text = msg.tool_calls[0].function.arguments or ""
        tokens = None
        lp = getattr(ch, "logprobs", None)
        if lp is not None and getattr(lp, "content", None):
            tokens = [
                TokenLogprob(t.token, float(t.logprob), tuple((a.token, float(a.logprob)) for a in (t.top_logprobs or ())))
                for t in lp.content
            ]
        u = getattr(resp, "usage", None)
        return Completion(
            text=text, refusal=getattr(msg, "refusal", None), finish_reason=ch.finish_reason, tokens=tokens,
            prompt_tokens=int(getattr(u, "prompt_tokens", 0) or 0), completion_tokens=int(getattr(u, "completion_tokens", 0) or 0),
            mode=mode,
        )

    def close(self) -> None:
        self._sdk.close()


#: Words by which a server's error names the parameter of each structured-output mode.
_MODE_WORDS = {
    "json_schema": ("response_format", "json_schema", "response format", "structured output", "schema"),
    "json_object": ("response_format", "json_object", "json mode", "response format"),
    "grammar": ("grammar",),
    "tool": ("tools", "tool_choice", "function"),
}


def _mode_rejected(exc: RequestFailure, mode: str) -> bool:
    """Whether a failure says the server does not take this structured-output mode: a 400/422 or
    500 (llama-cpp-python answers 500 to ``json_schema``) whose text names the mode's parameter. A
    400 about something else (an unsupported ``max_tokens``, a bad image) is not a mode rejection."""
    text = str(exc).lower()
    return exc.code in ("bad_request", "server_error") and any(w in text for w in _MODE_WORDS.get(mode, ()))


def _wants_completion_tokens(exc: RequestFailure) -> bool:
    """OpenAI's answer to ``max_tokens`` on models that take only ``max_completion_tokens``."""
    text = str(exc).lower()
    return "max_completion_tokens" in text and "max_tokens" in text


def _msg(exc: Exception) -> str:
    m = getattr(exc, "message", None) or str(exc)
    return " ".join(str(m).split())[:300]
