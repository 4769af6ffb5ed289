"""The stages of one experiment, each readable on its own (nnU-Net v2's ``run_training``):

    prepare -> [open_run] -> synthesize -> train -> evaluate -> record

* :func:`~benchmark.stages.prepare.prepare`: config -> methods, checks, data, device; no run exists yet, so
  every problem a user can fix is one line and leaves nothing behind;
* :func:`~benchmark.stages.open_run.open_run`: the MLflow run (new, a sweep's child, or resumed), its params;
* :func:`~benchmark.stages.synthesize.synthesize`: the generator's synthetic set composed with the real one;
* :func:`~benchmark.stages.train.train`: the detector fitted, each epoch logged to the run;
* :func:`~benchmark.stages.evaluate.evaluate`: the test split predicted and scored;
* :func:`~benchmark.stages.record.record`: metrics and artifacts written to the run
  (:mod:`benchmark.record` names them).

:func:`benchmark.runner.run_experiment` runs them all; a sweep trial stops after ``train`` with
:func:`~benchmark.stages.record.record_validation` (its objective never sees the test split).
"""
