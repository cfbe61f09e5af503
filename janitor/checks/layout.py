"""Checks on the shape of the tree: strays, trash, names, stale runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import humanize

from janitor.checks import CheckContext
from janitor.checks.finding import Finding, Severity
from janitor.store.model import ACTIVE, DELETED, Experiment, Snapshot

REQUIRED_RUN_FOLDERS = ("metrics", "params", "artifacts")


def check_layout(
    snapshot: Snapshot, _context: CheckContext
) -> Iterator[Finding]:
    for stray in snapshot.strays:
        yield _stray_finding(
            stray.kind,
            stray.path,
            stray.detail,
            stray.experiment_id,
            stray.run_id,
        )
    active_ids = {
        exp.experiment_id for exp in snapshot.experiments if not exp.in_trash
    }
    for experiment in snapshot.experiments:
        yield from _orphan_runs(experiment)
        yield from _trash_findings(experiment, active_ids)


def _stray_finding(
    kind: str,
    path: str,
    detail: str,
    experiment_id: str | None,
    run_id: str | None,
) -> Finding:
    if kind == "symlink":
        return Finding(
            "symlink",
            Severity.WARNING,
            path,
            f"symbolic link to {detail}; the janitor does not follow it, "
            "MLflow does",
            "replace the link with the files it points to, or move it "
            "out of the store",
            experiment_id,
            run_id,
        )
    if kind == "unreadable":
        return Finding(
            "unreadable",
            Severity.ERROR,
            path,
            f"cannot be read: {detail}",
            "fix the permissions so the store's owner can read it",
            experiment_id,
            run_id,
        )
    if kind == "not-a-folder":
        return Finding(
            "trash-anomaly" if path == ".trash" else "foreign-folder",
            Severity.ERROR,
            path,
            f"{path} is a file where MLflow keeps a folder; MLflow fails to "
            "list the store",
            "move the file out of the store",
        )
    if kind == "trash-stray":
        return Finding(
            "trash-anomaly",
            Severity.WARNING,
            path,
            f"not a deleted experiment ({detail})",
            "move it out of .trash; only deleted experiments belong there",
        )
    where = "a run" if experiment_id else "an experiment"
    return Finding(
        "foreign-folder",
        Severity.WARNING,
        path,
        f"folder with {detail}; MLflow treats it as {where} and "
        "fails or warns on it",
        "move it out of the store (`janitor repair` moves it to the "
        "janitor's trash)",
        experiment_id,
    )


def _orphan_runs(experiment: Experiment) -> Iterator[Finding]:
    if not experiment.meta.ok and experiment.runs:
        # One finding for the experiment, not one per healthy run.
        count = len(experiment.runs)
        yield _orphan(
            experiment,
            experiment.path,
            None,
            f"{count} run{'s' if count > 1 else ''} in {experiment.path} "
            "that MLflow cannot list: the experiment has no valid meta.yaml",
            "restore the experiment's meta.yaml from a backup or version "
            "control; the runs themselves are intact",
        )
        return
    for run in experiment.runs:
        absent = [
            f"{name}/"
            for name in REQUIRED_RUN_FOLDERS
            if name not in run.subfolders
        ]
        if absent and run.meta.ok:
            yield _orphan(
                experiment,
                run.path,
                run.run_id,
                "run folder lacks "
                + ", ".join(absent)
                + "; MLflow lists it but refuses to open it",
                "create the missing empty folders (`janitor repair` does); "
                "git drops empty folders, so a clone of a store loses them",
            )


def _orphan(
    experiment: Experiment,
    path: str,
    run_id: str | None,
    message: str,
    hint: str,
) -> Finding:
    return Finding(
        "orphan-run",
        Severity.ERROR,
        path,
        message,
        hint,
        experiment.experiment_id,
        run_id,
    )


def _trash_findings(
    experiment: Experiment,
    active_ids: set[str],
) -> Iterator[Finding]:
    if not experiment.meta.ok:
        return
    stage = experiment.lifecycle_stage
    exp_id = experiment.experiment_id
    if experiment.in_trash and stage == ACTIVE:
        yield Finding(
            "trash-anomaly",
            Severity.WARNING,
            experiment.meta.path,
            "experiment in .trash is marked active",
            "restore it with `mlflow experiments restore` or move it back "
            "to the store root",
            exp_id,
        )
    if experiment.in_trash and exp_id in active_ids:
        yield Finding(
            "trash-anomaly",
            Severity.WARNING,
            experiment.path,
            f"experiment {exp_id} is both in .trash and in the store root",
            "keep one copy; restoring the deleted one would overwrite the "
            "other",
            exp_id,
        )
    if not experiment.in_trash and stage == DELETED:
        yield Finding(
            "trash-anomaly",
            Severity.WARNING,
            experiment.meta.path,
            "experiment is marked deleted but is not in .trash",
            "delete it with `mlflow experiments delete` so it moves to "
            ".trash, or mark it active",
            exp_id,
        )


def check_experiment_names(
    snapshot: Snapshot,
    _context: CheckContext,
) -> Iterator[Finding]:
    by_name: dict[str, list[Experiment]] = defaultdict(list)
    for experiment in snapshot.experiments:
        if experiment.meta.ok and experiment.name:
            by_name[experiment.name].append(experiment)
    for name, experiments in sorted(by_name.items()):
        if len(experiments) < 2:
            continue
        active = [exp for exp in experiments if not exp.in_trash]
        severity = Severity.ERROR if len(active) > 1 else Severity.WARNING
        ids = ", ".join(exp.experiment_id for exp in experiments)
        for experiment in experiments[1:]:
            yield Finding(
                "duplicate-experiment-name",
                severity,
                experiment.meta.path,
                f"experiment name {name!r} is shared by experiments {ids}; "
                "MLflow resolves the name to only one of them",
                "rename all but one with `mlflow experiments rename`",
                experiment.experiment_id,
            )


def check_stale_running(
    snapshot: Snapshot,
    context: CheckContext,
) -> Iterator[Finding]:
    for experiment in snapshot.experiments:
        for run in experiment.runs:
            if not run.meta.ok or run.status != "RUNNING":
                continue
            idle = context.now - run.last_write
            if run.lifecycle_stage != ACTIVE or idle < context.stale_after:
                continue
            yield Finding(
                "stale-running",
                Severity.WARNING,
                run.meta.path,
                "run is RUNNING but nothing in it was written for "
                f"{humanize.naturaldelta(idle)}; its process likely died",
                "mark it ended with `MlflowClient().set_terminated(run_id, "
                "'KILLED')`",
                experiment.experiment_id,
                run.run_id,
            )
