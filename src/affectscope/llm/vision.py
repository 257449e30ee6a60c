"""Can the model see? A vision check before the first picture, and a prompt-token floor per request.

A server can accept a picture and never show it to the model: llama.cpp's ``--chat_format gemma``
drops the system message and every list-content user message (where images go), so the model
answers an empty turn, and a structured-output constraint still makes that answer look valid. Two
guards catch this:

* :func:`run_vision_check`, once per rater before the first picture or video: two solid-colour test
  pictures (red, then blue) with the question "what colour is it?". A model that cannot see answers
  both wrongly (or both alike); the run stops with a message saying why and what to do, unless the
  user passes ``vision_check=false``.
* :func:`prompt_token_floor`, per request: the fewest prompt tokens a server can count for a request
  that really reached the model — half a token per 4 characters of its text, plus
  :data:`MIN_IMAGE_TOKENS` per image (multimodal models spend 64-1,000+ tokens on a picture). A
  response whose reported prompt tokens fall below it is a typed failure (``prompt_dropped``), never
  an answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectscope.llm.answers import extract_json
from affectscope.llm.media import encode_jpeg

#: The colours a test picture may have (the answer must be one of them), with their RGB fills.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 60, 220), "yellow": (230, 220, 30),
    "black": (0, 0, 0), "white": (255, 255, 255),
}
COLOURS = tuple(COLOUR_RGB)
#: The test pictures: (right answer, RGB fill).
TESTS = (("red", COLOUR_RGB["red"]), ("blue", COLOUR_RGB["blue"]))
#: Prompt tokens below which a picture cannot have been read (Gemma 3: 256 per image, GPT-4o
#: low detail: 85, LLaVA-1.5: 576; the floor is a fraction of the smallest).
MIN_IMAGE_TOKENS = 32
QUESTION = ("What is the main colour of this picture? Reply with one JSON object and nothing else: "
            '{"colour": ...}, the colour being one of: ' + ", ".join(COLOURS) + ".")
SYSTEM = "You are checking pictures. Answer what you see."


def schema() -> dict[str, Any]:
    """The check's answer schema (strict-mode compatible)."""
    return {"type": "object", "properties": {"colour": {"type": "string", "enum": list(COLOURS)}},
            "required": ["colour"], "additionalProperties": False}


def grammar() -> str:
    """The check's answer as a llama.cpp GBNF grammar."""
    alts = " | ".join(json.dumps(json.dumps(c)) for c in COLOURS)
    return f'root ::= "{{" ws "\\"colour\\"" ws ":" ws ({alts}) ws "}}"\nws ::= " "?\n'


def test_picture(rgb: tuple[int, int, int], side: int = 256) -> str:
    """A solid-colour JPEG data URL."""

    return encode_jpeg(np.full((side, side, 3), rgb, dtype=np.uint8), side)


def prompt_token_floor(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """``(floor, n_images)``: the fewest prompt tokens a server can report for ``messages`` if the
    model really received them (see the module docstring)."""
    chars = 0
    images = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    images += 1
                elif part.get("type") == "text":
                    chars += len(str(part.get("text", "")))
    return chars // 8 + MIN_IMAGE_TOKENS * images, images


def prompt_dropped(messages: list[dict[str, Any]], prompt_tokens: int) -> str | None:
    """Why a response cannot be an answer to ``messages`` (its prompt-token count is below the
    floor), or ``None``. Servers that report no usage (0 tokens) are not judged."""
    if prompt_tokens <= 0:
        return None
    floor, images = prompt_token_floor(messages)
    if prompt_tokens >= floor:
        return None
    thing = "picture" if images else "whole prompt"
    what = f"{images} image(s) and " if images else ""
    return (f"the model cannot have read the {thing}: the server counted {prompt_tokens} prompt tokens for a request with "
            f"{what}{(floor - MIN_IMAGE_TOKENS * images) * 8} characters of text ({floor} or more expected); its chat format "
            "may drop images or the system message (llama.cpp's --chat_format gemma drops both: use -p system_role=user, "
            "and a multimodal chat handler for pictures)")


@dataclass(frozen=True)
class VisionCheck:
    """What the check asked and got: ``answers`` in the order of :data:`TESTS`."""

    passed: bool
    answers: tuple[str, ...]
    detail: str


def run_vision_check(ask: Callable[[list[dict[str, Any]]], tuple[str, str | None]]) -> VisionCheck:
    """Ask the colour of each test picture. ``ask(user_parts)`` sends one request whose user turn
    holds ``user_parts`` (the caller adds the system text the way its real requests do) and returns
    the reply text and, when the prompt-token count shows the request did not reach the model,
    why (:func:`prompt_dropped`); it raises on transport failure."""

    answers = []
    problems = []
    for want, rgb in TESTS:
        parts = [{"type": "image_url", "image_url": {"url": test_picture(rgb)}}, {"type": "text", "text": QUESTION}]
        text, dropped = ask(parts)
        if dropped:
            answers.append("<not read>")
            problems.append(dropped)
            continue
        try:
            got = str(extract_json(text).get("colour", "")).strip().lower()
        except (ValueError, AttributeError):
            got = f"<no answer: {text[:60]!r}>"
        answers.append(got)
        if got != want:
            problems.append(f"a solid {want} picture was called {got!r}")
    passed = not problems
    detail = "; ".join(problems) if problems else "named the colour of a red and a blue test picture"
    return VisionCheck(passed, tuple(answers), detail)
