"""The run record: what one experiment leaves in the tracking store, and how it is read back.

The writers (the runner's ``record`` stage, :mod:`benchmark.evaluation`) and the readers (the leaderboard,
ablations, sweeps, ``--resume``, the CLI) take every name from here, so the two sides cannot drift apart
(nnU-Net's ``save_summary_json`` / ``load_summary_json``):

* :mod:`benchmark.record.tags`: tag names, a run's identity and the training-set-size encoding;
* :mod:`benchmark.record.artifacts`: the artifact files of a run;
* :mod:`benchmark.record.predictions`: the ``predictions.csv`` schema, its writer and its reader;
* :mod:`benchmark.record.metrics`: metric names and specs (label, direction, digits, headline).
"""
