"""Model registry and logged model checks: every link resolves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from janitor.checks import CheckContext
from janitor.checks.finding import Finding, Severity
from janitor.store.model import (
    DELETED,
    LoggedModel,
    ModelVersion,
    Run,
    Snapshot,
)


def runs_by_id(snapshot: Snapshot) -> dict[str, tuple[Run, bool]]:
    """Run id -> (run, whether it is deleted, by stage or by trash)."""
    found = {}
    for experiment in snapshot.experiments:
        for run in experiment.runs:
            deleted = experiment.in_trash or run.lifecycle_stage == DELETED
            found[run.run_id] = (run, deleted)
    return found


def models_by_id(snapshot: Snapshot) -> dict[str, tuple[LoggedModel, bool]]:
    found = {}
    for experiment in snapshot.experiments:
        for model in experiment.logged_models:
            deleted = (
                experiment.in_trash
                or model.meta.get("lifecycle_stage") == DELETED
            )
            found[model.model_id] = (model, deleted)
    return found


def version_run_id(version: ModelVersion) -> str | None:
    """The run a version names: run_id, or a runs:/<id>/ source."""
    if version.run_id:
        return version.run_id
    source = str(version.meta.get("source") or "")
    if source.startswith("runs:/"):
        return source[len("runs:/") :].split("/", 1)[0] or None
    return None


def version_model_ids(version: ModelVersion) -> list[str]:
    """The logged models a version names: model_id, and the id in a
    ``models:/<model id>`` source."""
    ids = [version.model_id] if version.model_id else []
    source = str(version.meta.get("source") or "")
    if source.startswith("models:/"):
        model_id = source[len("models:/") :].rstrip("/")
        if model_id and "/" not in model_id and model_id not in ids:
            ids.append(model_id)
    return ids


@dataclass(frozen=True)
class RegistryChange:
    """What a commit changes that registry links depend on: registry
    paths added, changed or deleted, and the runs and logged models it
    deletes."""

    paths: frozenset[str]
    runs: frozenset[str]
    models: frozenset[str]

    def touches(self, folder: str) -> bool:
        return any(path.startswith(folder + "/") for path in self.paths)


def touched_links(
    snapshot: Snapshot, change: RegistryChange
) -> dict[str, ModelVersion | None]:
    """The version meta.yaml and alias paths a change is about, each with
    its version (None for an alias): a version changed, or naming a
    deleted run or model; an alias changed, or its version changed."""
    touched: dict[str, ModelVersion | None] = {}
    for registered in snapshot.registered_models:
        for version in registered.versions:
            if (
                change.touches(version.path)
                or version_run_id(version) in change.runs
                or change.models.intersection(version_model_ids(version))
            ):
                touched[version.meta.path] = version
        for alias, target in registered.aliases.items():
            path = f"{registered.path}/aliases/{alias}"
            if path in change.paths or change.touches(
                f"{registered.path}/version-{target}"
            ):
                touched[path] = None
    return touched


@dataclass
class _Unseen:
    """What the scan could not look into: ids behind symbolic links, and
    whether any folder was unreadable. A link is never "missing"."""

    linked: set[str]
    unreadable: bool

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Unseen:
        return cls(
            {
                stray.path.rsplit("/", 1)[-1]
                for stray in snapshot.strays
                if stray.kind == "symlink"
            },
            any(stray.kind == "unreadable" for stray in snapshot.strays),
        )

    def missing(self, target_id: str) -> tuple[Severity, str] | None:
        """Severity and wording for a target not found, or None when it
        may well be there, behind a link."""
        if target_id in self.linked:
            return None
        if self.unreadable:
            return (
                Severity.WARNING,
                "was not found (some folders could not be read)",
            )
        return Severity.ERROR, "is not in the store"


def check_registry(
    snapshot: Snapshot, _context: CheckContext
) -> Iterator[Finding]:
    runs = runs_by_id(snapshot)
    models = models_by_id(snapshot)
    unseen = _Unseen.of(snapshot)
    for registered in snapshot.registered_models:
        live, unknown = set(), set()
        for version in registered.versions:
            if not version.meta.ok:
                unknown.add(version.version)
            elif not version.deleted:
                live.add(version.version)
                yield from _version_links(version, runs, models, unseen)
        for alias, target in sorted(registered.aliases.items()):
            if target in live or target in unknown:
                continue
            yield Finding(
                "dangling-version",
                Severity.ERROR,
                f"{registered.path}/aliases/{alias}",
                f"alias {alias!r} of {registered.name!r} points at "
                f"version {target[:40]!r}, which does not exist or is "
                "deleted",
                "point the alias at a live version with "
                "`MlflowClient().set_registered_model_alias`",
            )


def _version_links(
    version: ModelVersion,
    runs: dict[str, tuple[Run, bool]],
    models: dict[str, tuple[LoggedModel, bool]],
    unseen: _Unseen,
) -> Iterator[Finding]:
    label = f"version {version.version} of {version.model_name!r}"
    links: list[tuple[str, str, tuple[object, bool] | None]] = []
    run_id = version_run_id(version)
    if run_id:
        links.append(("run", run_id, runs.get(run_id)))
    for model_id in version_model_ids(version):
        links.append(("logged model", model_id, models.get(model_id)))
    for kind, target_id, target in links:
        if target is None:
            verdict = unseen.missing(target_id)
            if verdict is None:
                continue
            severity, state = verdict
        elif target[1]:
            severity, state = Severity.WARNING, "is deleted"
        else:
            continue
        yield Finding(
            "dangling-version",
            severity,
            version.meta.path,
            f"{label} names {kind} {target_id}, which {state}; "
            "loading the version fails without it",
            "restore the " + kind + ", or delete the version with "
            "`MlflowClient().delete_model_version`",
            None,
            run_id,
        )


def check_logged_models(
    snapshot: Snapshot,
    _context: CheckContext,
) -> Iterator[Finding]:
    runs = runs_by_id(snapshot)
    unseen = _Unseen.of(snapshot)
    for experiment in snapshot.experiments:
        for model in experiment.logged_models:
            source = model.source_run_id
            if not model.meta.ok or not source or source in runs:
                continue
            if unseen.missing(source) is None:
                continue
            yield Finding(
                "orphan-logged-model",
                Severity.WARNING,
                model.path,
                f"logged model {model.model_id} comes from run {source}, "
                "which is not in the store",
                "restore the run, or prune the model if no registry "
                "version needs it",
                experiment.experiment_id,
                source,
            )
