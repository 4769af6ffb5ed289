"""The artifact files of a finished run (nnU-Net keeps the same next to each fold's model).

* ``config.yaml``: the resolved configuration; ``splits.json``: the image ids of train, val and test;
* ``summary.json``: the test metrics, per-landmark MRE, protocol and timing;
* ``predictions.csv``: one row per scored test instance (:mod:`benchmark.record.predictions`);
* ``overlays.png``, ``curves.png``: predictions on test images, training curves (when it trained);
* ``synthetic_quality.csv``, ``synthetic_samples.png``: per generated image quality, and a grid of them
  (when a generator ran).
"""

CONFIG = "config.yaml"
SPLITS = "splits.json"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.csv"
OVERLAYS = "overlays.png"
CURVES = "curves.png"
SYNTHETIC_QUALITY = "synthetic_quality.csv"
SYNTHETIC_SAMPLES = "synthetic_samples.png"
