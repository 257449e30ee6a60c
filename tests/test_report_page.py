"""The ratings page: self-contained, escaped, every item present."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import solid

from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.report import write_ratings_page
from affectscope.taxonomy import SAM_VALENCE


def test_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    img = solid(tmp_path / "a.png", (10, 200, 30))
    frame = pd.DataFrame({
        "item_id": ["a.png", "<script>x</script>.png"],
        "path": [str(img), str(tmp_path / "missing.png")],
        "valence": [7.5, float("nan")],
        "error": [None, "file not found & gone"],
    })
    r = Ratings(frame, [ColumnSpec(name="valence", scale=SAM_VALENCE)], RaterInfo(name="t", kind="model"))
    html = write_ratings_page(r, tmp_path / "p.html").read_text()
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;.png" in html
    assert "file not found &amp; gone" in html
    assert html.count("data:image/jpeg;base64,") == 1
    assert 'data-v="7.5"' in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network


def test_page_shows_text_evidence_escaped(tmp_path: Path) -> None:
    frame = pd.DataFrame({"item_id": ["a", "b"], "valence": [3.0, 6.0], "concepts": ["espresso 0.89; cup 0.03", "<b>x</b> 0.5"]})
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="concepts", kind="text")]
    html = write_ratings_page(Ratings(frame, specs, RaterInfo(name="t")), tmp_path / "p.html", thumbnails=False).read_text()
    assert "<th class=\"l\" title=\"\">concepts</th>" in html
    assert "espresso 0.89; cup 0.03" in html and "&lt;b&gt;x&lt;/b&gt; 0.5" in html and "<b>x</b>" not in html


def test_videos_get_their_middle_frame_as_thumbnail(tmp_path: Path) -> None:
    import base64
    import io

    import numpy as np
    import pytest
    from PIL import Image

    pytest.importorskip("av")
    from affectscope.media.video import write_video

    # dark frames, then red from the middle on: the thumbnail must be the red middle frame
    frames = [np.full((48, 64, 3), (200, 20, 20) if i >= 5 else (20, 20, 20), np.uint8) for i in range(10)]
    clip = write_video(tmp_path / "clip.mp4", frames, fps=10)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    frame = pd.DataFrame({"item_id": ["clip.mp4", "broken.mp4"], "path": [str(clip), str(broken)], "valence": [5.0, 4.0]})
    r = Ratings(frame, [ColumnSpec(name="valence", scale=SAM_VALENCE)], RaterInfo(name="t", kind="model"))
    html = write_ratings_page(r, tmp_path / "p.html").read_text()
    uris = [u for u in html.split('src="')[1:] if u.startswith("data:image/jpeg;base64,")]
    assert len(uris) == 1  # the clip's; the broken file gets none and the page is still written
    jpeg = base64.b64decode(uris[0].split(",", 1)[1].split('"', 1)[0])
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), float)
    assert rgb[..., 0].mean() > 150 and rgb[..., 1].mean() < 60


def test_empty_columns_are_left_out_and_long_text_gets_room(tmp_path: Path) -> None:
    """A column no item fills (training_item on new pictures, error when nothing failed) is not shown; the page says so."""
    from affectscope.taxonomy import PROBABILITY

    expl = "Likely positive (valence 7.1/9): the picture most resembles 'Egyptian cat' (0.78; word valence 7.0/9)."
    frame = pd.DataFrame({"item_id": ["a", "b"], "valence": [7.1, 3.0], "joy": [0.0476, 0.5],
                          "concepts": ["cat 0.78", "dog 0.5"], "explanation": [expl, expl],
                          "training_item": [None, ""]})
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="joy", kind="category", scale=PROBABILITY, taxonomy="emotion6"),
             ColumnSpec(name="concepts", kind="text"), ColumnSpec(name="explanation", kind="text"),
             ColumnSpec(name="training_item", kind="text")]
    html = write_ratings_page(Ratings(frame, specs, RaterInfo(name="t")), tmp_path / "p.html", thumbnails=False).read_text()
    assert ">training_item</th>" not in html and "not shown: training_item" in html
    assert ">error</th>" not in html and 'class="err"' not in html
    assert html.count('class="l txt long"') == 2 and html.count('class="l txt"') == 2  # explanation wide, concepts not
    assert 'data-v="0.0476" title="0.0476">0.05<' in html and 'data-v="7.1" title="7.1">7.1<' in html
    frame.loc[1, "training_item"] = "valence"
    frame["error"] = [None, "broken file"]
    html = write_ratings_page(Ratings(frame, specs, RaterInfo(name="t")), tmp_path / "q.html", thumbnails=False).read_text()
    assert ">training_item</th>" in html and ">error</th>" in html and "not shown" not in html


def test_every_text_on_the_pages_is_escaped_by_the_templates(tmp_path: Path) -> None:
    """#28: the pages are jinja2 templates with autoescaping; titles, rater names, notes, warnings,
    list items and preformatted text are escaped without any code escaping them by hand."""
    from affectscope.report.html import Plot, Section, write_page

    frame = pd.DataFrame({"item_id": ["<a>"], "valence": [3.0]})
    info = RaterInfo(name="<i>rater</i>", family="baseline", source="<s>src</s>")
    sections = [Section("<b>head</b>", warnings=["<w>"], notes=["<n>"], pre="<pre-text>", items=["<item>"],
                        rows=[[Plot("data:image/png;base64,AA", "<alt>", caption="<cap>")]])]
    page = write_ratings_page(Ratings(frame, [ColumnSpec(name="valence", scale=SAM_VALENCE)], info), tmp_path / "p.html",
                              title="<script>x</script>", thumbnails=False, sections=sections).read_text()
    doc = write_page(tmp_path / "d.html", "document.html.j2", title="<script>x</script>", sections=sections).read_text()
    for html in (page, doc):
        for raw in ("<script>x", "<b>head", "<w>", "<n>", "<pre-text>", "<item>", "<alt>", "<cap>"):
            assert raw not in html
        assert "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;b&gt;head&lt;/b&gt;" in html and "&lt;cap&gt;" in html
    assert "&lt;i&gt;rater&lt;/i&gt;" in page and "&lt;s&gt;src&lt;/s&gt;" in page and "&lt;a&gt;" in page
    with pytest.raises(TypeError, match="Section"):
        write_ratings_page(Ratings(frame, [ColumnSpec(name="valence", scale=SAM_VALENCE)], info), tmp_path / "q.html",
                           thumbnails=False, sections="<h2>raw</h2>")  # type: ignore[arg-type]


def test_the_grid_shows_faces_in_words_not_json(tmp_path: Path) -> None:
    """#31.6: the face rater's faces column reads as words in the grid."""
    from affectscope.report.item_grid import faces_text

    picture = '[{"box": [1, 2, 3, 4], "top": "happiness", "p": 0.934}, {"box": [5, 6, 7, 8], "top": "neutral", "p": 0.61}]'
    video = '[{"t": 0.0, "top": "neutral", "p": 0.8}, {"t": 0.25, "top": "surprise", "p": 0.7}, {"t": 0.5, "top": "neutral", "p": 0.9}]'
    assert faces_text(picture) == "2 faces: happiness 0.93, neutral 0.61"
    assert faces_text(video) == "3 frames with a face: neutral x2, surprise x1"
    assert faces_text("[]") == "no face" and faces_text("not json") == "not json"
    frame = pd.DataFrame({"item_id": ["a"], "valence": [3.0], "faces": [picture]})
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="faces", kind="text")]
    html = write_ratings_page(Ratings(frame, specs, RaterInfo(name="face")), tmp_path / "p.html", thumbnails=False).read_text()
    assert "2 faces: happiness 0.93, neutral 0.61" in html and "&#34;box&#34;" not in html and '"box"' not in html


def test_an_llm_table_shows_its_spreads_refusals_and_failures(tmp_path: Path) -> None:
    """#31.6: <scale>_sd, n_refusals and n_failures are columns of the grid, and the totals are said."""
    from affectscope.taxonomy import COUNT

    frame = pd.DataFrame({"item_id": ["a", "b"], "valence": [3.0, 6.0], "valence_sd": [0.5, float("nan")],
                          "n_answers": [3.0, 1.0], "n_refusals": [0.0, 1.0], "n_failures": [0.0, 1.0]})
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="valence_sd", kind="other"),
             *[ColumnSpec(name=n, kind="count", scale=COUNT) for n in ("n_answers", "n_refusals", "n_failures")]]
    html = write_ratings_page(Ratings(frame, specs, RaterInfo(name="llm")), tmp_path / "p.html", thumbnails=False).read_text()
    for name in ("valence_sd", "n_answers", "n_refusals", "n_failures"):
        assert f">{name}</th>" in html
    assert "participants' refusals: 1, failures: 1" in html
