"""Derived feature blocks: the basic-emotion head's probabilities and the ImageNet concepts' word norms."""

from __future__ import annotations

import numpy as np
import pytest

from affectscope.training.derived import (CONCEPT_NORMS, DERIVED, EMOTION6, add_derived, basic_emotion_head, class_norms,
                                 concept_norms)
from affectscope.training.heads import HeadError


def _shipped_blocks(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random blocks with the widths the shipped basic-emotion head reads."""
    head = basic_emotion_head()
    rng = np.random.default_rng(seed)
    return {b: rng.normal(size=(n, w)) for b, w in zip(head.scaler.blocks, head.scaler.widths, strict=True)}


def test_class_norms_cover_every_imagenet_class_on_the_1_to_9_scale() -> None:
    table = class_norms()
    assert table.shape == (1000, 3)
    assert (table >= 1).all() and (table <= 9).all()
    assert table[1] == pytest.approx([6.62, 2.95, 5.05])  # goldfish: its Warriner et al. (2013) norm


def test_concept_norms_are_the_norms_of_the_concepts_seen_per_network() -> None:
    logits = np.zeros((2, 1000))
    logits[0, 1] = logits[1, 2] = 1000.0  # network 1 is sure of goldfish (row 0) and great white shark (row 1)
    other = np.zeros((2, 1000))
    other[:, 1] = 1000.0
    got = concept_norms({"lite0/logits": logits, "lite0/head": np.ones((2, 4)), "lite1/logits": other})
    assert got.shape == (2, 6)
    np.testing.assert_allclose(got[0, :3], class_norms()[1])
    np.testing.assert_allclose(got[1, :3], class_norms()[2])
    np.testing.assert_allclose(got[:, 3:], class_norms()[[1, 1]])
    flat = concept_norms({"logits": np.zeros((1, 1000))})  # no preference: the mean over classes
    np.testing.assert_allclose(flat[0], class_norms().mean(axis=0))
    with pytest.raises(HeadError, match="logits"):
        concept_norms({"head": np.ones((1, 4))})


def test_emotion6_block_gives_training_pictures_their_out_of_fold_probabilities() -> None:
    """The basic-emotion head's own training pictures must not feed its in-sample output to another head."""
    head = basic_emotion_head()
    blocks = _shipped_blocks(3)
    plain = add_derived(blocks, [EMOTION6])[EMOTION6]
    np.testing.assert_allclose(plain, head.predict(blocks))
    np.testing.assert_allclose(plain.sum(axis=1), 1.0)
    trained = head.training.keys[5]
    keyed = add_derived(blocks, [EMOTION6], keys=[None, trained, "sha256:not-a-training-picture"])[EMOTION6]
    np.testing.assert_allclose(keyed[1], head.training.oof[5])
    np.testing.assert_allclose(keyed[[0, 2]], plain[[0, 2]])
    assert not np.allclose(keyed[1], plain[1])


def test_add_derived_adds_only_what_is_asked_and_refuses_unknown_blocks() -> None:
    blocks = _shipped_blocks(2)
    got = add_derived(blocks, ["lite0/head", CONCEPT_NORMS])
    assert set(got) == set(blocks) | {CONCEPT_NORMS}
    assert got[CONCEPT_NORMS].shape == (2, 9)
    assert set(add_derived(blocks, DERIVED)) == set(blocks) | set(DERIVED)
    with pytest.raises(HeadError, match="upgrade"):
        add_derived(blocks, ["derived/aesthetics"])
    with pytest.raises(HeadError, match="lite0\\+lite1\\+lite2"):
        add_derived({"head": np.ones((2, 1280)), "logits": np.zeros((2, 1000))}, [EMOTION6])


def test_the_rater_computes_the_derived_blocks_the_shipped_arousal_head_reads() -> None:
    from affectscope.raters.image import ImageRater

    rater = ImageRater(concepts=0, explain=False)
    heads, backbone, view = rater._loaded
    arousal = next(h for h in heads if h.outputs == ["arousal"])
    assert arousal.blocks[-2:] == list(DERIVED)
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (90, 120, 3), dtype=np.uint8) for _ in range(2)]
    prepared = [backbone.prepare(p, view) for p in pictures]
    values, _ = rater._predict(prepared)
    expected = arousal.predict(add_derived(backbone.embed_prepared(prepared), DERIVED))[:, 0]
    np.testing.assert_allclose(values["arousal"], expected, rtol=1e-6)


def test_the_rater_tells_to_upgrade_for_a_head_with_an_unknown_derived_block(tmp_path) -> None:  # noqa: ANN001
    from affectscope.training.heads import fit_scale_head
    from affectscope.raters.image import ImageRater

    rng = np.random.default_rng(2)
    blocks = {"head": rng.normal(size=(12, 1280)), "derived/aesthetics": rng.normal(size=(12, 2))}
    head = fit_scale_head(blocks, list(blocks), rng.normal(size=(12, 1)), ["valence"],
                          meta={"backbone": {"spec": "lite0", "pooling": "mean"}, "view": "center"})
    head.save(tmp_path / "h.npz")
    rater = ImageRater(heads=[str(tmp_path / "h.npz")], concepts=0, explain=False)
    _, backbone, view = rater._loaded
    with pytest.raises(HeadError, match="upgrade"):
        rater._predict([backbone.prepare(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8), view)])
