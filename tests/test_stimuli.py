"""StimulusSet construction from folders, lists and CSVs."""

from __future__ import annotations

from pathlib import Path

import pytest

from affectscope.stimuli import StimulusError, StimulusSet, media_kind


def test_media_kind() -> None:
    assert media_kind("a/B.JPG") == "image"
    assert media_kind("clip.mp4") == "video"
    assert media_kind("notes.txt") == "unknown"


def test_from_folder_recursive_sorted_skips_hidden_and_unknown(tmp_path: Path) -> None:
    for rel in ("b.png", "a.jpg", "sub/c.png", ".hidden/d.png", ".e.png", "readme.txt", "clip.mp4"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    s = StimulusSet.from_paths([tmp_path])
    assert s.item_ids == ["a.jpg", "b.png", "clip.mp4", "sub/c.png"]
    assert [x.media for x in s] == ["image", "image", "video", "image"]


def test_explicit_files_keep_any_extension(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hi")
    s = StimulusSet.from_paths([p])
    assert s[0].media == "unknown" and s[0].item_id == "notes.txt"


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(StimulusError, match="input not found"):
        StimulusSet.from_paths([tmp_path / "missing"])
    with pytest.raises(StimulusError, match="no images or videos found"):
        StimulusSet.from_paths([tmp_path])
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "a.png").write_bytes(b"1")
    (tmp_path / "y" / "a.png").write_bytes(b"2")
    with pytest.raises(StimulusError, match="share the id 'a.png'"):
        StimulusSet.from_paths([tmp_path / "x", tmp_path / "y"])


def test_from_csv_relative_paths_ids_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"1")
    csv = tmp_path / "list.csv"
    csv.write_text("path,id,category\nimg/a.png,A1,Animal\n")
    s = StimulusSet.from_csv(csv, id_column="id")
    assert s[0].item_id == "A1" and s[0].path == tmp_path / "img" / "a.png"
    assert s[0].metadata == {"category": "Animal"}
    with pytest.raises(StimulusError, match="no column 'file'"):
        StimulusSet.from_csv(csv, path_column="file")


def test_signature_changes_when_file_changes(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    p.write_bytes(b"1")
    s = StimulusSet.from_paths([p])[0]
    before = s.signature()
    p.write_bytes(b"longer")
    assert s.signature() != before


def test_signature_follows_content_not_copy_or_touch(tmp_path: Path) -> None:
    """A data folder re-created with the same files (new mtimes) keeps its signatures, so the
    feature cache and resumed runs keep finished work; edited content still changes it."""
    import os
    import shutil

    a = tmp_path / "a" / "x.jpg"
    a.parent.mkdir()
    a.write_bytes(b"pixels")
    sig = StimulusSet.from_paths([a])[0].signature()
    b = tmp_path / "b" / "x.jpg"
    b.parent.mkdir()
    shutil.copyfile(a, b)
    os.utime(b, ns=(1, 1))
    assert StimulusSet.from_paths([b])[0].signature() == sig
    b.write_bytes(b"pixelz")  # same size, new content
    assert StimulusSet.from_paths([b])[0].signature() != sig
    s = StimulusSet.from_paths([b])[0]
    b.unlink()
    assert s.signature() == "missing"
