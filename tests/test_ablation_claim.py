"""A seed's claim tested by its ablation table: the status rules, the spec checks and the rendered words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.ablation import load_spec, render_ablation
from benchmark.ablation_claim import Claim, ClaimRow, claim_sentence, status
from benchmark.errors import ConfigError
from benchmark.leaderboard.render import p_text
from benchmark.record.metrics import primary
from tests.cli_helpers import run_cli
from tests.test_leaderboard import (
    LEVEL_SHIFT,
    N_IMAGES,
    N_LANDMARKS,
    REFERENCE_SPEC,
    hand_store,
    log_run,
    write_spec,
)

MRE = primary("landmarks")
BETTER = ClaimRow({"train_size": 10}, runs=3, planned=3, mean=2.0, reference_mean=3.0, p=0.001, seeds=3)
LEVEL = ClaimRow({"train_size": None}, runs=3, planned=3, mean=2.9, reference_mean=3.0, p=0.4, seeds=3)
WORSE = ClaimRow({"train_size": 50}, runs=3, planned=3, mean=3.5, reference_mean=3.0, p=0.01, seeds=3)


@pytest.mark.parametrize("expect, rows, expected", [
    ("better", [BETTER], "reproduced"),
    ("better", [BETTER, LEVEL], "not reproduced"),
    ("not-worse", [BETTER, LEVEL], "reproduced"),
    ("not-worse", [LEVEL, WORSE], "not reproduced"),
    ("better", [BETTER, ClaimRow({}, runs=2, planned=3, mean=2.0, reference_mean=3.0, p=0.001)], "pending"),
    ("better", [ClaimRow({}, runs=3, planned=3, mean=2.0, reference_mean=3.0, p=math.nan)], "pending"),
    ("better", [ClaimRow({}, runs=3, planned=3, mean=2.0, reference_mean=3.0, p=0.001, real_only=True)],
     "not reproduced"),
    ("better", [], "pending"),
])
def test_claim_status_needs_every_row_complete_and_showing_the_expectation(expect, rows, expected):
    assert status(Claim("S", "t", expect), rows, MRE) == expected


def test_claim_sentence_gives_each_rows_means_p_verdict_and_seeds():
    unpaired = ClaimRow({"train_size": 50}, runs=1, planned=3, mean=2.5)
    sentence = claim_sentence(Claim("Hadzic et al. (2024)", "DDPM helps."), [BETTER, LEVEL, unpaired], MRE,
                              "none", "ablations/x.md")
    assert sentence == (
        "**Hadzic et al. (2024)** ([table](ablations/x.md)): DDPM helps. **Pending**: 2 of 3 rows have all "
        "their seeds and a p. MRE per row against none, both means over the seeds the two ran, with the "
        "table's p (Holm): train_size 10: none 3.00 → 2.00 mm over 3 seeds, p = 0.001, better (3 of 3 seeds "
        "run); train_size all: none 3.00 → 2.90 mm over 3 seeds, p = 0.4, not significant (3 of 3 seeds "
        "run); train_size 50: 2.50 mm, no none run on its seeds yet (1 of 3 seeds run).")
    assert claim_sentence(Claim("S", "t"), [BETTER, LEVEL], MRE, "none").split(". ", 2)[1] == (
        "**Not reproduced** at this budget: not every row shown is significantly better than none")




@pytest.mark.parametrize("claim, problem", [
    ("claim: {text: t}", "claim must be a mapping with source and text"),
    ("claim: {source: s, text: t, expect: equal}", "expect 'equal' is not one of better, not-worse"),
    ("claim: {source: s, text: t, cells: {top_k: 5}}", "claim cells must map factors of the spec"),
    ("claim: {source: s, text: t, cells: {aug: vae}}", "'vae' is not a level of that factor"),
    ("claim: {source: s, text: t, note: n}", "unknown key"),
])
def test_a_bad_claim_names_the_spec_and_what_to_fix(tmp_path, claim, problem):
    path = write_spec(tmp_path, REFERENCE_SPEC + claim + "\n")
    with pytest.raises(ConfigError, match=problem) as raised:
        load_spec(path)
    assert str(path) in str(raised.value)


def test_a_claim_needs_a_reference(tmp_path):
    path = write_spec(tmp_path, REFERENCE_SPEC.replace("reference: {aug: none}\n", "")
                      + "claim: {source: s, text: t}\n")
    with pytest.raises(ConfigError, match="add reference"):
        load_spec(path)


@pytest.fixture(scope="module")
def claim_store(tmp_path_factory):
    """Hand runs, 3 seeds: ddpm clearly better than none at 10 images and level with it at full size; gan
    has one seed at full size only."""
    tmp = tmp_path_factory.mktemp("claim")
    uri, experiment_id, client = hand_store(tmp)
    rng = np.random.default_rng(5)
    for seed in range(3):
        for size in ("10", "all"):
            base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
            log_run(client, experiment_id, "none", seed, base, train_size=size, tmp=tmp)
            shift = -1.0 if size == "10" else LEVEL_SHIFT
            log_run(client, experiment_id, "ddpm", seed, base + shift + rng.normal(0, 0.05, base.shape),
                    train_size=size, tmp=tmp, generated={"acceptance_rate": 0.5})
            if size == "all" and seed == 0:
                log_run(client, experiment_id, "gan", seed, base + 0.5, train_size=size, tmp=tmp,
                        generated={"acceptance_rate": 0.5})
    return uri


@pytest.mark.parametrize("cells, verdict", [
    ("{aug: ddpm, train_size: 10}", "**Reproduced** at this budget"),
    ("{aug: ddpm}", "**Not reproduced** at this budget"),
    ("{aug: gan}", "**Pending**: 0 of 2 rows have all their seeds and a p."),
])
def test_the_table_ends_with_the_claim_and_its_status(claim_store, tmp_path, cells, verdict):
    claim = f"claim: {{source: Paper, text: t, cells: {cells}}}\n"
    spec = load_spec(write_spec(tmp_path, REFERENCE_SPEC + claim))
    table = render_ablation(spec, claim_store, tmp_path / "out")
    text = table.path.read_text()
    assert text.split("## Claim\n\n", 1)[1].startswith(f"**Paper**: t. {verdict}")
    if cells == "{aug: gan}":
        assert "train_size 10, aug gan: no finished run (0 of 3 seeds run)" in text
        assert "train_size all, aug gan: none" in text and "over 1 seed, p = " in text
        assert "(1 of 3 seeds run)" in text


def test_ablate_readme_writes_the_claim_with_a_link_and_keeps_the_prose(claim_store, tmp_path, capsys):
    claim = "claim: {source: Paper, text: t, cells: {aug: ddpm, train_size: 10}}\n"
    spec = write_spec(tmp_path, REFERENCE_SPEC + claim)
    begin, end = "<!-- leaderboard:against_real -->\n", "<!-- /leaderboard:against_real -->\n"
    readme = tmp_path / "README.md"
    readme.write_text(f"Prose.\n{begin}old\n{end}End.\n")
    code, _, err = run_cli(capsys, "ablate", str(spec), "--table-only", "--tracking-uri", claim_store,
                           "--out", str(tmp_path / "boards" / "ablations"), "--readme", str(readme))
    assert code == 0, err
    text = readme.read_text()
    block = text.split(begin)[1].split(end)[0]
    assert text.startswith(f"Prose.\n{begin}") and text.endswith(f"{end}End.\n")
    table = render_ablation(load_spec(spec), claim_store, tmp_path / "again")
    (row,) = table.claim_rows
    assert block == (f"**Paper** ([table](boards/ablations/against_real.md)): t. **Reproduced** at this "
                     f"budget: every row shown is significantly better than none. MRE per row against none, "
                     f"both means over the seeds the two ran, with the table's p (Holm): train_size 10, aug "
                     f"ddpm: none {row.reference_mean:.2f} → {row.mean:.2f} mm over 3 seeds, "
                     f"p = {p_text(row.p)}, better (3 of 3 seeds run).\n")


def test_ablate_readme_of_a_spec_without_a_claim_fails_before_anything_runs(claim_store, tmp_path, capsys):
    spec = write_spec(tmp_path, REFERENCE_SPEC)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- leaderboard:against_real -->\n<!-- /leaderboard:against_real -->\n")
    code, _, err = run_cli(capsys, "ablate", str(spec), "--tracking-uri", claim_store,
                           "--out", str(tmp_path / "out"), "--readme", str(readme))
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {spec}: --readme writes the spec's claim, and this spec has none")
    assert not (tmp_path / "out").exists()
