"""Each row of an ablation table against its reference row: the table's paired test.

A spec's ``reference`` (e.g. ``{aug: none}``) holds the settings of its reference cells: a cell whose
resolved config has them is a reference. The reference of any other cell is the one reference cell that
agrees with it on every further factor the reference cell sets (in ``ddpm_quality_filter`` the
``train_size``: each DDPM row against real data alone at the same training-set size); a spec where a
cell would have two references, or where no cell is a reference, is a ConfigError before anything runs.

The test is the leaderboard's (:func:`benchmark.leaderboard.stats.paired_difference`): the primary
metric per test image (an image's MRE over its landmarks, or its Dice), paired on (seed, fold, test set,
image) over the seeds both cells ran and averaged over them, two-sided Wilcoxon signed-rank. The p-values
are Holm-adjusted within the cells that share one reference. Other columns of the table (``single.*``
metrics, acceptance) are not tested: runs keep per-image results of their headline mode only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.config import flatten
from benchmark.errors import ConfigError


def reference_labels(reference: dict[str, Any], cells: dict[str, tuple[dict, dict]]) -> dict[str, str]:
    """``{cell label: its reference cell's label}`` over ``cells`` (label -> (levels, resolved config));
    a reference cell, or a cell without a reference, is absent (module docstring)."""
    flat = {label: flatten(config) for label, (_, config) in cells.items()}
    references = {label: levels for label, (levels, _) in cells.items()
                  if all(flat[label].get(key) == value for key, value in reference.items())}
    if not references:
        raise ConfigError(f"reference {reference} matches no cell of the grid; name the settings of one "
                          f"of its cells or extra_cells")
    found = {}
    for label in cells:
        if label in references:
            continue
        matches = [candidate for candidate, levels in references.items()
                   if all(flat[label].get(key) == flat[candidate].get(key)
                          for key in levels if key not in reference)]
        if len(matches) > 1:
            raise ConfigError(f"cell {label} has {len(matches)} reference cells ({', '.join(matches)}); "
                              f"give the reference cells a factor that tells them apart")
        if matches:
            found[label] = matches[0]
    return found


def reference_tests(references: dict[str, str], values: dict[str, pd.Series]) -> dict[str, dict[str, float]]:
    """``{cell label: its comparison}`` of each cell of ``references`` (cell -> reference) against its
    reference, from per-image ``values`` (label -> Series indexed by seed, fold, test_digest, image_id) of
    the cells with finished runs: :func:`~benchmark.leaderboard.stats.paired_difference`'s columns and the
    Holm-adjusted ``p_holm``; a cell that does not pair with its reference is absent."""
    from benchmark.leaderboard.stats import holm, paired_difference

    compared = {}
    for label, reference in references.items():
        if label in values and reference in values:
            result = paired_difference(values[label], values[reference])
            if result is not None:
                compared[label] = result
    for reference in set(references.values()):
        family = [label for label in compared if references[label] == reference]
        for label, adjusted in zip(family, holm([compared[label]["p"] for label in family])):
            compared[label]["p_holm"] = adjusted
    return compared
