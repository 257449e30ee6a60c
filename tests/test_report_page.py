"""The ratings page: self-contained, escaped, every item present."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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
