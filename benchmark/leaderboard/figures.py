"""Leaderboard figures (seaborn), one PNG each, from per-instance results pooled over a row's runs.

* ``sdr_curve``: landmark tasks; the success detection rate ``100 #{e <= r} / n`` over radii ``r`` from 0
  to ``max_radius`` mm, one line per augmentation, one panel per training-set size.
* ``landmark_boxes``: landmark tasks; per-landmark radial errors as box plots, one hue per augmentation,
  one panel per training-set size (whiskers at 1.5 IQR, outliers hidden for readability).
* ``dice_distribution``: segmentation; per-image Dice as box plots, with the images as points when there
  are at most ``MAX_POINTS`` of them.
* ``learning_curve``: the primary metric against the number of real training images (log axis), mean ±
  SD over each row's runs (seeds and folds, as in the table) as error bars, one line per augmentation,
  one panel per detector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.record.metrics import DICE, metric_spec
from benchmark.record.predictions import ERROR_MM, LANDMARK
from benchmark.record.tags import ALL_IMAGES, train_size_order

MAX_POINTS = 5000


def _seaborn():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def sdr_curve(errors: pd.DataFrame, path: Path, max_radius: float = 10.0) -> Path:
    """``errors``: columns ``train_size``, ``aug``, ``error_mm`` (one row per landmark instance and run)."""
    plt, sns = _seaborn()
    radii = np.linspace(0, max_radius, 101)
    curves = []
    for (train_size, aug), group in errors.groupby(["train_size", "aug"]):
        sorted_errors = np.sort(group[ERROR_MM].to_numpy())
        rate = 100.0 * np.searchsorted(sorted_errors, radii, side="right") / len(sorted_errors)
        curves.append(pd.DataFrame({"train size": train_size, "aug": aug, "radius (mm)": radii,
                                    "SDR (%)": rate}))
    grid = sns.relplot(data=pd.concat(curves), x="radius (mm)", y="SDR (%)", hue="aug", col="train size",
                       kind="line", height=3.2, aspect=1.2, facet_kws={"sharey": True})
    grid.set(ylim=(0, 100))
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path


def ordered_codes(column: pd.Series, key) -> tuple[list[str], np.ndarray]:
    """The distinct values of ``column`` as strings sorted by ``key``, and each row's position in that
    list; through the categorical codes, never a string per row (figures get millions of rows)."""
    categorical = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    categorical = categorical.cat.remove_unused_categories()
    labels = [str(c) for c in categorical.cat.categories]
    order = sorted(range(len(labels)), key=lambda i: key(labels[i]))
    position = np.empty(len(labels), np.int64)
    position[order] = np.arange(len(labels))
    return [labels[i] for i in order], position[categorical.cat.codes.to_numpy()]


def box_statistics(codes: np.ndarray, values: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Tukey box statistics of ``values`` per group ``codes`` (ints in ``[0, n_groups)``): ``count``,
    ``q1``, ``med``, ``q3`` (linear-interpolation quantiles, as ``numpy.quantile``) and the whiskers
    ``whislo`` / ``whishi``, the most extreme values within 1.5 IQR of the box. One sort of all values
    and one radix sort of the group codes, then index arithmetic per group: millions of values take a
    fraction of a second."""
    order = np.argsort(values, kind="stable")
    small = codes.astype(np.int16 if n_groups < 2**15 else np.int64)[order]
    order = order[np.argsort(small, kind="stable")]  # radix sort of small ints: values sorted within groups
    values, codes = values[order], codes[order]
    count = np.bincount(codes, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    stats = {"count": count}

    def quantile(q: float) -> np.ndarray:
        position = start + q * np.maximum(count - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, start + np.maximum(count - 1, 0))
        safe = np.minimum(below, len(values) - 1), np.minimum(above, len(values) - 1)
        fraction = position - below
        return values[safe[0]] * (1 - fraction) + values[safe[1]] * fraction

    stats.update(q1=quantile(0.25), med=quantile(0.5), q3=quantile(0.75))
    iqr = stats["q3"] - stats["q1"]
    low, high = stats["q1"] - 1.5 * iqr, stats["q3"] + 1.5 * iqr
    inside = (values >= low[codes]) & (values <= high[codes])
    lowest, highest = np.full(n_groups, np.inf), np.full(n_groups, -np.inf)
    np.minimum.at(lowest, codes[inside], values[inside])
    np.maximum.at(highest, codes[inside], values[inside])
    stats.update(whislo=lowest, whishi=highest)
    return stats


def landmark_boxes(errors: pd.DataFrame, path: Path) -> Path:
    """``errors``: columns ``train_size``, ``aug``, ``landmark``, ``error_mm``. Box statistics come from
    :func:`box_statistics`; boxes, medians and whiskers are drawn as three collections per panel, so a
    store of thousands of runs draws as fast as a few."""
    from matplotlib.collections import LineCollection, PatchCollection

    plt, sns = _seaborn()
    augs, aug_code = ordered_codes(errors["aug"], lambda a: (a != "none", a))
    sizes, size_code = ordered_codes(errors["train_size"], train_size_order)
    landmark_ids = np.sort(errors[LANDMARK].unique())
    colours = dict(zip(augs, sns.color_palette(n_colors=len(augs))))
    landmark_code = np.searchsorted(landmark_ids, errors[LANDMARK].to_numpy())
    n_l, n_a = len(landmark_ids), len(augs)
    codes = (size_code * n_a + aug_code) * n_l + landmark_code
    stats = {k: v.reshape(len(sizes), n_a, n_l) for k, v in
             box_statistics(codes, errors[ERROR_MM].to_numpy(np.float64), len(sizes) * n_a * n_l).items()}
    width = 0.8 / n_a
    figure, axes = plt.subplots(len(sizes), 1,
                                figsize=(max(8, 0.45 * n_l * max(1, n_a / 3)), 2.8 * len(sizes)),
                                squeeze=False)
    for s, (ax, size) in enumerate(zip(axes[:, 0], sizes)):
        for a, aug in enumerate(augs):
            present = stats["count"][s, a] > 0
            centre = np.arange(n_l)[present] + (a - (n_a - 1) / 2) * width
            q1, med, q3 = (stats[k][s, a][present] for k in ("q1", "med", "q3"))
            lo, hi = stats["whislo"][s, a][present], stats["whishi"][s, a][present]
            half = 0.45 * width
            boxes = [plt.Rectangle((c - half, b), 2 * half, t - b) for c, b, t in zip(centre, q1, q3)]
            ax.add_collection(PatchCollection(boxes, facecolor=colours[aug], edgecolor="black",
                                              linewidth=0.5))
            medians = np.stack([np.stack([centre - half, med], 1), np.stack([centre + half, med], 1)], 1)
            whiskers = np.concatenate([np.stack([np.stack([centre, q1], 1), np.stack([centre, lo], 1)], 1),
                                       np.stack([np.stack([centre, q3], 1), np.stack([centre, hi], 1)], 1)])
            ax.add_collection(LineCollection(medians, colors="black", linewidths=0.8))
            ax.add_collection(LineCollection(whiskers, colors="black", linewidths=0.5))
        top = np.nanmax(np.where(stats["count"][s] > 0, stats["whishi"][s], np.nan))
        ax.set(xlim=(-0.6, n_l - 0.4), ylim=(0, 1.05 * top if np.isfinite(top) and top > 0 else 1))
        ax.set_xticks(range(n_l), [str(i) for i in landmark_ids])
        ax.set(title=f"train size = {size}", xlabel="landmark", ylabel="error (mm)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[a]) for a in augs]
    figure.legend(handles, augs, title="aug", loc="center right")
    figure.tight_layout(rect=(0, 0, 0.92, 1))
    figure.savefig(path, dpi=110)
    plt.close("all")
    return path


def dice_distribution(scores: pd.DataFrame, path: Path) -> Path:
    """``scores``: columns ``train_size``, ``aug``, ``dice`` (one row per image and run)."""
    plt, sns = _seaborn()
    label = metric_spec(DICE).label
    data = scores.rename(columns={"train_size": "train size", DICE: label})
    grid = sns.catplot(data=data, x="aug", y=label, col="train size", kind="box", showfliers=False,
                       height=3.2, aspect=1.3, color="#9ecae1")
    if len(data) <= MAX_POINTS:
        grid.map_dataframe(sns.stripplot, x="aug", y=label, size=1.5, alpha=0.35, color="#08306b")
    grid.set(ylim=(0, 1))
    grid.set_xticklabels(rotation=30)
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path


def size_axis(train_size: pd.Series, n_train: pd.Series) -> tuple[pd.Series, dict[float, str]]:
    """Each run's position on the training-set-size axis, and the axis' tick labels by position.

    ``train_size``: the runs' tags (a number, or ``"all"``); ``n_train``: the number of training images
    each run logged (NaN where it did not). A number is its own position; the full-size runs sit at the
    median number of training images they logged (tick ``"<n> (all)"``) or, where none logged it, at
    twice the largest number (tick ``"all"``)."""
    full = train_size == ALL_IMAGES
    numbers = pd.to_numeric(train_size.where(~full), errors="coerce")
    ticks = {float(n): f"{n:g}" for n in numbers.dropna().unique()}
    if not full.any():
        return numbers, ticks
    logged = n_train[full].dropna()
    at = float(logged.median()) if len(logged) else 2.0 * numbers.max()
    ticks[at] = f"{at:g} ({ALL_IMAGES})" if len(logged) else ALL_IMAGES
    return numbers.where(~full, at), ticks


def learning_curve(points: pd.DataFrame, label: str, path: Path) -> Path | None:
    """``points``: one row per run with ``detector``, ``aug``, ``train_size`` (tag), ``n_train`` (see
    :func:`size_axis`) and the metric in column ``label``. One panel per detector that has a curve: an
    (detector, aug) arm run at two training-set sizes or more; nothing is drawn (None) without one."""
    sizes = points.groupby(["detector", "aug"])["train_size"].nunique()
    curved = sizes[sizes >= 2].index.get_level_values("detector").unique()
    if curved.empty:
        return None
    points = points[points["detector"].isin(curved)]
    plt, sns = _seaborn()
    x, ticks = size_axis(points["train_size"], points["n_train"])
    data = points.assign(**{"training images": x})
    augs = sorted(data["aug"].unique(), key=lambda a: (a != "none", a))
    grid = sns.relplot(data=data, x="training images", y=label, hue="aug", style="aug", hue_order=augs,
                       style_order=augs, palette=sns.color_palette("husl", len(augs)), col="detector",
                       kind="line", errorbar="sd", err_style="bars", markers=True, dashes=False,
                       height=3.2, aspect=1.3)
    grid.set(xscale="log")
    for ax in grid.axes.flat:
        ax.set_xticks(list(ticks), list(ticks.values()))
        ax.minorticks_off()
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path
