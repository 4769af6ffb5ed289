"""One experiment, end to end, as one MLflow run: the stages of :mod:`benchmark.stages` in order.

Everything that can fail on user input (names, settings, data) fails in ``prepare``, before the MLflow
run starts, so bad input leaves no run behind; anything that fails later ends the run FAILED.
"""

from __future__ import annotations

from typing import Any

from benchmark.stages.evaluate import evaluate
from benchmark.stages.open_run import RunPlacement, open_run
from benchmark.stages.prepare import prepare
from benchmark.stages.record import RunResult, record
from benchmark.stages.synthesize import synthesize
from benchmark.stages.train import train


def run_experiment(config: dict[str, Any], *, progress: bool = True, device: str = "auto",
                   use_cache: bool = True, placement: RunPlacement = RunPlacement(),
                   resume: str | None = None) -> RunResult:
    """Run one experiment and log it as one MLflow run, placed by ``placement``. ``resume`` (a run id, or
    ``"latest"``) continues an interrupted run of the same configuration in the same MLflow run, from its
    last checkpoint (see :func:`benchmark.stages.open_run.resumable_run`)."""
    experiment = prepare(config, device)
    with open_run(experiment, placement, resume) as run:
        synthesis = synthesize(experiment, run, use_cache)
        trained = train(experiment, synthesis, run, progress)
        return record(experiment, run, synthesis, trained, evaluate(experiment, trained))
