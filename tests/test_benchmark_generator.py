"""The benchmark store generator writes what MLflow itself would: MLflow
reads it without a complaint and the janitor finds nothing wrong."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.entities import ViewType

from benchmarks.generate import Shape, generate
from janitor.store import open_store
from tests.conftest import audit_json

SHAPE = Shape(
    runs=30,
    experiments=3,
    deleted_experiments=1,
    history=4,
    model_every=4,
    deleted_every=7,
    failed_every=5,
    seed=7,
)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_logged():
    """Every warning MLflow logs, through its own loggers or the root."""
    handler = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("mlflow")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.messages
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated") / "mlruns"
    return root, generate(str(root), SHAPE)


def _client(root: Path) -> MlflowClient:
    uri = "file:" + str(root)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_mlflow_reads_every_run_and_latest_metric(generated, warnings_logged):
    root, written = generated
    client = _client(root)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs(
        [experiment.experiment_id for experiment in experiments],
        run_view_type=ViewType.ALL,
        max_results=1000,
    )
    assert len(runs) == SHAPE.runs == len(written.latest_metrics)
    by_id = {run.info.run_id: run.data.metrics for run in runs}
    assert by_id == written.latest_metrics
    deleted = {
        e.experiment_id for e in experiments if e.lifecycle_stage == "deleted"
    }
    assert set(written.deleted_experiment_ids) <= deleted
    assert warnings_logged == []


def test_mlflow_reads_logged_models_and_the_registry(
    generated, warnings_logged, monkeypatch
):
    root, written = generated
    # MLflow's registry opens a default client of its own to read the
    # logged model; without this it makes ./mlflow.db.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:" + str(root))
    client = _client(root)
    live = set(written.experiment_ids)
    # MLflow finds no logged model of a deleted experiment.
    for model_id, experiment_id in written.logged_models.items():
        if experiment_id in live:
            model = client.get_logged_model(model_id)
            assert model.source_run_id in written.latest_metrics
    champion = client.get_model_version_by_alias("bench_model", "champion")
    assert int(champion.version) == 3
    assert champion.model_id in written.logged_models
    assert warnings_logged == []


def test_janitor_reads_the_same_latest_metrics(generated):
    root, written = generated
    snapshot = open_store(str(root)).scan()
    ours = {
        run.run_id: {
            key: summary.latest_value for key, summary in run.metrics.items()
        }
        for run in snapshot.runs()
    }
    assert ours == written.latest_metrics
    assert len(snapshot.logged_models()) == len(written.logged_models)
    assert snapshot.files == written.files
    assert snapshot.bytes == written.bytes


def test_audit_finds_nothing(generated):
    root, _written = generated
    report = audit_json(root, "--fail-on", "warning")
    assert report["findings"] == []
    assert report["summary"]["runs"] == SHAPE.runs


def _meta_keys(root: Path) -> dict[str, set[frozenset[str]]]:
    """The key sets of every kind of meta.yaml in a store."""
    kinds: dict[str, set[frozenset[str]]] = {}
    for meta in root.rglob("meta.yaml"):
        parts = meta.relative_to(root).parts
        if parts[0] == "models":
            kind = "version" if parts[-2].startswith("version-") else "model"
        elif "outputs" in parts:
            kind = "output"
        elif "models" in parts:
            kind = "logged-model"
        elif len(parts) == 2 or (parts[0] == ".trash" and len(parts) == 3):
            kind = "experiment"
        else:
            kind = "run"
        data = yaml.safe_load(meta.read_text())
        # Which optional keys appear depends on the object's history.
        keys = set(data) - {"deleted_time", "tags"}
        kinds.setdefault(kind, set()).add(frozenset(keys))
    return kinds


def test_meta_keys_are_those_mlflow_writes(generated, rich_store):
    root, _written = generated
    ours, theirs = _meta_keys(root), _meta_keys(rich_store)
    assert ours.keys() == theirs.keys()
    for kind in ours:
        assert ours[kind] <= theirs[kind], kind


def test_same_seed_same_bytes(tmp_path):
    shape = Shape(runs=6, experiments=2, model_every=3, seed=3)
    first = tmp_path / "a" / "mlruns"
    second = tmp_path / "b" / "mlruns"
    generate(str(first), shape)
    generate(str(second), shape)

    def contents(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes().replace(
                str(root).encode(), b"ROOT"
            )
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    assert contents(first) == contents(second)


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_the_bare_pass_reads_the_whole_store(generated, processes):
    # The reference the janitor is held to must not skip any of the
    # work it stands for: every file stat'ed, every metric line parsed,
    # however the store is split between processes.
    from benchmarks.tasks import bare_pass

    root, written = generated
    metric_lines = sum(
        len(path.read_bytes().splitlines())
        for path in root.rglob("*")
        if path.parent.name == "metrics" and path.is_file()
    )
    counted = bare_pass(str(root), processes)
    assert counted == {
        "files": written.files,
        "bytes": written.bytes,
        "metric_lines": metric_lines,
    }
    assert metric_lines > SHAPE.runs  # every run logs metrics
