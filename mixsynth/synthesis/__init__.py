"""Synthesis: a source prepared once, then mixed block by block.

In the order a row is made:

- :mod:`~mixsynth.synthesis.columns`: each column's kind;
- :mod:`~mixsynth.synthesis.labels`, :mod:`~mixsynth.synthesis.within` and
  :mod:`~mixsynth.synthesis.groups`: the groups parents are drawn in;
- :mod:`~mixsynth.synthesis.encode`: columns to a float matrix and back;
- :mod:`~mixsynth.synthesis.draws`: parents, weights and uniforms, keyed by logical block;
- :mod:`~mixsynth.synthesis.backend` and :mod:`~mixsynth.synthesis.mix`: the kernel;
- :mod:`~mixsynth.synthesis.space`, :mod:`~mixsynth.synthesis.repair`,
  :mod:`~mixsynth.synthesis.anchor` and :mod:`~mixsynth.synthesis.balance`: the corrections;
- :mod:`~mixsynth.synthesis.bounds` and :mod:`~mixsynth.synthesis.rounding`;
- :mod:`~mixsynth.synthesis.synthesizer`, which holds the plan and runs these steps over
  the rows a :mod:`~mixsynth.synthesis.sources` strategy provides
  (:mod:`~mixsynth.synthesis.held`), and :mod:`~mixsynth.synthesis.record`, its provenance.

See docs/design.md.
"""

__all__: list[str] = []
