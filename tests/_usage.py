"""Stand-ins for the files the README's and the docs' command lines name, small, and the helpers
that read those lines (used by tests/test_readme.py and tests/test_docs_lines.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from affectscope.media.video import write_video
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.taxonomy import EMOTION6, PROBABILITY, SAM_VALENCE

EMOTIONS = list(EMOTION6.columns)


def shell_lines(markdown: str, heading: str) -> list[str]:
    """The command lines of the ```bash blocks under ``heading`` (up to the next heading of its
    level), continuation lines joined."""
    level = heading.split(" ")[0]
    section = markdown.split(heading, 1)[1]
    section = re.split(rf"\n{level} ", section, maxsplit=1)[0]
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def python_block(markdown: str, heading: str) -> str:
    section = markdown.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)  # type: ignore[union-attr]


def _picture(path: Path, seed: int, size: int = 96) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    noise = rng.normal(0, 40, (size, size, 3))
    ramp = np.linspace(0, 1, size)[None, :, None] * rng.integers(-120, 120, 3)
    Image.fromarray(np.clip(base + noise + ramp, 0, 255).astype(np.uint8)).save(path)


def _ratings_table(ids: list[str], rng: np.random.Generator) -> Ratings:
    probs = rng.dirichlet(np.ones(len(EMOTIONS)), len(ids))
    df = pd.DataFrame(probs, columns=EMOTIONS)
    df.insert(0, "item_id", ids)
    df["valence"] = rng.uniform(2, 8, len(ids))
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE)] + [
        ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=EMOTION6.name) for c in EMOTIONS]
    return Ratings(df, specs, RaterInfo(name="lab"))


def build_scratch(folder: Path) -> Path:
    """The files the README's lines name, small; returns the data root (a miniature OASIS)."""
    rng = np.random.default_rng(0)
    data = folder / "data"
    oasis = data / "oasis" / "images"
    oasis.mkdir(parents=True)
    themes = [f"{word} {k}" for word in ("Dog", "Lake", "Fire", "Tree") for k in range(1, 7)]  # 24 pictures, 4 themes
    for i, t in enumerate(themes):
        _picture(oasis / f"{t}.jpg", i)
    pd.DataFrame({
        "Theme": themes, "Category": ["Animal"] * 6 + ["Scene"] * 12 + ["Object"] * 6, "Source": "test",
        "Valence_mean": rng.uniform(1.5, 6.5, 24), "Valence_SD": rng.uniform(0.8, 1.6, 24), "Valence_N": 100,
        "Arousal_mean": rng.uniform(1.5, 6.5, 24), "Arousal_SD": rng.uniform(0.8, 1.6, 24), "Arousal_N": 100,
    }).to_csv(data / "oasis" / "OASIS.csv")
    # photos/: six of the OASIS pictures, so norms:oasis lines find them (--drop-missing for the rest)
    (folder / "photos").mkdir()
    for t in themes[::4]:
        (folder / "photos" / f"{t}.jpg").write_bytes((oasis / f"{t}.jpg").read_bytes())
    photos = sorted(p.name for p in (folder / "photos").iterdir())
    pd.DataFrame({"path": [f"photos/{p}" for p in photos], "name": [p.rsplit(".", 1)[0] for p in photos]}).to_csv(
        folder / "list.csv", index=False)
    _picture(folder / "img.jpg", 99)
    (folder / "imgs").mkdir()
    for k in range(2):
        _picture(folder / "imgs" / f"i{k}.jpg", 50 + k)
    # my_stimuli/ + my_norms.csv (a saved table: valence and the Emotion6 distribution)
    for name in ("my_stimuli", "stimuli"):
        (folder / name).mkdir()
        for i, t in enumerate(themes):
            (folder / name / f"s{i:02d}.jpg").write_bytes((oasis / f"{t}.jpg").read_bytes())
    ids = sorted(p.name for p in (folder / "my_stimuli").iterdir())
    _ratings_table(ids, rng).save(folder / "my_norms.csv")
    # lab.csv: a plain spreadsheet with its own column names (train reads file/valence, compare stimulus/Valence_mean)
    pd.DataFrame({"file": ids, "valence": rng.uniform(1, 7, len(ids))}).to_csv(folder / "lab.csv", index=False)
    # humans.csv and lab_norms.csv describe the photos (ids as `rate photos/` gives them)
    _ratings_table(photos, rng).save(folder / "humans.csv")
    lab = pd.DataFrame({"stimulus": photos, "valence": rng.uniform(1, 7, len(photos))})
    lab[EMOTIONS] = rng.dirichlet(np.ones(len(EMOTIONS)), len(photos))
    lab.to_csv(folder / "lab_norms.csv", index=False)
    frames = [np.clip(np.full((64, 64, 3), 90 + 3 * k) + rng.normal(0, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
              for k in range(30)]
    write_video(folder / "clip.mp4", frames, fps=10)
    (folder / "clips").mkdir()
    write_video(folder / "clips" / "c1.mp4", frames[:20], fps=10)
    return data


def lab_for_compare(folder: Path, with_categories: bool = False) -> None:
    """lab.csv for the compare lines: the photos' ids and valence under another name, or (for a
    line that compares categories) ``valence`` and the Emotion6 distribution."""
    photos = sorted(p.name for p in (folder / "photos").iterdir())
    if not with_categories:
        pd.DataFrame({"stimulus": photos, "Valence_mean": np.linspace(2, 6, len(photos))}).to_csv(folder / "lab.csv", index=False)
        return
    lab = pd.DataFrame({"stimulus": photos, "valence": np.linspace(2, 6, len(photos))})
    lab[EMOTIONS] = np.random.default_rng(2).dirichlet(np.ones(len(EMOTIONS)), len(photos))
    lab.to_csv(folder / "lab.csv", index=False)


def build_docs_scratch(folder: Path, data: Path) -> None:
    """What the docs' lines name beyond the README's stand-ins (:func:`build_scratch` first)."""
    import shutil

    rng = np.random.default_rng(1)
    photos = sorted(p.name for p in (folder / "photos").iterdir())
    # rating tables of the photos, as `affectscope rate` writes them (valence, arousal, Emotion6)
    for name in ("ratings.csv", "model.csv"):
        table = _ratings_table(photos, rng)
        table.data["arousal"] = rng.uniform(2, 8, len(photos))
        from affectscope.taxonomy import SAM_AROUSAL

        Ratings(table.data, [*table.columns.values(), ColumnSpec(name="arousal", scale=SAM_AROUSAL)], table.rater).save(folder / name)
    # oasis/images: the miniature OASIS pictures under the name the docs use
    shutil.copytree(data / "oasis" / "images", folder / "oasis" / "images")
    # 48x48 grey face crops (the FER+ format) under both names the docs use
    from skimage import data as skdata

    face = np.asarray(Image.fromarray(skdata.astronaut()[30:190, 160:320]).convert("L").resize((48, 48)))
    for name in ("ferplus_faces", "faces"):
        (folder / name).mkdir()
        for k in range(4):
            noisy = np.clip(face.astype(int) + rng.integers(-20, 20, face.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(folder / name / f"f{k}.png")
    # ten short clips and their norms (train --frames: grouped CV needs a video per fold)
    frames = [np.clip(np.full((64, 64, 3), 80 + 5 * k) + rng.normal(0, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
              for k in range(20)]
    for k in range(10):
        write_video(folder / "clips" / f"v{k}.mp4", [np.clip(f.astype(int) + 8 * k, 0, 255).astype(np.uint8) for f in frames],
                    fps=10)
    clip_ids = sorted(p.name for p in (folder / "clips").iterdir())
    Ratings(pd.DataFrame({"item_id": clip_ids, "valence": rng.uniform(2, 8, len(clip_ids))}),
            [ColumnSpec(name="valence", scale=SAM_VALENCE)], RaterInfo(name="clip norms")).save(folder / "clip_norms.csv")
    shutil.copy(folder / "clip.mp4", folder / "long.mp4")
    # imgs/ (random pictures for the README) gets four OASIS pictures: the docs compare the LLM's ratings with norms:oasis
    for p in sorted((folder / "photos").iterdir())[:4]:
        shutil.copy(p, folder / "imgs" / p.name)
    # the LLM lines' stimulus lists: pictures with a category, and text scenes
    stims = sorted((folder / "stimuli").iterdir())
    pd.DataFrame({"path": [f"stimuli/{p.name}" for p in stims],
                  "category": ["animal", "scene", "object"] * (len(stims) // 3) + ["scene"] * (len(stims) % 3)}).to_csv(
        folder / "stimuli.csv", index=False)
    pd.DataFrame({"id": ["s1", "s2"], "text": ["a dog runs on a beach", "a house on fire at night"]}).to_csv(
        folder / "scenes.csv", index=False)
    build_brain_scratch(folder)


def build_brain_scratch(folder: Path) -> None:
    """docs/brain.md's brain data for the pictures of ``stimuli/``: responses of 12 targets in two
    repeats and four runs (brain.csv), and an RDM of them (brain_rdm.npz)."""
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(3)
    ids = sorted(p.name for p in (folder / "stimuli").iterdir())
    signal = rng.standard_normal((len(ids), 12))
    rows = [{"item_id": item, "repeat": r, "run": k % 4, **{f"v{j}": float(signal[k, j] + rng.standard_normal()) for j in range(12)}}
            for r in (0, 1) for k, item in enumerate(ids)]
    pd.DataFrame(rows).to_csv(folder / "brain.csv", index=False)
    np.savez(folder / "brain_rdm.npz", rdm=squareform(pdist(signal, "correlation")), item_ids=np.array(ids))
