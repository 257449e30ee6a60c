"""Safe image loading: every case of issue #2 point 7 loads correctly or fails clearly, and a batch survives."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from affectscope.media.image import MediaError, load_image, thumbnail_data_uri
from affectscope.raters.color import ColorRater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet


@pytest.mark.parametrize(
    "case, problem",
    [
        ("zero_byte", "empty file"),
        ("not_image", "not an image"),
        ("truncated", "truncated"),
        ("corrupt", "corrupt"),
        ("bomb", "decompression bomb"),
    ],
)
def test_bad_files_raise_clear_errors(bad_files: dict[str, Path], case: str, problem: str) -> None:
    with pytest.raises(MediaError) as info:
        load_image(bad_files[case])
    err = info.value
    assert err.path == str(bad_files[case])
    assert problem in err.problem
    assert err.fix  # always says what to do
    assert str(bad_files[case]) in str(err)


def test_text_file_is_identified_as_text(bad_files: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="looks like text"):
        load_image(bad_files["not_image"])


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(MediaError, match="is a folder"):
        load_image(tmp_path)


def test_max_pixels_limit_is_configurable(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(p)
    with pytest.raises(MediaError, match="too large: 400x300"):
        load_image(p, max_pixels=100_000)
    assert load_image(p, max_pixels=200_000).shape == (300, 400, 3)


def test_cmyk_jpeg_loads_as_rgb(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(p, quality=95)  # pure red in CMYK
    arr = load_image(p)
    assert arr.shape == (10, 20, 3) and arr.dtype == np.uint8
    r, g, b = arr.reshape(-1, 3).mean(axis=0)
    assert r > 240 and g < 15 and b < 15


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    p = tmp_path / "grey16.png"
    arr16 = np.array([[0, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(arr16).save(p)
    with Image.open(p) as im:
        assert im.mode.startswith("I")
    arr = load_image(p)
    assert arr[0, :, 0].tolist() == [0, 128, 255]
    assert (arr[..., 0] == arr[..., 1]).all()


def test_float_image(tmp_path: Path) -> None:
    p = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F").save(p)
    assert load_image(p)[0, :, 0].tolist() == [0, 128, 255]


def test_palette_with_transparency_composited_over_white(tmp_path: Path) -> None:
    p = tmp_path / "pal.png"
    im = Image.new("P", (4, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0, 0, 1, 1])
    im.info["transparency"] = 1  # palette entry 1 (blue) is transparent
    im.save(p, transparency=1)
    arr = load_image(p)
    assert arr[0, 0].tolist() == [255, 0, 0]
    assert arr[0, 3].tolist() == [255, 255, 255]


def test_rgba_alpha_composited_with_configurable_background(tmp_path: Path) -> None:
    p = tmp_path / "rgba.png"
    Image.fromarray(np.array([[[0, 255, 0, 255], [0, 255, 0, 0]]], dtype=np.uint8), "RGBA").save(p)
    assert load_image(p)[0].tolist() == [[0, 255, 0], [255, 255, 255]]
    assert load_image(p, background=(0, 0, 0))[0].tolist() == [[0, 255, 0], [0, 0, 0]]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    p = tmp_path / "rotated.jpg"
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(arr).save(p, exif=exif.tobytes(), quality=95)
    out = load_image(p)
    assert out.shape == (40, 20, 3)  # portrait after rotation
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # white half now on top


def test_greyscale_and_bilevel_become_rgb(tmp_path: Path) -> None:
    for mode, value in (("L", 77), ("1", 1)):
        p = tmp_path / f"{mode}.png"
        Image.new(mode, (5, 5), value).save(p)
        arr = load_image(p)
        assert arr.shape == (5, 5, 3)
        assert len(np.unique(arr)) == 1


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    arr = load_image(p)
    assert arr[0, 0, 0] > 200 and arr[0, 0, 2] < 50


def test_huge_jpeg_decodes_reduced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "huge.jpg"
    big = np.zeros((4000, 6000, 3), dtype=np.uint8)
    big[:, :3000] = (200, 30, 30)
    Image.fromarray(big).save(p, quality=85)
    drafts: list[tuple[int, int]] = []
    original = Image.Image.draft

    def spy(self, mode, size):  # type: ignore[no-untyped-def]
        result = original(self, mode, size)
        drafts.append(self.size)  # the size the decoder will actually produce
        return result

    monkeypatch.setattr(Image.Image, "draft", spy)
    arr = load_image(p, max_side=256)
    assert drafts and max(drafts[0]) <= 6000 // 8  # JPEG DCT scaling: decoded at 1/8 size, not 24 Mpx
    assert max(arr.shape[:2]) == 256 and arr.shape[1] > arr.shape[0]
    assert arr[:, :100, 0].mean() > 180 and arr[:, -100:, 0].mean() < 20
    assert load_image(p).shape == (4000, 6000, 3)


def test_thumbnail_data_uri(good_images: list[Path]) -> None:
    uri = thumbnail_data_uri(good_images[2], size=16)
    assert uri.startswith("data:image/jpeg;base64,")
    import base64

    raw = base64.b64decode(uri.split(",", 1)[1])
    with Image.open(io.BytesIO(raw)) as im:
        assert max(im.size) == 16


def test_batch_survives_every_bad_file(good_images: list[Path], bad_files: dict[str, Path]) -> None:
    stimuli = StimulusSet.from_list(good_images + list(bad_files.values()))
    result = rate(stimuli, ColorRater(), progress=False)
    assert len(result.ratings) == len(stimuli)
    errors = result.ratings.errors
    assert set(errors.index) == {p.name for p in bad_files.values()}
    for item_id, msg in errors.items():
        assert "Fix:" in msg, (item_id, msg)
    ok = result.ratings.ok()
    assert len(ok) == len(good_images)
    assert not ok.data[["valence", "arousal", "dominance"]].isna().any().any()


def test_min_side_refuses_thumbnails_and_names_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "icon.png"
    Image.new("RGB", (40, 12), (10, 20, 30)).save(p)
    assert load_image(p).shape == (12, 40, 3)  # no floor by default
    with pytest.raises(MediaError, match=r"too small to rate: 40x12 pixels, under 16") as err:
        load_image(p, min_side=16)
    assert "icon.png" in str(err.value) and "full-size picture" in err.value.fix
