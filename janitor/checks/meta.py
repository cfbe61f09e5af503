"""meta.yaml checks: present, parseable, complete, consistent, untouched."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from janitor.checks.finding import Finding, Severity
from janitor.store.model import (
    RUN_STATUSES,
    Meta,
    MetaProblem,
    Snapshot,
)

ID = (str, int)
OPTIONAL_INT = (int, type(None))
STAGES = ("active", "deleted")
_ABSENT = object()

# key -> accepted types, for the keys MLflow cannot do without.
EXPERIMENT_KEYS: dict[str, tuple[type, ...]] = {
    "experiment_id": ID,
    "name": (str,),
    "artifact_location": (str,),
    "lifecycle_stage": (str,),
}
RUN_KEYS: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "experiment_id": ID,
    "user_id": (str,),
    "start_time": OPTIONAL_INT,
    "end_time": OPTIONAL_INT,
}
LOGGED_MODEL_KEYS: dict[str, tuple[type, ...]] = {
    "model_id": (str,),
    "experiment_id": ID,
}
REGISTERED_MODEL_KEYS: dict[str, tuple[type, ...]] = {"name": (str,)}
VERSION_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "version": ID,
    "creation_timestamp": (int,),
}


def check_meta(snapshot: Snapshot, _context: Any) -> Iterator[Finding]:
    # A meta.yaml that is a link, or in a folder that could not be read,
    # is reported as such (symlink, unreadable), not as missing.
    hidden = {
        stray.path
        for stray in snapshot.strays
        if stray.kind in ("symlink", "unreadable")
    }
    for finding in _all_meta_findings(snapshot):
        folder = finding.path.rsplit("/", 1)[0]
        if finding.code == "missing-meta" and (
            finding.path in hidden or folder in hidden
        ):
            continue
        yield finding


def _all_meta_findings(snapshot: Snapshot) -> Iterator[Finding]:
    for experiment in snapshot.experiments:
        exp_id = experiment.experiment_id
        yield from _meta_findings(
            experiment.meta,
            "experiment",
            EXPERIMENT_KEYS,
            exp_id,
            None,
        )
        if experiment.meta.ok:
            yield from _experiment_consistency(experiment.meta, exp_id)
        for run in experiment.runs:
            yield from _meta_findings(
                run.meta,
                "run",
                RUN_KEYS,
                exp_id,
                run.run_id,
            )
            if run.meta.ok:
                yield from _run_consistency(run.meta, exp_id, run.run_id)
        for model in experiment.logged_models:
            yield from _meta_findings(
                model.meta,
                "logged model",
                LOGGED_MODEL_KEYS,
                exp_id,
                None,
            )
            if model.meta.ok:
                yield from _logged_model_consistency(
                    model.meta,
                    exp_id,
                    model.model_id,
                )
    for registered in snapshot.registered_models:
        yield from _meta_findings(
            registered.meta,
            "registered model",
            REGISTERED_MODEL_KEYS,
            None,
            None,
        )
        if registered.meta.ok:
            yield from _registry_consistency(
                registered.meta,
                "name",
                registered.name,
                registered.name,
            )
        for version in registered.versions:
            yield from _meta_findings(
                version.meta,
                "model version",
                VERSION_KEYS,
                None,
                None,
            )
            if version.meta.ok:
                yield from _registry_consistency(
                    version.meta,
                    "version",
                    version.version,
                    registered.name,
                )
                yield from _registry_consistency(
                    version.meta,
                    "name",
                    registered.name,
                    registered.name,
                )


def _meta_findings(
    meta: Meta,
    what: str,
    keys: dict[str, tuple[type, ...]],
    experiment_id: str | None,
    run_id: str | None,
) -> Iterator[Finding]:
    def finding(code: str, message: str, hint: str) -> Finding:
        severity = (
            Severity.WARNING if code == "manual-edit" else Severity.ERROR
        )
        return Finding(
            code,
            severity,
            meta.path,
            message,
            hint,
            experiment_id,
            run_id,
        )

    restore = (
        "restore it from a backup or version control; MLflow hides or "
        "fails on this " + what
    )
    if meta.problem is MetaProblem.MISSING:
        yield finding(
            "missing-meta", f"{what} folder has no meta.yaml", restore
        )
    elif meta.problem is MetaProblem.EMPTY:
        yield finding("empty-meta", f"{what} meta.yaml is empty", restore)
    elif meta.problem is MetaProblem.UNREADABLE:
        yield finding(
            "unreadable",
            f"{what} meta.yaml cannot be read: {meta.detail}",
            "fix the file permissions",
        )
    elif meta.problem is not None:
        yield finding(
            "malformed-yaml",
            f"{what} meta.yaml does not parse: {meta.detail}",
            restore,
        )
    else:
        problems = list(_field_problems(meta.data, keys))
        if problems:
            yield finding(
                "malformed-yaml",
                f"{what} meta.yaml: " + "; ".join(problems),
                restore,
            )
        elif not meta.canonical:
            yield finding(
                "manual-edit",
                f"{what} meta.yaml is not in the form MLflow writes "
                "(edited by hand?)",
                "check the change against version control; let MLflow "
                "or `janitor repair` write meta.yaml files",
            )


def _field_problems(
    data: Mapping[str, Any],
    keys: dict[str, tuple[type, ...]],
) -> Iterator[str]:
    for key, types in keys.items():
        value = data.get(key, _ABSENT)
        if value is _ABSENT:
            yield f"missing key {key!r}"
        elif not isinstance(value, types) or isinstance(value, bool):
            if not (value is None and type(None) in types):
                yield f"{key!r} has a wrong type ({type(value).__name__})"
    stage = data.get("lifecycle_stage")
    if stage is not None and stage not in STAGES:
        yield f"lifecycle_stage {stage!r} is not active or deleted"
    if "status" in data and "run_id" in keys:
        status = data["status"]
        if not isinstance(status, int) or status not in RUN_STATUSES:
            yield f"status {status!r} is not one of 1-5"


def _experiment_consistency(meta: Meta, folder_id: str) -> Iterator[Finding]:
    recorded = str(meta.get("experiment_id"))
    if recorded != folder_id:
        yield Finding(
            "id-mismatch",
            Severity.ERROR,
            meta.path,
            f"experiment_id is {recorded!r} but the folder is "
            f"{folder_id!r}; MLflow ignores this experiment",
            "rename the folder or restore the original meta.yaml",
            folder_id,
        )


def _run_consistency(
    meta: Meta,
    folder_experiment: str,
    folder_run: str,
) -> Iterator[Finding]:
    run_id = str(meta.get("run_id"))
    experiment_id = str(meta.get("experiment_id"))
    if run_id != folder_run:
        yield Finding(
            "id-mismatch",
            Severity.ERROR,
            meta.path,
            f"run_id is {run_id!r} but the folder is {folder_run!r}; "
            "MLflow cannot open this run",
            "rename the folder or restore the original meta.yaml",
            folder_experiment,
            folder_run,
        )
    if experiment_id != folder_experiment:
        yield Finding(
            "id-mismatch",
            Severity.ERROR,
            meta.path,
            f"experiment_id is {experiment_id!r} but the run sits in "
            f"experiment {folder_experiment!r}; MLflow hides this run",
            "move the run folder to its experiment or restore the "
            "original meta.yaml",
            folder_experiment,
            folder_run,
        )


def _logged_model_consistency(
    meta: Meta,
    folder_experiment: str,
    folder_model: str,
) -> Iterator[Finding]:
    model_id = str(meta.get("model_id"))
    experiment_id = str(meta.get("experiment_id"))
    if model_id != folder_model or experiment_id != folder_experiment:
        yield Finding(
            "id-mismatch",
            Severity.ERROR,
            meta.path,
            f"logged model meta.yaml says model {model_id!r} in "
            f"experiment {experiment_id!r}, but its folder is "
            f"{folder_experiment}/models/{folder_model}",
            "rename the folder or restore the original meta.yaml",
            folder_experiment,
        )


def _registry_consistency(
    meta: Meta,
    key: str,
    folder_value: str,
    model: str,
) -> Iterator[Finding]:
    recorded = str(meta.get(key))
    if recorded != folder_value:
        yield Finding(
            "id-mismatch",
            Severity.ERROR,
            meta.path,
            f"{key} is {recorded!r} but the folder says {folder_value!r}; "
            f"MLflow's registry answers wrongly for {model!r}",
            "rename the folder or restore the original meta.yaml",
        )
