"""What a participant is asked, and whether what came back is an answer.

For one :class:`~affectscope.llm.protocol.Question` this module builds the prompt text, the JSON
schema and the equivalent GBNF grammar (llama.cpp) of the answer, and checks a reply:
:func:`parse_answer` returns the validated answer or raises :class:`AnswerError` with a typed
``kind`` — ``malformed`` (no JSON object), ``partial`` (keys missing), ``out_of_range`` (a rating
off the scale), ``invalid_category`` (a category not in the list) or ``refusal`` (the model
declined). Refusals are told apart from malformed replies so they are recorded as refusals,
never scored. :func:`expected_ratings` turns token logprobs into probability-weighted ratings.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from affectscope.llm.protocol import MEDIUM_WORDS, Protocol, Question

FailureCode = Literal["malformed", "partial", "out_of_range", "invalid_category", "refusal"]


class AnswerError(ValueError):
    """A reply that is not a valid answer; ``code`` says why (see the module docstring)."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


# ---- prompts ---------------------------------------------------------------------------------
def _fill(text: str, medium: str) -> str:
    """``{medium}`` replaced by the medium's word, with the article before it agreeing
    ("an image", "a video", "a description")."""
    word = MEDIUM_WORDS.get(medium, medium)
    article = "an" if word[:1].lower() in "aeiou" else "a"
    text = re.sub(r"\b([Aa])n? \{medium\}", lambda m: (article if m.group(1) == "a" else article.capitalize()) + " {medium}", text)
    return text.replace("{medium}", word)


def system_prompt(protocol: Protocol, medium: str) -> str:
    """Persona and instructions, worded for the medium (image, video or text description)."""
    return _fill(protocol.persona.strip() + "\n\n" + protocol.instructions.strip(), medium)


def question_prompt(protocol: Protocol, question: Question, medium: str) -> str:
    """The questions of one request and the exact answer format asked for."""
    lines = []
    for s in question.scales:
        if s.labels:
            points = ", ".join(f"{v} = {label}" for v, label in zip(range(s.low, s.high + 1), s.labels, strict=True))
            lines.append(f'- "{s.name}": {_fill(s.question, medium)} Answer with a whole number from {s.low} to {s.high}: {points}.')
            continue
        lo_a, hi_a = s.anchors()
        lines.append(
            f'- "{s.name}": {_fill(s.question, medium)} Answer with a whole number from '
            f"{s.low} ({lo_a}) to {s.high} ({hi_a})."
        )
    c = question.categories
    if c is not None:
        cats = ", ".join(c.categories())
        how = "exactly one of" if c.mode == "choose" else "a list of one or more of"
        lines.append(f'- "{c.key}": {_fill(c.question, medium)} Answer with {how}: {cats}.')
    if question.explanation:
        lines.append(f'- "explanation": {_fill(protocol.explanation_question, medium)}')
    example = ", ".join(f'"{k}": ...' for k in question.keys)
    return (
        "Questions:\n" + "\n".join(lines)
        + f"\n\nReply with one JSON object with exactly these keys and nothing else: {{{example}}}"
    )


