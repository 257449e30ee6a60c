"""Is one rater closer to the humans than another, on the same items?

Two raters A and B rated the same items as the humans H. Their correlations with H share H, so
they are dependent and the two CIs overlapping says little. Two tests of ``r(A, H) - r(B, H)``:

* Williams' t (Williams 1959; the form recommended by Steiger 1980, Psychol Bull 87:245, eq. 7),
  which uses ``r(A, B)`` too: ``t`` on ``n - 3`` degrees of freedom, for items that are independent.
* A paired bootstrap: items (or whole clusters of items, such as OASIS themes) resampled once for
  both raters, the difference recomputed: a percentile CI and a two-sided p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from affectscope.compare.items import rowwise_pearson
from affectscope.compare.pairing import cluster_members


def williams_t(r_ah: float, r_bh: float, r_ab: float, n: int) -> tuple[float, float]:
    """Williams' t for ``r_ah - r_bh`` (two correlations sharing H) and its two-sided p-value (df ``n - 3``)."""
    if n < 4:
        return float("nan"), float("nan")
    det = 1 - r_ah**2 - r_bh**2 - r_ab**2 + 2 * r_ah * r_bh * r_ab
    mean = (r_ah + r_bh) / 2
    denom = 2 * (n - 1) / (n - 3) * det + mean**2 * (1 - r_ab) ** 3
    if denom <= 0:
        return float("nan"), float("nan")
    t = (r_ah - r_bh) * np.sqrt((n - 1) * (1 + r_ab) / denom)
    return float(t), float(2 * stats.t.sf(abs(t), n - 3))


@dataclass
class PairedDifference:
    """``r(A, H) - r(B, H)`` on the same ``n`` items, with Williams' t and a paired bootstrap."""

    n: int
    r_a: float
    r_b: float
    r_ab: float
    delta: float
    delta_lo: float
    delta_hi: float
    p_bootstrap: float
    williams_t: float
    williams_p: float
    n_clusters: int

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def paired_difference(a: np.ndarray, b: np.ndarray, h: np.ndarray, *, n_boot: int = 2000, ci: float = 0.95,
                      rng: np.random.Generator | None = None, groups: Sequence[object] | None = None) -> PairedDifference:
    """Compare two raters' Pearson r with the humans on the same items.

    Parameters
    ----------
    a, b, h : arrays of shape (n,)
        Rater A, rater B and the humans, item by item (no NaN).
    n_boot : int
        Bootstrap resamples (0: Williams' t alone).
    groups : sequence, optional
        A cluster per item: the bootstrap then resamples whole clusters (Williams' t assumes
        independent items and is reported as it is).
    """
    a, b, h = (np.asarray(v, float) for v in (a, b, h))
    if not (len(a) == len(b) == len(h)):
        raise ValueError(f"a, b and h must rate the same items: lengths {len(a)}, {len(b)}, {len(h)}")
    n = len(a)
    r_a, r_b, r_ab = (float(stats.pearsonr(u, v)[0]) for u, v in ((a, h), (b, h), (a, b)))
    t, p_t = williams_t(r_a, r_b, r_ab, n)
    lo = hi = p_boot = float("nan")
    members = cluster_members(groups) if groups is not None else [np.array([i]) for i in range(n)]
    if n_boot:
        rng = rng or np.random.default_rng(0)
        picks = rng.integers(0, len(members), size=(n_boot, len(members)))
        idx = [np.concatenate([members[j] for j in row]) for row in picks]
        # clusters of unequal size give resamples of unequal length: compute row by row in that case
        if len({len(i) for i in idx}) == 1:
            ii = np.stack(idx)
            d = rowwise_pearson(a[ii], h[ii]) - rowwise_pearson(b[ii], h[ii])
        else:
            d = np.array([rowwise_pearson(a[i][None], h[i][None])[0] - rowwise_pearson(b[i][None], h[i][None])[0] for i in idx])
        d = d[np.isfinite(d)]
        if len(d):
            alpha = (1 - ci) / 2
            lo, hi = (float(q) for q in np.quantile(d, [alpha, 1 - alpha]))
            p_boot = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()) + 1 / (len(d) + 1)))
    return PairedDifference(n=n, r_a=r_a, r_b=r_b, r_ab=r_ab, delta=r_a - r_b, delta_lo=lo, delta_hi=hi, p_bootstrap=p_boot,
                            williams_t=t, williams_p=p_t, n_clusters=len(members))
