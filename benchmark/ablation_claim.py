"""A seed paper's claim, tested by its ablation table.

A spec's ``claim`` says what the paper reports and which rows of the table must show it::

    claim:
      source: Hadzic et al. (2024)
      text: DDPM-2ch samples that pass the MRF + SSM filter improve landmark localisation
      cells: {augmentations.ddpm.quality_filter: true}
      expect: better

``cells`` (factor levels; left out: every row) selects the rows that carry the claim among
those with a reference row (:mod:`benchmark.ablation_reference`); ``expect`` is what each must show
against its reference on the primary metric (MRE, Dice), with the table's p (Holm) and the rules of the
leaderboard's findings (:func:`benchmark.leaderboard.findings.verdict`):

* ``better``: p < 0.05 and the mean better than the reference's in the metric's direction;
* ``not-worse``: not significantly worse (better, or p >= 0.05). No significant difference is not
  equivalence, and the rendered sentence says which of the two each row showed.

A row of a generator whose mean acceptance is 0 trained on real images only: it never shows a claim
about synthetic data. The claim is **reproduced** when every selected row has all its seeds and shows
``expect``, **not reproduced** when every selected row has all its seeds and one does not, and
**pending** while a selected row lacks seeds or a p; the sentence gives each row's means, p and seeds
either way, so a reader sees where a pending claim is heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import ConfigError
from benchmark.leaderboard.findings import metric_words, verdict
from benchmark.leaderboard.render import p_text
from benchmark.record import tags
from benchmark.record.metrics import MetricSpec

EXPECTATIONS = {"better": ("better",), "not-worse": ("better", "level")}
VERDICT_WORDS = {"better": "better", "worse": "worse", "level": "not significant",
                 "real only": "acceptance 0: trained on real images only"}


@dataclass(frozen=True)
class Claim:
    source: str
    text: str
    expect: str = "better"
    cells: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimRow:
    """One selected row of the table: its factor levels, seeds run of those planned and whether its
    acceptance was 0; once it pairs with its reference row, the p (Holm) and both means of the primary
    metric over the ``seeds`` both ran (what the test compares); before that, its own mean (NaN without
    runs) and NaN for the rest."""

    levels: dict[str, Any]
    runs: int
    planned: int
    mean: float
    reference_mean: float = math.nan
    p: float = math.nan
    seeds: int = 0
    real_only: bool = False

    @property
    def complete(self) -> bool:
        return self.runs == self.planned and not math.isnan(self.p)


def parse_claim(raw: Any, factors: dict[str, list], where: str) -> Claim:
    """The spec's ``claim`` mapping as a :class:`Claim`; ConfigError naming ``where`` (the spec file) and
    what to fix otherwise."""
    if not isinstance(raw, dict) or not {"source", "text"} <= set(raw):
        raise ConfigError(f"{where}: claim must be a mapping with source and text (and optionally cells and "
                          f"expect)")
    unknown = sorted(set(raw) - {"source", "text", "expect", "cells"})
    if unknown:
        raise ConfigError(f"{where}: claim has unknown key(s) {', '.join(unknown)}; valid: source, text, "
                          f"cells, expect")
    expect = raw.get("expect", "better")
    if expect not in EXPECTATIONS:
        raise ConfigError(f"{where}: claim expect {expect!r} is not one of {', '.join(EXPECTATIONS)}")
    cells = raw.get("cells") or {}
    if not isinstance(cells, dict) or not set(cells) <= set(factors):
        raise ConfigError(f"{where}: claim cells must map factors of the spec ({', '.join(factors)}) to "
                          f"levels")
    for key, level in cells.items():
        if level not in factors[key]:
            raise ConfigError(f"{where}: claim cells {key}: {level!r} is not a level of that factor "
                              f"({factors[key]})")
    return Claim(str(raw["source"]), str(raw["text"]).strip(), expect, dict(cells))


def selects(claim: Claim, levels: dict[str, Any]) -> bool:
    """Whether a row of factor ``levels`` carries ``claim``."""
    return all(key in levels and levels[key] == level for key, level in claim.cells.items())


def row_verdict(row: ClaimRow, spec: MetricSpec) -> str | None:
    """The row's list (:data:`VERDICT_WORDS` key), or None before its reference test has a p."""
    if math.isnan(row.p):
        return None
    return verdict(row.mean, row.reference_mean, row.p, row.real_only, spec)


def status(claim: Claim, rows: list[ClaimRow], spec: MetricSpec) -> str:
    """``reproduced``, ``not reproduced`` or ``pending`` (module docstring)."""
    if not rows or not all(row.complete for row in rows):
        return "pending"
    shown = all(row_verdict(row, spec) in EXPECTATIONS[claim.expect] for row in rows)
    return "reproduced" if shown else "not reproduced"


def _levels_text(levels: dict[str, Any]) -> str:
    """``train_size 10, quality_filter True``: each factor by its last dotted part."""
    shown = {key: tags.train_size_tag(value) if key == "train_size" else value
             for key, value in levels.items()}
    return ", ".join(f"{key.rsplit('.', 1)[-1]} {value}" for key, value in shown.items())


def claim_sentence(claim: Claim, rows: list[ClaimRow], spec: MetricSpec, reference: str,
                   link: str | None = None) -> str:
    """The claim and its status at this budget, then each selected row: reference mean → row mean on the
    primary metric, p (Holm), the verdict and its seeds. ``reference`` names the reference row (``none``),
    ``link`` (optional) the table. One paragraph, no newline."""
    name, unit = metric_words(spec)
    unit = f" {unit}" if unit else ""
    table = f" ([table]({link}))" if link else ""
    state = status(claim, rows, spec)
    complete = sum(row.complete for row in rows)
    wanted = "significantly better than" if claim.expect == "better" else "not significantly worse than"
    head = {"reproduced": f"**Reproduced** at this budget: every row shown is {wanted} {reference}.",
            "not reproduced": f"**Not reproduced** at this budget: not every row shown is {wanted} "
                              f"{reference}.",
            "pending": f"**Pending**: {complete} of {len(rows)} rows have all their seeds and a p."}[state]
    parts = []
    for row in rows:
        listed = row_verdict(row, spec)
        if listed:
            shown = (f"{reference} {row.reference_mean:.{spec.digits}f} → {row.mean:.{spec.digits}f}{unit} "
                     f"over {row.seeds} seed{'' if row.seeds == 1 else 's'}, p = {p_text(row.p)}, "
                     f"{VERDICT_WORDS[listed]}")
        elif math.isnan(row.mean):
            shown = "no finished run"
        else:
            shown = f"{row.mean:.{spec.digits}f}{unit}, no {reference} run on its seeds yet"
        parts.append(f"{_levels_text(row.levels)}: {shown} ({row.runs} of {row.planned} seeds run)")
    return (f"**{claim.source}**{table}: {claim.text.rstrip('.')}. {head} {name} per row against "
            f"{reference}, both means over the seeds the two ran, with the table's p (Holm): "
            f"{'; '.join(parts)}.")
