"""The LLM participant rater against a loopback server: the fault matrix, the cache, resuming,
and keeping API keys out of everything written."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_good_images
from PIL import Image

from affectscope.llm.loopback import LoopbackServer, Reply, default_answer
from affectscope.raters.base import ItemError, RaterUnavailable
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet

TEXTS = {"party": "Friends laugh together at a birthday party.", "crash": "A car lies wrecked on a dark road."}

#: every answer kind (scales, a select-all category question over ck27, an explanation) in one request
COMBINED = Path(__file__).parent / "data" / "combined_ck27.yaml"


@pytest.fixture
def server():
    srv = LoopbackServer().start()
    yield srv
    srv.stop()


def llm(srv: LoopbackServer, tmp_path: Path, **kw):
    # the vision check (two test requests before the first picture) has tests of its own in test_llm_vision.py
    params = {"base_url": srv.url, "model": "loopback", "cache": str(tmp_path / "cache.sqlite"), "max_retries": 0, "timeout": 5.0,
              "vision_check": False}
    params.update(kw)
    return make_rater("llm", **params)


def one(rater, stimuli=None):
    stimuli = stimuli or StimulusSet.from_texts({"party": TEXTS["party"]})
    return rater.rate_batch(list(stimuli))[0]


def valid(req) -> str:
    return json.dumps(default_answer(req))


# ---- the fault matrix: each fault -> its documented outcome ----------------------------------------
def test_429_and_500_are_retried_with_backoff(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(status=[429, 500][n]) if n < 2 else None
    res = one(llm(server, tmp_path, max_retries=3))
    assert not isinstance(res, ItemError) and res["n_answers"] == 1
    assert server.n_chat_requests == 3


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limited"), (503, "server_error"), (400, "bad_request")])
def test_persistent_http_errors_are_typed_failures(server: LoopbackServer, tmp_path: Path, status: int, kind: str) -> None:
    server.script = lambda req, n: Reply(status=status)
    res = one(llm(server, tmp_path, max_retries=1, structured="json_schema"))
    assert isinstance(res, ItemError) and kind in res.message


def test_timeout_is_a_typed_failure(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(delay=1.5)
    res = one(llm(server, tmp_path, timeout=0.3, max_retries=1))
    assert isinstance(res, ItemError) and "timeout" in res.message
    assert server.n_chat_requests == 2  # first try + one retry


def test_unreachable_server_is_a_connection_failure(tmp_path: Path) -> None:
    srv = LoopbackServer().start()
    url = srv.url
    srv.stop()
    rater = make_rater("llm", base_url=url, model="m", cache="none", max_retries=0, timeout=2.0)
    # at the start the server check stops the run (#31.3) ...
    with pytest.raises(RaterUnavailable, match="cannot reach the server"):
        one(rater)
    # ... and a server that goes away mid-run is a per-item connection failure
    rater._server_checked = True
    res = one(rater)
    assert isinstance(res, ItemError) and "connection" in res.message


def test_malformed_http_body_is_a_failure_not_an_answer(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(body=b'{"choices": [ {"message": ')
    res = one(llm(server, tmp_path))
    assert isinstance(res, ItemError) and "bad_response" in res.message


def test_malformed_answer_is_re_asked_with_the_error(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(content="I would say it is quite pleasant.") if n == 0 else None
    res = one(llm(server, tmp_path))
    assert not isinstance(res, ItemError) and res["n_answers"] == 1
    second = server.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and "not a valid answer" in second[-1]["content"] and "malformed" in second[-1]["content"]


@pytest.mark.parametrize(
    ("content", "kind"),
    [('{"valence": 12, "arousal": 3, "approach": 3, "happiness": 3, "anger": 3, "fear": 3, "sadness": 3, "disgust": 3, "surprise": 3}', "out_of_range"),
     ('{"valence": 5}', "partial"),
     ("no idea", "malformed")],
)
def test_persistently_invalid_answers_are_typed_failures_and_not_cached(server: LoopbackServer, tmp_path: Path, content: str, kind: str) -> None:
    server.script = lambda req, n: Reply(content=content)
    rater = llm(server, tmp_path, answer_retries=2)
    res = one(rater)
    assert isinstance(res, ItemError) and kind in res.message and "after 3 tries" in res.message
    assert server.n_chat_requests == 3
    one(llm(server, tmp_path, answer_retries=2))
    assert server.n_chat_requests == 6  # failures are never cached: asked again


@pytest.mark.parametrize(
    "reply",
    [Reply(refusal="I can't help with that."), Reply(content="I'm sorry, but I can't rate images like this."),
     Reply(content="", finish_reason="content_filter")],
    ids=["refusal-field", "refusal-text", "content-filter"],
)
def test_refusals_are_recorded_never_scored_nor_cached_as_answers(server: LoopbackServer, tmp_path: Path, reply: Reply) -> None:
    server.script = lambda req, n: reply
    res = one(llm(server, tmp_path, participants=2))
    assert isinstance(res, ItemError) and res.message.startswith("refused")
    assert server.n_chat_requests == 2  # a refusal is not re-asked as if malformed
    from affectscope.llm.cache import ResponseCache

    rows = ResponseCache(tmp_path / "cache.sqlite").rows()
    assert {r["status"] for r in rows} == {"refusal"} and all(r["answer"] is None for r in rows)
    # replayed as a refusal, with no request; retry_refusals asks again
    again = one(llm(server, tmp_path, participants=2))
    assert isinstance(again, ItemError) and "refused" in again.message and server.n_chat_requests == 2
    server.script = None
    fixed = one(llm(server, tmp_path, participants=2, retry_refusals=True))
    assert not isinstance(fixed, ItemError) and fixed["n_refusals"] == 0 and server.n_chat_requests == 4


def test_some_participants_refuse(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(refusal="no") if req.get("seed") == 1 else None
    res = one(llm(server, tmp_path, participants=3))
    assert res["n_answers"] == 2 and res["n_refusals"] == 1 and res["n_failures"] == 0


def test_auto_falls_back_when_json_schema_is_rejected(server: LoopbackServer, tmp_path: Path) -> None:
    def script(req, n):
        rf = req.get("response_format") or {}
        if rf.get("type") == "json_schema":
            return Reply(status=400, body=b'{"error": {"message": "Invalid parameter: response_format of type json_schema is not supported with this model"}}')
        return Reply(content='{"valence": 6, "arousal": 2}')

    server.script = script
    rater = llm(server, tmp_path, protocol="oasis_norming", design="joint")
    res = one(rater)
    assert res["valence"] == 6 and rater._client.mode == "json_object"
    one(llm(server, tmp_path, protocol="oasis_norming", design="joint", seed=5), StimulusSet.from_texts({"x": "y"}))
    kinds = [(r.get("response_format") or {}).get("type") for r in server.requests]
    assert kinds[:2] == ["json_schema", "json_object"]


def test_a_400_about_max_tokens_switches_the_token_parameter_not_the_mode(server: LoopbackServer, tmp_path: Path) -> None:
    msg = (b'{"error": {"message": "Unsupported parameter: \'max_tokens\' is not supported with this model. '
           b'Use \'max_completion_tokens\' instead.", "type": "invalid_request_error", "param": "max_tokens"}}')
    server.script = lambda req, n: Reply(status=400, body=msg) if "max_tokens" in req else None
    stim = StimulusSet.from_texts({"a": "a calm lake", "b": "a storm"})
    rater = llm(server, tmp_path, protocol="oasis_norming", design="joint", concurrency=1)
    res = rater.rate_batch(list(stim))
    assert all(not isinstance(r, ItemError) for r in res)
    # one rejected request, then every request with max_completion_tokens, in json_schema mode throughout
    assert server.n_chat_requests == 3 and rater.usage["requests"] == 3
    assert "max_tokens" in server.requests[0] and all("max_completion_tokens" in r for r in server.requests[1:])
    assert all(r["response_format"]["type"] == "json_schema" for r in server.requests)


def test_a_400_about_something_else_is_not_taken_for_a_missing_mode(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(status=400, body=b'{"error": {"message": "image too large"}}')
    res = one(llm(server, tmp_path, protocol="oasis_norming", design="joint"))
    assert isinstance(res, ItemError) and "bad_request" in res.message and "image too large" in res.message
    assert server.n_chat_requests == 1  # no fallback requests to json_object and none


@pytest.mark.parametrize("mode", ["grammar", "tool", "json_object", "none"])
def test_each_structured_mode_sends_its_constraint(server: LoopbackServer, tmp_path: Path, mode: str) -> None:
    server.script = lambda req, n: Reply(content='{"valence": 4, "arousal": 5}') if mode != "tool" else None
    res = one(llm(server, tmp_path, protocol="oasis_norming", design="joint", structured=mode))
    req = server.requests[0]
    if mode == "tool":
        assert req["tools"][0]["function"]["parameters"]["required"] == ["valence", "arousal"]
        assert res["n_answers"] == 1
    else:
        assert res["valence"] == 4
    assert ("grammar" in req) == (mode == "grammar")
    assert (req.get("response_format") or {}).get("type") == {"json_object": "json_object"}.get(mode)


# ---- payloads and outputs --------------------------------------------------------------------------
def test_images_are_sent_resized_as_data_urls(server: LoopbackServer, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (1200, 600), (200, 30, 30)).save(big)
    res = one(llm(server, tmp_path, image_size=256), StimulusSet.from_list([big]))
    assert not isinstance(res, ItemError)
    user = server.requests[0]["messages"][1]["content"]
    url = next(p["image_url"]["url"] for p in user if p["type"] == "image_url")
    assert url.startswith("data:image/jpeg;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert im.size == (256, 128)
    assert server.requests[0]["messages"][0]["role"] == "system" and "image" in server.requests[0]["messages"][0]["content"]


def test_bad_files_fail_alone(server: LoopbackServer, tmp_path: Path) -> None:
    good = make_good_images(tmp_path / "imgs")[:2]
    bad = tmp_path / "imgs" / "broken.png"
    bad.write_bytes(b"not a png")
    res = llm(server, tmp_path).rate_batch(list(StimulusSet.from_list([good[0], bad, good[1]])))
    assert [isinstance(r, ItemError) for r in res] == [False, True, False]
    assert "broken.png" in res[1].item_id


def test_participants_spread_categories_and_logprobs(server: LoopbackServer, tmp_path: Path) -> None:
    rater = llm(server, tmp_path, protocol=str(COMBINED), participants=5, logprobs=True)
    cols = {c.name: c for c in rater.outputs()}
    res = one(rater)
    assert {"valence", "valence_sd", "valence_expected", "awe", "explanation", "n_answers", "tokens"} <= set(res)
    assert cols["awe"].kind == "category" and cols["awe"].taxonomy == "ck27"
    seeds = sorted(r["seed"] for r in server.requests)
    assert seeds == [0, 1, 2, 3, 4]
    assert res["n_answers"] == 5 and res["valence_sd"] >= 0
    shares = [res[c] for c in cols if cols[c].kind == "category"]
    assert all(0 <= s <= 1 for s in shares) and sum(shares) >= 1  # each participant selects one or more
    # the loopback's logprobs put 0.6 on the value, 0.3 one above, 0.1 one below -> E = value + 0.2 inside the scale
    assert 1 <= res["valence_expected"] <= 9 and res["valence_expected"] != res["valence"]


def test_per_scale_design_sends_one_fresh_request_per_scale(server: LoopbackServer, tmp_path: Path) -> None:
    res = one(llm(server, tmp_path, protocol="oasis_norming", participants=2))
    assert server.n_chat_requests == 4 and res["n_answers"] == 2
    for req in server.requests:
        schema = req["response_format"]["json_schema"]["schema"]
        assert len(schema["required"]) == 1 and len(req["messages"]) == 2  # no earlier answer in context
    assert 1 <= res["valence"] <= 7


def test_videos_go_as_keyframes_with_context_that_can_be_switched_off(server: LoopbackServer, tmp_path: Path) -> None:
    pytest.importorskip("av")
    import numpy as np

    from affectscope.media.video import write_video

    path = write_video(tmp_path / "clip.mp4", [np.full((48, 64, 3), 40 if i < 25 else 220, np.uint8) for i in range(50)], fps=25)
    stim = StimulusSet.from_list([path])
    on = one(llm(server, tmp_path, keyframes=3, context=True), stim)
    off = one(llm(server, tmp_path, keyframes=3, context=False), stim)
    assert not isinstance(on, ItemError) and not isinstance(off, ItemError)
    parts_on, parts_off = (server.requests[i]["messages"][1]["content"] for i in (0, 1))
    n_img = lambda parts: sum(p["type"] == "image_url" for p in parts)  # noqa: E731
    assert n_img(parts_on) == n_img(parts_off) == 3
    texts_on = " ".join(p["text"] for p in parts_on if p["type"] == "text")
    texts_off = " ".join(p["text"] for p in parts_off if p["type"] == "text")
    assert "Between" in texts_on and "brighter" in texts_on and "Between" not in texts_off


# ---- durability: cache, kill and resume, keys -------------------------------------------------------
def test_rerun_of_a_finished_study_sends_zero_requests(server: LoopbackServer, tmp_path: Path) -> None:
    stimuli = StimulusSet.from_texts(TEXTS)
    first = rate(stimuli, llm(server, tmp_path, participants=3), store=tmp_path / "a.sqlite", progress=False)
    assert first.n_failed == 0 and server.n_chat_requests == 6
    # a new output file (no run store to resume from): the response cache answers everything
    again = rate(stimuli, llm(server, tmp_path, participants=3), store=tmp_path / "b.sqlite", progress=False)
    assert server.n_chat_requests == 6
    assert again.ratings.to_frame().equals(first.ratings.to_frame())
    # anything that changes the answer is a new request: here, the temperature
    rate(stimuli, llm(server, tmp_path, participants=3, temperature=0.2), store=tmp_path / "c.sqlite", progress=False)
    assert server.n_chat_requests == 12


def test_operational_settings_do_not_invalidate_a_run(server: LoopbackServer, tmp_path: Path) -> None:
    a = llm(server, tmp_path, concurrency=1, timeout=3.0)
    b = llm(server, tmp_path, concurrency=8, timeout=9.0)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != llm(server, tmp_path, participants=2).fingerprint()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "affectscope.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_mid_study_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    texts = {f"s{i:02d}": f"Scene number {i}: people at a market." for i in range(12)}
    csv = tmp_path / "scenes.csv"
    csv.write_text("name,text\n" + "".join(f"{k},{v}\n" for k, v in texts.items()))
    srv = LoopbackServer(lambda req, n: Reply(delay=0.15)).start()
    env = {**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache")}
    args = ["rate", "--stimuli", str(csv), "--id-column", "name", "--text-column", "text", "--rater", "llm",
            "--base-url", srv.url, "--model", "loopback", "--participants", "2", "-p", "concurrency=2", "-q", "-o", str(tmp_path / "out.csv")]
    try:
        proc = _cli(args, env)
        deadline = time.time() + 60
        while srv.n_chat_requests < 10 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sent_first = srv.n_chat_requests
        assert 10 <= sent_first < 24, "the kill must land mid-study"
        done = _cli(args, env)
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err
        sent_second = srv.n_chat_requests - sent_first
        # only what was not answered before the kill is asked again (in-flight requests at most)
        assert sent_second <= 24 - sent_first + 2
        import pandas as pd

        table = pd.read_csv(tmp_path / "out.csv")
        assert sorted(table["item_id"]) == sorted(texts) and table["error"].isna().all()
        assert (table["n_answers"] == 2).all()
        per = pd.read_csv(tmp_path / "out.csv.participants.csv")
        assert len(per) == 24 and (per["status"] == "answer").all() and per.groupby("item_id").size().eq(2).all()
        # full rerun: zero requests
        before = srv.n_chat_requests
        again = _cli(args, env)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0 and srv.n_chat_requests == before
        assert "12 resumed" in out
    finally:
        srv.stop()


def test_api_key_never_written_anywhere(tmp_path: Path) -> None:
    key = "sk-planted-7f3a9c1e5b2d4f6a8c0e"
    srv = LoopbackServer(lambda req, n: Reply(refusal="nope") if n == 1 else (Reply(status=500) if n == 2 else None)).start()
    env = {**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache"), "MY_LLM_KEY": key}
    imgs = make_good_images(tmp_path / "imgs")
    work = tmp_path / "work"
    work.mkdir()
    try:
        args = ["rate", str(tmp_path / "imgs"), "--rater", "llm", "--base-url", srv.url, "--model", "loopback",
                "-p", "api_key_env=MY_LLM_KEY", "-p", "max_retries=0", "-p", "concurrency=1", "-p", "vision_check=false",
                "-o", str(work / "r.csv"), "--report", str(work / "r.html")]
        p = _cli(args, env)
        out, err = p.communicate(timeout=120)
        assert p.returncode in (0, 3), err
        assert srv.headers and all({k.lower(): v for k, v in h.items()}.get("authorization") == f"Bearer {key}" for h in srv.headers), "the key must be sent to the server"
    finally:
        srv.stop()
    assert len(imgs) >= 2
    assert key not in out and key not in err
    written = [f for d in (work, tmp_path / "cache") for f in d.rglob("*") if f.is_file()]
    assert any(f.suffix == ".sqlite" for f in written) and any(f.suffix == ".html" for f in written)
    for f in written:
        assert key.encode() not in f.read_bytes(), f


def test_participant_answers_come_from_the_cache_without_requests(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(refusal="no") if req.get("seed") == 1 else None
    rater = llm(server, tmp_path, protocol=str(COMBINED), participants=2)
    stimuli = StimulusSet.from_texts(TEXTS)
    rater.rate_batch(list(stimuli)[:1])  # only the first item is asked
    sent = server.n_chat_requests
    table = llm(server, tmp_path, protocol=str(COMBINED), participants=2).participant_answers(list(stimuli))
    assert server.n_chat_requests == sent
    first = table[table["item_id"] == "party"].set_index("participant")
    assert first.loc[0, "status"] == "answer" and first.loc[1, "status"] == "refusal"
    assert 1 <= first.loc[0, "valence"] <= 9 and isinstance(first.loc[0, "emotions"], str)
    assert (table[table["item_id"] == "crash"]["status"] == "missing").all()
    # the rater that asked reuses its request keys: the stimulus is not encoded again
    def no_encoding(s):
        raise AssertionError("encoded again")

    rater._content = no_encoding
    again = rater.participant_answers(list(stimuli)[:1])
    assert list(again["status"]) == ["answer", "refusal"]


def test_auto_and_json_schema_share_cached_answers_and_answer_retries_do_not_matter(server: LoopbackServer, tmp_path: Path) -> None:
    stim = StimulusSet.from_texts({"party": TEXTS["party"]})
    one(llm(server, tmp_path, structured="auto", answer_retries=2), stim)
    sent = server.n_chat_requests
    again = llm(server, tmp_path, structured="json_schema", answer_retries=0)
    res = one(again, stim)
    assert not isinstance(res, ItemError) and server.n_chat_requests == sent and again.usage["requests"] == 0


def test_rejected_fallback_requests_are_counted(server: LoopbackServer, tmp_path: Path) -> None:
    def script(req, n):
        if (req.get("response_format") or {}).get("type") == "json_schema":
            return Reply(status=400, body=b'{"error": {"message": "response_format json_schema is not supported"}}')
        return None

    server.script = script
    rater = llm(server, tmp_path)
    assert not isinstance(one(rater), ItemError)
    assert rater.usage["requests"] == server.n_chat_requests == 2 and rater.usage["asks"] == 1


def test_a_server_without_logprobs_leaves_a_warning(server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import math

    from affectscope.raters.base import Flagged

    orig = LoopbackServer._completion
    monkeypatch.setattr(LoopbackServer, "_completion", lambda self, req, reply: orig(self, {**req, "logprobs": False}, reply))
    res = one(llm(server, tmp_path, logprobs=True))
    assert isinstance(res, Flagged) and not res.retry and "no usable token logprobs" in res.warning
    assert math.isnan(res["valence_expected"])
