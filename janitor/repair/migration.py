"""Which findings make `mlflow migrate-filestore` fail or lose data.

Read from MLflow 3.17.2's ``mlflow/store/fs2db`` and checked against
real stores (tests/test_migrate_check.py). The migration copies every
experiment folder named by a number, in the root and in ``.trash``, in
one transaction:

- a metric line becomes a row keyed by (key, timestamp, step, run,
  value): two identical lines abort it (``UNIQUE constraint failed``);
  a run's line that does not parse aborts it (``ValueError``,
  ``UnicodeDecodeError``); a logged model's bad line is skipped;
- a meta.yaml that is missing, empty or does not parse is skipped with
  a warning, and with it the object and everything in it; one that is
  not a mapping, or a version without ``version``, or a run status that
  is not 1-5, aborts it;
- ids come from the folders for experiments and from meta.yaml for runs
  and logged models, so one id twice (a run folder copied, an experiment
  both in ``.trash`` and in the root) aborts it, and so does one
  experiment name twice, deleted or not;
- a run whose experiment was skipped lands in the database without one;
- recorded artifact locations are copied as they are: in a moved store
  they still name the old place, where MLflow then finds nothing;
- a folder ``mlruns`` in the store is taken for the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from janitor.checks.finding import Finding
from janitor.repair.plan import RepairPlan
from janitor.store.model import MetricSummary, Snapshot

MIGRATION_FOLDER = "mlruns"  # the migration reads <source>/mlruns first
UNREADABLE_SPECIAL = "a FIFO, socket or device"


@dataclass(frozen=True)
class Blocker:
    """A finding that makes the migration fail or lose data."""

    finding: Finding
    effect: str
    repairable: bool

    @property
    def fix(self) -> str:
        return "`janitor repair`" if self.repairable else self.finding.hint

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.finding.to_dict(),
            "effect": self.effect,
            "repairable": self.repairable,
        }


def blockers(
    snapshot: Snapshot, findings: list[Finding], plan: RepairPlan
) -> list[Blocker]:
    judge = _Judge(snapshot, plan)
    found = []
    for finding in findings:
        effect = judge.effect(finding)
        if effect:
            found.append(Blocker(finding, effect, plan.fixed(finding)))
    return found


class _Judge:
    def __init__(self, snapshot: Snapshot, plan: RepairPlan) -> None:
        self.plan = plan
        self.metrics: dict[str, tuple[MetricSummary, bool]] = {}
        for experiment in snapshot.experiments:
            for run in experiment.runs:
                for summary in run.metrics.values():
                    self.metrics[summary.path] = (summary, False)
            for model in experiment.logged_models:
                for summary in model.metrics.values():
                    self.metrics[summary.path] = (summary, True)
        self.bad_experiment_runs = {
            experiment.path
            for experiment in snapshot.experiments
            if not experiment.meta.ok and experiment.runs
        }
        self.in_both = {
            f".trash/{experiment.experiment_id}"
            for experiment in snapshot.experiments
            if experiment.in_trash
        } & {
            f".trash/{experiment.experiment_id}"
            for experiment in snapshot.experiments
            if not experiment.in_trash
        }
        self.special = {
            stray.path
            for stray in snapshot.strays
            if stray.kind == "unreadable"
            and stray.detail == UNREADABLE_SPECIAL
        }

    def effect(self, finding: Finding) -> str | None:
        """What the migration does because of this finding; None when it
        migrates the store as MLflow shows it."""
        code, path = finding.code, finding.path
        what = _object_kind(path)
        if code == "duplicate-metric-entries":
            return "aborts: UNIQUE constraint failed on the metric rows"
        if code == "malformed-metric":
            return self._metric_effect(path)
        if code in ("missing-meta", "empty-meta"):
            return _DROPS[what]
        if code == "malformed-yaml":
            return "aborts, or " + _DROPS[what]
        if code == "id-mismatch":
            return (
                "aborts when another folder has this id (UNIQUE constraint "
                "failed); else migrates what MLflow hid"
            )
        if code == "duplicate-experiment-name":
            return "aborts: UNIQUE constraint failed: experiments.name"
        if code == "trash-anomaly" and path in self.in_both:
            return (
                "aborts: UNIQUE constraint failed: experiments.experiment_id"
            )
        if code == "orphan-run" and path in self.bad_experiment_runs:
            return "migrates the runs without their experiment"
        if code == "foreign-path" and self.plan.fixed(finding):
            return "keeps the old paths: MLflow finds no artifacts or models"
        if code in ("foreign-folder", "symlink") and path == MIGRATION_FOLDER:
            return "migrates this folder instead of the store"
        if code == "unreadable" and path not in self.special:
            return "aborts (permission denied), or drops what it cannot read"
        return None

    def _metric_effect(self, path: str) -> str | None:
        summary, logged_model = self.metrics.get(path, (None, False))
        if summary is not None and summary.size == 0:
            return None  # an empty file has no value to lose
        if logged_model:
            return "drops the bad lines of this logged model's metric"
        return "aborts (Malformed metric line), or migrates a damaged value"


_DROPS = {
    "experiment": "drops the experiment; its runs migrate without it",
    "run": "drops the run with its metrics, params and tags",
    "logged model": "drops the logged model with its metrics",
    "registered model": "drops the registered model and its versions",
    "model version": "drops the model version",
}


def _object_kind(path: str) -> str:
    """What a meta.yaml path belongs to, from the store's layout."""
    parts = path.split("/")
    if parts[0] == ".trash":
        parts = parts[1:]
    if parts[0] == "models":
        return "model version" if len(parts) > 3 else "registered model"
    if len(parts) > 2 and parts[1] == "models":
        return "logged model"
    return "experiment" if len(parts) <= 2 else "run"
