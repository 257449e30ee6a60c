"""#31.3: the LLM rater checks the server before the first item and stops with a clear message on
connection refused, a refused key and an unknown model, instead of every item failing after retries."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import make_good_images

from affectscope.cli import main
from affectscope.llm.loopback import LoopbackServer, Reply
from affectscope.raters.base import RaterUnavailable
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _llm(url: str, tmp_path: Path, model: str = "loopback", **kw):
    return make_rater("llm", base_url=url, model=model, cache=str(tmp_path / "cache.sqlite"), vision_check=False, **kw)


def test_connection_refused_stops_the_run_before_any_item(tmp_path: Path) -> None:
    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(RaterUnavailable, match="cannot reach the server") as info:
        rate(imgs, _llm(url, tmp_path), store=tmp_path / "s.sqlite")  # the default 4 retries are not spent per item
    assert "Is the server running? Check --base-url" in str(info.value) and "Nothing was rated" in str(info.value)


def test_a_refused_key_stops_the_run_and_the_cli_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_good_images(tmp_path / "imgs")
    with LoopbackServer(models=["loopback"], models_status=401) as srv:
        code = main(["rate", str(tmp_path / "imgs"), "--rater", "llm", "--base-url", srv.url, "--model", "loopback",
                     "-p", "vision_check=false", "-o", str(tmp_path / "r.csv"), "-q"])
        assert srv.n_chat_requests == 0
    assert code == 2
    assert "refused the API key" in capsys.readouterr().err


def test_an_unknown_model_stops_the_run_naming_the_served_ones(tmp_path: Path) -> None:
    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))

    def strict(req: dict, n: int) -> Reply | None:  # a server that rejects names it does not serve (vLLM, OpenAI)
        return Reply(status=404) if req.get("model") != "gemma-3-4b" else None

    with LoopbackServer(strict, models=["gemma-3-4b"]) as srv:
        with pytest.raises(RaterUnavailable, match=r"does not serve 'gemma3'.*lists \['gemma-3-4b'\]") as info:
            rate(imgs, _llm(srv.url, tmp_path, model="gemma3"), store=tmp_path / "s.sqlite")
        assert "Check --model" in str(info.value)
        assert srv.n_chat_requests == 1  # one tiny request, no retries, no items
        # a server that lists one alias but answers to any name (llama.cpp) is not refused
        res = rate(imgs, _llm(srv.url, tmp_path, model="gemma-3-4b"), store=tmp_path / "ok.sqlite")
        assert res.n_failed == 0
    with LoopbackServer(models=["some-alias"]) as lenient:
        rater = _llm(lenient.url, tmp_path, model="anything")
        assert rate(imgs, rater, store=tmp_path / "l.sqlite").n_failed == 0
        # the tiny request the check sent is not the study's: usage counts the items' requests only
        assert lenient.n_chat_requests == 1 + len(imgs) and rater.usage["requests"] == len(imgs)
