"""``benchmark leaderboard``: tables and figures of one task from the tracking store alone.

Writes ``<out>/<task>.md``, ``<task>.csv`` and ``<task>.tex`` and, unless ``figures=False``, seaborn
figures ``<out>/figures/<task>_*.png``. Rows are (detector, train_size, aug) over the leaderboard runs of
:func:`benchmark.leaderboard.collect.leaderboard_runs`, ranked within each (detector, train_size) group by
the primary metric (MRE for landmark tasks, Dice for segmentation); see
:mod:`benchmark.leaderboard.stats` for the aggregation and the paired test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.errors import BenchmarkError
from benchmark.leaderboard import figures
from benchmark.leaderboard.collect import leaderboard_runs, read_instances
from benchmark.leaderboard.render import Column, display_rows, latex, markdown
from benchmark.leaderboard.stats import aggregate, paired_tests

GENERATOR_COLUMNS = [Column("acceptance_rate", "acceptance", False, 2),
                     Column("generator_train_seconds", "generator train (s)", True, 0),
                     Column("sampling_images_per_s", "samples / s", False, 1)]


@dataclass
class Leaderboard:
    table: pd.DataFrame
    tests: pd.DataFrame
    paths: list[Path] = field(default_factory=list)


def train_size_order(value: str) -> tuple[int, int]:
    return (1, 0) if value == "all" else (0, int(value))


def metric_columns(runs: pd.DataFrame) -> tuple[list[Column], Column, str]:
    """(columns, primary column, per-image column of predictions.csv) for the runs' kind of task."""
    if "metrics.mre_mm" in runs:
        radii = sorted({float(m.group(1)) for c in runs.columns if (m := re.fullmatch(r"metrics\.sdr_([\d.]+)mm", c))})
        primary = Column("mre_mm", "MRE (mm)", True)
        columns = [primary] + [Column(f"sdr_{r:g}mm", f"SDR {r:g} mm (%)", False, 1) for r in radii]
        return columns, primary, "error_mm"
    if "metrics.dice" in runs:
        primary = Column("dice", "Dice", False, 3)
        columns = [primary, Column("precision", "precision", False, 3), Column("recall", "recall", False, 3),
                   Column("hd95_mm", "HD95 (mm)", True)]
        return columns, primary, "dice"
    raise BenchmarkError("the runs carry neither mre_mm nor dice metrics; nothing to rank")


def build_leaderboard(tracking_uri: str, task: str, out_dir: Path, profile: str = "default", baseline: str = "none",
                      experiment: str | None = None, with_figures: bool = True) -> Leaderboard:
    runs = leaderboard_runs(tracking_uri, task, profile, experiment)
    if runs.empty:
        raise BenchmarkError(f"{tracking_uri}: no finished {profile}-profile runs of task {task!r} with the profile's "
                             f"default settings; run `benchmark run --task {task} --profile {profile}` first")
    columns, primary, per_image_column = metric_columns(runs)
    columns += [c for c in GENERATOR_COLUMNS if f"metrics.{c.metric}" in runs and runs[f"metrics.{c.metric}"].notna().any()]

    landmarks = per_image_column == "error_mm"
    wanted = ["image_id", "landmark", "error_mm"] if landmarks else ["image_id", "dice"]
    instances = read_instances(runs, wanted, tracking_uri)
    per_image = (instances.groupby(["run", "image_id"], observed=True, sort=False)[per_image_column].mean()
                 .rename("value").reset_index())
    per_image["run_id"] = runs["run_id"].to_numpy()[per_image["run"].to_numpy()]
    per_image["fold"] = runs["fold"].astype(str).to_numpy()[per_image["run"].to_numpy()]

    table = aggregate(runs, [c.metric for c in columns])
    tests = paired_tests(runs, per_image, baseline)
    table = table.merge(tests[["detector", "train_size", "aug", "p_holm"]], how="left", on=["detector", "train_size", "aug"])
    table["baseline"] = baseline
    table["_size"] = table["train_size"].map(train_size_order)
    table = table.sort_values(["detector", "_size", f"{primary.metric}_mean"], ascending=[True, True, primary.lower_is_better])
    # equal means share a rank (competition ranking: 1, 2, 2, 4), so a tie is never shown as an order
    table["rank"] = (table.groupby(["detector", "train_size"])[f"{primary.metric}_mean"]
                     .rank(method="min", ascending=primary.lower_is_better).astype(int))
    table = table.drop(columns="_size").reset_index(drop=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = display_rows(table, columns, primary)
    caption = (f"{task}: {len(runs)} runs of the {profile} profile from the tracking store; mean ± SD over seeds and "
               f"folds; p = Holm-adjusted two-sided Wilcoxon signed-rank test against `{baseline}` on per-image "
               f"{'MRE' if landmarks else 'Dice'} (averaged over the seeds both ran), * p < 0.05.")
    paths = [out_dir / f"{task}.md", out_dir / f"{task}.csv", out_dir / f"{task}.tex"]
    figure_paths: list[Path] = []
    if with_figures:
        figure_dir = out_dir / "figures"
        figure_dir.mkdir(exist_ok=True)
        for column in ("train_size", "aug"):
            labels = pd.Categorical(runs[column].astype(str))
            instances[column] = pd.Categorical.from_codes(labels.codes[instances["run"].to_numpy()], labels.categories)
        if landmarks:
            figure_paths = [figures.sdr_curve(instances, figure_dir / f"{task}_sdr.png"),
                            figures.landmark_boxes(instances, figure_dir / f"{task}_landmark_errors.png")]
        else:
            figure_paths = [figures.dice_distribution(instances, figure_dir / f"{task}_dice.png")]
    body = [f"# Leaderboard: {task}", "", caption, "", markdown(rows)]
    body += [f"![{p.stem}](figures/{p.name})" for p in figure_paths]
    paths[0].write_text("\n".join(body) + "\n")
    table.to_csv(paths[1], index=False)
    paths[2].write_text(latex(rows, caption))
    return Leaderboard(table, tests, paths + figure_paths)
