"""``benchmark ablate SPEC``: a grid of factors x seeds, run once, tracked, and rendered as one table.

A spec (YAML, kept in ``baselines/ablations/``) names a task, the default aug / detector / profile, the
seeds, and ``factors``: config keys with their levels, crossed in the order given. A key is ``aug``,
``detector``, ``train_size`` or any dotted config key (``augmentations.latent-blend.top_k``); an ``aug``
may be composed (``classic+ddpm``), its parts' settings then keyed ``augmentations.<part>.<setting>``.
``fixed`` overrides apply to every grid cell; ``linked`` config keys take the level of a factor in every
cell that sets it (``{augmentations.latent-blend.samples_ratio: augmentations.latent-blend.top_k}``: a
set of ``top_k`` samples per labelled image, as the paper's); ``extra_cells`` are further cells given whole
(a baseline row such as ``{aug: none}``), not crossed with the factors. ``metrics`` picks the table's
columns (default: the task kind's headline metrics); ``reference`` names the settings of the rows every
other row is tested against::

    name: latent_blend_topk
    task: canal
    aug: latent-blend
    detector: segformer
    seeds: [0, 1, 2]
    factors:
      augmentations.latent-blend.top_k: [5, 10, 20, 50]
      augmentations.latent-blend.composition: [synthetic, real+synthetic]
    extra_cells: [{aug: none}]
    reference: {aug: none}
    claim:
      source: Lim et al. (2024)
      text: real + synthetic training data improves canal segmentation over real data alone
      cells: {augmentations.latent-blend.composition: real+synthetic}

**Skipping what is done.** A (cell, seed) is done when the tracking store already holds a FINISHED run
of the task with the same method variant (:func:`benchmark.config.variant_digest` of the cell's resolved
config), training-set size, seed and fold, whoever ran it; so an interrupted ablation resumes where it
stopped, and a cell that equals a leaderboard run is not trained twice. Every cell is resolved and its
methods built before the first run, so a bad spec fails at once. A failing run is recorded (FAILED in
MLflow) and the grid goes on.

**Many workers.** ``shard=(K, N)`` deals the seed-major plan's *generation groups* round-robin and runs
the K-th share: N workers (one per core or machine, one tracking store) started with 1/N ... N/N share the
grid without running a cell twice, and each works on every seed, so the first whole seeds are done first
by all of them together. A generation group is the cells of one seed that generate the same synthetic set
(``ddpm`` and ``classic+ddpm`` at equal ``ddpm`` settings, training-set size, fold and data;
:func:`benchmark.synthetic.generation_settings`), so one worker fits the generator and its next cell of
the group reads the set from the cache instead of fitting it again beside it; any other cell is a group
of its own.

**Table.** One row per cell, shaped like Lim et al. (2024) Table 1: the factor levels (a
``composition`` factor as Real / Synthetic check marks) and ``mean ± SD`` over the cell's seeds. A spec
with a ``reference`` (``{aug: none}``: real data alone) adds a ``p (Holm)`` column, each row tested against
its reference row on per-image results (:mod:`benchmark.ablation_reference`). A cell reuses any matching run
of the store, so runs scored on other test images (another copy of the data) can meet in one table: the
caption then names them (:func:`benchmark.leaderboard.render.mixed_test_sets_note`), and the test never
pairs them with the rest. A spec with a ``claim`` (a seed paper's result, the rows that carry it and what
they must show) ends the table with a ``## Claim`` section: reproduced, not reproduced or pending at this
budget, row by row (:mod:`benchmark.ablation_claim`).
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.ablation_claim import Claim, ClaimRow, claim_sentence, parse_claim, selects
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.record import tags
from benchmark.record.metrics import ACCEPTANCE_RATE, KIND_METRICS, MetricSpec, kind_of, metric_spec, primary

log = logging.getLogger(__name__)
TOP_LEVEL = ("aug", "detector", "train_size")


def metric_label(metric: str) -> str:
    """A column title: the metric's label (:mod:`benchmark.record.metrics`), else its name."""
    spec = metric_spec(metric)
    return metric if spec is None else spec.label


