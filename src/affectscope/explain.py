"""Templated explanations grounded in the evidence a rater actually produced.

An explanation is built from one row of a rater's output and names nothing else: the predicted
valence and arousal, the dominant predicted emotion, the ImageNet concepts the network saw (with
the human norm of the concept word when it is a normed lemma, Warriner et al. 2013), faces and
their expressions (``face`` rater columns), and colour cues (``color`` rater columns). Quoted
terms ('tarantula') are always concepts from the row; :func:`grounding_problems` checks that.
LLM-written explanations come from the participant protocol instead (``explanation: true``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

#: word -> (the normed word used, its valence 1-9), or None when neither it nor its last word is normed
WordNorm = Callable[[str], "tuple[str, float] | None"]
EMOTION_SETS = {
    "emotion6": ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"),
    "ferplus8": ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"),
}


def _num(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def valence_word(v: float, low: float = 1, high: float = 9) -> str:
    x = (v - low) / (high - low)
    return ("negative" if x < 0.3125 else "somewhat negative" if x < 0.4375 else "neutral" if x <= 0.5625
            else "somewhat positive" if x <= 0.6875 else "positive")


def arousal_word(a: float, low: float = 1, high: float = 9) -> str:
    x = (a - low) / (high - low)
    return "calming" if x < 0.3125 else "moderately arousing" if x <= 0.5625 else "arousing"


def parse_concepts(text: str) -> list[tuple[str, float]]:
    """``"tarantula 0.62; barn spider 0.20"`` -> ``[("tarantula", 0.62), ("barn spider", 0.2)]``."""
    out = []
    for part in (text or "").split(";"):
        m = re.match(r"^\s*(.+?)\s+([0-9.]+)\s*$", part)
        if m:
            out.append((m.group(1), float(m.group(2))))
    return out


def warriner_norm() -> WordNorm | None:
    """Valence of a word from the Warriner norms (exact lemma, or the phrase's last word), if available."""
    try:
        from affectscope.text.affect import TextAffect
        from affectscope.text.norms import load_warriner

        ta = TextAffect(norms=load_warriner(fetch=False), model=False)  # never a download while rating
        ta.lookup("test")
    except Exception:  # noqa: BLE001 - no norms in the cache: explanations go without word norms
        return None

    def norm(word: str) -> tuple[str, float] | None:
        hit = ta.lookup(word)
        if hit is not None:
            return word, float(hit[0])
        last = word.strip().split()[-1] if word.strip() else ""
        hit = ta.lookup(last) if last and last != word else None
        return None if hit is None else (last, float(hit[0]))

    return norm


def explain_row(row: Mapping[str, Any], *, word_norm: WordNorm | None = None, max_concepts: int = 2,
                subject: str = "picture") -> str:
    """One or two sentences about one item, from its own output only (``subject``: what the
    concepts were seen in, e.g. "picture" or "video's frames")."""
    parts: list[str] = []
    v, a = _num(row, "valence"), _num(row, "arousal")
    v = None if v is None else round(v, 1)  # the words follow the numbers as printed
    a = None if a is None else round(a, 1)
    if v is not None:
        head = f"Likely {valence_word(v)} (valence {v:.1f}/9)"
        if a is not None:
            head += f" and {arousal_word(a)} (arousal {a:.1f}/9)"
        parts.append(head)
    elif a is not None:
        parts.append(f"Likely {arousal_word(a)} (arousal {a:.1f}/9)")
    emo = [(e, _num(row, e)) for e in EMOTION_SETS["emotion6"] if _num(row, e) is not None]
    if emo and not _is_face_row(row):
        e, p = max(emo, key=lambda t: t[1])  # type: ignore[arg-type,return-value]
        parts.append(f"the strongest predicted emotion is {e} ({p:.2f})")
    concepts = parse_concepts(str(row.get("concepts") or ""))[:max_concepts]
    if concepts:
        bits = []
        for name, p in concepts:
            n = word_norm(name) if word_norm else None
            if n is None:
                bits.append(f"'{name}' ({p:.2f})")
            elif n[0] == name:
                bits.append(f"'{name}' ({p:.2f}; word valence {n[1]:.1f}/9)")
            else:
                bits.append(f"'{name}' ({p:.2f}; valence of the word {n[0]} {n[1]:.1f}/9)")
        verb = "resemble" if subject.endswith("s") else "resembles"
        parts.append(f"the {subject} most {verb} " + " and ".join(bits))
    face = _face_sentence(row)
    if face:
        parts.append(face)
    colour = _colour_sentence(row)
    if colour:
        parts.append(colour)
    if not parts:
        return ""
    text = parts[0] + (": " + "; ".join(parts[1:]) if len(parts) > 1 else "") + "."
    return text[0].upper() + text[1:]


def _is_face_row(row: Mapping[str, Any]) -> bool:
    return "n_faces" in row


def _face_sentence(row: Mapping[str, Any]) -> str:
    n = _num(row, "n_faces")
    if n is None:
        return ""
    if n == 0:
        return "no face was found"
    probs = [(e, _num(row, e)) for e in EMOTION_SETS["ferplus8"] if _num(row, e) is not None]
    if not probs:
        return f"{int(n)} face(s) found"
    e, p = max(probs, key=lambda t: t[1])  # type: ignore[arg-type,return-value]
    lead = "a face shows" if n == 1 else f"{int(n)} faces; the largest shows"
    episode = str(row.get("episode") or "")
    return f"{lead} {e} ({p:.2f})" + (f"; strongest episode: {episode}" if episode else "")


def _colour_sentence(row: Mapping[str, Any]) -> str:
    b, s = _num(row, "brightness"), _num(row, "saturation")
    bits = []
    if b is not None:
        bits.append("dark" if b < 0.3 else "bright" if b > 0.7 else "")
    if s is not None:
        bits.append("muted" if s < 0.2 else "saturated" if s > 0.6 else "")
    bits = [x for x in bits if x]
    return ("the colours are " + " and ".join(bits) + f" (brightness {b:.2f}" + (f", saturation {s:.2f})" if s is not None else ")")) if bits and b is not None else ""


def evidence_terms(row: Mapping[str, Any]) -> set[str]:
    """Every term an explanation of ``row`` may quote: the concepts in its output."""
    return {name for name, _ in parse_concepts(str(row.get("concepts") or ""))}


def grounding_problems(explanation: str, row: Mapping[str, Any]) -> list[str]:
    """Quoted terms and emotion names in ``explanation`` that the row's output does not contain."""
    # a quoted concept is always followed by its probability in parentheses; matching up to "' ("
    # keeps apostrophes inside names ("potter's wheel", "jack-o'-lantern") in the name
    problems = [f"names {q!r}, which is not among the concepts the rater saw"
                for q in re.findall(r"'(.+?)' \(", explanation) if q not in evidence_terms(row)]
    for names in EMOTION_SETS.values():
        for e in names:
            if re.search(rf"\b(?:emotion is|shows) {e}\b", explanation) and _num(row, e) is None:
                problems.append(f"names the emotion {e!r}, which the rater did not output")
    return problems


# ---- evaluating explanations (ArtEmis / Affection style) -------------------------------------------
class ExplanationReport:
    """How explanations relate to the ratings they explain and to humans.

    Attributes
    ----------
    n : int
    alignment_rated : float
        Pearson r between the text-affect valence of each explanation and the rated valence.
    alignment_human : float or None
        The same against human valence, when given.
    mean_words, distinct_1, distinct_2 : float
        Length and diversity (distinct unigrams / bigrams over all explanations, Li et al. 2016).
    grounded : float
        Share of explanations with no grounding problem (when the rows are given).
    """

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        d = self.__dict__
        lines = [f"{d['n']} explanations: {d['mean_words']:.1f} words on average, distinct-1 {d['distinct_1']:.3f}, "
                 f"distinct-2 {d['distinct_2']:.3f}",
                 f"emotion alignment (text-affect valence of the explanation vs the rating): r = {d['alignment_rated']:.3f}"]
        if d.get("alignment_human") is not None:
            lines.append(f"vs human valence: r = {d['alignment_human']:.3f}")
        if d.get("grounded") is not None:
            lines.append(f"grounded (names only evidence in the row): {d['grounded']:.1%}")
        return "\n".join(lines)


def _strip_numbers(text: str) -> str:
    """The explanation without its printed numbers, so alignment measures the words, not '2.6/9'."""
    return re.sub(r"\([^)]*\)", "", text)


def evaluate_explanations(
    explanations: list[str], rated_valence: list[float], *, human_valence: list[float] | None = None,
    rows: list[Mapping[str, Any]] | None = None, text_affect: Any = None,
) -> ExplanationReport:
    """Emotion alignment, length/diversity and grounding of a set of explanations.

    ``text_affect`` is anything with ``score(texts) -> DataFrame`` with a ``valence`` column
    (default :class:`affectscope.text.affect.TextAffect`). Numbers in parentheses are removed
    before scoring, so a templated "valence 2.6/9" cannot align by itself.
    """
    import numpy as np

    if len(explanations) != len(rated_valence):
        raise ValueError(f"{len(explanations)} explanations but {len(rated_valence)} ratings")
    if len(explanations) < 3:
        raise ValueError("need at least 3 explanations to correlate")
    if text_affect is None:
        from affectscope.text.affect import TextAffect

        text_affect = TextAffect()
    tv = np.asarray(text_affect.score([_strip_numbers(e) for e in explanations])["valence"], float)

    def r(a: Any, b: Any) -> float:
        a, b = np.asarray(a, float), np.asarray(b, float)
        ok = ~(np.isnan(a) | np.isnan(b))
        return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")

    tokens = [re.findall(r"[a-z']+", e.lower()) for e in explanations]
    uni = [t for ts in tokens for t in ts]
    bi = [(a, b) for ts in tokens for a, b in zip(ts, ts[1:])]
    grounded = None
    if rows is not None:
        grounded = float(np.mean([not grounding_problems(e, row) for e, row in zip(explanations, rows, strict=True)]))
    return ExplanationReport(
        n=len(explanations), alignment_rated=r(tv, rated_valence),
        alignment_human=None if human_valence is None else r(tv, human_valence),
        mean_words=float(np.mean([len(t) for t in tokens])),
        distinct_1=len(set(uni)) / max(1, len(uni)), distinct_2=len(set(bi)) / max(1, len(bi)), grounded=grounded,
    )
