"""``benchmark leaderboard``: tables and figures of one task from the tracking store alone.

Writes ``<out>/<task>.md``, ``<task>.csv`` and ``<task>.tex`` and, unless ``figures=False``, seaborn
figures ``<out>/figures/<task>_*.png`` (the learning curve only where some augmentation ran at two
training-set sizes). The table is followed by its findings in sentences
(:mod:`benchmark.leaderboard.findings`); the Markdown ends with the evidence of the generator rows and,
with figures, links to their sample grids copied to ``<out>/figures/<task>_<aug>_<size>_samples.png``
(:mod:`benchmark.leaderboard.evidence`). Rows are (detector, train_size, aug) over the leaderboard runs
of :func:`benchmark.leaderboard.collect.leaderboard_runs`, ranked within each (detector, train_size) group by
the primary metric (MRE for landmark tasks, Dice for segmentation); see
:mod:`benchmark.leaderboard.stats` for the aggregation, each row's baseline and the paired test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.config import build, resolve_config
from benchmark.errors import BenchmarkError
from benchmark.leaderboard import figures
from benchmark.leaderboard.collect import (
    N_TRAIN,
    leaderboard_runs,
    on_one_test_set,
    per_image_values,
    read_instances,
)
from benchmark.leaderboard.evidence import evidence_section
from benchmark.leaderboard.findings import findings_section, summary
from benchmark.leaderboard.readme import block_span, link_from, replace_block
from benchmark.leaderboard.render import (
    IMAGE_PAIRING_NOTE,
    display_rows,
    identical_note,
    latex,
    markdown,
    other_test_set_note,
    step_budget_note,
    zero_acceptance_note,
)
from benchmark.leaderboard.stats import aggregate, paired_tests, row_baseline, zero_acceptance
from benchmark.record import tags
from benchmark.record.metrics import (
    GENERATOR_METRICS,
    KIND_METRICS,
    MetricSpec,
    kind_of,
    primary,
    sdr_radii,
    sdr_spec,
)
from benchmark.record.predictions import per_image_columns
from benchmark.training.settings import TrainSettings


@dataclass
class Leaderboard:
    table: pd.DataFrame
    tests: pd.DataFrame
    paths: list[Path] = field(default_factory=list)


def metric_columns(runs: pd.DataFrame) -> tuple[str, list[MetricSpec]]:
    """(kind of task, the table's metric columns, primary first) of the runs: for landmark tasks MRE and
    the SDR at every radius the runs logged, for segmentation tasks Dice, precision, recall and HD95."""
    metrics = [column.removeprefix("metrics.") for column in runs.columns if column.startswith("metrics.")]
    kind = kind_of(metrics)
    if kind is None:
        raise BenchmarkError("the runs carry neither mre_mm nor dice metrics; nothing to rank")
    if kind == "landmarks":
        return kind, [primary(kind), *map(sdr_spec, sdr_radii(metrics))]
    return kind, list(KIND_METRICS[kind])


def write_figures(runs: pd.DataFrame, instances: pd.DataFrame, landmarks: bool, ranked: MetricSpec,
                  figure_dir: Path, task: str) -> list[Path]:
    """The task's figures in ``figure_dir`` from its ``runs`` and their per-instance results (column
    ``run``: the run's row in ``runs``): SDR curves and per-landmark error boxes (``landmarks``) or Dice
    distributions, and the learning curve of the ``ranked`` metric where some augmentation ran at two
    training-set sizes."""
    figure_dir.mkdir(parents=True, exist_ok=True)
    for column in ("train_size", "aug"):
        labels = pd.Categorical(runs[column].astype(str))
        instances[column] = pd.Categorical.from_codes(labels.codes[instances["run"].to_numpy()],
                                                      labels.categories)
    if landmarks:
        paths = [figures.sdr_curve(instances, figure_dir / f"{task}_sdr.png"),
                 figures.landmark_boxes(instances, figure_dir / f"{task}_landmark_errors.png")]
    else:
        paths = [figures.dice_distribution(instances, figure_dir / f"{task}_dice.png")]
    points = pd.DataFrame({"detector": runs[tags.DETECTOR], "aug": runs[tags.AUG],
                           "train_size": runs[tags.TRAIN_SIZE],
                           "n_train": pd.to_numeric(runs[f"param.{N_TRAIN}"], errors="coerce"),
                           ranked.label: runs[f"metrics.{ranked.name}"]})
    curve = figures.learning_curve(points, ranked.label, figure_dir / f"{task}_learning_curve.png")
    return paths if curve is None else [*paths, curve]


def remove_stale_figures(figure_dir: Path, task: str, written: list[Path]) -> None:
    """Delete the figures ``<task>_*.png`` in ``figure_dir`` that this render did not write (a learning
    curve or sample grid whose runs no longer count), so the folder shows the current runs only."""
    for path in figure_dir.glob(f"{task}_*.png"):
        if path not in written:
            path.unlink()


def train_settings(profile: str, task: str, detector: str) -> TrainSettings:
    """The ``train`` section every leaderboard run of ``task`` under ``profile`` trained with: the
    profile's, which no augmentation or detector changes and the variant digest holds fixed."""
    return build(TrainSettings, resolve_config(profile, task, "none", detector)["train"], "train")


def row_labels(rows: pd.DataFrame) -> list[str]:
    """``aug (train size)`` of aggregated rows."""
    return [f"{aug} ({size})" for aug, size in zip(rows[tags.AUG], rows[tags.TRAIN_SIZE])]


def zero_acceptance_rows(table: pd.DataFrame) -> list[str]:
    """The aggregated rows whose mean acceptance rate is 0."""
    return row_labels(table[zero_acceptance(table)])


def identical_rows(table: pd.DataFrame) -> list[str]:
    """The aggregated rows equal to their baseline on every paired test image although they should differ:
    a transform, or a generator whose samples passed the filter; a sign that a run did not train on what
    its arm names."""
    identical = table["identical"].eq(True) & ~zero_acceptance(table)
    return row_labels(table[identical])


def build_leaderboard(tracking_uri: str, task: str, out_dir: Path, profile: str = "default",
                      baseline: str = "none", experiment: str | None = None,
                      with_figures: bool = True, readme: Path | None = None) -> Leaderboard:
    """Rank ``task``'s leaderboard runs and write its tables and figures under ``out_dir`` (module
    docstring); with ``readme``, also the digest of its findings into that file's ``task`` block
    (:func:`benchmark.leaderboard.readme.replace_block`)."""
    if readme is not None:
        block_span(readme, task)  # a README without the task's block fails before any work
    runs, elsewhere = on_one_test_set(leaderboard_runs(tracking_uri, task, profile, experiment))
    if runs.empty:
        raise BenchmarkError(f"{tracking_uri}: no finished {profile}-profile runs of task {task!r} with the "
                             f"profile's default settings; run `benchmark run --task {task} "
                             f"--profile {profile}` first")
    kind, columns = metric_columns(runs)
    ranked = columns[0]
    columns += [c for c in GENERATOR_METRICS
                if f"metrics.{c.name}" in runs and runs[f"metrics.{c.name}"].notna().any()]

    landmarks = kind == "landmarks"
    instances = read_instances(runs, per_image_columns(kind), tracking_uri)
    per_image = per_image_values(instances, runs, kind)

    table = aggregate(runs, [c.name for c in columns])
    tests = paired_tests(runs, per_image, baseline)
    table["baseline"] = [row_baseline(aug, baseline) for aug in table["aug"]]
    paired = tests.rename(columns={"n_seeds": "paired_seeds", "mean": "paired_mean",
                                   "reference_mean": "paired_baseline_mean"})
    table = table.merge(paired[["detector", "train_size", "aug", "p_holm", "identical", "paired_seeds",
                                "paired_mean", "paired_baseline_mean"]],
                        how="left", on=["detector", "train_size", "aug"])
    table["_size"] = table["train_size"].map(tags.train_size_order)
    lower_is_better = not ranked.higher_is_better
    table = table.sort_values(["detector", "_size", f"{ranked.name}_mean"],
                              ascending=[True, True, lower_is_better])
    # equal means share a rank (competition ranking: 1, 2, 2, 4), so a tie is never shown as an order
    table["rank"] = (table.groupby(["detector", "train_size"])[f"{ranked.name}_mean"]
                     .rank(method="min", ascending=lower_is_better).astype(int))
    table = table.drop(columns="_size").reset_index(drop=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = display_rows(table, columns, ranked)
    caption = (f"{task}: {len(runs)} runs of the {profile} profile from the tracking store; mean ± SD over "
               f"seeds and folds; p (Holm) = two-sided Wilcoxon signed-rank test against the row's baseline "
               f"(for a composed transform+generator row the transform alone, e.g. `classic` for "
               f"`classic+ddpm`; `{baseline}` otherwise) "
               f"on per-image {'MRE' if landmarks else 'Dice'} (averaged over the seeds both ran), "
               f"Holm-adjusted within each (detector, train size, baseline) family; * p < 0.05; "
               f"– the baseline has no runs to pair with in the group."
               + IMAGE_PAIRING_NOTE
               + step_budget_note(train_settings(profile, task, runs[tags.DETECTOR].iloc[0]))
               + zero_acceptance_note(zero_acceptance_rows(table))
               + identical_note(identical_rows(table))
               + other_test_set_note([f"{label} seed {seed}" for label, seed in
                                      zip(row_labels(elsewhere), elsewhere[tags.SEED])],
                                     list(elsewhere[tags.TEST_DIGEST].fillna("none"))))
    paths = [out_dir / f"{task}.md", out_dir / f"{task}.csv", out_dir / f"{task}.tex"]
    figure_paths = (write_figures(runs, instances, landmarks, ranked, out_dir / "figures", task)
                    if with_figures else [])
    evidence, grid_paths = evidence_section(runs, tracking_uri, task,
                                            out_dir / "figures" if with_figures else None)
    if with_figures:
        remove_stale_figures(out_dir / "figures", task, figure_paths + grid_paths)
    body = [f"# Leaderboard: {task}", "", caption, "", markdown(rows), findings_section(table, ranked, task)]
    body += [f"![{p.stem}](figures/{p.name})" for p in figure_paths]
    paths[0].write_text("\n".join(body + evidence) + "\n")
    table.to_csv(paths[1], index=False)
    paths[2].write_text(latex(rows, caption))
    if readme is not None:
        curves = tuple(link_from(readme, p) for p in figure_paths if p.name == f"{task}_learning_curve.png")
        replace_block(readme, task, summary(table, ranked, task, link_from(readme, paths[0]), curves))
        paths.append(readme)
    return Leaderboard(table, tests, paths + figure_paths + grid_paths)
