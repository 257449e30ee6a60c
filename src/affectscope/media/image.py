"""Safe image loading: every file either loads correctly as RGB or raises a :class:`MediaError`
that names the file, what is wrong with it and what to do.

Handled: missing, zero-byte, non-image, truncated and corrupt files; decompression bombs;
huge images (JPEGs are decoded at reduced size directly); CMYK; 16-bit and float images;
palette and alpha images (composited over a background, white by default); EXIF orientation;
animated images (first frame).
"""

from __future__ import annotations

import base64
import functools
import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from affectscope._checks import check_option
from affectscope._files import file_problem

#: Default limit on decoded pixels (Pillow's own bomb threshold, about 89.5 megapixels).
DEFAULT_MAX_PIXELS = 89_478_485


class MediaError(Exception):
    """A stimulus file that cannot be used.

    Attributes
    ----------
    path : str
    problem : str
        What is wrong.
    fix : str
        What the user can do.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


def describe_error(exc: BaseException) -> str:
    """One item's failure as its error-column text: a :class:`MediaError` as "problem. Fix: fix"
    (the item already names the file), anything else as "Type: message"."""
    if isinstance(exc, MediaError):
        return f"{exc.problem}. Fix: {exc.fix}"
    return f"{type(exc).__name__}: {exc}"


_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "JSON or text"),
    (b"RIFF", "a RIFF file (WAV/AVI)"),
    (b"\x1a\x45\xdf\xa3", "a Matroska/WebM video"),
    (b"ID3", "an MP3 audio file"),
)


_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def _sniff(head: bytes) -> str:
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIF_BRANDS:
            return "a HEIC/HEIF picture"
        if head[8:12] in (b"avif", b"avis"):
            return "an AVIF picture"
        return "an MP4/MOV video"
    for magic, what in _MAGIC:
        if head.lstrip().lower().startswith(magic.lower()):
            return what
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "data of an unknown format"


@functools.cache
def _register_plugins() -> bool:
    """Teach Pillow HEIC/HEIF (phones' default photo format) through pillow-heif, once, when the
    first picture is opened (never at import). False when pillow-heif is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _open(path: Path, max_pixels: int) -> Image.Image:
    _register_plugins()
    problem = file_problem(path)
    if problem is not None:
        raise MediaError(path, *problem)
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)", "re-copy or re-export the image; the file has no data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaError(path, f"refused as a possible decompression bomb ({exc})", "downscale the image before rating") from None
    except UnidentifiedImageError:
        with open(path, "rb") as fh:
            head = fh.read(64)
        looks = _sniff(head)
        fix = "convert it to JPEG or PNG, or remove it; videos need a rater that accepts video"
        if looks.startswith("a HEIC") and not _register_plugins():
            fix = "install HEIC support: pip install pillow-heif (or convert it to JPEG)"
        elif looks.startswith(("a HEIC", "an AVIF")):
            fix = "the file is damaged or uses a variant the decoder does not know: convert it to JPEG or PNG"
        raise MediaError(path, f"not an image Pillow can read (the file looks like {looks})", fix) from None
    except OSError as exc:
        raise MediaError(path, f"cannot open ({exc})", "re-export the image as JPEG or PNG") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise MediaError(
            path,
            f"too large: {w}x{h} = {w * h:,} pixels exceeds the limit of {max_pixels:,} "
            "(possible decompression bomb)",
            "downscale the image, or raise max_pixels if it is genuine",
        )
    return im


#: Shorter side, in pixels, below which the network raters refuse a picture: they read faces at
#: 48 px and scenes at 224-260 px, so a smaller input is an icon or a thumbnail and its rating noise.
MIN_SIDE = 16


