"""The ``## Findings`` section of a leaderboard: what its table says, in sentences, read from the table.

Every number comes from the aggregated table of :func:`benchmark.leaderboard.build.build_leaderboard`;
none is typed. The rules:

* **Which rows.** One bullet per row with a p (``p_holm``: its baseline has runs that pair with it),
  comparing the row's mean of the ranked metric (MRE, Dice) with its ``baseline`` row's in the same
  (detector, train size) group, both over the seeds the two ran (``paired_mean``,
  ``paired_baseline_mean``, ``paired_seeds``: what the test compares, and the table's means once both
  rows have every seed). Groups come in the table's order, under one heading each, and rows in rank order
  within a list. A group where no row has a p gets one line saying so.
* **Wording.** The metric's name and unit are its label's (``MRE (mm)``: MRE in mm), the means are shown
  to the table's digits, the p as in the table, and the number of seeds is the number both ran (the
  leaderboard grids run one fold per seed). The verb says which way the mean moved ("lowers MRE from 2.91
  to 2.52 mm against classic"); a row that is not significant "is level with" its baseline, both means
  and p still given.
* **Lists.** Significantly better: p < 0.05 and the mean better than the baseline's in the metric's
  direction (lower MRE, higher Dice); significantly worse: p < 0.05 and the mean worse; not significant:
  p >= 0.05 (or equal means). A row whose mean acceptance rate is 0 trained on real images only, so it is
  no evidence about its generator: it goes into a fourth list, "no synthetic image passed the filter",
  whatever its p, with the suffix "(acceptance 0: trained on real images only)", and is never counted
  as better or worse. An empty list of the first three reads "none."; the fourth is shown only when it
  has rows.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pandas as pd

from benchmark.leaderboard.render import SIGNIFICANT, p_text
from benchmark.leaderboard.stats import zero_acceptance
from benchmark.record import tags
from benchmark.record.metrics import MetricSpec

REAL_ONLY = "(acceptance 0: trained on real images only)"
LISTS = {"better": f"Significantly better than the baseline (p < {SIGNIFICANT:g})",
         "worse": f"Significantly worse than the baseline (p < {SIGNIFICANT:g})",
         "level": f"Not significant (p ≥ {SIGNIFICANT:g})",
         "real only": "No synthetic image passed the filter"}
NONE_COMPARED = "No baseline had runs to compare with."


def metric_words(spec: MetricSpec) -> tuple[str, str]:
    """The name and unit of ``spec``'s label ``name (unit)``: ``("MRE", "mm")``; ``("Dice", "")``."""
    matched = re.fullmatch(r"(.+?) \((.+)\)", spec.label)
    return (matched[1], matched[2]) if matched else (spec.label, "")


def verdict(mean: float, reference: float, p: float, real_only: bool, spec: MetricSpec) -> str:
    """The list (a key of :data:`LISTS`) of a row of mean ``mean`` and p ``p`` against a baseline of mean
    ``reference`` (``real_only``: the row's mean acceptance is 0)."""
    if real_only:
        return "real only"
    if p < SIGNIFICANT and mean != reference:
        return "better" if (mean > reference) == spec.higher_is_better else "worse"
    return "level"


def compared_rows(group: pd.DataFrame, spec: MetricSpec) -> list[tuple[str, pd.Series]]:
    """(list, row) of each row of one (detector, train size) ``group`` that has a p against a baseline of
    the group, in the group's order; empty when no row has one."""
    compared = group[group["p_holm"].notna() & group["baseline"].isin(group[tags.AUG])]
    return [(verdict(row["paired_mean"], row["paired_baseline_mean"], row["p_holm"], real_only, spec), row)
            for (_, row), real_only in zip(compared.iterrows(), zero_acceptance(compared))]


