"""Aggregation over repetitions and paired significance against each row's baseline.

**Aggregate.** Runs are grouped by (detector, train_size, aug); each metric is summarised by the mean and
the sample SD (``ddof=1``; 0 for a single run) over the group's runs, i.e. over seeds and folds.

**Baseline of a row** (:func:`row_baseline`). A composed augmentation ``T+G`` (a transform plus a
generator, e.g. ``classic+ddpm``) is compared with its transform alone (``classic``): what the generator
adds on top of it. Every other augmentation, the transform alone included, is compared with the baseline
(``none``); the baseline itself is compared with nothing.

**Paired test.** Within one (detector, train_size) group each augmentation is compared with its
baseline on the *same test images*: a run's per-image value is the image's MRE over its
landmarks (landmark tasks) or its Dice (segmentation). Pairs are matched on (seed, fold, image): only
the seeds *both* methods ran count (a seed that only one of them ran would turn the comparison into one
of seeds: on a campaign still in progress, a baseline with an extra unlucky seed made an identical
method look significantly better), and each method's values are then averaged over those seeds, per
(fold, image); the pairs are the images both methods were scored on. A row whose baseline has no runs
in the group (or none that pair with it) has no test. The test is the two-sided Wilcoxon signed-rank
test (``scipy.stats.wilcoxon``, zero differences dropped; p = 1 when every difference is zero).

**Families.** The p-values are corrected for multiple comparisons within each (detector, train_size,
baseline) family: the comparisons against ``classic`` are one family, those against ``none`` another.
Within a family of ``m`` comparisons Holm's step-down method sorts the p-values ascending and sets
``p_(i) <- max_{j <= i} min(1, (m - j + 1) p_(j))``.

**What p covers.** The test's unit is the test image, so p says how consistently, image by image, two
trained detectors differ; it does not contain the run-to-run variance of training itself (the seed's
initialisation, batch order and early stopping), which with a few seeds is seen only in the SD over
seeds. A difference within that SD can therefore read as significant; every table says so
(:data:`benchmark.leaderboard.render.IMAGE_PAIRING_NOTE`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.record import tags
from benchmark.record.metrics import ACCEPTANCE_RATE
from benchmark.registry import augmentation_parts

GROUP = [tags.DETECTOR, tags.TRAIN_SIZE, tags.AUG]
FAMILY = [tags.DETECTOR, tags.TRAIN_SIZE, "baseline"]


def aggregate(runs: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per (detector, train_size, aug): ``n_runs``, ``<metric>_mean`` and ``<metric>_sd``."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        row = dict(zip(GROUP, key), n_runs=len(group))
        for metric in metrics:
            values = (group[f"metrics.{metric}"].astype(float) if f"metrics.{metric}" in group
                      else pd.Series(dtype=float))
            values = values.dropna()
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else (0.0 if len(values) else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def zero_acceptance(table: pd.DataFrame) -> pd.Series:
    """Which rows of an :func:`aggregate` table have a mean acceptance rate of 0: generator rows that
    trained on real images only (False where no acceptance rate was logged)."""
    column = f"{ACCEPTANCE_RATE}_mean"
    return table[column] == 0 if column in table else pd.Series(False, index=table.index)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (module docstring)."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def wilcoxon_p(differences: np.ndarray) -> float:
    from scipy.stats import wilcoxon

    differences = differences[differences != 0]
    if differences.size == 0:
        return 1.0
    return float(wilcoxon(differences, zero_method="wilcox", alternative="two-sided").pvalue)


def row_baseline(aug: str, baseline: str = "none") -> str | None:
    """The augmentation ``aug`` is tested against (module docstring): the transform ``T`` of a composed
    ``T+G``, else ``baseline``; None for ``baseline`` itself."""
    parts = augmentation_parts(aug)
    if len(parts) == 2:
        return parts[0]
    return None if aug == baseline else baseline


def paired_difference(values: pd.Series, reference: pd.Series) -> dict[str, float] | None:
    """The paired comparison of two methods' per-image values, each indexed by ``seed`` and the levels that
    name one test image (fold and image_id, and test_digest where the runs may come from other test sets):
    ``n_seeds`` (seeds both ran), ``n_pairs`` (images), ``mean`` and ``reference_mean`` (each method's
    mean over the paired images, per image averaged over the seeds both ran: the table's means where both
    ran the same seeds), ``median_difference`` (method - reference), the Wilcoxon ``p`` and ``identical``
    (every difference is 0); None when nothing pairs (no shared seed, or scored on different test
    images)."""
    paired = pd.concat([values, reference], axis=1, join="inner").dropna()
    if paired.empty:
        return None
    n_seeds = paired.index.get_level_values("seed").nunique()
    image = [level for level in paired.index.names if level != "seed"]
    paired = paired.groupby(level=image, observed=True).mean()
    differences = (paired.iloc[:, 0] - paired.iloc[:, 1]).to_numpy()
    return {"n_seeds": n_seeds, "n_pairs": len(paired), "mean": float(paired.iloc[:, 0].mean()),
            "reference_mean": float(paired.iloc[:, 1].mean()),
            "median_difference": float(np.median(differences)), "p": wilcoxon_p(differences),
            "identical": not differences.any()}


def paired_tests(runs: pd.DataFrame, per_image: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """Each aug against its :func:`row_baseline` within its (detector, train_size) group, Holm-adjusted
    within each (detector, train_size, baseline) family.

    ``runs`` carries ``run_id``, ``seed`` and the group columns; ``per_image`` has one row per run and test
    image: ``run_id``, ``fold``, ``image_id`` and ``value``. Returns one row per comparison: the group, aug
    and ``baseline``, the :func:`paired_difference` columns and the Holm-adjusted ``p_holm``; rows whose
    baseline has no runs that pair with them are left out."""
    keyed = per_image.merge(runs[["run_id", "seed", *GROUP]], on="run_id")
    means = keyed.groupby([*GROUP, "seed", "fold", "image_id"], observed=True, sort=True)["value"].mean()
    rows = []
    for (detector, train_size), group in means.groupby(level=["detector", "train_size"], sort=True):
        by_aug = {aug: values.droplevel(GROUP) for aug, values in group.groupby(level="aug")}
        for aug, values in sorted(by_aug.items()):
            reference = row_baseline(aug, baseline)
            compared = paired_difference(values, by_aug[reference]) if reference in by_aug else None
            if compared is not None:
                rows.append({"detector": detector, "train_size": train_size, "aug": aug,
                             "baseline": reference, **compared})
    tests = pd.DataFrame(rows, columns=[*GROUP, "baseline", "n_seeds", "n_pairs", "mean", "reference_mean",
                                        "median_difference", "p", "identical"])
    tests["p_holm"] = tests.groupby(FAMILY)["p"].transform(lambda p: holm(p.tolist())).astype(float)
    return tests
