"""Size budgets: the `limits` of a policy measured against a store.

Four budgets: the whole store, each experiment, each run's artifacts
(with the logged models the run produced, as `janitor.sizes` counts
them) and each file. Limits are bytes; None means the budget is not set.
A policy's per-experiment limits apply to the experiments they match;
a limit given on the command line replaces the policy's everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from janitor.policy.model import Limits, Policy
from janitor.sizes import logged_model_bytes, run_artifact_bytes
from janitor.store.filestore import TRASH
from janitor.store.model import Experiment, Snapshot

# Budget names, in the order reports list them, and the Limits field
# each one reads.
BUDGETS = ("store", "experiment", "run", "file")
LIMIT_FIELDS = {
    "store": "store",
    "experiment": "experiment",
    "run": "run_artifacts",
    "file": "file",
}


@dataclass
class Offender:
    """One thing over its budget."""

    budget: str
    path: str  # relative to the store root; "." is the store
    bytes: int
    limit: int
    experiment_id: str | None = None
    run_id: str | None = None
    name: str = ""  # the experiment's or the run's name

    @property
    def over_by(self) -> int:
        return self.bytes - self.limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "path": self.path,
            "bytes": self.bytes,
            "limit": self.limit,
            "over_by": self.over_by,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "name": self.name,
        }


@dataclass
class BudgetStatus:
    """One budget: its limit, the largest thing it measured, how many
    things are over."""

    budget: str
    limit: int | None
    largest: int  # the store, or the largest experiment, run or file
    largest_path: str | None
    offenders: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "limit": self.limit,
            "actual": self.largest,
            "path": self.largest_path,
            "offenders": self.offenders,
        }


@dataclass
class LimitSet:
    """The limits in force: a policy's (top-level and per experiment)
    with the command line's values on top."""

    policy: Policy | None = None
    overrides: Limits = dataclasses.field(default_factory=Limits)

    def top(self) -> Limits:
        base = self.policy.limits if self.policy else Limits()
        return self._with_overrides(base)

    def for_experiment(self, name: str) -> Limits:
        if self.policy is None:
            return self.top()
        return self._with_overrides(self.policy.for_experiment(name).limits)

    def any_set(self) -> bool:
        return any(
            getattr(limits, field) is not None
            for limits in self._all()
            for field in LIMIT_FIELDS.values()
        )

    def smallest_file_limit(self) -> int | None:
        """The smallest file limit anywhere: the scan lists every file
        over it, and each is then held to its own experiment's limit."""
        sizes = [lim.file for lim in self._all() if lim.file is not None]
        return min(sizes) if sizes else None

    def _all(self) -> list[Limits]:
        found = [self.top()]
        if self.policy:
            found += [
                self._with_overrides(override.limits)
                for override in self.policy.experiments
            ]
        return found

    def _with_overrides(self, base: Limits) -> Limits:
        given = {
            key: value
            for key, value in vars(self.overrides).items()
            if value is not None
        }
        return dataclasses.replace(base, **given)


def limits_in_force(policy_path: str | None, overrides: Limits) -> LimitSet:
    """The limits of a policy file (if any) with command-line values."""
    policy = load_policy_file(policy_path) if policy_path else None
    return LimitSet(policy, overrides)


def load_policy_file(path: str) -> Policy:
    """The policy at ``path``, validated."""
    from janitor.policy.load import load_policy

    return load_policy(path)


def measure(
    snapshot: Snapshot, limits: LimitSet
) -> tuple[list[BudgetStatus], list[Offender]]:
    """Every budget's status and every offender, largest excess first.

    The snapshot must come from a scan with ``files_over`` at most
    ``limits.smallest_file_limit()``, or file offenders go unseen.
    """
    sizes = logged_model_bytes(snapshot)
    offenders = (
        _store(snapshot, limits)
        + _experiments(snapshot, limits)
        + _runs(snapshot, limits, sizes)
        + _files(snapshot, limits)
    )
    offenders.sort(key=lambda item: (-item.over_by, -item.bytes, item.path))
    statuses = _statuses(snapshot, limits.top(), sizes)
    for status in statuses:
        status.offenders = sum(o.budget == status.budget for o in offenders)
    return statuses, offenders


