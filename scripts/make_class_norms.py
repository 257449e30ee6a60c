"""Write the word norms of the 1,000 ImageNet classes that the image heads' concept-norm channel reads.

For each class, its first WordNet lemma (as `affectscope rate` lists concepts) gets valence,
arousal and dominance on the 1-9 scale from ``TextAffect(mpnet=True)``: the Warriner et al. (2013)
norm when the lemma is normed, otherwise the text-affect model's prediction. The table goes to
``src/affectscope/backbones/imagenet_class_norms.tsv``. Needs MPNet: ``affectscope text fetch-mpnet``.

Usage: python scripts/make_class_norms.py [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from affectscope.training.derived import CLASS_NORMS_FILE
from affectscope.raters.image import imagenet_labels
from affectscope.text.affect import TextAffect

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "src" / "affectscope" / "backbones" / CLASS_NORMS_FILE))
    args = ap.parse_args()
    lemmas = imagenet_labels()
    scores = TextAffect(mpnet=True).score([name.replace("_", " ") for name in lemmas])
    lines = ["# Valence, arousal and dominance (1-9) of each ImageNet-1k class's first lemma, in class order.",
             "# source 'norm': Warriner, Kuperman & Brysbaert (2013) norms; otherwise affectscope's text-affect model",
             "# (TextAffect(mpnet=True)). Made by scripts/make_class_norms.py.",
             "index\tlemma\tvalence\tarousal\tdominance\tsource"]
    for k, (lemma, row) in enumerate(zip(lemmas, scores.itertuples(index=False), strict=True)):
        lines.append(f"{k}\t{lemma}\t{row.valence:.4f}\t{row.arousal:.4f}\t{row.dominance:.4f}\t{row.source}")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lemmas)} classes ({(scores['source'] == 'norm').sum()} normed) -> {args.out}")


if __name__ == "__main__":
    main()
