"""The fault audit's defects (issue #30): nothing hangs, nothing vanishes, nothing leaks.

Each test here failed on the code before the fix: FIFOs and devices hung the run, failed LLM
participants vanished from the counts, a server's error text leaked the API key, two runs on one
output both did all the work, folder scans dropped entries silently, SDK retries went uncounted,
and a handful of smaller ones (truncated videos, permissions, SIGTERM, wording).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_good_images, solid

from affectscope.llm.loopback import LoopbackServer, Reply
from affectscope.raters.base import ItemError
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet
from affectscope.run.store import RunStore

TEXTS = {"party": "Friends laugh together at a birthday party.", "crash": "A car lies wrecked on a dark road."}


def _cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "affectscope.cli", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def _llm(srv: LoopbackServer, tmp_path: Path, **kw):
    params = {"base_url": srv.url, "model": "loopback", "cache": str(tmp_path / "cache.sqlite"), "max_retries": 0, "timeout": 5.0}
    params.update(kw)
    return make_rater("llm", **params)


@pytest.fixture
def server():
    srv = LoopbackServer().start()
    yield srv
    srv.stop()


# ---- 1. nothing that is not a regular file is ever read ------------------------------------------
def test_fifo_and_device_link_get_error_rows_at_once(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    os.mkfifo(d / "x.jpg")
    (d / "zero.jpg").symlink_to("/dev/zero")
    solid(d / "ok.png", (200, 30, 30))
    # a read that blocked on the pipe or streamed /dev/zero would hang: the subprocess timeout fails the test
    p = _cli(["rate", str(d / "x.jpg"), str(d / "zero.jpg"), str(d / "ok.png"), "--rater", "color", "-q",
              "-o", str(tmp_path / "r.csv")], timeout=60)
    assert p.returncode == 3, p.stderr
    table = pd.read_csv(tmp_path / "r.csv").set_index("item_id")
    assert "named pipe" in table.loc["x.jpg", "error"]
    assert "character device" in table.loc["zero.jpg", "error"] and "/dev/zero" in table.loc["zero.jpg", "error"]
    assert pd.isna(table.loc["ok.png", "error"])


def test_hashing_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    from affectscope._hashing import file_digest, sha256_file

    os.mkfifo(tmp_path / "pipe")
    for fn in (file_digest, sha256_file):
        with pytest.raises(OSError, match="not a regular file"):
            fn(tmp_path / "pipe")
    with pytest.raises(OSError, match="not a regular file"):
        sha256_file("/dev/zero")


def test_link_loop_error_says_loop_not_permissions(tmp_path: Path) -> None:
    from affectscope.media.image import MediaError, load_image

    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(MediaError, match="link loop") as info:
        load_image(loop)
    assert "permission" not in str(info.value)


# ---- 5. folder scans: every entry named like a stimulus gets a row or a stated reason ------------------
def test_folder_scan_accounts_for_every_entry(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    make_good_images(d)
    (d / "dangling.jpg").symlink_to(d / "gone.jpg")
    (d / "loop.png").symlink_to(d / "loop.png")
    os.mkfifo(d / "pipe.jpg")
    (d / "folder.jpg").mkdir()
    solid(d / "folder.jpg" / "inner.png", (10, 200, 10))
    (d / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    solid(d / ".hidden.png", (1, 2, 3))
    (d / "notes.txt").write_text("not a stimulus")
    (d / "linkdir").symlink_to(d / "folder.jpg")
    entries = [e for e in d.rglob("*")]  # every entry, links included (rglob does not follow linkdir twice)
    s = StimulusSet.from_paths([d])
    ids = set(s.item_ids)
    for name in ("dangling.jpg", "loop.png", "pipe.jpg", "folder.jpg/inner.png", "photo.heic"):
        assert name in ids, name
    why = dict(s.skipped)
    assert "hidden" in why[str(d / ".hidden.png")]
    assert "not named like" in why[str(d / "notes.txt")]
    assert "named like a picture" in why[str(d / "folder.jpg")]
    assert "link to a folder" in why[str(d / "linkdir")]
    accounted = {str(d / i) for i in ids} | set(why)
    missing = [str(e) for e in entries if str(e) not in accounted and not str(e).startswith(str(d / "linkdir") + "/")]
    assert not missing
    res = rate(s, make_rater("color"))
    err = res.ratings.errors
    assert "broken symbolic link" in err["dangling.jpg"] and "link loop" in err["loop.png"] and "named pipe" in err["pipe.jpg"]
    assert "photo.heic" in err.index or "photo.heic" in res.ratings.ok().item_ids  # HEIC: a rating or a clear error
    if "photo.heic" in err.index:
        assert "HEIC" in err["photo.heic"] or "heif" in err["photo.heic"].lower()


def test_cli_says_what_a_folder_scan_skipped(tmp_path: Path) -> None:
    d = tmp_path / "d"
    make_good_images(d)
    (d / "readme.md").write_text("x")
    p = _cli(["rate", str(d), "--rater", "color", "-q", "-o", str(tmp_path / "r.csv")])
    assert p.returncode == 0, p.stderr
    assert "skipped 1 entry" in p.stderr and "readme.md" in p.stderr


# ---- 2. LLM participants that fail are counted, stored, reported and asked again -------------------
def _faulty(req: dict, n: int) -> Reply | None:
    if req.get("seed") == 1:
        return Reply(status=500)
    if req.get("seed") == 2:
        return Reply(content="this is not json")
    return None


def test_failed_participants_make_an_error_row_by_default_and_are_reasked_exactly(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = _faulty
    stimuli = StimulusSet.from_texts(TEXTS)
    rater = _llm(server, tmp_path, participants=3, answer_retries=0)
    res = rate(stimuli, rater, store=tmp_path / "store.sqlite")
    # 2 items x 3 participants x 1 joint question: participant 0 answers, 1 gets HTTP 500, 2 malformed
    assert res.n_failed == 2
    for msg in res.ratings.errors:
        assert "participant 1" in msg and "server_error" in msg and "participant 2" in msg and "malformed" in msg
    line = rater.failure_summary()
    assert line is not None and "4 of 6 participant-questions failed" in line and "server_error 2" in line and "malformed 2" in line
    table = rater.participant_answers(list(stimuli)).set_index(["item_id", "participant"])
    assert table.loc[("party", 0), "status"] == "answer"
    assert table.loc[("party", 1), "status"] == "failure" and table.loc[("party", 1), "failure_kind"] == "server_error"
    assert table.loc[("party", 2), "failure_kind"] == "malformed"
    # a rerun asks exactly the 4 failed participant-questions again; the answers come from the cache
    server.script = None
    before = server.n_chat_requests
    again_rater = _llm(server, tmp_path, participants=3, answer_retries=0)
    again = rate(stimuli, again_rater, store=tmp_path / "store.sqlite")
    assert server.n_chat_requests - before == 4
    assert again.n_failed == 0 and (again.ratings.data["n_answers"] == 3).all()
    assert again_rater.failure_summary() is None
    # the failure records are gone once answered
    fresh = _llm(server, tmp_path, participants=3, answer_retries=0).participant_answers(list(stimuli))
    assert (fresh["status"] == "answer").all()


def test_no_retry_errors_keeps_failed_participants(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = _faulty
    stimuli = StimulusSet.from_texts(TEXTS)
    rate(stimuli, _llm(server, tmp_path, participants=3, answer_retries=0), store=tmp_path / "s.sqlite")
    before = server.n_chat_requests
    res = rate(stimuli, _llm(server, tmp_path, participants=3, answer_retries=0), store=tmp_path / "s.sqlite", retry_errors=False)
    assert server.n_chat_requests == before and res.n_failed == 2


def test_min_participants_rates_with_a_warning_and_completes_on_rerun(server: LoopbackServer, tmp_path: Path) -> None:
    from affectscope.raters.base import Flagged

    server.script = _faulty
    stimuli = StimulusSet.from_texts(TEXTS)
    rater = _llm(server, tmp_path, participants=3, answer_retries=0, min_participants=1)
    out = rater.rate_batch(list(stimuli))
    assert all(isinstance(r, Flagged) and r.retry for r in out)
    assert out[0]["n_answers"] == 1 and out[0]["n_failures"] == 2 and "server_error" in out[0].warning
    res = rate(stimuli, _llm(server, tmp_path, participants=3, answer_retries=0, min_participants=1), store=tmp_path / "s.sqlite")
    assert res.n_failed == 0 and res.n_incomplete == 2 and len(res.ratings.warnings) == 2
    server.script = None
    before = server.n_chat_requests
    done = rate(stimuli, _llm(server, tmp_path, participants=3, answer_retries=0, min_participants=1), store=tmp_path / "s.sqlite")
    assert server.n_chat_requests - before == 4 and done.n_incomplete == 0 and len(done.ratings.warnings) == 0
    assert (done.ratings.data["n_answers"] == 3).all()
    with pytest.raises(ValueError, match="min_participants"):
        _llm(server, tmp_path, participants=2, min_participants=3).outputs()


def test_cli_exits_3_with_a_stderr_summary_when_participants_fail(tmp_path: Path) -> None:
    srv = LoopbackServer(_faulty).start()
    csv = tmp_path / "s.csv"
    csv.write_text("name,text\n" + "".join(f"{k},{v}\n" for k, v in TEXTS.items()))
    env = {**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache")}
    try:
        p = _cli(["rate", "--stimuli", str(csv), "--id-column", "name", "--text-column", "text", "--rater", "llm",
                  "--base-url", srv.url, "--model", "loopback", "--participants", "3", "-p", "max_retries=0",
                  "-p", "answer_retries=0", "-p", "min_participants=1", "-q", "-o", str(tmp_path / "r.csv")], env)
    finally:
        srv.stop()
    assert p.returncode == 3, p.stderr
    assert "participant-questions failed" in p.stderr and "server_error" in p.stderr
    per = pd.read_csv(tmp_path / "r.csv.participants.csv")
    assert sorted(per["status"].value_counts().items()) == [("answer", 2), ("failure", 4)]
    assert set(per.loc[per["status"] == "failure", "failure_kind"]) == {"server_error", "malformed"}
    table = pd.read_csv(tmp_path / "r.csv")
    assert (table["n_failures"] == 2).all() and table["warning"].str.contains("participant 1").all()


# ---- 3. the API key and URL credentials never reach an output ---------------------------------------
def _quoting_server(secret: str) -> LoopbackServer:
    """A server (or proxy) whose 500 body quotes the request's Authorization header and ``secret``."""
    srv = LoopbackServer()

    def quote_headers(req: dict, n: int) -> Reply:
        if "main colour" in json.dumps(req.get("messages")):
            return None  # the vision check passes: the items' requests fail
        auth = {k.lower(): v for k, v in srv.headers[n].items()}.get("authorization", "")
        body = json.dumps({"error": {"message": f"upstream rejected request with headers Authorization: {auth}; "
                                                f"proxy-user=alice:{secret}", "type": "proxy"}}).encode()
        return Reply(status=500, body=body)

    srv.script = quote_headers
    return srv.start()