def _to_rgb(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        elif mode == "F" and np.nanmax(arr) <= 1.0 and np.nanmin(arr) >= 0.0:
            arr = arr * 255.0
        else:
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            if lo >= 0 and hi <= 255:
                pass
            elif lo >= 0 and hi <= 65535:
                arr = arr / 257.0
            else:
                arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        grey = np.clip(np.round(np.nan_to_num(arr)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "RGB":
        return im
    return im.convert("RGB")


#: Grey PNGs up to this size may take the direct path of :func:`_plain_grey_png`.
PLAIN_PNG_MAX_BYTES = 1 << 20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _plain_grey_png(path: str, max_side: int | None, min_side: int, max_pixels: int) -> np.ndarray | None:
    """The pixels of a small, complete, 8-bit grey PNG without orientation data, decoded by
    OpenCV; ``None`` for anything else, which takes Pillow's path with its checks and messages.

    A PNG's pixels are defined exactly (zlib), so both decoders give the same array (a test checks
    it); Pillow's per-file overhead is about 3x the decode for a 48x48 face crop (FER-style crop
    folders), which made decoding as costly as the face network itself (issue #36). Only a regular
    file is opened (``stat`` first, as :func:`~affectscope._files.file_problem` does), and only its
    size is read (a read of ``PLAIN_PNG_MAX_BYTES`` would allocate that much per file)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= PLAIN_PNG_MAX_BYTES:
            return None
        with open(path, "rb", buffering=0) as fh:
            data = fh.read(st.st_size + 1)  # a byte more than stat saw: a file that grew since fails the IEND check below
    except OSError:
        return None
    if len(data) > PLAIN_PNG_MAX_BYTES:
        return None
    # signature, then IHDR: width, height, bit depth 8, colour type 0 (grey), and the file ends with IEND
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or data[24:26] != b"\x08\x00" or data[-8:-4] != b"IEND":
        return None
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if w * h > max_pixels or min(w, h) < min_side or (max_side is not None and max(w, h) > max_side):
        return None
    pos = 8
    while pos + 8 <= len(data):  # chunk list: an eXIf chunk (orientation) or a transparency chunk goes to Pillow
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if kind in (b"eXIf", b"tRNS"):
            return None
        pos += 12 + size
    try:
        import cv2
    except ImportError:
        return None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return arr if arr is not None and arr.shape == (h, w) and arr.dtype == np.uint8 else None


def load_image(
    path: str | os.PathLike[str],
    *,
    max_side: int | None = None,
    min_side: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
    mode: str = "RGB",
) -> np.ndarray:
    """Load any still image as an ``(H, W, 3)`` uint8 RGB array (or ``(H, W)`` grey), or raise
    :class:`MediaError`.

    Parameters
    ----------
    path : path-like
    max_side : int, optional
        Downscale so that the longer side is at most this (JPEGs decode at reduced size, so
        huge photos load fast and small).
    min_side : int, default 1
        Refuse images whose shorter side has fewer pixels (the raters pass :data:`MIN_SIDE`).
    max_pixels : int
        Images with more pixels are refused as possible decompression bombs.
    background : tuple of int
        Colour that transparent pixels are composited over.
    mode : {"RGB", "L"}, default "RGB"
        ``"L"``: grey, equal to converting the RGB array with Pillow (``Image.convert("L")``); a grey
        file is not converted to RGB and back (the face rater reads crops this way).

    Returns
    -------
    numpy.ndarray
        RGB (or grey), uint8, upright (EXIF orientation applied).
    """
    check_option("mode", mode, ("RGB", "L"))
    if mode == "L" and (grey := _plain_grey_png(os.fspath(path), max_side, min_side, max_pixels)) is not None:
        return grey
    path = Path(path)
    im = source = _open(path, max_pixels)
    if min(im.size) < min_side:
        w, h = im.size
        source.close()
        raise MediaError(path, f"too small to rate: {w}x{h} pixels, under {min_side} on the shorter side "
                         "(the networks read pictures at 48 px or more)", "rate the full-size picture, not a thumbnail or icon")
    try:
        if max_side is not None and im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))
        try:
            im.load()
        except MemoryError:
            raise MediaError(path, "not enough memory to decode", "downscale the image") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            msg = str(exc)
            problem = (
                "truncated: the file ends before the image data does"
                if "truncat" in msg.lower()
                else f"corrupt image data ({type(exc).__name__}: {msg})"
            )
            raise MediaError(path, problem, "re-download or re-export the file") from None
        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:  # noqa: BLE001 - a broken EXIF block should not lose the picture
            pass
        # a grey file stays grey for mode "L": its RGB copy would have three equal channels, which
        # Pillow's conversion to L maps back to the same values (its weights sum to exactly 1)
        out = im if mode == "L" and im.mode == "L" else _to_rgb(im, background)
        if max_side is not None and max(out.size) > max_side:
            out = out.copy()
            out.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        if mode == "L" and out.mode != "L":
            out = out.convert("L")
        arr = np.asarray(out, dtype=np.uint8)
    finally:
        source.close()
    if mode == "L":
        if arr.ndim != 2:
            raise MediaError(path, f"decoded to an unexpected shape {arr.shape}", "re-export the image as JPEG or PNG")
        return arr
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise MediaError(path, f"decoded to an unexpected shape {arr.shape}", "re-export the image as RGB JPEG or PNG")
    return arr


def thumbnail_data_uri(path: str | os.PathLike[str], size: int = 160, quality: int = 80) -> str:
    """A small JPEG of the image as a ``data:`` URI, for self-contained HTML pages."""
    arr = load_image(path, max_side=size)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
