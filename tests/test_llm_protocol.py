"""Protocols as data, answer schemas/grammars, answer validation and logprob expectations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from affectscope.llm.answers import (
    AnswerError, TokenLogprob, expected_ratings, gbnf, json_schema, looks_like_refusal, parse_answer, question_prompt,
    system_prompt,
)
from affectscope.llm.protocol import ProtocolError, list_protocols, load_protocol

#: every answer kind (scales, a select-all category question over ck27, an explanation) in one request
COMBINED = Path(__file__).parent / "data" / "combined_ck27.yaml"


def test_shipped_protocols_load_and_cover_the_studies() -> None:
    protos = list_protocols()
    assert {"romeo_testolin_2025", "oasis_norming", "cowen_keltner_categories", "cowen_keltner_dimensions", "artemis_choice",
            "emonet_categories"} <= set(protos)
    rt = protos["romeo_testolin_2025"]
    assert [s.name for s in rt.scales] == ["valence", "arousal", "approach", "happiness", "anger", "fear", "sadness", "disgust", "surprise"]
    assert all((s.low, s.high) == (1, 9) for s in rt.scales)
    oasis = protos["oasis_norming"]
    assert oasis.design == "per_scale" and [(s.low, s.high) for s in oasis.scales] == [(1, 7), (1, 7)]
    # between-subject design: one fresh request per scale
    assert [q.keys for q in oasis.questions()] == [["valence"], ["arousal"]]
    assert [q.keys for q in oasis.questions("joint")] == [["valence", "arousal"]]
    assert protos["artemis_choice"].categories.taxonomy == "artemis9"
    assert protos["emonet_categories"].categories.taxonomy == "emonet20"
    assert protos["cowen_keltner_categories"].categories.taxonomy == "ck34"


def test_user_protocol_file_and_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text(
        "name: mine\nversion: '2'\npersona: You are a rater.\ninstructions: Rate the {medium}.\n"
        "scales:\n  - {name: valence, scale: 'valence:oasis7', question: 'How positive is the {medium}?'}\n"
    )
    p = load_protocol(good)
    assert p.name == "mine" and p.scales[0].high == 7
    assert "Rate the image." in system_prompt(p, "image") and "Rate the description." in system_prompt(p, "text")
    with pytest.raises(ProtocolError, match="unknown protocol 'nope'; shipped: .*romeo_testolin_2025"):
        load_protocol("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: '1'\npersona: p\ninstructions: i\nscales:\n  - {name: v, scale: 'valence:wrong', question: q}\n")
    with pytest.raises(ProtocolError, match="bad.yaml: invalid protocol"):
        load_protocol(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: x\nversion: '1'\npersona: p\ninstructions: i\n")
    with pytest.raises(ProtocolError, match="at least one scale or a category question"):
        load_protocol(empty)


def test_prompt_names_every_key_with_its_range_and_anchors() -> None:
    p = load_protocol(COMBINED)
    q = p.questions()[0]
    text = question_prompt(p, q, "video")
    assert '"valence"' in text and "from 1 (" in text and "to 9 (" in text
    assert "Aesthetic Appreciation" in text and "one or more" in text and '"explanation"' in text
    assert "video" in text and "{medium}" not in text


def test_schema_and_grammar_describe_the_same_answers() -> None:
    p = load_protocol(COMBINED)
    q = p.questions()[0]
    schema = json_schema(q)
    assert schema["required"] == ["valence", "arousal", "emotions", "explanation"]
    assert schema["properties"]["valence"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert len(schema["properties"]["emotions"]["items"]["enum"]) == 27
    g = gbnf(q)
    assert g.startswith("root ::=") and 'v-valence ::= "9" | "8"' in g and '"\\"Aesthetic Appreciation\\""' in g
    # every rule used is defined
    import re

    defined = set(re.findall(r"^([a-z-]+) ::=", g, re.M))
    bodies = " ".join(line.split("::=", 1)[1] for line in g.splitlines() if "::=" in line)
    bodies = re.sub(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]', " ", bodies)  # drop literals and character classes
    used = set(re.findall(r"[a-z][a-z-]*", bodies))
    assert used and used <= defined


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ('{"valence": 10, "arousal": 3}', "out_of_range"),
        ('{"valence": 0, "arousal": 3}', "out_of_range"),
        ('{"valence": 5}', "partial"),
        ("The picture is nice.", "malformed"),
        ("[5, 3]", "malformed"),
        ('{"valence": 5.5, "arousal": 3}', "malformed"),
        ("I'm sorry, but I can't help with rating this image.", "refusal"),
        ("As an AI, I do not have feelings.", "refusal"),
    ],
)
def test_invalid_replies_get_typed_failures(reply: str, kind: str) -> None:
    q = load_protocol("oasis_norming").questions("joint")[0]
    q = type(q)(q.id, q.scales, None, False)
    with pytest.raises(AnswerError) as info:
        parse_answer(reply, q)
    assert info.value.code == kind
    assert kind in str(info.value)


def test_valid_replies_are_normalised() -> None:
    q = load_protocol(COMBINED).questions()[0]
    got = parse_answer('Here you go:\n```json\n{"valence": 7.0, "arousal": "3", "emotions": "awe", "explanation": "Mountains."}\n```', q)
    assert got == {"valence": 7, "arousal": 3, "emotions": ["Awe"], "explanation": "Mountains."}
    with pytest.raises(AnswerError, match="invalid_category"):
        parse_answer('{"valence": 7, "arousal": 3, "emotions": ["Happy"], "explanation": "x"}', q)
    choose = load_protocol("artemis_choice").questions()[0]
    assert parse_answer('{"emotion": "Something Else", "explanation": "odd"}', choose)["emotion"] == "something else"
    assert not looks_like_refusal('{"valence": 3}') and looks_like_refusal("I cannot help with that request.")


def test_expected_rating_from_logprobs() -> None:
    q = load_protocol("oasis_norming").questions("joint")[0]
    text = '{"valence": 5, "arousal": 7}'
    pieces = ['{"valence": ', "5", ', "arousal": ', "7", "}"]
    assert "".join(pieces) == text
    lp = math.log
    toks = [
        TokenLogprob(pieces[0], 0.0, ()),
        TokenLogprob("5", lp(0.5), (("5", lp(0.5)), ("6", lp(0.3)), ("4", lp(0.1)), ("x", lp(0.1)))),
        TokenLogprob(pieces[2], 0.0, ()),
        TokenLogprob("7", lp(0.7), (("7", lp(0.7)), ("8", lp(0.2)), ("9", lp(0.1)))),  # 8 and 9 are off the 1-7 scale
        TokenLogprob("}", 0.0, ()),
    ]
    e = expected_ratings(text, toks, q)
    assert e["valence"] == pytest.approx((5 * 0.5 + 6 * 0.3 + 4 * 0.1) / 0.9)
    assert e["arousal"] == pytest.approx(7.0)
    # tokens that do not spell the text (e.g. a tool call) give no expectation
    assert expected_ratings(text, toks[:2], q) == {}
    assert expected_ratings(text, None, q) == {}


def test_protocols_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from affectscope.cli import main

    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    assert "romeo_testolin_2025" in out and "valence 1-9" in out and "oasis_norming" in out
    assert main(["protocols", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["oasis_norming"]["design"] == "per_scale"


# ---- fidelity to the sources (issue #29, point 4) -----------------------------------------------------
def test_every_shipped_protocol_states_its_provenance() -> None:
    for name, p in list_protocols().items():
        assert p.provenance is not None, f"{name}: say its source, what is verbatim, paraphrased or reconstructed, and why"
        prov = p.provenance
        assert prov.source and (prov.verbatim or prov.paraphrased or prov.reconstructed), name
        if prov.paraphrased or prov.reconstructed:
            assert len(prov.why) > 40, f"{name}: say why parts are not verbatim"


def test_prompts_use_the_right_article() -> None:
    for name, p in list_protocols().items():
        for q in p.questions():
            text = system_prompt(p, "image") + question_prompt(p, q, "image")
            assert " a image" not in text and "A image" not in text, name
            assert " an video" not in question_prompt(p, q, "video") + system_prompt(p, "video"), name


def test_oasis_norming_follows_kurdi_et_al() -> None:
    p = load_protocol("oasis_norming")
    assert p.design == "per_scale" and [q.keys for q in p.questions()] == [["valence"], ["arousal"]]  # one dimension per request
    val, aro = (question_prompt(p, q, "image") for q in p.questions())
    # the dimensions as the paper's abstract defines them
    assert "the degree of positive or negative affective response that the image evokes" in val
    assert "the intensity of the affective response that the image evokes" in aro
    # all seven labelled points, ends and middle as in the paper
    for i, label in enumerate(["Very negative", "Moderately negative", "Somewhat negative", "Neutral", "Somewhat positive",
                               "Moderately positive", "Very positive"], start=1):
        assert f"{i} = {label}" in val
    for i, label in enumerate(["Very low", "Moderately low", "Somewhat low", "Neither low nor high", "Somewhat high",
                               "Moderately high", "Very high"], start=1):
        assert f"{i} = {label}" in aro
    assert "positive or negative" in aro and "both be high in arousal" in aro  # arousal apart from valence
    assert "full range" in system_prompt(p, "image")
    assert "rate videos" in system_prompt(p, "video") and "pictures" not in system_prompt(p, "video")
    assert "Moderately negative" in " ".join(p.provenance.reconstructed) or "intermediate labels" in " ".join(p.provenance.reconstructed)


def test_cowen_keltner_protocols_offer_the_34_categories_and_the_14_dimensions() -> None:
    from affectscope.norms.cowen_keltner import DIMENSIONS

    cats = load_protocol("cowen_keltner_categories")
    assert cats.categories.taxonomy == "ck34" and cats.categories.mode == "select" and not cats.scales
    text = question_prompt(cats, cats.questions()[0], "video")
    for dropped in ("Contempt", "Disappointment", "Envy", "Guilt", "Pride", "Sympathy", "Triumph"):  # the 7 not in ck27
        assert dropped in text
    assert len(json_schema(cats.questions()[0])["properties"]["emotions"]["items"]["enum"]) == 34
    dims = load_protocol("cowen_keltner_dimensions")
    assert tuple(s.name for s in dims.scales) == tuple(DIMENSIONS)  # the human data's dimensions, in order
    assert all((s.low, s.high) == (1, 9) for s in dims.scales)


def test_romeo_testolin_uses_the_naps_scales() -> None:
    p = load_protocol("romeo_testolin_2025")
    text = question_prompt(p, p.questions()[0], "image")
    # Marchewka et al. (2014): the three sentences participants completed, with their anchors
    assert "'You are judging this image as ...' (5 = neutral). Answer with a whole number from 1 (very negative) to 9 (very positive)" in text
    assert "'My reaction to this image is ...' (5 = neutral). Answer with a whole number from 1 (to avoid) to 9 (to approach)" in text
    assert "'Confronted with this image, you are feeling ...' (5 = neutral/ambivalent). Answer with a whole number from 1 (relaxed) to 9 (aroused)" in text
    assert any("basic-emotion" in r for r in p.provenance.reconstructed)  # not checked against NAPS BE: said so


def test_grammar_lets_a_participant_select_every_category() -> None:
    q = load_protocol("cowen_keltner_categories").questions()[0]
    assert "{0,33}" in gbnf(q)