# ---- schemas -----------------------------------------------------------------------------------
def json_schema(question: Question) -> dict[str, Any]:
    """The answer's JSON schema (OpenAI ``json_schema`` strict-mode compatible)."""
    props: dict[str, Any] = {}
    for s in question.scales:
        props[s.name] = {"type": "integer", "minimum": s.low, "maximum": s.high}
    c = question.categories
    if c is not None:
        enum = {"type": "string", "enum": list(c.categories())}
        props[c.key] = enum if c.mode == "choose" else {"type": "array", "items": enum, "minItems": 1}
    if question.explanation:
        props["explanation"] = {"type": "string"}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _gbnf_literal(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gbnf(question: Question) -> str:
    """A llama.cpp GBNF grammar that admits exactly the answers :func:`json_schema` describes."""
    rules = []
    parts = []
    for s in question.scales:
        rule = f"v-{s.name.replace('_', '-')}"
        rules.append(f"{rule} ::= " + " | ".join(_gbnf_literal(str(v)) for v in range(s.high, s.low - 1, -1)))
        parts.append((s.name, rule))
    c = question.categories
    if c is not None:
        rules.append("cat ::= " + " | ".join(_gbnf_literal(json.dumps(x)) for x in c.categories()))
        if c.mode == "choose":
            parts.append((c.key, "cat"))
        else:
            rules.append(f'cats ::= "[" ws cat (ws "," ws cat){{0,{len(c.categories()) - 1}}} ws "]"')  # as many as the schema allows
            parts.append((c.key, "cats"))
    if question.explanation:
        rules.append(r'text ::= "\"" [^"\\\x00-\x1f]{1,400} "\""')
        parts.append(("explanation", "text"))
    body = ' ws "," ws '.join(f'{_gbnf_literal(json.dumps(k))} ws ":" ws {r}' for k, r in parts)
    return "\n".join([f'root ::= "{{" ws {body} ws "}}"', 'ws ::= " "?'] + rules) + "\n"


def answer_model(question: Question) -> type[BaseModel]:
    """A pydantic model validating one answer (numbers like ``7.0`` or ``"7"`` are accepted as 7)."""
    fields: dict[str, Any] = {}
    for s in question.scales:
        fields[s.name] = (Annotated[int, Field(ge=s.low, le=s.high)], ...)
    c = question.categories
    if c is not None:
        lit = Literal[c.categories()]  # type: ignore[valid-type]
        fields[c.key] = (lit, ...) if c.mode == "choose" else (Annotated[list[lit], Field(min_length=1)], ...)  # type: ignore[valid-type]
    if question.explanation:
        fields["explanation"] = (Annotated[str, Field(min_length=1)], ...)
    return create_model("Answer_" + question.id, __config__=ConfigDict(extra="ignore"), **fields)


# ---- checking replies ----------------------------------------------------------------------------
_REFUSAL = re.compile(
    r"\b(i(?:'|’)?m sorry|i am sorry|i (?:can(?:not|'t|’t)|won(?:'|’)t|am unable|am not able|'m unable|'m not able) "
    r"(?:help|assist|provide|rate|comply|do|fulfil|fulfill|engage|answer|participate|evaluate|give|share|make)"
    r"|as an ai\b|i do not have (?:feelings|emotions)|i don(?:'|’)t have (?:feelings|emotions)|unable to comply)",
    re.IGNORECASE,
)


def looks_like_refusal(text: str) -> bool:
    """Whether a reply without a JSON answer reads as the model declining the task."""
    return bool(_REFUSAL.search(text or ""))


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (code fences and chatter around it are ignored)."""
    s = (text or "").strip()
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        pass
    dec = json.JSONDecoder()
    for m in re.finditer(r"\{", s):
        try:
            obj, _ = dec.raw_decode(s[m.start():])
            return obj
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object in the reply")


def _canonical(question: Question, data: dict[str, Any]) -> dict[str, Any]:
    """Category names matched case- and space-insensitively to the taxonomy's spelling."""
    c = question.categories
    if c is None or c.key not in data:
        return data
    lookup = {re.sub(r"[\s_]+", " ", x).strip().lower(): x for x in c.categories()}

    def canon(v: Any) -> Any:
        return lookup.get(re.sub(r"[\s_]+", " ", v).strip().lower(), v) if isinstance(v, str) else v

    out = dict(data)
    v = out[c.key]
    out[c.key] = [canon(x) for x in v] if isinstance(v, list) else canon(v)
    if c.mode == "select" and isinstance(out[c.key], str):
        out[c.key] = [out[c.key]]
    if c.mode == "select" and isinstance(out[c.key], list):
        out[c.key] = list(dict.fromkeys(out[c.key]))
    return out


def parse_answer(text: str, question: Question) -> dict[str, Any]:
    """The validated answer in ``text``, or :class:`AnswerError` saying what is wrong with it."""
    try:
        data = extract_json(text)
    except ValueError:
        if looks_like_refusal(text):
            raise AnswerError("refusal", f"the model declined: {_snip(text)}") from None
        raise AnswerError("malformed", f"no JSON object in the reply: {_snip(text)}") from None
    if not isinstance(data, dict):
        raise AnswerError("malformed", f"the reply is JSON but not an object: {_snip(text)}")
    try:
        model = answer_model(question).model_validate(_canonical(question, data))
    except ValidationError as exc:
        kinds = {e["type"] for e in exc.errors()}
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        if "missing" in kinds:
            kind: FailureCode = "partial"
        elif kinds & {"greater_than_equal", "less_than_equal"}:
            kind = "out_of_range"
        elif kinds & {"literal_error", "enum"}:
            kind = "invalid_category"
        else:
            kind = "malformed"
        raise AnswerError(kind, f"{where} (reply: {_snip(text)})") from None
    return model.model_dump()


def _snip(text: str, n: int = 160) -> str:
    t = " ".join((text or "").split())
    return repr(t if len(t) <= n else t[: n - 1] + "…")


# ---- logprobs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the server's top alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]


def expected_ratings(text: str, tokens: list[TokenLogprob] | None, question: Question) -> dict[str, float]:
    """Probability-weighted ratings: for each scale whose value is a single generated token,
    sum ``value * p(value)`` over the alternatives the server reports at that position
    (renormalised over in-range values). Scales whose token cannot be located are left out."""
    if not tokens:
        return {}
    starts = []
    pos = 0
    for t in tokens:
        starts.append(pos)
        pos += len(t.token)
    if pos != len(text):
        return {}  # the tokens do not spell the text (e.g. a tool call): nothing to align
    out: dict[str, float] = {}
    for s in question.scales:
        m = re.search(r'"' + re.escape(s.name) + r'"\s*:\s*"?(\d+)', text)
        if not m:
            continue
        at = m.start(1)
        idx = next((i for i in range(len(tokens)) if starts[i] <= at < starts[i] + len(tokens[i].token)), None)
        if idx is None:
            continue
        tok = tokens[idx]
        prefix = text[starts[idx]:at]
        if tok.token != prefix + m.group(1):
            continue  # the value spans several tokens (e.g. two-digit scales): no expectation
        mass: dict[int, float] = {}
        for alt, lp in tok.top or ((tok.token, tok.logprob),):
            if not alt.startswith(prefix):
                continue
            rest = alt[len(prefix):]
            if rest.isdigit() and s.low <= int(rest) <= s.high:
                mass[int(rest)] = mass.get(int(rest), 0.0) + math.exp(lp)
        total = sum(mass.values())
        if total > 0:
            out[s.name] = sum(v * p for v, p in mass.items()) / total
    return out