@pytest.mark.parametrize("where", ["api_key", "base_url"])
def test_credentials_quoted_by_a_server_error_are_redacted_everywhere(tmp_path: Path, where: str) -> None:
    key = "sk-planted-5e1d9a7c3b"
    password = "hunter2-proxy-pass"
    srv = _quoting_server(password if where == "base_url" else "")
    # credentials in the URL make httpx send Basic auth (base64 of alice:password) instead of the key
    base = srv.url.replace("http://", f"http://alice:{password}@") if where == "base_url" else srv.url
    imgs = make_good_images(tmp_path / "imgs")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache"), "MY_KEY": key}
    try:
        p = _cli(["rate", str(tmp_path / "imgs"), "--rater", "llm", "--base-url", base, "--model", "loopback",
                  "-p", "api_key_env=MY_KEY", "-p", "max_retries=0", "-o", str(work / "r.csv"), "--report", str(work / "r.html")], env)
    finally:
        srv.stop()
    assert p.returncode == 3, p.stderr
    import base64

    sent = key if where == "api_key" else base64.b64encode(f"alice:{password}".encode()).decode()
    assert len(srv.headers) == 2 + 4 and all(any(sent in v for v in h.values()) for h in srv.headers), "the credential must reach the server"
    assert "Authorization: Bearer ***" in p.stderr if where == "api_key" else "Authorization: Basic ***" in p.stderr
    assert len(imgs) >= 2
    secrets = [key, sent] if where == "api_key" else [password, sent]
    for text in (p.stdout, p.stderr):
        assert not any(s in text for s in secrets)
    written = [f for d in (work, tmp_path / "cache") for f in d.rglob("*") if f.is_file()]
    assert any(f.suffix == ".sqlite" for f in written) and any(f.name.endswith(".meta.json") for f in written)
    for f in written:
        data = f.read_bytes()
        assert not any(s.encode() in data for s in secrets), f


