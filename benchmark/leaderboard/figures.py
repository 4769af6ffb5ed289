"""Leaderboard figures (seaborn), one PNG each, from per-instance results pooled over a row's runs.

* ``sdr_curve``: landmark tasks; the success detection rate ``100 #{e <= r} / n`` over radii ``r`` from 0
  to ``max_radius`` mm, one line per augmentation, one panel per training-set size.
* ``landmark_boxes``: landmark tasks; per-landmark radial errors as box plots, one hue per augmentation,
  one panel per training-set size (whiskers at 1.5 IQR, outliers hidden for readability).
* ``dice_distribution``: segmentation; per-image Dice as box plots, with the images as points when there
  are at most ``MAX_POINTS`` of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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
        sorted_errors = np.sort(group["error_mm"].to_numpy())
        rate = 100.0 * np.searchsorted(sorted_errors, radii, side="right") / len(sorted_errors)
        curves.append(pd.DataFrame({"train size": train_size, "aug": aug, "radius (mm)": radii, "SDR (%)": rate}))
    grid = sns.relplot(data=pd.concat(curves), x="radius (mm)", y="SDR (%)", hue="aug", col="train size",
                       kind="line", height=3.2, aspect=1.2, facet_kws={"sharey": True})
    grid.set(ylim=(0, 100))
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path


def landmark_boxes(errors: pd.DataFrame, path: Path) -> Path:
    """``errors``: columns ``train_size``, ``aug``, ``landmark``, ``error_mm``. The box statistics are computed
    with pandas (quartiles; whiskers at the most extreme data within 1.5 IQR of the box) and drawn with
    ``Axes.bxp``, so a store of thousands of runs draws as fast as a few."""
    plt, sns = _seaborn()
    augs = sorted(errors["aug"].unique(), key=lambda a: (a != "none", a))
    sizes = sorted(errors["train_size"].unique(), key=lambda s: (s == "all", int(s) if s.isdigit() else 0))
    landmark_ids = sorted(errors["landmark"].unique())
    colours = dict(zip(augs, sns.color_palette(n_colors=len(augs))))
    grouped = errors.groupby(["train_size", "aug", "landmark"])["error_mm"]
    quartiles = grouped.quantile([0.25, 0.5, 0.75]).unstack()
    low, high = quartiles[0.25] - 1.5 * (quartiles[0.75] - quartiles[0.25]), quartiles[0.75] + 1.5 * (quartiles[0.75] - quartiles[0.25])
    bounds = errors.join(pd.DataFrame({"low": low, "high": high}), on=["train_size", "aug", "landmark"])
    inside = bounds[(bounds["error_mm"] >= bounds["low"]) & (bounds["error_mm"] <= bounds["high"])]
    whiskers = inside.groupby(["train_size", "aug", "landmark"])["error_mm"].agg(["min", "max"])
    width = 0.8 / len(augs)
    figure, axes = plt.subplots(len(sizes), 1, figsize=(max(8, 0.45 * len(landmark_ids) * max(1, len(augs) / 3)),
                                                        2.8 * len(sizes)), squeeze=False)
    for ax, size in zip(axes[:, 0], sizes):
        for j, aug in enumerate(augs):
            boxes = []
            for landmark in landmark_ids:
                key = (size, aug, landmark)
                if key in quartiles.index:
                    q = quartiles.loc[key]
                    boxes.append({"q1": q[0.25], "med": q[0.5], "q3": q[0.75], "whislo": whiskers.loc[key, "min"],
                                  "whishi": whiskers.loc[key, "max"], "fliers": [], "label": str(landmark)})
            positions = [i + (j - (len(augs) - 1) / 2) * width for i, landmark in enumerate(landmark_ids)
                         if (size, aug, landmark) in quartiles.index]
            drawn = ax.bxp(boxes, positions=positions, widths=0.9 * width, patch_artist=True, showfliers=False,
                           manage_ticks=False)
            for box in drawn["boxes"]:
                box.set(facecolor=colours[aug], linewidth=0.5)
        ax.set_xticks(range(len(landmark_ids)), [str(i) for i in landmark_ids])
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
    data = scores.rename(columns={"train_size": "train size", "dice": "Dice"})
    grid = sns.catplot(data=data, x="aug", y="Dice", col="train size", kind="box", showfliers=False, height=3.2,
                       aspect=1.3, color="#9ecae1")
    if len(data) <= MAX_POINTS:
        grid.map_dataframe(sns.stripplot, x="aug", y="Dice", size=1.5, alpha=0.35, color="#08306b")
    grid.set(ylim=(0, 1))
    grid.set_xticklabels(rotation=30)
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path
