"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests, demos and fault injection.

By default it answers every chat-completions request with a valid answer built from the request's
JSON schema (``response_format`` or a forced tool call): each integer is a deterministic function
of the request's images/text and the key, so answers are stable and differ between stimuli. It
"sees": a ``colour`` question (the vision check) is answered with the colour of the picture sent.
``blind=True`` models the server that cannot see (llama.cpp's ``--chat_format gemma``): it drops
the system message and every message whose content is a list (where images go), answers from what
is left, and counts prompt tokens of what is left. A
``script`` function can replace any reply — HTTP 429/500, delays past the client's timeout,
malformed bodies, refusals, out-of-range or partial answers — and every request is recorded
(``server.requests``) so tests can check what was sent.

Example
-------
>>> with LoopbackServer() as srv:  # doctest: +SKIP
...     LLMRater(base_url=srv.url, model="loopback").rate_one(stimulus)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from affectscope.llm.vision import COLOUR_RGB


@dataclass
class Reply:
    """What the server sends for one request.

    ``content=None`` means "the default valid answer"; ``body`` (bytes) replaces the whole HTTP
    body (malformed JSON); ``delay`` seconds are slept before replying.
    """

    status: int = 200
    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Script = Callable[[dict[str, Any], int], Reply | None]


def schema_of(request: dict[str, Any]) -> dict[str, Any] | None:
    """The answer schema a request carries (``response_format`` or forced tool), if any."""
    rf = request.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return rf["json_schema"]["schema"]
    if rf.get("type") == "json_object" and rf.get("schema"):
        return rf["schema"]  # JSON mode with a schema, as llama.cpp servers take it
    tools = request.get("tools") or []
    if tools:
        return tools[0]["function"]["parameters"]
    return None


def seen_messages(request: dict[str, Any], blind: bool) -> list[dict[str, Any]]:
    """The messages a model receives: all of them, or for a ``blind`` server (llama.cpp's gemma chat
    format) only the non-system messages whose content is a plain string."""
    messages = request.get("messages", [])
    if not blind:
        return messages
    return [m for m in messages if m.get("role") != "system" and isinstance(m.get("content"), str)]


def picture_colour(request: dict[str, Any]) -> str | None:
    """The name of the nearest of the vision check's colours to the mean of the first picture sent."""
    import base64
    import io

    from PIL import Image

    for m in request.get("messages", []):
        content = m.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                data = part["image_url"]["url"].split(",", 1)[1]
                rgb = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
                mean = np.asarray(rgb, dtype=float).reshape(-1, 3).mean(axis=0)
                return min(COLOUR_RGB, key=lambda k: float(((mean - np.asarray(COLOUR_RGB[k])) ** 2).sum()))
    return None


def default_answer(request: dict[str, Any], blind: bool = False) -> dict[str, Any]:
    """A valid, deterministic answer to the request's schema (``{}`` without a schema), from the
    messages the model receives (see :func:`seen_messages`)."""
    schema = schema_of(request) or {"properties": {}}
    seed_text = json.dumps([seen_messages(request, blind), request.get("seed")], sort_keys=True)
    out: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        h = int(hashlib.sha256((seed_text + key).encode()).hexdigest(), 16)
        if key == "colour" and "enum" in prop and not blind and (seen := picture_colour(request)) in prop["enum"]:
            out[key] = seen
        elif prop.get("type") == "integer":
            lo, hi = int(prop.get("minimum", 1)), int(prop.get("maximum", 9))
            out[key] = lo + h % (hi - lo + 1)
        elif "enum" in prop:
            out[key] = prop["enum"][h % len(prop["enum"])]
        elif prop.get("type") == "array":
            enum = prop["items"]["enum"]
            out[key] = sorted({enum[h % len(enum)], enum[(h // 7) % len(enum)]})
        else:
            out[key] = "A test explanation from the loopback server."
    return out


def _tokens(text: str) -> list[dict[str, Any]]:
    """Logprobs for ``text``: digits are single tokens with alternatives (value 0.6, +1 0.3, -1 0.1)."""
    toks = []
    for piece in re.findall(r"\d|[^\d]+", text):
        if piece.isdigit():
            v = int(piece)
            alts = [(str(v), 0.6)] + [(str(v + 1), 0.3)] * (v < 9) + [(str(v - 1), 0.1)] * (v > 0)
            toks.append({"token": piece, "logprob": math.log(0.6), "bytes": None,
                         "top_logprobs": [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in alts]})
        else:
            toks.append({"token": piece, "logprob": 0.0, "bytes": None, "top_logprobs": [{"token": piece, "logprob": 0.0, "bytes": None}]})
    return toks


class LoopbackServer:
    """The server (see the module docstring). Use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(self, script: Script | None = None, *, blind: bool = False, models: list[str] | None = None,
                 models_status: int = 200) -> None:
        self.script = script
        self.blind = blind
        #: ``GET /v1/models`` lists these (with ``models_status``); ``None``: the endpoint is absent (404)
        self.models = models
        self.models_status = models_status
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def n_chat_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> "LoopbackServer":
        server = self
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if server.models is None or not self.path.rstrip("/").endswith("/models"):
                    status, body = 404, {"error": {"message": "not found", "type": "test"}}
                elif server.models_status != 200:
                    status, body = server.models_status, {"error": {"message": f"scripted HTTP {server.models_status}", "type": "test"}}
                else:
                    status, body = 200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "loopback"}
                                                                    for m in server.models]}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    req = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    req = {}
                with server._lock:
                    n = len(server.requests)
                    server.requests.append(req)
                    server.headers.append(dict(self.headers.items()))
                reply = (server.script(req, n) if server.script else None) or Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.body is not None:
                    body = reply.body
                elif reply.status != 200:
                    body = json.dumps({"error": {"message": f"scripted HTTP {reply.status}", "type": "test"}}).encode()
                else:
                    body = json.dumps(server._completion(req, reply)).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _completion(self, req: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content if reply.content is not None else json.dumps(default_answer(req, self.blind))
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": reply.refusal}
        if reply.refusal is not None:
            message["content"] = None
        elif req.get("tools") and reply.content is None:
            message["content"] = None
            message["tool_calls"] = [{"id": "call_0", "type": "function",
                                      "function": {"name": req["tools"][0]["function"]["name"], "arguments": content}}]
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": reply.finish_reason}
        if req.get("logprobs") and message["content"]:
            choice["logprobs"] = {"content": _tokens(message["content"])}
        n_prompt = 7 + len(json.dumps(seen_messages(req, self.blind))) // 4  # 7: the turn markers a chat template adds
        return {
            "id": "chatcmpl-loopback", "object": "chat.completion", "created": int(time.time()), "model": req.get("model", ""),
            "choices": [choice],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": len(content) // 4 + 1,
                      "total_tokens": n_prompt + len(content) // 4 + 1},
        }

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