@dataclass(frozen=True)
class AblationSpec:
    name: str
    task: str
    factors: dict[str, list]
    aug: str = "none"
    detector: str = "heatmap"
    profile: str = "default"
    seeds: tuple[int, ...] = (0, 1, 2)
    fixed: dict[str, Any] = field(default_factory=dict)
    linked: dict[str, str] = field(default_factory=dict)
    extra_cells: tuple[dict[str, Any], ...] = ()
    metrics: tuple[str, ...] = ()
    reference: dict[str, Any] = field(default_factory=dict)
    claim: Claim | None = None
    description: str = ""


@dataclass(frozen=True)
class Cell:
    levels: dict[str, Any]
    config: dict[str, Any]

    @property
    def label(self) -> str:
        return json.dumps(self.levels, sort_keys=True, default=str)


@dataclass(frozen=True)
class AblationTable:
    """A rendered table: its Markdown file and, for a spec with a claim, the rows that carry it, the metric
    they are judged on and the reference row's name (what :func:`claim_digest` words)."""

    path: Path
    claim_rows: list[ClaimRow] = field(default_factory=list)
    metric: MetricSpec | None = None
    reference: str = ""


@dataclass
class AblationOutcome:
    cells: list[Cell]
    ran: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    table: AblationTable | None = None


def load_spec(path: Path) -> AblationSpec:
    from dataclasses import fields

    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the ablation spec ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: an ablation spec is a mapping with name, task and factors")
    valid = {f.name for f in fields(AblationSpec)}
    unknown = sorted(set(raw) - valid)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}. Valid: {', '.join(sorted(valid))}")
    missing = [k for k in ("name", "task", "factors") if k not in raw]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}")
    factors = raw["factors"]
    if (not isinstance(factors, dict) or not factors
            or not all(isinstance(v, list) and v for v in factors.values())):
        raise ConfigError(f"{path}: factors must map config keys to non-empty lists of levels")
    linked = raw.get("linked", {})
    if not isinstance(linked, dict) or not all(isinstance(source, str) and source in factors
                                               for source in linked.values()):
        raise ConfigError(f"{path}: linked must map config keys to factor keys ({', '.join(factors)})")
    if set(linked) & (set(factors) | set(TOP_LEVEL)):
        raise ConfigError(f"{path}: a linked key must be a config key that is not a factor")
    seeds = raw.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{path}: seeds must be a non-empty list of integers")
    extra = raw.get("extra_cells", [])
    if not isinstance(extra, list) or not all(isinstance(c, dict) for c in extra):
        raise ConfigError(f"{path}: extra_cells must be a list of mappings")
    if not isinstance(raw.get("reference", {}), dict):
        raise ConfigError(f"{path}: reference must be a mapping of settings, e.g. {{aug: none}}")
    claim = raw.get("claim")
    if claim is not None:
        if not raw.get("reference"):
            raise ConfigError(f"{path}: a claim is tested against the reference rows; add reference")
        claim = parse_claim(claim, factors, str(path))
    return AblationSpec(**{**raw, "seeds": tuple(seeds), "extra_cells": tuple(extra),
                           "metrics": tuple(raw.get("metrics") or ()), "claim": claim})


def resolve_cell(spec: AblationSpec, levels: dict[str, Any], seed: int,
                 overrides: dict[str, Any]) -> dict[str, Any]:
    from benchmark.config import resolve_config

    top = {k: levels[k] for k in TOP_LEVEL if k in levels}
    dotted = {k: v for k, v in levels.items() if k not in TOP_LEVEL}
    linked = {key: levels[source] for key, source in spec.linked.items() if source in levels}
    settings = {**spec.fixed, **linked, **dotted, **overrides, "seed": seed}
    if "train_size" in top:
        settings["train_size"] = top["train_size"]
    return resolve_config(spec.profile, spec.task, top.get("aug", spec.aug),
                          top.get("detector", spec.detector), settings)


