"""Where the bytes are: per store, experiment, run; largest runs and files.

A run's size is its folder (metadata, metrics, artifacts) plus the MLflow
3 logged models it produced. Sizes are apparent bytes of regular files,
the sum `du -sb` gives less the folders themselves.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from janitor.store.model import Run, Snapshot

TOP = 10


@dataclass
class RunSize:
    experiment_id: str
    run_id: str
    name: str
    bytes: int
    artifact_bytes: int


@dataclass
class SizeReport:
    store_bytes: int
    files: int
    experiments: list[dict[str, Any]] = field(default_factory=list)
    largest_runs: list[RunSize] = field(default_factory=list)
    largest_files: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_bytes": self.store_bytes,
            "files": self.files,
            "experiments": self.experiments,
            "largest_runs": [vars(run) for run in self.largest_runs],
            "largest_files": self.largest_files,
        }


def logged_model_bytes(snapshot: Snapshot) -> dict[str, int]:
    """Run folder -> bytes of the logged models the run produced (in its
    experiment folder); runs without any are left out."""
    found: dict[str, int] = {}
    for experiment in snapshot.experiments:
        for model in experiment.logged_models:
            if model.source_run_id:
                key = f"{experiment.path}/{model.source_run_id}"
                found[key] = found.get(key, 0) + model.bytes
    return found


def run_artifact_bytes(run: Run, model_bytes: dict[str, int]) -> int:
    """A run's artifacts and the logged models it produced, in bytes:
    what a run budget or a run_artifacts limit holds to."""
    return run.artifact_bytes + model_bytes.get(run.path, 0)


def run_sizes(snapshot: Snapshot) -> Iterator[RunSize]:
    """Every run's size, logged models included, one at a time."""
    model_bytes = logged_model_bytes(snapshot)
    for run in snapshot.runs():
        yield RunSize(
            run.experiment_id,
            run.run_id,
            run.name,
            run.bytes + model_bytes.get(run.path, 0),
            run_artifact_bytes(run, model_bytes),
        )


def size_report(snapshot: Snapshot, top: int = TOP) -> SizeReport:
    report = SizeReport(snapshot.bytes, snapshot.files)
    for experiment in sorted(
        snapshot.experiments,
        key=lambda exp: -exp.bytes,
    ):
        report.experiments.append(
            {
                "experiment_id": experiment.experiment_id,
                "name": experiment.name,
                "deleted": experiment.in_trash,
                "runs": len(experiment.runs),
                "bytes": experiment.bytes,
            }
        )
    # As a stable sort by size would order them, holding only the top.
    report.largest_runs = heapq.nlargest(
        top, run_sizes(snapshot), key=lambda run: run.bytes
    )
    report.largest_files = [
        {
            "path": large.path,
            "bytes": large.bytes,
            "experiment_id": large.experiment_id,
            "run_id": large.run_id,
        }
        for large in snapshot.largest_files[:top]
    ]
    return report
