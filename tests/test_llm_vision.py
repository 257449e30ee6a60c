"""A model that cannot see the picture must not "rate" it (issue #29, point 1).

The blind loopback server behaves like llama.cpp's ``--chat_format gemma``: it drops the system
message and every list-content message (where images go) and answers from what is left, with the
prompt-token count of what is left. Before the vision check, two different pictures got answers
from it, 0 failures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_good_images

from affectscope.llm.loopback import LoopbackServer, Reply
from affectscope.llm.protocol import load_protocol
from affectscope.raters.base import ItemError
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet


def _llm(srv: LoopbackServer, tmp_path: Path, **kw):
    params = {"base_url": srv.url, "model": "loopback", "cache": str(tmp_path / "cache.sqlite"), "max_retries": 0, "timeout": 5.0}
    params.update(kw)
    return make_rater("llm", **params)


def _is_check(req: dict) -> bool:
    return "main colour" in json.dumps(req.get("messages"))


def test_a_seeing_model_passes_the_check_once(tmp_path: Path) -> None:
    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    with LoopbackServer() as srv:
        res = rate(imgs, _llm(srv, tmp_path), store=tmp_path / "s.sqlite")
        assert res.n_failed == 0
        checks = [r for r in srv.requests if _is_check(r)]
        assert len(checks) == 2 and srv.n_chat_requests == 2 + len(imgs)
        assert srv.requests[0] is checks[0]  # before the first picture
        # a new rater with the same cache does not check again (the pass is cached); a fresh run store re-rates from the cache
        rate(imgs, _llm(srv, tmp_path), store=tmp_path / "s2.sqlite")
        assert sum(_is_check(r) for r in srv.requests) == 2 and srv.n_chat_requests == 2 + len(imgs)


def test_a_blind_model_stops_the_run_before_any_item(tmp_path: Path) -> None:
    from affectscope.raters.base import RaterUnavailable

    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    with LoopbackServer(blind=True) as srv:
        with pytest.raises(RaterUnavailable, match="failed the vision check") as info:
            rate(imgs, _llm(srv, tmp_path), store=tmp_path / "s.sqlite")
        assert "vision_check=false" in str(info.value) and "chat_format gemma" in str(info.value)
        assert srv.n_chat_requests == 2  # the two test pictures, nothing else


def test_cli_exits_2_naming_the_vision_check(tmp_path: Path) -> None:
    make_good_images(tmp_path / "imgs")
    with LoopbackServer(blind=True) as srv:
        p = subprocess.run([sys.executable, "-m", "affectscope.cli", "rate", str(tmp_path / "imgs"), "--rater", "llm",
                            "--base-url", srv.url, "--model", "loopback", "-p", "max_retries=0", "-q", "-o", str(tmp_path / "r.csv")],
                           env={**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache")}, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "failed the vision check" in p.stderr and "Nothing was rated" in p.stderr


def test_without_the_check_a_dropped_picture_is_a_failure_never_an_answer(tmp_path: Path) -> None:
    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    with LoopbackServer(blind=True) as srv:
        res = rate(imgs, _llm(srv, tmp_path, vision_check=False), store=tmp_path / "s.sqlite")
    assert res.n_failed == len(imgs)
    assert all("prompt_dropped" in m and "cannot have read the picture" in m for m in res.ratings.errors)


def test_text_stimuli_need_no_check_and_keep_the_persona_on_a_gemma_model(tmp_path: Path) -> None:
    texts = StimulusSet.from_texts({"party": "Friends laugh together at a birthday party."})
    with LoopbackServer(blind=True) as srv:
        rater = _llm(srv, tmp_path, model="gemma-3-4b-it")
        res = rater.rate_batch(list(texts))[0]
        assert not isinstance(res, ItemError), res
        assert srv.n_chat_requests == 1  # no vision check for text
        messages = srv.requests[0]["messages"]
        assert [m["role"] for m in messages] == ["user"]
        persona = load_protocol("romeo_testolin_2025").persona.strip()
        assert messages[0]["content"].startswith(persona[:60])  # the persona reaches the model


@pytest.mark.parametrize(("model", "role", "folded"), [
    ("gpt-4o", "auto", False), ("gemma-3-27b-it", "auto", True), ("gpt-4o", "user", True), ("gemma-3-4b", "system", False),
])
def test_system_role_places_the_persona(tmp_path: Path, model: str, role: str, folded: bool) -> None:
    img = make_good_images(tmp_path / "imgs")[0]
    with LoopbackServer() as srv:
        res = _llm(srv, tmp_path, model=model, system_role=role).rate_batch(list(StimulusSet.from_list([img])))[0]
        assert not isinstance(res, ItemError), res
        for req in srv.requests:
            roles = [m["role"] for m in req["messages"]]
            assert roles == (["user"] if folded else ["system", "user"])
            if folded:
                assert req["messages"][0]["content"][0]["type"] == "text"  # the persona leads the user turn, then the picture


def test_an_unreachable_server_stops_the_run_at_the_check(tmp_path: Path) -> None:
    from affectscope.raters.base import RaterUnavailable

    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    with LoopbackServer(lambda req, n: Reply(status=401)) as srv:
        with pytest.raises(RaterUnavailable, match="could not reach") as info:
            rate(imgs, _llm(srv, tmp_path), store=tmp_path / "s.sqlite")
    assert "auth" in str(info.value)


def test_prompt_token_floor() -> None:
    from affectscope.llm.vision import MIN_IMAGE_TOKENS, prompt_dropped, prompt_token_floor

    msgs = [{"role": "system", "content": "x" * 800},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}, {"type": "text", "text": "y" * 80}]}]
    assert prompt_token_floor(msgs) == (880 // 8 + MIN_IMAGE_TOKENS, 1)
    assert prompt_dropped(msgs, 7) is not None and "picture" in prompt_dropped(msgs, 7)
    assert prompt_dropped(msgs, 400) is None
    assert prompt_dropped(msgs, 0) is None  # a server that reports no usage is not judged
