"""Database URLs: passwords never printed or logged, and ``postgresql://`` working with the locked driver
for both the Optuna storage and an MLflow store (against the real server the tests start)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmark.database_url import masked, with_driver
from benchmark.tracking import loggable_params
from tests.cli_helpers import run_cli, runs_in
from tests.postgres_server import PostgresServer, free_port

USERS = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=12)
PASSWORDS = st.text(st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=30)


@given(
    user=USERS,
    password=PASSWORDS,
    scheme=st.sampled_from(["postgresql", "postgresql+psycopg2", "mysql", "https"]),
)
def test_the_password_of_any_url_in_a_text_is_masked(user, password, scheme):
    url = f"{scheme}://{user}:{password}@db.example.org:5432/optuna"
    text = f"cannot open study storage {url}: connection refused"
    assert (
        masked(text) == f"cannot open study storage {scheme}://{user}:***@db.example.org:5432/optuna: "
        "connection refused"
    )


@pytest.mark.parametrize(
    "text", ["sqlite:///mlruns/mlflow.db", "postgresql://user@host/db", "no url at all", "file:///tmp/a:b@c"]
)
def test_text_without_a_password_is_unchanged(text):
    assert masked(text) == text


def test_params_are_logged_with_the_password_masked():
    params = loggable_params({"tracking.uri": "postgresql://ana:hunter2@db/mlflow", "train.lr": 0.002})
    assert params == {"tracking.uri": "postgresql://ana:***@db/mlflow", "train.lr": "0.002"}


def test_the_driver_is_spelled_out_only_for_bare_postgresql():
    assert with_driver("postgresql://u@h:5432/d") == "postgresql+psycopg2://u@h:5432/d"
    assert with_driver("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    for url in ("postgresql+psycopg2://u@h/d", "sqlite:///x.db", "mysql://u@h/d", "mlruns"):
        assert with_driver(url) == url


def test_a_storage_error_names_the_url_without_its_password(capsys, tmp_path):
    closed = free_port()
    code, _, err = run_cli(
        capsys,
        "sweep",
        "--task",
        "hand",
        "--profile",
        "smoke",
        "--n-trials",
        "1",
        "--storage",
        f"postgresql://ana:hunter2@127.0.0.1:{closed}/optuna",
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "hunter2" not in err
    assert f"postgresql+psycopg2://ana:***@127.0.0.1:{closed}/optuna" in lines[0]
    assert not runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture(scope="module")
def bare_postgres_urls():
    """``postgresql://`` URLs of two databases (Optuna and MLflow each keep their own schema version)."""
    import psycopg2

    server = PostgresServer()
    url = server.start().replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(url)
    connection.autocommit = True  # CREATE DATABASE runs outside a transaction
    for name in ("optuna", "mlflow"):
        connection.cursor().execute(f"CREATE DATABASE {name}")
    connection.close()
    base = url.rsplit("/", 1)[0]
    yield f"{base}/optuna", f"{base}/mlflow"
    server.stop()


def test_bare_postgresql_urls_work_for_optuna_and_mlflow(bare_postgres_urls, capsys, monkeypatch, tmp_path):
    from benchmark.sweep.storage import open_storage

    optuna_url, mlflow_url = bare_postgres_urls
    storage = open_storage(optuna_url, 60, 120)
    assert storage.get_all_studies() == []
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(
        capsys, "run", "--task", "hand", "--profile", "smoke", "--no-progress", "--tracking-uri", mlflow_url
    )
    assert code == 0, err
    (run,) = runs_in(with_driver(mlflow_url))
    assert run.info.status == "FINISHED" and run.data.params["tracking.uri"] == with_driver(mlflow_url)


@pytest.mark.parametrize("server", ["refuses", "never answers"])
def test_an_unreachable_tracking_server_is_one_line_within_15_s(capsys, tmp_path, server):
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    if server == "never answers":
        listener.listen()  # accepts connections and sends nothing back
    port = listener.getsockname()[1]
    if server == "refuses":
        listener.close()
    started = time.monotonic()
    try:
        code, _, err = run_cli(capsys, "run", "--task", "hand", "--profile", "smoke", "--no-progress",
                               "--tracking-uri", f"http://ana:hunter2@127.0.0.1:{port}")
    finally:
        listener.close()
    assert code == 2 and time.monotonic() - started < 15
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "does not answer" in lines[0] and "hunter2" not in lines[0]
