"""``benchmark data verify``: read a data set through its task's loader and summarise it before anyone
trains on it: where it came from, counts, folds, source image sizes, pixel spacing, landmark ranges or
mask coverage, what was skipped, and the problems found.

A problem that stops loading (an unreadable image, a bad annotation line, a missing split file) is
reported as the loader's one-line error and makes the check fail; findings that do not stop a run but
deserve a look (landmarks on the image border, masks that vanish at the working size) are listed as
warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import DataError


@dataclass
class DataReport:
    task: str
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"task": self.task, "ok": self.ok, "summary": self.summary, "problems": self.problems,
                "warnings": self.warnings}

    def text(self) -> str:
        lines = [f"{self.task}: {'OK' if self.ok else 'PROBLEMS FOUND'}"]
        width = max((len(k) for k in self.summary), default=0)
        lines += [f"  {key:<{width}}  {value}" for key, value in self.summary.items()]
        lines += [f"  problem: {p}" for p in self.problems] + [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _range(values: np.ndarray, digits: int = 3) -> str:
    return f"{values.min():.{digits}g} .. {values.max():.{digits}g}"


def describe(images: ImageSet) -> tuple[dict[str, Any], list[str]]:
    """Summary lines and warnings of one labelled image set."""
    height, width = images.image_size
    source_mm = images.spacing * np.array([width, height]) / images.original_size  # mm per source pixel
    summary: dict[str, Any] = {
        "source sizes (W x H)": f"{_range(images.original_size[:, 0], 6)} x "
                                f"{_range(images.original_size[:, 1], 6)}",
        "spacing (mm / source px)": f"x {_range(source_mm[:, 0])}, y {_range(source_mm[:, 1])}",
    }
    warnings = []
    if images.landmarks is not None:
        points = images.to_original_pixels(images.landmarks)
        summary["landmarks per image"] = images.num_landmarks
        summary["landmark x (source px)"] = _range(points[..., 0], 6)
        summary["landmark y (source px)"] = _range(points[..., 1], 6)
        on_border = (images.landmarks <= 0) | (images.landmarks >= np.array([width - 1, height - 1]))
        if on_border.any():
            warnings.append(f"{int(on_border.any(-1).sum())} landmark(s) lie on the image border")
    if images.masks is not None:
        coverage = images.masks.reshape(len(images), -1).mean(1)
        summary["mask foreground (%)"] = (f"{100 * coverage.min():.3g} .. {100 * coverage.max():.3g} "
                                          f"(mean {100 * coverage.mean():.3g})")
        empty = [i for i, c in zip(images.ids, coverage) if c == 0]
        if empty:
            warnings.append(f"{len(empty)} mask(s) empty at the working size (the structure is thinner "
                            f"than a working pixel): {', '.join(empty[:5])}"
                            f"{' ...' if len(empty) > 5 else ''}")
    return summary, warnings


def verify(task_name: str, settings: DataSettings) -> DataReport:
    from benchmark.registry import TASKS

    task = TASKS.create(task_name)
    try:
        pool = task.pool(settings)
    except DataError as error:
        return DataReport(task_name, ok=False, problems=[str(error)])
    summary: dict[str, Any] = {"source": pool.source, "labelled images": len(pool.images),
                               "unlabelled images": 0 if pool.unlabelled is None else len(pool.unlabelled),
                               "ground truth": pool.ground_truth, "mm rule": pool.mm_rule,
                               "folds": ", ".join(f"{f.name or i + 1}: {len(f.train)} train / "
                                                  f"{len(f.test)} test" for i, f in enumerate(pool.folds))}
    details, warnings = describe(pool.images)
    summary.update(details)
    if pool.skipped:
        summary["skipped"] = ", ".join(f"{k}: {v}" for k, v in pool.skipped.items())
    empty_folds = [f.name or str(i + 1) for i, f in enumerate(pool.folds) if not f.train or not f.test]
    problems = [f"fold {name} has an empty train or test split" for name in empty_folds]
    return DataReport(task_name, ok=not problems, summary=summary, problems=problems, warnings=warnings)