def test_redact_url_masks_credentials() -> None:
    from affectscope.llm.client import redact_url

    assert redact_url("https://bob:s3cret@api.example/v1?api-key=abc123") == "https://***@api.example/v1?api-key=***"
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"


# ---- 4. one run per store at a time -------------------------------------------------------------------
def test_a_second_run_on_the_same_output_exits_2_naming_the_holder(tmp_path: Path) -> None:
    from affectscope.run.store import StoreLockedError

    make_good_images(tmp_path / "imgs")
    out = tmp_path / "r.csv"
    rater = make_rater("color")
    with RunStore(str(out) + ".store.sqlite", rater=rater.info(), fingerprint=rater.fingerprint(), columns=rater.outputs()):
        p = _cli(["rate", str(tmp_path / "imgs"), "--rater", "color", "-q", "-o", str(out)])
        assert p.returncode == 2 and f"pid {os.getpid()}" in p.stderr and "in use by another run" in p.stderr
        with pytest.raises(StoreLockedError):
            RunStore(str(out) + ".store.sqlite", rater=rater.info(), fingerprint=rater.fingerprint(), columns=rater.outputs())
    assert not Path(str(out) + ".store.sqlite.lock").exists()
    p = _cli(["rate", str(tmp_path / "imgs"), "--rater", "color", "-q", "-o", str(out)])
    assert p.returncode == 0, p.stderr


