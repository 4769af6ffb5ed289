"""Leaderboard tables as Markdown, CSV and LaTeX from one frame of aggregated rows.

Cells read ``mean ± SD`` over the runs of a row; the best mean of each (detector, train_size) group is in
bold. Two columns carry the paired test: ``baseline``, the augmentation the row is tested against (empty
for the baseline itself), and ``p (Holm)``, the Holm-adjusted p-value with ``*`` when it is below 0.05, or
``–`` when the baseline has no runs in the group to pair with.
"""

from __future__ import annotations

import pandas as pd

from benchmark.record.metrics import MetricSpec
from benchmark.training.settings import TrainSettings


def _cell(mean: float, sd: float, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


SIGNIFICANT = 0.05  # a p below it is starred in the table and counts as a finding
# the caption sentence of what the paired test leaves out (benchmark.leaderboard.stats, "What p covers")
IMAGE_PAIRING_NOTE = (" p pairs test images, not training runs: the run-to-run variance of training (seed, "
                      "batch order, early stopping) is not in it, so a difference within the rows' SD over "
                      "seeds can still read as significant; read p together with those SDs.")


def p_text(p: float) -> str:
    """A p-value to 2 significant digits, in scientific notation below 1e-3."""
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def p_cell(p: float | None, baseline: str | None) -> str:
    """A table's p cell: empty for a row with no baseline, – for one that has no pairs with it, else the p
    with * below :data:`SIGNIFICANT`."""
    if pd.isna(baseline):
        return ""
    if pd.isna(p):
        return "–"
    return f"{p_text(p)}*" if p < SIGNIFICANT else p_text(p)


def display_rows(table: pd.DataFrame, columns: list[MetricSpec], primary: MetricSpec) -> list[dict[str, str]]:
    """The table as text cells (one dict per row, in the table's order), best primary mean in bold."""
    rows = []
    for _, group in table.groupby(["detector", "train_size"], sort=False):
        means = group[f"{primary.name}_mean"]
        best = means.max() if primary.higher_is_better else means.min()
        for _, row in group.iterrows():
            cells = {"rank": str(int(row["rank"])), "train size": str(row["train_size"]),
                     "detector": row["detector"], "aug": row["aug"], "runs": str(int(row["n_runs"]))}
            for column in columns:
                text = _cell(row[f"{column.name}_mean"], row[f"{column.name}_sd"], column.digits)
                if column is primary and row[f"{column.name}_mean"] == best:
                    text = f"**{text}**"
                cells[column.label] = text
            baseline = row["baseline"]
            cells["baseline"] = "" if pd.isna(baseline) else baseline
            cells["p (Holm)"] = p_cell(row["p_holm"], baseline)
            rows.append(cells)
    return rows


def zero_acceptance_note(labels: list[str]) -> str:
    """The caption sentence for generator rows of acceptance 0: they trained on real images only, so their
    figures say nothing about the generator; empty when there are none."""
    if not labels:
        return ""
    return (f" Acceptance 0 (no generated sample passed the quality filter; trained on real images only, "
            f"so any difference from the baseline is not the generator's): {', '.join(labels)}.")


def identical_note(labels: list[str]) -> str:
    """The caption sentence for rows equal to their baseline on every test image though they trained on
    something else (:func:`benchmark.leaderboard.build.identical_rows`); empty when there are none."""
    if not labels:
        return ""
    return (f" Identical to the baseline on every test image although synthetic or transformed images "
            f"should have changed the training (check that these runs used them): {', '.join(labels)}.")


def other_test_set_note(labels: list[str], digests: list[str]) -> str:
    """The caption sentence for the runs (``labels``) left out because they were scored on other test images
    (``digests``) than the rest of their fold (:func:`benchmark.leaderboard.collect.on_one_test_set`);
    empty when there are none."""
    if not labels:
        return ""
    return (f" Left out: {len(labels)} run{'s' if len(labels) > 1 else ''} scored on other test images than "
            f"the rest of their fold (test digest {', '.join(sorted(set(digests)))}; {', '.join(labels)}), "
            f"which cannot be paired with them.")


def mixed_test_sets_note(test_sets: dict[str, list[str]]) -> str:
    """The caption sentence of a table whose runs were scored on more than one test set (``test_sets``:
    test digest -> the row of each of its runs): the digest most runs share, then each other digest with
    its rows; empty for one test set. A row with runs on two of them averages over both."""
    if len(test_sets) < 2:
        return ""
    usual, *others = sorted(test_sets, key=lambda digest: -len(test_sets[digest]))
    other_runs = "; ".join(f"{len(test_sets[digest])} on {digest} "
                           f"({', '.join(dict.fromkeys(test_sets[digest]))})" for digest in others)
    return (f" Scored on {len(test_sets)} test sets (test digest): {len(test_sets[usual])} runs on {usual}, "
            f"{other_runs}; p never pairs runs of different test sets, and a row with runs on two averages "
            f"both.")


def step_budget_note(settings: TrainSettings) -> str:
    """The caption sentence of the rule that makes rows comparable: every run of the profile, whatever its
    arm, trains the same optimiser-step budget (``settings``, the profile's ``train`` section, which the
    leaderboard's variant digests hold fixed)."""
    stopping = (f"early stopping after {settings.patience} epochs without a better validation score"
                if settings.patience else "no early stopping")
    return (f" Equal optimiser steps for every row: each run trains at most {settings.epochs} epochs of "
            f"{settings.samples_per_epoch} images in batches of {settings.batch_size} "
            f"({settings.steps_per_epoch} steps per epoch), real and synthetic images drawn within that "
            f"budget, never added to it ({stopping}; the best validation epoch is scored).")


def markdown(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                          ("#", r"\#")):
        text = text.replace(char, escaped)
    text = text.replace("±", r"$\pm$").replace("–", "--")
    if text.startswith("**") and text.endswith("**"):
        text = r"\textbf{" + text[2:-2] + "}"
    return text


def latex(rows: list[dict[str, str]], caption: str) -> str:
    """A booktabs ``table`` environment."""
    header = list(rows[0])
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{" + "l" * len(header) + "}", r"\toprule",
             " & ".join(_latex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(row[h]) for h in header) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _latex_escape(caption) + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"