def expand(spec: AblationSpec, overrides: dict[str, Any] | None = None) -> list[tuple[Cell, int]]:
    """Every (cell, seed) of the spec, seed by seed, resolved and with its methods built and checked
    (:func:`benchmark.stages.prepare.build_methods`), so bad levels fail now, before anything runs."""
    from benchmark.registry import TASKS
    from benchmark.stages.prepare import build_methods

    TASKS.entry(spec.task)
    grid = [dict(zip(spec.factors, values)) for values in itertools.product(*spec.factors.values())]
    planned = []
    for seed in spec.seeds:  # seed-major: an interrupted grid has whole tables for its first seeds
        for levels in [*spec.extra_cells, *grid]:
            try:
                config = resolve_cell(spec, levels, seed, overrides or {})
                build_methods(config)
            except ConfigError as error:
                raise ConfigError(f"ablation {spec.name}, cell {json.dumps(levels, default=str)}: "
                                  f"{error}") from None
            planned.append((Cell(dict(levels), config), seed))
    if spec.reference:
        try:
            references = cell_references(spec, planned)
        except ConfigError as error:
            raise ConfigError(f"ablation {spec.name}: {error}") from None
        if spec.claim and not any(selects(spec.claim, cell.levels) and cell.label in references
                                  for cell, _ in planned):
            raise ConfigError(f"ablation {spec.name}: the claim's cells {spec.claim.cells} select no row "
                              f"that has a reference row")
    return planned


def cell_references(spec: AblationSpec, planned: list[tuple[Cell, int]]) -> dict[str, str]:
    """``{cell label: reference cell label}`` of the plan (:mod:`benchmark.ablation_reference`)."""
    from benchmark.ablation_reference import reference_labels

    cells = {cell.label: (cell.levels, cell.config) for cell, _ in planned}
    return reference_labels(spec.reference, cells)


def stored_keys(runs: pd.DataFrame) -> list[tags.RunKey]:
    """The :func:`~benchmark.record.tags.run_key` of each run of a
    :func:`~benchmark.leaderboard.collect.search_finished_runs` frame."""
    return [tags.run_key(*row) for row in zip(runs[tags.VARIANT], runs[tags.TRAIN_SIZE], runs[tags.SEED],
                                                 runs[f"param.{tags.FOLD}"])]


def generation_group(cell: Cell, seed: int) -> str:
    """The generation group of ``cell`` at ``seed`` (module docstring), as a JSON key."""
    from benchmark.augmentation import create_augmentation
    from benchmark.synthetic import generation_settings

    config = cell.config
    augmentation = create_augmentation(config["aug"], config["augmentations"])
    if not augmentation.generates:
        return json.dumps({"cell": cell.label, "seed": seed})
    method, settings = generation_settings(augmentation)
    key = {"method": method, "settings": settings, "seed": seed, "fold": config["fold"],
           "train_size": config["train_size"], "data": config["data"]}
    return json.dumps(key, sort_keys=True, default=str)


def shard_indexes(planned: list[tuple[Cell, int]], shard: tuple[int, int] | None) -> set[int]:
    """The 1-based plan indexes that worker ``K`` of ``N`` runs: the generation groups, in the order of
    their first cell, dealt round-robin (every index without ``shard``)."""
    if shard is None:
        return set(range(1, len(planned) + 1))
    groups = [generation_group(cell, seed) for cell, seed in planned]
    order = {group: number for number, group in enumerate(dict.fromkeys(groups))}
    return {index for index, group in enumerate(groups, 1) if order[group] % shard[1] == shard[0] - 1}


