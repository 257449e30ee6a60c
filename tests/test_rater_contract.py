"""One contract, every registered rater (scikit-learn's parametrize_with_checks, in spirit)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_bad_files, make_good_images

from affectscope.raters.base import ItemError, Rater
from affectscope.raters.registry import UnknownRaterError, available_raters, get_rater_class, make_rater, register
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet

RATERS = sorted(available_raters())


def test_builtin_raters_are_registered() -> None:
    assert {"color", "table"} <= set(RATERS)


@pytest.fixture
def stimuli(tmp_path: Path) -> StimulusSet:
    good = make_good_images(tmp_path / "imgs")
    bad = make_bad_files(tmp_path / "imgs")
    return StimulusSet.from_list(good + [bad["truncated"], bad["not_image"]])


def _make(name: str, workdir: Path, stimuli: StimulusSet) -> Rater:
    cls = get_rater_class(name)
    return make_rater(name, **cls.contract_params(workdir, stimuli))


@pytest.mark.parametrize("name", RATERS)
def test_declares_valid_outputs(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    rater = _make(name, tmp_path, stimuli)
    cols = rater.outputs()
    assert cols, "a rater must output at least one column"
    names = [c.name for c in cols]
    assert len(set(names)) == len(names)
    assert rater.summary and rater.family in ("model", "llm", "human", "file", "baseline")
    assert rater.name == name


@pytest.mark.parametrize("name", RATERS)
def test_params_round_trip(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    rater = _make(name, tmp_path, stimuli)
    clone = type(rater)(**rater.get_params())
    assert clone.fingerprint() == rater.fingerprint()
    assert repr(rater).startswith(type(rater).__name__)


@pytest.mark.parametrize("name", RATERS)
def test_outputs_schema_ranges_and_per_item_errors(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    rater = _make(name, tmp_path, stimuli)
    cols = {c.name: c for c in rater.outputs()}
    results = rater.rate_batch(list(stimuli))
    assert len(results) == len(stimuli)
    n_ok = 0
    for stim, res in zip(stimuli, results):
        if isinstance(res, ItemError):
            assert res.item_id == stim.item_id and res.message
            continue
        n_ok += 1
        assert set(res) == set(cols), stim.item_id
        for k, v in res.items():
            if cols[k].kind == "text":
                continue
            v = float(v)
            assert not math.isinf(v)
            scale = cols[k].scale
            if scale is not None and not math.isnan(v):
                assert not scale.out_of_range(v), (k, v, scale.label)
    assert n_ok >= 1, "the rater must rate at least one of the good images"
    if "image" in rater.media and "unknown" not in rater.media:
        # image raters (and image + video raters) must fail, per item, on the broken files
        errs = {r.item_id for r in results if isinstance(r, ItemError)}
        assert {"truncated.jpg", "notes.png"} <= errs


@pytest.mark.parametrize("name", RATERS)
def test_deterministic_when_promised(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    """Two runs, equal tables; the LLM rater against its scripted server too."""
    rater = _make(name, tmp_path, stimuli)
    if not rater.contract_deterministic():
        pytest.skip(f"{name} does not promise determinism")
    a = rate(stimuli, rater, progress=False).ratings.to_frame()
    b = rate(stimuli, _make(name, tmp_path, stimuli), progress=False).ratings.to_frame()
    assert a.equals(b)


def test_registry_errors_list_the_options() -> None:
    with pytest.raises(UnknownRaterError, match="available: .*color"):
        get_rater_class("colour")
    with pytest.raises(TypeError, match="valid: \\['max_side'\\]"):
        make_rater("color", max_sid=3)
    with pytest.raises(UnknownRaterError, match="cannot import"):
        get_rater_class("nowhere.module:Thing")
    with pytest.raises(ValueError, match="taken"):
        register("color")(type("Other", (Rater,), {}))
    with pytest.raises(TypeError, match="must decorate a Rater"):
        register("thing")(object)


@pytest.mark.parametrize("name", ["image", "face"])
def test_network_raters_refuse_pictures_too_small_to_rate(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    # regression: a 2x2 PNG used to be enlarged to the network's input and rated without a word
    from conftest import solid

    tiny = solid(tmp_path / "imgs" / "tiny.png", (200, 30, 30), size=(2, 2))
    good = next(s for s in stimuli if s.item_id not in ("truncated.jpg", "notes.png"))
    batch = StimulusSet.from_list([good.path, tiny])
    results = _make(name, tmp_path, batch).rate_batch(list(batch))
    assert not isinstance(results[0], ItemError), results[0]
    assert isinstance(results[1], ItemError) and results[1].item_id == "tiny.png"
    assert "too small to rate: 2x2 pixels" in results[1].message and "Fix:" in results[1].message


def test_looking_up_one_rater_imports_its_module_alone() -> None:
    """The registry is lazy: `--rater color` loads neither the networks nor the LLM client."""
    import subprocess
    import sys

    code = ("import sys; from affectscope.raters.registry import get_rater_class, rater_names; "
            "get_rater_class('color'); names = rater_names(); "
            "print(sorted(m for m in sys.modules if m.startswith('affectscope.raters.') or m in ('torch', 'openai'))); "
            "print(names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['affectscope.raters.base', 'affectscope.raters.color', 'affectscope.raters.registry']"
    assert {"color", "face", "image", "llm", "table"} <= set(eval(out[1]))  # noqa: S307 - our own printed list


def test_every_registered_rater_module_is_in_the_builtin_table() -> None:
    """A new rater module with @register must be listed in BUILTIN, or a lazy look-up would miss it."""
    import ast

    import affectscope.raters as pkg
    from affectscope.raters.registry import BUILTIN

    found = {}
    for f in Path(pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for d in node.decorator_list:
                    if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "register":
                        found[d.args[0].value] = f"affectscope.raters.{f.stem}:{node.name}"
    assert found == BUILTIN


# ---- parameters: declared, and every invalid value refused naming the parameter ------------------
@pytest.mark.parametrize("name", RATERS)
def test_every_parameter_declares_what_it_takes(name: str) -> None:
    cls = get_rater_class(name)
    assert set(cls.parameter_constraints) == set(cls._param_names()), "declare a Constraint per constructor parameter"


@pytest.mark.parametrize("name", RATERS)
def test_invalid_parameters_generated_from_the_constraints_are_refused(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    from affectscope._params import InvalidParameterError

    cls = get_rater_class(name)
    base = cls.contract_params(tmp_path, stimuli)
    tried = 0
    for param, constraint in cls.parameter_constraints.items():
        for bad in constraint.invalid_values():
            params = {**base, param: bad}
            with pytest.raises(InvalidParameterError, match=f"^{param} must be .*, got "):
                make_rater(name, **params)
            with pytest.raises(InvalidParameterError, match=param):  # built directly: refused before any output
                cls(**params).outputs()
            tried += 1
    assert tried >= len(cls.parameter_constraints)


# ---- rate_one and rate_batch agree on every medium the rater takes -------------------------------
def _media(folder: Path) -> list[Path]:
    from affectscope.media.video import write_video

    pictures = make_good_images(folder)[:2]
    frames = [np.full((64, 96, 3), 30 + 6 * i, np.uint8) for i in range(12)]
    return [*pictures, write_video(folder / "clip.mp4", frames, fps=6, codec="mpeg4")]


@pytest.mark.parametrize("name", RATERS)
def test_rate_one_equals_rate_batch_on_pictures_videos_and_texts(name: str, tmp_path: Path) -> None:
    from affectscope.stimuli import Stimulus

    files = StimulusSet.from_list(_media(tmp_path / "media"))
    items = [s for s in files if s.media in get_rater_class(name).media]
    if "text" in get_rater_class(name).media:
        items.append(Stimulus("t1", None, "text", {"text": "a sunny birthday party"}))
    stim = StimulusSet(items)
    rater = make_rater(name, **get_rater_class(name).contract_params(tmp_path, stim))
    if not rater.contract_deterministic():
        pytest.skip(f"{name} does not promise determinism")
    batch = rater.rate_batch(list(stim))
    assert any(not isinstance(b, ItemError) for b in batch)
    for s, b in zip(stim, batch, strict=True):
        one = rater.rate_safely(s)
        assert type(one) is type(b), (s.item_id, one, b)
        if isinstance(b, ItemError):
            assert one.message == b.message
            continue
        assert one.keys() == b.keys()
        for k in b:
            x, y = one[k], b[k]
            if isinstance(x, float) and isinstance(y, float):
                assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-5), (s.item_id, k)
            else:
                assert x == y, (s.item_id, k)


PIPELINED = ["face"]


def test_the_pipelined_raters_are_those_listed() -> None:
    assert sorted(n for n in RATERS if get_rater_class(n).pipelined) == PIPELINED


@pytest.mark.parametrize("name", PIPELINED)
def test_a_pipelined_rater_run_equals_its_serial_run(name: str, tmp_path: Path, stimuli: StimulusSet) -> None:
    """Where a rater is pipelined (issue #36), a run through its two stages in worker threads gives
    the table a serial run (rate_batch per batch) gives, and its stages are what rate_batch does."""
    from affectscope.run.rate import rate

    rater = _make(name, tmp_path, stimuli)
    items = list(stimuli)
    staged = rater.finish_batch(rater.prepare_batch(items))
    assert [type(r) for r in staged] == [type(r) for r in rater.rate_batch(items)]
    piped = rate(stimuli, rater, progress=False).ratings.data
    serial_rater = _make(name, tmp_path, stimuli)
    serial_rater.pipelined = False
    assert piped.equals(rate(stimuli, serial_rater, progress=False).ratings.data)
