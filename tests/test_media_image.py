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


def _grey_cases(tmp_path: Path) -> dict[str, Path]:
    """Files of every kind the face rater reads in grey: the direct PNG path and Pillow's."""
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    rgb = rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)
    cases = {}
    for name, im, fmt, kw in [
        ("grey.png", Image.fromarray(grey, "L"), "PNG", {}),  # the direct path
        ("rgb.png", Image.fromarray(rgb), "PNG", {}),
        ("rgba.png", Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (60, 50), dtype=np.uint8)]), "RGBA"), "PNG", {}),
        ("grey16.png", Image.fromarray(grey.astype(np.uint16) * 257), "PNG", {}),
        ("grey.jpg", Image.fromarray(grey, "L"), "JPEG", {"quality": 90}),
        ("rgb.jpg", Image.fromarray(rgb), "JPEG", {"quality": 90}),
        ("big_grey.png", Image.fromarray(rng.integers(0, 256, (300, 200), dtype=np.uint8), "L"), "PNG", {}),
    ]:
        cases[name] = tmp_path / name
        im.save(cases[name], fmt, **kw)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: an eXIf chunk sends the file to Pillow, which applies it
    Image.fromarray(grey, "L").save(tmp_path / "grey_exif.png", exif=exif)
    cases["grey_exif.png"] = tmp_path / "grey_exif.png"
    return cases


def test_grey_mode_equals_pillow_conversion_of_the_rgb_array(tmp_path: Path) -> None:
    for name, path in _grey_cases(tmp_path).items():
        for max_side in (None, 100):
            want = np.asarray(Image.fromarray(load_image(path, max_side=max_side)).convert("L"))
            got = load_image(path, max_side=max_side, mode="L")
            assert got.shape == want.shape and got.dtype == np.uint8, name
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert load_image(tmp_path / "grey_exif.png", mode="L").shape == (40, 48)  # orientation applied


def test_grey_png_direct_path_is_taken_and_equals_pillow(tmp_path: Path) -> None:
    from affectscope.media.image import _plain_grey_png

    cases = _grey_cases(tmp_path)
    direct = _plain_grey_png(cases["grey.png"], None, 1, 10**9)
    assert direct is not None
    np.testing.assert_array_equal(direct, np.asarray(Image.open(cases["grey.png"])))
    for name in ("rgb.png", "rgba.png", "grey16.png", "grey.jpg", "grey_exif.png"):
        assert _plain_grey_png(cases[name], None, 1, 10**9) is None, name  # Pillow's path
    assert _plain_grey_png(cases["big_grey.png"], 100, 1, 10**9) is None  # needs downscaling


def test_grey_mode_keeps_every_check(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    grey = tmp_path / "g.png"
    Image.fromarray(np.zeros((40, 40), np.uint8), "L").save(grey)
    data = grey.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) - 20])  # no IEND: Pillow says truncated
    with pytest.raises(MediaError, match="truncated|corrupt"):
        load_image(tmp_path / "cut.png", mode="L")
    with pytest.raises(MediaError, match="too small"):
        load_image(grey, mode="L", min_side=48)
    with pytest.raises(MediaError, match="decompression bomb"):
        load_image(grey, mode="L", max_pixels=1000)
    for case in ("zero_byte", "not_image", "corrupt"):
        with pytest.raises(MediaError):
            load_image(bad_files[case], mode="L")
    with pytest.raises(ValueError, match="'RGB', 'L'"):
        load_image(grey, mode="grey")