def run_ablation(spec: AblationSpec, tracking_uri: str, out_dir: Path,
                 overrides: dict[str, Any] | None = None,
                 dry_run: bool = False, device: str = "auto", progress: bool = True,
                 shard: tuple[int, int] | None = None) -> AblationOutcome:
    from benchmark.leaderboard.collect import search_finished_runs
    from benchmark.runner import run_experiment
    from benchmark.stages.open_run import RunPlacement

    planned = expand(spec, overrides)
    done = set(stored_keys(search_finished_runs(tracking_uri, {tags.TASK: spec.task})))
    outcome = AblationOutcome(cells=[cell for cell, _ in planned])
    mine = shard_indexes(planned, shard)
    for index, (cell, seed) in enumerate(planned, 1):
        if index not in mine:
            continue
        status = "done" if tags.config_run_key(cell.config) in done else "to run"
        log.info("ablation %s [%d/%d] %s seed %d: %s", spec.name, index, len(planned), cell.label, seed,
                 status)
        if status == "done":
            outcome.skipped += 1
            continue
        if dry_run:
            continue
        try:
            placement = RunPlacement(tags={tags.ABLATION: spec.name, tags.CELL: cell.label})
            run_experiment({**cell.config, "tracking": {"uri": tracking_uri, "experiment": None}},
                           progress=progress, device=device, placement=placement)
            outcome.ran += 1
        except (BenchmarkError, RuntimeError, ValueError, FloatingPointError, MemoryError) as error:
            message = f"{cell.label} seed {seed}: {type(error).__name__}: {error}"
            outcome.failed.append(message)
            log.error("ablation %s: %s", spec.name, message)
    if not dry_run:
        outcome.table = render_table(spec, planned, tracking_uri, out_dir)
    return outcome


def render_ablation(spec: AblationSpec, tracking_uri: str, out_dir: Path,
                    overrides: dict[str, Any] | None = None) -> AblationTable:
    """The table of the grid from the runs the store holds now, running nothing (cells not yet run show
    ``0/1`` runs): for a grid whose workers are still at it, or were stopped."""
    return render_table(spec, expand(spec, overrides), tracking_uri, out_dir)


