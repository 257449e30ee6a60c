"""The README main job's page in a real browser: headless Chromium opens it from a file URL, with
no network, and it must render its rows and thumbnails with no console message at all.

CI installs Debian's chromium (scripts/test.sh) and sets AFFECTSCOPE_REQUIRE_BROWSER=1, so there the
test fails instead of skipping when no browser is found. The screenshot is kept in
$AFFECTSCOPE_SCREENSHOT_DIR when that is set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import skip_or_fail

from affectscope.cli import main

#: a real server / a real browser: minutes; `pytest -m "not slow"` leaves them out
pytestmark = pytest.mark.slow

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    skip_or_fail("AFFECTSCOPE_REQUIRE_BROWSER", "no Chromium on this machine", "apt-get install chromium")
    raise AssertionError("unreachable")


def _open(page: Path, tmp: Path) -> tuple[str, list[str], Path]:
    """Rendered DOM, console messages, screenshot of ``page``."""
    exe = _browser()
    profile = ["--user-data-dir=" + str(tmp / "profile")]
    proc = subprocess.run([exe, *FLAGS, *profile, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    shot = tmp / "report.png"
    subprocess.run([exe, *FLAGS, *profile, "--window-size=1280,900", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout, console, shot


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """Negative control: the check below would see a broken page."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><p>x</p><script>throw new Error('boom')</script></body></html>")
    _, console, _ = _open(bad, tmp_path)
    assert any("boom" in ln for ln in console)


def test_main_job_page_renders_offline_without_console_errors(tmp_path: Path, demo_run: tuple[Path, int, str]) -> None:
    folder, code, _ = demo_run
    assert code == 0
    page = folder / "report.html"
    assert not re.search(r"(src|href)=\"https?://", page.read_text()), "the page must not load anything from the network"
    dom, console, shot = _open(page, tmp_path)
    assert console == [], console
    rows = re.findall(r"<tr[ >]", dom)
    assert len(rows) == 13 + 1  # 13 sample photos + the header row
    assert dom.count("data:image/jpeg;base64,") == 13
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("AFFECTSCOPE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "main_job_report.png")


def test_compare_page_renders_its_plots(tmp_path: Path) -> None:
    import numpy as np
    from conftest import scale_ratings

    from affectscope.compare import compare_items
    from affectscope.report import write_compare_report

    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(30)]
    h = rng.uniform(1, 9, 30)
    res = compare_items(scale_ratings(ids, np.clip(h + rng.normal(0, 1, 30), 1, 9), name="model"),
                        scale_ratings(ids, h, name="humans"), n_boot=50)
    page = write_compare_report({"items": res}, tmp_path / "compare.html")
    dom, console, _ = _open(page, tmp_path)
    assert console == [], console
    assert dom.count('class="plot"') == 1 and "pearson r" in dom


def test_full_report_renders_every_section(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from conftest import scale_ratings

    from affectscope.compare import compare_items
    from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
    from affectscope.report import write_report
    from affectscope.taxonomy import PROBABILITY

    rng = np.random.default_rng(1)
    ids = [f"clip{k}.mp4" for k in range(12)]
    h = rng.uniform(1, 9, 12)
    humans = scale_ratings(ids, h, name="humans")
    labels = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    frame = pd.DataFrame({"item_id": ids, "valence": np.clip(h + rng.normal(0, 1, 12), 1, 9),
                          **{c: 1 / 8 for c in labels}, "episode": ["surprise 0.50-0.75 s (peak 0.90 at 0.60 s)"] + [""] * 11})
    specs = [ColumnSpec(name="valence", scale=humans.columns["valence"].scale)]
    specs += [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy="ferplus8") for c in labels]
    specs.append(ColumnSpec(name="episode", kind="text"))
    rated = Ratings(frame, specs, RaterInfo(name="face"))
    series_dir = tmp_path / "series"
    series_dir.mkdir()
    t = np.arange(8) / 4
    pd.DataFrame({"frame": np.arange(8) * 7, "time": t, **{c: np.where(c == "surprise", np.sin(t), 0.1) for c in labels}}
                 ).to_csv(series_dir / "clip0.mp4.csv", index=False)
    page = write_report(rated, tmp_path / "full.html", comparisons={"items": compare_items(rated, humans, n_boot=50)},
                        series_dir=series_dir)
    html_text = page.read_text()
    assert not re.search(r"(src|href)=\"https?://", html_text)
    for heading in ("Distributions", "Compared with humans", "Videos: ratings over time", "Items"):
        assert f"<h2>{heading}</h2>" in html_text
    dom, console, shot = _open(page, tmp_path)
    assert console == [], console
    assert dom.count('class="plot"') == 4  # valence and emotion distributions, valence scatter, clip0's time series
    assert 'id="filter"' in dom and len(re.findall(r"<tr[ >]", dom)) == 12 + 1
    assert "surprise 0.50-0.75 s" in dom and shot.stat().st_size > 20_000


def test_report_command(tmp_path: Path) -> None:
    import numpy as np
    from conftest import scale_ratings

    ids = [f"i{k}" for k in range(20)]
    rng = np.random.default_rng(2)
    h = rng.uniform(1, 9, 20)
    scale_ratings(ids, np.clip(h + rng.normal(0, 1, 20), 1, 9), name="m").save(tmp_path / "r.csv")
    scale_ratings(ids, h, name="humans").save(tmp_path / "h.csv")
    assert main(["report", str(tmp_path / "r.csv"), "--human", str(tmp_path / "h.csv"), "-o", str(tmp_path / "rep.html")]) == 0
    text = (tmp_path / "rep.html").read_text()
    assert "<h2>Compared with humans</h2>" in text and text.count('class="plot"') == 2
    assert main(["report", str(tmp_path / "nope.csv")]) == 2


def test_study_report_renders_offline_with_its_table_and_figures(tmp_path: Path) -> None:
    """The study page (#32): the papers' table, the bars, the agreement matrices, the paired tests."""
    import numpy as np
    import pandas as pd
    from conftest import gradient

    from affectscope.study import Study

    pics = tmp_path / "pictures"
    pics.mkdir()
    ids = [gradient(pics / f"p{i}.png", size=(80, 60), seed=i).name for i in range(10)]
    rng = np.random.default_rng(0)
    pd.DataFrame({"item_id": ids, "valence": rng.uniform(2, 8, 10), "arousal": rng.uniform(2, 8, 10)}).to_csv(tmp_path / "h.csv", index=False)
    pd.DataFrame({"item_id": ids, "valence": rng.uniform(2, 8, 10)}).to_csv(tmp_path / "pub.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "title: a study page\nstimuli: {paths: [pictures]}\n"
        "humans: {table: h.csv, scales: {valence: 'valence:sam9', arousal: 'arousal:sam9'}}\n"
        "raters:\n  - {name: color, rater: color}\n  - {name: pub, ratings: pub.csv, scales: {valence: 'valence:sam9'}}\n"
        "compare: {levels: [items], n_boot: 100}\n")
    page = Study.from_yaml(tmp_path / "s.yaml").run(tmp_path / "out", progress=False).report
    assert not re.search(r"(src|href)=\"https?://", page.read_text()), "the page must not load anything from the network"
    dom, console, shot = _open(page, tmp_path)
    assert console == [], console
    assert "Agreement with the humans" in dom and "Paired tests" in dom
    assert dom.count("data:image/png;base64,") >= 4  # bars, two agreement matrices, scatters
    assert shot.stat().st_size > 20_000
