"""Stores written by real MLflow audit clean, and janitor reads them as
MLflow does."""

from __future__ import annotations

import math

from mlflow import MlflowClient
from mlflow.entities import ViewType

from janitor.store import open_store
from tests.conftest import audit_json


def _codes(report: dict, severities=("error", "warning")) -> set[str]:
    return {
        finding["code"]
        for finding in report["findings"]
        if finding["severity"] in severities
    }


def test_mlflow3_store_has_no_error_or_warning(rich_store):
    report = audit_json(rich_store)
    # MLflow 3.17.2 itself duplicates metric lines when a run logs a model.
    assert _codes(report) == {"duplicate-metric-entries"}
    assert report["summary"]["runs"] == 8
    assert report["summary"]["deleted_experiments"] == 1


def test_mlflow2_store_has_no_finding_but_the_move(mlflow2_store):
    report = audit_json(mlflow2_store)
    # The committed store was written elsewhere: only its paths differ.
    assert _codes(report, ("error", "warning", "info")) == {"foreign-path"}
    (moved,) = report["findings"]
    assert "tests/fixtures/mlflow2/mlruns" in moved["message"]


def _mlflow_view(root) -> dict[str, dict]:
    client = MlflowClient(tracking_uri="file:" + str(root))
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs(
        [exp.experiment_id for exp in experiments],
        run_view_type=ViewType.ALL,
    )
    return {run.info.run_id: run.data.metrics for run in runs}


def _janitor_view(root) -> dict[str, dict]:
    snapshot = open_store(str(root)).scan()
    return {
        run.run_id: {
            key: summary.latest_value for key, summary in run.metrics.items()
        }
        for run in snapshot.runs()
    }


def _same(left: dict, right: dict) -> bool:
    if left.keys() != right.keys():
        return False
    for key in left:
        a, b = left[key], right[key]
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            return False
    return True


def test_runs_and_latest_metrics_match_mlflow_3(rich_store):
    ours, theirs = _janitor_view(rich_store), _mlflow_view(rich_store)
    assert ours.keys() == theirs.keys()
    for run_id in ours:
        assert _same(ours[run_id], theirs[run_id]), run_id


def test_runs_and_latest_metrics_match_mlflow_on_mlflow2_store(mlflow2_store):
    ours, theirs = _janitor_view(mlflow2_store), _mlflow_view(mlflow2_store)
    assert len(ours) == 9
    assert ours.keys() == theirs.keys()
    for run_id in ours:
        assert _same(ours[run_id], theirs[run_id]), run_id