# ---- 6. every request over the wire is counted -----------------------------------------------------------
def test_usage_counts_the_sdks_own_retries(server: LoopbackServer, tmp_path: Path) -> None:
    server.script = lambda req, n: Reply(status=503) if n < 2 else None
    rater = _llm(server, tmp_path, max_retries=3)
    res = rater.rate_batch(list(StimulusSet.from_texts({"party": TEXTS["party"]})))[0]
    assert not isinstance(res, ItemError)
    assert server.n_chat_requests == 3 and rater.usage["requests"] == 3 and rater.usage["asks"] == 1
    assert "3 requests sent" in rater.run_summary()


# ---- 7. smaller ones ---------------------------------------------------------------------------------------
def _clip(path: Path, n: int = 30) -> Path:
    """A noise clip (every frame carries data) with its index first: a cut copy keeps its head."""
    import numpy as np

    from affectscope.media.video import write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    return write_video(path, [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(n)], index_first=True)


def test_truncated_video_is_flagged_with_frames_decoded_and_declared(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from affectscope.media.video import count_frames, declared_frames, truncation_warning

    whole = _clip(tmp_path / "whole.mp4")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.45)])
    assert declared_frames(cut) == 30 and count_frames(whole) == 30
    assert 0 < count_frames(cut) < 28
    msg = truncation_warning(cut)
    assert msg is not None and f"{count_frames(cut)} of the 30 frames" in msg
    assert truncation_warning(whole) is None


def test_truncated_video_gets_a_warning_column_and_exit_3(tmp_path: Path) -> None:
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    whole = _clip(tmp_path / "v" / "whole.mp4")
    data = whole.read_bytes()
    (tmp_path / "v" / "cut.mp4").write_bytes(data[: int(len(data) * 0.45)])
    p = _cli(["rate", str(tmp_path / "v"), "--rater", "face", "-q", "-o", str(tmp_path / "r.csv"), "--report", str(tmp_path / "r.html")])
    assert p.returncode == 3, p.stderr
    table = pd.read_csv(tmp_path / "r.csv").set_index("item_id")
    assert "truncated" in table.loc["cut.mp4", "warning"] and pd.isna(table.loc["whole.mp4", "warning"])
    assert "came with a warning" in p.stderr
    page = (tmp_path / "r.html").read_text()
    assert "1 with a warning" in page and "truncated or damaged video" in page


