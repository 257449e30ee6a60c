"""What this CPU runs fast: read on first use, never at import."""

from __future__ import annotations

import platform
import warnings
from functools import lru_cache
from pathlib import Path

#: /proc/cpuinfo flags of bfloat16 matrix instructions (Intel AMX, AVX512-BF16 on Intel and AMD Zen 4+).
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def bfloat16_from_cpuinfo(text: str) -> bool | None:
    """Whether a ``/proc/cpuinfo`` text lists a bfloat16 matrix instruction set; ``None`` without flags."""
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return any(f in flags for f in BFLOAT16_FLAGS)
    return None


@lru_cache(maxsize=1)
def fast_bfloat16() -> bool | None:
    """``True`` where the CPU has bfloat16 matrix instructions, ``False`` where it has none, ``None``
    where this cannot be told (not Linux on x86-64)."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        return bfloat16_from_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return None


def warn_if_slow_bfloat16(what: str) -> None:
    """Warn that ``precision="bfloat16"`` is a slowdown, not a speed-up, on this CPU.

    Without AMX or AVX512-BF16, torch emulates bfloat16 arithmetic. Measured on a 2-core AMD EPYC
    without them (2026-11-23): EfficientNet-Lite0 2.8 vs 29.3 images/s, the FER+ network 84 vs 906
    faces/s, a training step of Lite0's top blocks 4.5 vs 0.40 s (bfloat16 vs float32)."""
    if fast_bfloat16() is False:
        warnings.warn(
            f"{what}: precision='bfloat16' on a CPU without bfloat16 matrix instructions (AMX or AVX512-BF16) "
            "runs about 10x slower than float32, with slightly different numbers. Fix: precision='float32'.",
            RuntimeWarning, stacklevel=3,
        )
