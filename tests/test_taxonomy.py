"""Scales, category sets and crosswalks: known values and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affectscope.taxonomy import (
    ARTEMIS9, BASIC7, CK27, CK34, CROSSWALKS, EMONET20, EMOTION6, FERPLUS8, GAPED_VALENCE, MIKELS8, OASIS_VALENCE,
    PROBABILITY, SAM_AROUSAL, SAM_VALENCE, Scale, ScaleError, column_name, get_category_set, get_crosswalk,
    get_scale,
)


def test_oasis_to_sam_known_values() -> None:
    assert OASIS_VALENCE.convert(1, to=SAM_VALENCE) == 1
    assert OASIS_VALENCE.convert(4, to=SAM_VALENCE) == 5  # midpoint to midpoint
    assert OASIS_VALENCE.convert(7, to=SAM_VALENCE) == 9
    np.testing.assert_allclose(GAPED_VALENCE.convert([0, 50, 100], to=SAM_VALENCE), [1, 5, 9])
    assert np.isnan(OASIS_VALENCE.convert(float("nan"), to=SAM_VALENCE))


@given(st.floats(min_value=1, max_value=7))
def test_conversion_round_trips(x: float) -> None:
    y = OASIS_VALENCE.convert(x, to=GAPED_VALENCE)
    via_sam = SAM_VALENCE.convert(GAPED_VALENCE.convert(y, to=SAM_VALENCE), to=OASIS_VALENCE)
    assert via_sam == pytest.approx(GAPED_VALENCE.convert(y, to=OASIS_VALENCE))
    assert GAPED_VALENCE.convert(y, to=OASIS_VALENCE) == pytest.approx(x)


def test_conversion_across_dimensions_refused() -> None:
    with pytest.raises(ScaleError, match="different dimensions"):
        SAM_AROUSAL.convert(5, to=SAM_VALENCE)
    assert SAM_AROUSAL.convert(5, to=SAM_VALENCE, allow_dimension_change=True) == 5


def test_open_scale_cannot_convert_and_bad_range_rejected() -> None:
    open_scale = Scale(dimension="valence", low=0, high=None)
    with pytest.raises(ScaleError, match="open end"):
        open_scale.convert(1, to=SAM_VALENCE)
    with pytest.raises(ValueError, match="must be below"):
        Scale(dimension="valence", low=9, high=1)


def test_check_names_out_of_range_values() -> None:
    SAM_VALENCE.check([1, 5, 9, float("nan")])
    with pytest.raises(ScaleError, match=r"2 values outside .*e\.g\. 0, 10"):
        SAM_VALENCE.check([0, 5, 10])


def test_get_scale() -> None:
    assert get_scale("valence:oasis7") is OASIS_VALENCE
    assert get_scale("valence:1-7").same_range(OASIS_VALENCE)
    with pytest.raises(ScaleError, match="valence:sam9"):
        get_scale("valence:huge")


def test_category_sets_sizes_and_subsets() -> None:
    assert (len(CK34), len(CK27), len(EMONET20), len(ARTEMIS9), len(MIKELS8), len(FERPLUS8), len(BASIC7)) == (
        34, 27, 20, 9, 8, 8, 7,
    )
    assert set(EMONET20.categories) <= set(CK27.categories) <= set(CK34.categories)
    assert set(MIKELS8.categories) <= set(ARTEMIS9.categories)
    assert column_name("Aesthetic Appreciation") == "aesthetic_appreciation"
    assert "Empathic Pain" in EMONET20 and "Anger" not in EMONET20
    with pytest.raises(KeyError, match="valid"):
        get_category_set("emonet21")


def test_crosswalk_known_mappings() -> None:
    cw = get_crosswalk("fer2013", "basic7")  # composed through ferplus8
    assert cw.mapping["happy"] == {"happiness": 1.0}
    assert "contempt" not in cw.mapping
    ck = get_crosswalk("ck34", "emonet20")
    assert set(ck.unmapped) == set(CK34.categories) - set(EMONET20.categories)
    art = get_crosswalk("ck27", "artemis9")
    assert art.mapping["Calmness"] == {"contentment": 1.0}
    assert art.unmapped == ()  # every CK category lands somewhere, 'something else' at worst


def _random_table(rng: np.random.Generator, columns: tuple[str, ...], n: int = 5) -> pd.DataFrame:
    p = rng.dirichlet(np.ones(len(columns)), size=n)
    return pd.DataFrame(p, columns=list(columns))


@pytest.mark.parametrize("name", sorted(CROSSWALKS))
def test_crosswalks_conserve_mass(name: str) -> None:
    cw = CROSSWALKS[name]
    table = _random_table(np.random.default_rng(0), cw.source_set.columns)
    out = cw.apply(table)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert list(out.columns) == list(cw.target_set.columns) + ["unmapped"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_composition_equals_sequential_application(seed: int) -> None:
    a, b = CROSSWALKS["ck34->ck27"], CROSSWALKS["ck27->emonet20"]
    table = _random_table(np.random.default_rng(seed), CK34.columns)
    step = b.apply(a.apply(table).drop(columns="unmapped"))
    direct = a.then(b).apply(table)
    np.testing.assert_allclose(step.drop(columns="unmapped"), direct.drop(columns="unmapped"), atol=1e-12)


def test_crosswalk_errors() -> None:
    with pytest.raises(KeyError, match="no crosswalk"):
        get_crosswalk("emonet20", "ferplus8")
    with pytest.raises(KeyError, match="needs columns"):
        CROSSWALKS["emotion6->basic7"].apply(pd.DataFrame({"joy": [1.0]}))
    assert get_crosswalk("basic7", "basic7").apply(_random_table(np.random.default_rng(1), BASIC7.columns))["unmapped"].eq(0).all()
    assert PROBABILITY.high == 1


def test_basic7_to_affection9_crosswalk_keeps_valence_and_mass() -> None:
    cw = get_crosswalk("emotion6", "artemis9")  # composed: emotion6 -> basic7 -> artemis9
    assert cw.mapping["joy"] == {"contentment": 1.0}
    assert cw.mapping["fear"] == {"fear": 1.0} and cw.mapping["neutral"] == {"something else": 1.0}
    assert cw.unmapped == ()
    out = cw.apply(_random_table(np.random.default_rng(2), EMOTION6.columns))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out["unmapped"].eq(0).all()


def test_a_crosswalk_that_leaves_target_categories_unreachable_says_so() -> None:
    """#31.7: Emotion6 -> ArtEmis 9 can never put mass on amusement, awe or excitement."""
    import pandas as pd

    from affectscope.ratings import ColumnSpec, RaterInfo, Ratings, UnreachableCategoryWarning
    from affectscope.taxonomy import EMOTION6, PROBABILITY, get_crosswalk

    assert get_crosswalk("emotion6", "artemis9").unreachable == ("amusement", "awe", "excitement")
    cols = list(EMOTION6.columns)
    df = pd.DataFrame([[1 / len(cols)] * len(cols)], columns=cols)
    df.insert(0, "item_id", ["a.jpg"])
    r = Ratings(df, [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy="emotion6") for c in cols], RaterInfo(name="x"))
    with pytest.warns(UnreachableCategoryWarning, match="amusement, awe, excitement can never receive mass from emotion6"):
        out = r.to_categories("artemis9")
    assert "always 0" in out.columns["awe"].description and "always 0" not in out.columns["fear"].description


def test_outside_is_out_of_range_of_one_value() -> None:
    open_scale = Scale(dimension="valence", low=0, high=None)
    for scale in (SAM_VALENCE, open_scale):
        for v in (-1.0, 0.0, 1.0, 1 - 1e-10, 1 - 1e-8, 5.0, 9.0, 9 + 1e-10, 9 + 1e-8, 1e9):
            assert scale.outside(v) == bool(scale.out_of_range(v)), (scale.label, v)
