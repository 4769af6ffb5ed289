"""Generator evidence beside a leaderboard table: what each generator row trained on.

A *generator row* is a (detector, train_size, aug) group whose runs logged an ``acceptance_rate``. Its
evidence is the mean over the group's runs of the acceptance rate, the nearest-training SSIM and the
number of synthetic images used, and a sample grid (:data:`benchmark.record.artifacts.SYNTHETIC_SAMPLES`)
of one representative run: the lowest seed, then the lowest fold. The samples depend on the
augmentation, the training split and the seed, never on the detector, so the rows of one (train_size,
aug) share one representative, whose grid is copied to ``figures/<task>_<aug>_<size>_samples.png``
(``+`` of a composed aug written ``_plus_``). A grid exists only on the machine that made the run (the
committed store holds no images); elsewhere the copy already in the figures folder (committed from that
machine) is kept and linked, and a row with neither links none (``–``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from benchmark.leaderboard.collect import local_artifact
from benchmark.leaderboard.render import markdown
from benchmark.leaderboard.stats import aggregate
from benchmark.record import tags
from benchmark.record.artifacts import SYNTHETIC_SAMPLES
from benchmark.record.metrics import ACCEPTANCE_RATE, N_SYNTHETIC_USED, NEAREST_TRAIN_SSIM_MEAN, MetricSpec

EVIDENCE_METRICS = (MetricSpec(ACCEPTANCE_RATE, "acceptance", True, 2),
                    MetricSpec(NEAREST_TRAIN_SSIM_MEAN, "nearest-training SSIM", False, 3),
                    MetricSpec(N_SYNTHETIC_USED, "synthetic images used", True, 0))
NOTE = ("Means over each row's runs; the samples are the grid of its lowest seed and fold. Grids exist "
        "only on the machine that made the runs (the evidence store commits no images) and in the copies "
        "rendered there: – where neither is here.")

GridKey = tuple[str, str]  # (train_size, aug)


def generator_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that logged an acceptance rate: those of a generator."""
    column = f"metrics.{ACCEPTANCE_RATE}"
    return runs[runs[column].notna()] if column in runs else runs.iloc[:0]


def representatives(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per (train_size, aug): the lowest seed, then the lowest fold."""
    ordered = runs.assign(_seed=pd.to_numeric(runs[tags.SEED], errors="coerce"),
                          _fold=pd.to_numeric(runs[f"param.{tags.FOLD}"], errors="coerce"))
    return ordered.sort_values(["_seed", "_fold"], kind="stable").drop_duplicates([tags.TRAIN_SIZE, tags.AUG])


def grid_name(task: str, aug: str, train_size: str) -> str:
    """``<task>_<aug>_<size>_samples.png``, a ``+`` of ``aug`` written ``_plus_``."""
    return f"{task}_{aug.replace('+', '_plus_')}_{train_size}_samples.png"


def copy_grids(runs: pd.DataFrame, tracking_uri: str, figure_dir: Path, task: str) -> dict[GridKey, Path]:
    """The sample grid of each (train_size, aug)'s representative run, copied into ``figure_dir`` where it
    is on this machine, else the copy already there (module docstring)."""
    copied = {}
    for _, run in representatives(runs).iterrows():
        source = local_artifact(run["run_id"], run["artifact_uri"], SYNTHETIC_SAMPLES, tracking_uri)
        target = figure_dir / grid_name(task, run[tags.AUG], run[tags.TRAIN_SIZE])
        if source is not None and source.exists():
            figure_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        elif not target.exists():
            continue
        copied[(run[tags.TRAIN_SIZE], run[tags.AUG])] = target
    return copied


def _mean_cell(mean: float, digits: int) -> str:
    return "–" if pd.isna(mean) else f"{mean:.{digits}f}"


def evidence_rows(runs: pd.DataFrame, grids: dict[GridKey, Path] | None) -> list[dict[str, str]]:
    """The generator rows of ``runs`` as text cells, by detector, training-set size and aug; the
    ``samples`` cell links the row's grid among ``grids`` (``–`` when absent), and is left out when
    ``grids`` is None (no figures written)."""
    table = aggregate(runs, [spec.name for spec in EVIDENCE_METRICS])
    table = (table.assign(_size=table[tags.TRAIN_SIZE].map(tags.train_size_order))
             .sort_values([tags.DETECTOR, "_size", tags.AUG]))
    rows = []
    for _, row in table.iterrows():
        cells = {"detector": row[tags.DETECTOR], "aug": row[tags.AUG], "train size": row[tags.TRAIN_SIZE]}
        for spec in EVIDENCE_METRICS:
            cells[spec.label] = _mean_cell(row[f"{spec.name}_mean"], spec.digits)
        if grids is not None:
            grid = grids.get((row[tags.TRAIN_SIZE], row[tags.AUG]))
            cells["samples"] = "–" if grid is None else f"[samples](figures/{grid.name})"
        rows.append(cells)
    return rows


def evidence_section(runs: pd.DataFrame, tracking_uri: str, task: str,
                     figure_dir: Path | None) -> tuple[list[str], list[Path]]:
    """The ``## Generator evidence`` lines of ``task``'s Markdown and the grids copied into ``figure_dir``
    (None: tables only, no grid copied or linked); nothing when no run is a generator's."""
    generators = generator_runs(runs)
    if generators.empty:
        return [], []
    grids = None if figure_dir is None else copy_grids(generators, tracking_uri, figure_dir, task)
    lines = ["", "## Generator evidence", "", NOTE, "", markdown(evidence_rows(generators, grids))]
    return lines, [] if grids is None else list(grids.values())
