"""Leaderboard tables as Markdown, CSV and LaTeX from one frame of aggregated rows.

Cells read ``mean ± SD`` over the runs of a row; the significance column gives the Holm-adjusted p-value
of the paired test against the baseline with ``*`` when it is below 0.05; the best mean of each
(detector, train_size) group is in bold.
"""

from __future__ import annotations

import math

import pandas as pd

from benchmark.record.metrics import MetricSpec


def _cell(mean: float, sd: float, digits: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _p_cell(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    text = f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"
    return f"{text}*" if p < 0.05 else text


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
            cells[f"p vs {row['baseline']}"] = _p_cell(row.get("p_holm"))
            rows.append(cells)
    return rows


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