def test_zero_byte_video_error_says_empty(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from affectscope.media.image import MediaError
    from affectscope.media.video import count_frames

    (tmp_path / "e.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        count_frames(tmp_path / "e.mp4")


def test_extension_error_does_not_repeat_the_file_name(tmp_path: Path) -> None:
    f = tmp_path / "data.xyz"
    f.write_text("x")
    res = make_rater("color").rate_safely(StimulusSet.from_list([f])[0])
    assert isinstance(res, ItemError) and str(f) not in res.message and ".xyz" in res.message


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    make_good_images(tmp_path / "imgs")
    old = os.umask(0o022)
    try:
        p = _cli(["rate", str(tmp_path / "imgs"), "--rater", "color", "-q", "-o", str(tmp_path / "r.csv"),
                  "--report", str(tmp_path / "r.html")])
    finally:
        os.umask(old)
    assert p.returncode == 0, p.stderr
    for name in ("r.csv", "r.csv.meta.json", "r.csv.store.sqlite", "r.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


@pytest.mark.parametrize(("rater", "operational", "relevant"), [
    ("image", {"threads": 1, "series_dir": "elsewhere"}, {"concepts": 5}),
    ("face", {"series_dir": "elsewhere"}, {"margin": 0.2}),
    ("llm", {"concurrency": 9, "timeout": 3.0}, {"temperature": 0.5}),
])
def test_operational_parameters_keep_the_fingerprint(rater: str, operational: dict, relevant: dict) -> None:
    base = {"model": "m"} if rater == "llm" else {}
    fp = make_rater(rater, **base).fingerprint()
    for k, v in operational.items():
        assert make_rater(rater, **base, **{k: v}).fingerprint() == fp, k
    for k, v in relevant.items():
        assert make_rater(rater, **base, **{k: v}).fingerprint() != fp, k


def test_sigterm_saves_and_exits_143_then_resumes(tmp_path: Path) -> None:
    texts = {f"s{i:02d}": f"Scene {i}: a crowded beach." for i in range(10)}
    csv = tmp_path / "scenes.csv"
    csv.write_text("name,text\n" + "".join(f"{k},{v}\n" for k, v in texts.items()))
    srv = LoopbackServer(lambda req, n: Reply(delay=0.2)).start()
    env = {**os.environ, "AFFECTSCOPE_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "out.csv"
    args = [sys.executable, "-m", "affectscope.cli", "rate", "--stimuli", str(csv), "--id-column", "name", "--text-column",
            "text", "--rater", "llm", "--base-url", srv.url, "--model", "loopback", "-p", "concurrency=1", "-q", "-o", str(out)]
    try:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while srv.n_chat_requests < 9 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert "terminated (SIGTERM)" in err
        store = Path(str(out) + ".store.sqlite")
        assert store.exists() and not Path(str(store) + "-wal").exists() and not Path(str(store) + ".lock").exists()
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert " resumed" in done.stdout and "0 resumed" not in done.stdout
        assert sorted(pd.read_csv(out)["item_id"]) == sorted(texts)
    finally:
        srv.stop()


def test_a_missing_module_stops_the_run_at_start_with_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#31.3: OpenCV (faces) or PyAV (videos) missing used to fail every item alike; now the run stops first."""
    import importlib.util

    from affectscope.raters.base import RaterUnavailable
    from affectscope.raters.registry import make_rater
    from affectscope.run.rate import rate
    from affectscope.stimuli import StimulusSet

    imgs = StimulusSet.from_paths(make_good_images(tmp_path / "imgs"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cv2" else real(name, *a))
    with pytest.raises(RaterUnavailable, match=r"face detection \(OpenCV\) needs the 'cv2' module.*Fix: pip install") as info:
        rate(imgs, make_rater("face"), store=tmp_path / "s.sqlite")
    assert "Nothing was rated" in str(info.value)
    assert rate(imgs, make_rater("color"), store=tmp_path / "c.sqlite").n_failed == 0  # raters that do not need it run
