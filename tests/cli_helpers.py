"""Drive the CLI in-process on the smoke profile and read what it tracked."""

import json

from mlflow.tracking import MlflowClient

from benchmark.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, tracking_uri, *args: str) -> dict:
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--no-progress", "--json",
                             "--tracking-uri", tracking_uri, *args)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def runs_in(tracking_uri: str) -> list:
    client = MlflowClient(tracking_uri)
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments]) if experiments else []