def finding(row: pd.Series, listed: str, spec: MetricSpec, task: str) -> str:
    """The bullet of ``row`` in list ``listed``."""
    name, unit = metric_words(spec)
    mean, reference, p = row["paired_mean"], row["paired_baseline_mean"], row["p_holm"]
    means = [f"{value:.{spec.digits}f}" for value in (reference, mean)]
    unit = f" {unit}" if unit else ""
    if p < SIGNIFICANT and mean != reference:
        verb = "raises" if mean > reference else "lowers"
        claim = f"{verb} {name} from {means[0]} to {means[1]}{unit} against {row['baseline']}"
    else:
        claim = f"is level with {row['baseline']} on {name}, {means[1]} against {means[0]}{unit}"
    runs = int(row["paired_seeds"])
    text = (f"- {task}, {row[tags.TRAIN_SIZE]} images, {row[tags.DETECTOR]}: {row[tags.AUG]} {claim} "
            f"(p = {p_text(p)}, {runs} seed{'' if runs == 1 else 's'})")
    return f"{text} {REAL_ONLY}." if listed == "real only" else f"{text}."


def group_lines(group: pd.DataFrame, spec: MetricSpec, task: str) -> list[str]:
    """The lists of one (detector, train size) group (module docstring)."""
    found = compared_rows(group, spec)
    if not found:
        return [NONE_COMPARED, ""]
    listed: dict[str, list[str]] = {key: [] for key in LISTS}
    for key, row in found:
        listed[key].append(finding(row, key, spec, task))
    lines = []
    for key, heading in LISTS.items():
        if listed[key]:
            lines += [f"{heading}:", "", *listed[key], ""]
        elif key != "real only":
            lines += [f"{heading}: none.", ""]
    return lines


def findings_section(table: pd.DataFrame, spec: MetricSpec, task: str) -> str:
    """The ``## Findings`` Markdown of ``task``'s leaderboard ``table`` ranked by ``spec`` (module
    docstring), ending with a newline."""
    lines = ["## Findings", "",
             f"Each row against its baseline on the mean {spec.label} over the seeds both ran, "
             f"with the table's p (Holm); better or worse only at p < {SIGNIFICANT:g}. Rows of acceptance 0 "
             f"trained on real images only and are listed apart.", ""]
    for (detector, train_size), group in table.groupby([tags.DETECTOR, tags.TRAIN_SIZE], sort=False):
        lines += [f"### {detector}, {train_size} images", "", *group_lines(group, spec, task)]
    return "\n".join(lines).rstrip("\n") + "\n"


def summary(table: pd.DataFrame, spec: MetricSpec, task: str, link: str,
            figures: tuple[str, ...] = ()) -> str:
    """The digest of ``task``'s findings for a README, linking its leaderboard at ``link``: per (detector,
    train size) group one bullet naming the rows of each list with the baseline's and the row's means and
    the p, in the table's order (same lists and rules as the Findings section), then the images at the
    links ``figures``. Ends with a newline."""
    name, unit = metric_words(spec)
    unit = f" {unit}" if unit else ""
    lines = [f"**{task}** ([leaderboard]({link})): {name} of each row against the row's baseline, both "
             f"means over the seeds the two ran, with the table's p (Holm).", ""]
    for (detector, train_size), group in table.groupby([tags.DETECTOR, tags.TRAIN_SIZE], sort=False):
        runs = sorted({int(n) for n in group["n_runs"]})
        seeds = f"{runs[0]}" if len(runs) == 1 else f"{runs[0]}-{runs[-1]}"
        found = compared_rows(group, spec)
        parts = []
        for key, label in (("better", "better"), ("worse", "worse"), ("level", "not significant")):
            rows = [f"{row[tags.AUG]} ({row['baseline']} {row['paired_baseline_mean']:.{spec.digits}f} → "
                    f"{row['paired_mean']:.{spec.digits}f}{unit}, p = {p_text(row['p_holm'])})"
                    for listed, row in found if listed == key]
            parts.append(f"{label}: {', '.join(rows) if rows else 'none'}")
        real_only = [row[tags.AUG] for listed, row in found if listed == "real only"]
        if real_only:
            parts.append(f"acceptance 0, trained on real images only: {', '.join(real_only)}")
        text = "; ".join(parts) if found else NONE_COMPARED.rstrip(".")
        lines.append(f"- {train_size} images, {detector} ({seeds} run{'' if runs == [1] else 's'} per row): "
                     f"{text}.")
    lines += ["", *(f"![{PurePosixPath(figure).stem}]({figure})" for figure in figures)] if figures else []
    return "\n".join(lines) + "\n"