def _store(snapshot: Snapshot, limits: LimitSet) -> list[Offender]:
    limit = limits.top().store
    if limit is None or snapshot.bytes <= limit:
        return []
    return [Offender("store", ".", snapshot.bytes, limit)]


def _experiments(snapshot: Snapshot, limits: LimitSet) -> list[Offender]:
    found = []
    for experiment in snapshot.experiments:
        limit = limits.for_experiment(experiment.name).experiment
        if limit is not None and experiment.bytes > limit:
            found.append(
                Offender(
                    "experiment",
                    experiment.path,
                    experiment.bytes,
                    limit,
                    experiment.experiment_id,
                    None,
                    experiment.name,
                )
            )
    return found


def _runs(
    snapshot: Snapshot, limits: LimitSet, sizes: dict[str, int]
) -> list[Offender]:
    found = []
    for experiment in snapshot.experiments:
        limit = limits.for_experiment(experiment.name).run_artifacts
        if limit is None:
            continue
        for run in experiment.runs:
            size = run_artifact_bytes(run, sizes)
            if size > limit:
                found.append(
                    Offender(
                        "run",
                        run.path,
                        size,
                        limit,
                        experiment.experiment_id,
                        run.run_id,
                        run.name,
                    )
                )
    return found


def _files(snapshot: Snapshot, limits: LimitSet) -> list[Offender]:
    by_folder = {exp.path: exp for exp in snapshot.experiments}
    model_runs = {
        model.path: model.source_run_id
        for experiment in snapshot.experiments
        for model in experiment.logged_models
    }
    found = []
    for large in snapshot.large_files:
        folder = experiment_folder(large.path)
        experiment = by_folder.get(folder)
        in_force = (
            limits.for_experiment(experiment.name)
            if experiment
            else limits.top()
        )
        limit = in_force.file
        if limit is None or large.bytes <= limit:
            continue
        # A logged model's file belongs to the run that logged it.
        model = "/".join(large.path.split("/")[: folder.count("/") + 3])
        run_id = large.run_id or model_runs.get(model)
        found.append(
            Offender(
                "file",
                large.path,
                large.bytes,
                limit,
                large.experiment_id,
                run_id,
            )
        )
    return found


def experiment_folder(path: str) -> str:
    """The experiment folder a store path is in (``<id>`` or
    ``.trash/<id>``), or its first part when it is in none."""
    parts = path.split("/")
    if parts[0] == TRASH and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}"
    return parts[0]


def _statuses(
    snapshot: Snapshot, top: Limits, sizes: dict[str, int]
) -> list[BudgetStatus]:
    largest_run = max(
        snapshot.runs(),
        key=lambda run: run_artifact_bytes(run, sizes),
        default=None,
    )
    largest_experiment: Experiment | None = max(
        snapshot.experiments, key=lambda exp: exp.bytes, default=None
    )
    largest_file = (
        snapshot.largest_files[0] if snapshot.largest_files else None
    )
    return [
        BudgetStatus("store", top.store, snapshot.bytes, "."),
        BudgetStatus(
            "experiment",
            top.experiment,
            largest_experiment.bytes if largest_experiment else 0,
            largest_experiment.path if largest_experiment else None,
        ),
        BudgetStatus(
            "run",
            top.run_artifacts,
            run_artifact_bytes(largest_run, sizes) if largest_run else 0,
            largest_run.path if largest_run else None,
        ),
        BudgetStatus(
            "file",
            top.file,
            largest_file.bytes if largest_file else 0,
            largest_file.path if largest_file else None,
        ),
    ]
