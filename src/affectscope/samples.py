"""License-clean sample photographs for the demo: scikit-image's bundled images (public domain / CC0)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: file name in scikit-image's data folder -> (what it shows, license as scikit-image states it)
SAMPLES: dict[str, tuple[str, str]] = {
    "astronaut.png": ("astronaut Eileen Collins, portrait", "public domain (NASA)"),
    "coffee.png": ("a cup of coffee", "CC0 (Rachel Michetti)"),
    "chelsea.png": ("Chelsea the cat", "CC0 (Stefan van der Walt)"),
    "rocket.jpg": ("a rocket launch", "public domain (SpaceX)"),
    "hubble_deep_field.jpg": ("Hubble deep field galaxies", "public domain (NASA)"),
    "retina.jpg": ("a human retina, fundus photograph", "CC0 (Häggström)"),
    "camera.png": ("a man with a camera, grey", "CC0 (Lav Varshney)"),
    "coins.png": ("Greek coins, grey", "no known copyright restrictions"),
    "horse.png": ("a horse silhouette", "CC0 (Andreas Preuss)"),
    "ihc.png": ("immunohistochemistry stain", "no known copyright restrictions"),
    "grass.png": ("grass texture, grey", "CC0 (CC0Textures)"),
    "gravel.png": ("gravel texture, grey", "CC0 (CC0Textures)"),
    "brick.png": ("brick wall texture, grey", "CC0 (CC0Textures)"),
}


def sample_paths() -> list[Path]:
    """Paths of the bundled sample images that are present in the installed scikit-image."""
    base = Path(str(files("skimage") / "data"))
    found = [base / name for name in SAMPLES if (base / name).is_file()]
    if not found:
        raise FileNotFoundError(f"scikit-image's sample images were not found in {base}; reinstall scikit-image")
    return found
