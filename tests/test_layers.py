"""The package's layers only point down: no module imports (at the top or inside a function) a
module of a higher layer, and modules of one layer import each other only within their own
sub-package. docs/architecture.md draws the same layers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import affectscope

ROOT = Path(affectscope.__file__).parent

#: Layers, bottom first. A module belongs to the longest prefix listed.
LAYERS: list[tuple[str, ...]] = [
    # 0 helpers (and the package root, which imports nothing until an attribute is used)
    ("affectscope", "affectscope._ray", "affectscope._checks", "affectscope._params", "affectscope._cpu", "affectscope._files", "affectscope._hashing", "affectscope._lazy", "affectscope._onnx",
     "affectscope._install", "affectscope._progress"),
    # 1 vocabulary: scales, categories, crosswalks; the table of pretrained weights
    ("affectscope.taxonomy", "affectscope.backbones.weights"),
    # 2 data: stimuli, rating tables, decoding
    ("affectscope.stimuli", "affectscope.ratings", "affectscope.media", "affectscope.brain.activations", "affectscope.brain.brain_data"),
    # 3 building blocks: the run store, heads, face models, comparisons
    ("affectscope.run.store", "affectscope.training.heads", "affectscope.faces", "affectscope.compare"),
    # 4 networks (with the face channel), text models, LLM requests and media
    ("affectscope.backbones", "affectscope.text", "affectscope.training.derived", "affectscope.llm"),
    # 5 feature extraction, explanations
    ("affectscope.training.features", "affectscope.explain", "affectscope.brain.encoding", "affectscope.brain.layer_rsa"),
    # 6 training
    ("affectscope.training.train", "affectscope.training"),
    # 7 raters
    ("affectscope.raters",),
    # 8 running raters, human norms, reports
    ("affectscope.run.rate", "affectscope.run", "affectscope.norms", "affectscope.probes", "affectscope.samples", "affectscope.report",
     "affectscope.brain.extract", "affectscope.brain", "affectscope.run.ray_engine"),
    # 9 studies: several raters, the same humans
    ("affectscope.study",),
    # 10 the command line
    ("affectscope.cli",),
]


def _layer(module: str) -> tuple[int, str]:
    """(layer index, the prefix that placed it)."""
    best = (-1, "")
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > len(best[1]):
                best = (i, p)
    return best


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(ROOT.rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        out[".".join(("affectscope", *parts)).removesuffix(".__init__")] = f
    return out


def _imports(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the module's package
                base = module.split(".")[: -node.level if not path.name == "__init__.py" else len(module.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("affectscope"):
                found.add(name)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("affectscope"))
    return found


def _package(module: str) -> str:
    """The sub-package a module belongs to (the private helpers and the package root count as one)."""
    parts = module.split(".")
    return "affectscope._" if len(parts) == 1 or parts[1].startswith("_") else ".".join(parts[:2])


def test_every_module_has_a_layer() -> None:
    missing = [m for m in _modules() if _layer(m)[0] < 0]
    assert not missing, f"place these modules in a layer of tests/test_layers.py and docs/architecture.md: {missing}"


def test_imports_only_point_down() -> None:
    wrong = []
    for module, path in _modules().items():
        here, _ = _layer(module)
        for target in _imports(path, module):
            there, _ = _layer(target)
            if there > here or (there == here and _package(target) != _package(module)):
                wrong.append(f"{module} (layer {here}) imports {target} (layer {there})")
    assert not wrong, "imports that do not point down:\n" + "\n".join(sorted(wrong))


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself works: a face model importing a rater is caught."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from affectscope.raters.face import FaceRater\n", encoding="utf-8")
    targets = _imports(f, "affectscope.faces.x")
    assert targets == {"affectscope.raters.face"}
    assert _layer("affectscope.raters.face")[0] > _layer("affectscope.faces.x")[0]


def test_docs_architecture_lists_every_module() -> None:
    """docs/architecture.md matches the tree: every module is in its table (sub-package
    ``__init__`` files, ``__main__`` and the norm loaders' folder excepted)."""
    doc = (ROOT.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w/]+\.py)`", doc))
    missing = []
    for module, path in _modules().items():
        rel = path.relative_to(ROOT).as_posix()
        if path.name in ("__init__.py", "__main__.py") and rel != "__init__.py" and rel != "cli/__init__.py":
            continue
        if rel.startswith("norms/") or rel.startswith("raters/heads/"):
            continue
        if rel not in listed:
            missing.append(rel)
    assert not missing, f"add these modules to docs/architecture.md: {missing}"
