"""``benchmark sweep``: an Optuna study per (task, aug, detector) question, trials tracked as MLflow child
runs, on one machine or many workers sharing one RDB storage (see :mod:`benchmark.sweep.worker`)."""
