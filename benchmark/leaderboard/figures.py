"""Leaderboard figures (seaborn), one PNG each, from per-instance results pooled over a row's runs.

* ``sdr_curve``: landmark tasks; the success detection rate ``100 #{e <= r} / n`` over radii ``r`` from 0
  to ``max_radius`` mm, one line per augmentation, one panel per training-set size.
* ``landmark_boxes``: landmark tasks; per-landmark radial errors as box plots, one hue per augmentation,
  one panel per training-set size (whiskers at 1.5 IQR, outliers hidden for readability).
* ``dice_distribution``: segmentation; per-image Dice as box plots with the images as points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


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
    """``errors``: columns ``train_size``, ``aug``, ``landmark``, ``error_mm``."""
    plt, sns = _seaborn()
    n_landmarks = errors["landmark"].nunique()
    grid = sns.catplot(data=errors.rename(columns={"train_size": "train size", "error_mm": "error (mm)"}),
                       x="landmark", y="error (mm)", hue="aug", row="train size", kind="box", showfliers=False,
                       height=2.8, aspect=max(2.0, n_landmarks / 6), linewidth=0.6)
    grid.savefig(path, dpi=110)
    plt.close("all")
    return path


def dice_distribution(scores: pd.DataFrame, path: Path) -> Path:
    """``scores``: columns ``train_size``, ``aug``, ``dice`` (one row per image and run)."""
    plt, sns = _seaborn()
    data = scores.rename(columns={"train_size": "train size", "dice": "Dice"})
    grid = sns.catplot(data=data, x="aug", y="Dice", col="train size", kind="box", showfliers=False, height=3.2,
                       aspect=1.3, color="#9ecae1")
    grid.map_dataframe(sns.stripplot, x="aug", y="Dice", size=1.5, alpha=0.35, color="#08306b")
    grid.set(ylim=(0, 1))
    grid.set_xticklabels(rotation=30)
    grid.savefig(path, dpi=120)
    plt.close("all")
    return path