def render_table(spec: AblationSpec, planned: list[tuple[Cell, int]], tracking_uri: str,
                 out_dir: Path) -> AblationTable:
    """``<out_dir>/<name>.md`` and ``.csv``: one row per cell, mean ± SD over its finished seeds (and the
    claim section of a spec with a claim)."""
    from benchmark.ablation_reference import reference_tests
    from benchmark.leaderboard.collect import search_finished_runs
    from benchmark.leaderboard.render import (
        IMAGE_PAIRING_NOTE,
        SIGNIFICANT,
        mixed_test_sets_note,
        p_cell,
        zero_acceptance_note,
    )

    runs = search_finished_runs(tracking_uri, {tags.TASK: spec.task})
    index = dict(zip(stored_keys(runs), runs["run_id"]))
    metrics = list(spec.metrics) or _headline(runs)
    ranked = primary(_kind(runs))
    by_id = runs.set_index("run_id")
    rows, records, zero_acceptance, test_sets = [], [], [], {}
    cells = list(dict.fromkeys(cell.label for cell, _ in planned))
    cell_runs = {}
    for label in cells:
        members = [(cell, seed) for cell, seed in planned if cell.label == label]
        keys = [tags.config_run_key(cell.config) for cell, _ in members]
        run_ids = cell_runs[label] = [index[key] for key in keys if key in index]
        cell = members[0][0]
        levels = _level_cells(spec, cell)
        row = dict(levels)
        # the row's aug (and detector) even where the spec's default sets it, as in the markdown row
        named = {key: cell.config[key] for key in ("aug", "detector") if key in levels}
        record = {**named, **cell.levels, "n_runs": len(run_ids), "n_planned": len(members)}
        for metric in dict.fromkeys([*metrics, ranked.name, ACCEPTANCE_RATE]):
            # a run without the metric (`none` has no acceptance rate) counts as absent, not as 0
            values = by_id.loc[run_ids, f"metrics.{metric}"].astype(float).dropna() \
                if run_ids and f"metrics.{metric}" in by_id else pd.Series(dtype=float)
            mean, sd = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
            record[f"{metric}_mean"], record[f"{metric}_sd"] = mean, sd
            if metric in metrics:
                row[metric_label(metric)] = f"{mean:.3f} ± {sd:.3f}" if len(values) else "–"
        row["runs"] = f"{len(run_ids)}/{len(members)}"
        if record.get(f"{ACCEPTANCE_RATE}_mean") == 0:
            zero_acceptance.append(" / ".join(levels.values()))
        for digest in by_id.loc[run_ids, tags.TEST_DIGEST].fillna("?") if run_ids else []:
            test_sets.setdefault(digest, []).append(" / ".join(levels.values()))
        rows.append(row)
        records.append(record)
    test_note, table = "", AblationTable(out_dir / f"{spec.name}.md")
    if spec.reference:
        references = cell_references(spec, planned)
        compared = reference_tests(references, cell_values(runs, cell_runs, tracking_uri))
        for label, row, record in zip(cells, rows, records):
            result = compared.get(label, {})
            record.update(reference=references.get(label), p_holm=result.get("p_holm"),
                          paired_seeds=result.get("n_seeds"), paired_mean=result.get("mean"),
                          paired_reference_mean=result.get("reference_mean"))
            row["p (Holm)"] = p_cell(result.get("p_holm", float("nan")), references.get(label))
        test_note = (f" p (Holm): two-sided Wilcoxon signed-rank test of each row against the reference row "
                     f"{json.dumps(spec.reference, default=str)} that shares its other factors, on per-image "
                     f"{primary(_kind(runs)).label} averaged over the seeds both ran, Holm-adjusted within "
                     f"the rows of one reference; * p < {SIGNIFICANT:g}; – no finished runs to pair."
                     + IMAGE_PAIRING_NOTE)
        if spec.claim:
            table = claim_table(spec, dict(zip(cells, records)), references, ranked, table.path)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = list(rows[0])
    for row in rows:
        header += [h for h in row if h not in header]
    lines = [f"# Ablation: {spec.name}", "", *([spec.description.strip(), ""] if spec.description else []),
             f"Task `{spec.task}`, profile `{spec.profile}`, seeds {list(spec.seeds)}; mean ± SD over seeds "
             f"(generated by `benchmark ablate` from the tracking store)."
             + linked_note(spec) + test_note + zero_acceptance_note(zero_acceptance)
             + mixed_test_sets_note(test_sets), "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row.get(h, "") for h in header) + " |" for row in rows]
    if spec.claim:
        lines += ["", "## Claim", "", claim_digest(spec, table)]
    table.path.write_text("\n".join(lines) + "\n")
    pd.DataFrame(records).to_csv(out_dir / f"{spec.name}.csv", index=False)
    return table


def claim_table(spec: AblationSpec, records: dict[str, dict[str, Any]], references: dict[str, str],
                ranked: MetricSpec, path: Path) -> AblationTable:
    """The :class:`AblationTable` at ``path`` with the rows that carry the spec's claim (``records``: cell
    label -> the table's record of it; ``references``: cell label -> its reference's label)."""
    rows = []
    for label in references:
        record = records[label]
        levels = {k: record[k] for k in spec.factors if k in record}
        if not selects(spec.claim, levels):
            continue
        common = {"levels": levels, "runs": record["n_runs"], "planned": record["n_planned"],
                  "real_only": record.get(f"{ACCEPTANCE_RATE}_mean") == 0}
        if record["p_holm"] is None:
            rows.append(ClaimRow(**common, mean=record[f"{ranked.name}_mean"]))
        else:
            rows.append(ClaimRow(**common, mean=record["paired_mean"],
                                 reference_mean=record["paired_reference_mean"],
                                 p=record["p_holm"], seeds=record["paired_seeds"]))
    return AblationTable(path, rows, ranked, "/".join(str(value) for value in spec.reference.values()))


def claim_digest(spec: AblationSpec, table: AblationTable, link: str | None = None) -> str:
    """The spec's claim and its status at this budget in one paragraph (:mod:`benchmark.ablation_claim`),
    linking the table at ``link`` where given."""
    return claim_sentence(spec.claim, table.claim_rows, table.metric, table.reference, link)


def write_claim(spec: AblationSpec, table: AblationTable, readme: Path) -> None:
    """The claim digest, linking the table, into ``readme``'s block named after the spec
    (:func:`benchmark.leaderboard.readme.replace_block`)."""
    from benchmark.leaderboard.readme import link_from, replace_block

    replace_block(readme, spec.name, claim_digest(spec, table, link_from(readme, table.path)))


def _kind(runs: pd.DataFrame) -> str:
    return kind_of([column.removeprefix("metrics.") for column in runs.columns]) or "segmentation"


def _headline(runs: pd.DataFrame) -> list[str]:
    return [spec.name for spec in KIND_METRICS[_kind(runs)] if spec.headline]


def cell_values(runs: pd.DataFrame, cell_runs: dict[str, list[str]],
                tracking_uri: str) -> dict[str, pd.Series]:
    """Per-image primary score of each cell with finished runs (``cell_runs``: label -> run ids), indexed by
    (seed, fold, test_digest, image_id): what :func:`benchmark.ablation_reference.reference_tests` pairs. The
    test digest keeps a run scored on other test images (another copy of the data) from pairing by id."""
    from benchmark.leaderboard.collect import per_image_values, read_instances
    from benchmark.record.predictions import per_image_columns

    ran = {run for ids in cell_runs.values() for run in ids}
    wanted = runs[runs["run_id"].isin(ran)].reset_index(drop=True)
    if wanted.empty:
        return {}
    kind = _kind(runs)
    per_image = per_image_values(read_instances(wanted, per_image_columns(kind), tracking_uri), wanted, kind)
    for column in (tags.SEED, tags.TEST_DIGEST):
        per_image[column] = per_image["run_id"].map(dict(zip(wanted["run_id"], wanted[column].astype(str))))
    indexed = per_image.set_index([tags.SEED, tags.FOLD, tags.TEST_DIGEST, "image_id"])
    return {label: indexed.loc[indexed["run_id"].isin(ids), "value"]
            for label, ids in cell_runs.items() if ids}


def linked_note(spec: AblationSpec) -> str:
    """The caption sentence naming the spec's linked keys (empty without any)."""
    if not spec.linked:
        return ""
    pairs = "; ".join(f"`{key}` = `{source}`" for key, source in spec.linked.items())
    return f" Linked in every cell that sets the factor: {pairs}."


def _level_cells(spec: AblationSpec, cell: Cell) -> dict[str, str]:
    """The factor columns of a row, after its aug (and its detector where an extra cell sets one); a
    ``composition`` factor becomes Real / Synthetic check marks, and a cell that does not set a factor (an
    extra cell) shows '–'."""
    row: dict[str, str] = {}
    for key in ("aug", "detector"):  # the detector only where cells differ in it (an extra reference cell)
        if key not in spec.factors and (key == "aug" or any(key in extra for extra in spec.extra_cells)):
            row[key] = str(cell.config[key])
    for key in spec.factors:
        value = cell.levels.get(key)
        if key.endswith(".composition"):
            composition = "real" if value is None else str(value)
            row["Real"] = "✓" if "real" in composition.split("+") else ""
            row["Synthetic"] = "✓" if "synthetic" in composition.split("+") else ""
        else:
            row[key.rsplit(".", 1)[-1]] = "–" if key not in cell.levels else tags.train_size_tag(value)
    return row
