"""Child programs the benchmark times where no janitor command does the
job yet, and the MLflow baseline.

    python -m benchmarks.tasks gate STORE
    python -m benchmarks.tasks prune STORE [--metric roc_auc] [--keep 3]
    python -m benchmarks.tasks mlflow STORE

`gate` is what the size gate needs: a scan without metric parsing and
the size report. `prune` is the work of `janitor prune --dry-run` with a
top-N policy: a full scan, then the best N runs of each experiment by
their latest metric kept and the others planned for pruning. `mlflow`
lists every run with MlflowClient, as a user's script would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the MLflow task loads nothing of the janitor
    from janitor.store.model import Run


def gate(store: str) -> dict[str, int]:
    from janitor.sizes import size_report
    from janitor.store import open_store

    snapshot = open_store(store).scan(metrics=False)
    report = size_report(snapshot)
    return {"bytes": report.store_bytes, "files": report.files}


def prune_plan(store: str, metric: str, keep: int) -> dict[str, int]:
    from janitor.store import open_store
    from janitor.store.model import DELETED

    snapshot = open_store(store).scan(metrics=True)
    kept = pruned = 0
    for experiment in snapshot.experiments:
        live = [
            run
            for run in experiment.runs
            if run.lifecycle_stage != DELETED and not experiment.in_trash
        ]
        ranked = sorted(live, key=lambda run: _score(run, metric))
        kept += min(keep, len(ranked))
        pruned += len(experiment.runs) - min(keep, len(ranked))
    return {"kept": kept, "pruned": pruned}


def _score(run: Run, metric: str) -> float:
    """Sort key: best first, runs without the metric last."""
    value = run.latest_value(metric)
    return -value if value is not None and value == value else float("inf")


def mlflow_runs(store: str) -> dict[str, int]:
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri="file:" + os.path.abspath(store))
    experiment_ids = [
        experiment.experiment_id
        for experiment in client.search_experiments(view_type=ViewType.ALL)
    ]
    count, token = 0, None
    while True:
        page = client.search_runs(
            experiment_ids,
            run_view_type=ViewType.ALL,
            max_results=50_000,
            page_token=token,
        )
        count += len(page)
        token = page.token
        if not token:
            return {"runs": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tasks")
    parser.add_argument("task", choices=["gate", "prune", "mlflow"])
    parser.add_argument("store")
    parser.add_argument("--metric", default="roc_auc")
    parser.add_argument("--keep", type=int, default=3)
    args = parser.parse_args(argv)
    if args.task == "gate":
        result = gate(args.store)
    elif args.task == "prune":
        result = prune_plan(args.store, args.metric, args.keep)
    else:
        result = mlflow_runs(args.store)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
