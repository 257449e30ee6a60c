"""Multimodal LLMs as participants in a rating experiment.

- :mod:`~affectscope.llm.protocol`: rating protocols as data (YAML files: persona, instructions,
  scales with anchors, category questions), and the questions a design asks.
- :mod:`~affectscope.llm.answers`: structured-answer schemas, validation with pydantic, refusal
  detection, logprob-expected ratings.
- :mod:`~affectscope.llm.client`: one request over any OpenAI-compatible server (openai SDK), with
  the strongest structured-output mode the server accepts.
- :mod:`~affectscope.llm.cache`: the response cache (valid answers and refusals, never failures).
- :mod:`~affectscope.llm.media`: images as data URLs, videos as keyframes with context enrichment.
- :mod:`~affectscope.llm.loopback`: a scripted OpenAI-compatible server on 127.0.0.1 (tests, demos).

The rater itself is :class:`affectscope.raters.llm.LLMRater` (``--rater llm``).
"""
