"""`janitor hook`: check the store files a commit stages (pre-commit).

Only the runs the files belong to are read, never the whole store, so
the hook takes the same fraction of a second on a store of any size.
Four checks, each printed as ``path: code: message``:

- integrity errors of the touched runs (what `janitor audit` reports),
- files over the file limit (``large-file``), with the run they are in,
- staged changes MLflow would not make, against git's HEAD
  (``manual-edit``; see `janitor.checks.history`),
- when the commit changes the model registry or deletes a run or a
  logged model: the registry versions and aliases it touches, with the
  registry checks of `janitor audit` (the registry is small; runs and
  models are looked up by folder name, not scanned).

Without FILES, the hook checks every change staged in git.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import click

from janitor import git
from janitor.budgets import LimitSet, limits_in_force
from janitor.checks import (
    CheckContext,
    history,
    paths,
    registry,
    run_checks,
    run_local_checks,
)
from janitor.checks.finding import Finding, Severity
from janitor.errors import EXIT_FINDINGS, EXIT_OK
from janitor.policy.model import Limits
from janitor.report import natural_size
from janitor.store.filestore import META, FileStore
from janitor.store.locate import (
    Place,
    StoreFinder,
    janitor_folder,
    place_of,
)
from janitor.store.metayaml import parse_meta
from janitor.store.model import Snapshot
from janitor.units import parse_size

logger = logging.getLogger("janitor")
DEFAULT_FILE_LIMIT = parse_size("50MB")
TRASH_PREFIX = ".trash/"


@dataclass(frozen=True)
class Target:
    """A file to check: which store holds it and where in it."""

    store: str  # absolute store root
    path: str  # relative to the store root, '/' separated
    place: Place


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the current folder
    code: str
    message: str

    def line(self) -> str:
        return f"{self.path}: {self.code}: {self.message}"


def hook(
    files: tuple[str, ...],
    policy_path: str | None,
    max_file: int | None,
    quiet: bool,
) -> int:
    limits = limits_in_force(policy_path, Limits(file=max_file))
    top = git.work_tree_top(os.getcwd())
    if not files and top:
        files = tuple(_staged_paths(top))
    targets = locate(files)
    if not targets:
        return EXIT_OK
    snapshots = read_touched(targets)
    problems = list(integrity(snapshots))
    problems += large_files(targets, snapshots, limits)
    staged: dict[str, dict[str, git.Change]] = {}
    if top:
        staged = staged_by_store(targets, top)
        problems += manual_edits(targets, staged, top)
    else:
        logger.warning("not in a git work tree: manual edits not checked")
    problems += registry_links(targets, staged)
    lines = sorted({problem.line() for problem in problems})
    for line in lines:
        click.echo(line)
    return EXIT_FINDINGS if lines else EXIT_OK


def _staged_paths(top: str) -> Iterator[str]:
    for change in git.staged_changes(top, ["."]):
        yield os.path.relpath(os.path.join(top, change.path))


def locate(files: Iterable[str]) -> list[Target]:
    """The given files that are inside a store. Janitor's records, in a
    `.janitor` folder outside any store, are not; a store's copies in
    janitor's trash are not a store of their own."""
    finder = StoreFinder()
    targets = []
    for given in files:
        root = finder.root_of(janitor_folder(given) or given)
        if root is None:
            logger.debug("%s: not in an MLflow store", given)
            continue
        path = os.path.relpath(os.path.abspath(given), root)
        path = path.replace(os.sep, "/")
        targets.append(Target(root, path, place_of(path)))
    return targets


def read_touched(targets: list[Target]) -> dict[str, Snapshot]:
    """Per store, a snapshot of the runs and experiments the targets
    touch; a logged model's file touches the run that logged it."""
    selection: dict[str, dict[str, set[str]]] = defaultdict(dict)
    sources: dict[tuple[str, str], str | None] = {}
    for target in targets:
        place = target.place
        if place.experiment_folder is None:
            continue
        runs = selection[target.store].setdefault(
            place.experiment_folder, set()
        )
        run_id = place.run_id
        if place.kind == "logged-model":
            key = (target.store, place.unit)
            if key not in sources:
                sources[key] = _source_run(*key)
            run_id = sources[key]
        if run_id:
            runs.add(run_id)
    return {
        store: FileStore(store).read_runs(runs)
        for store, runs in selection.items()
    }


def _source_run(store: str, model_folder: str) -> str | None:
    """The run a logged model names as its source."""
    meta_path = os.path.join(store, model_folder, "meta.yaml")
    try:
        with open(meta_path, "rb") as handle:
            meta = parse_meta(model_folder, handle.read())
    except OSError:
        return None
    source = meta.get("source_run_id")
    return str(source) if source else None


def integrity(snapshots: dict[str, Snapshot]) -> Iterator[Problem]:
    checks = run_local_checks()
    for store, snapshot in snapshots.items():
        context = CheckContext(now=snapshot.scanned_at, store_root=store)
        for finding in run_checks(snapshot, context, checks):
            if finding.severity >= Severity.ERROR:
                yield _problem(store, finding)
            else:
                logger.info(
                    "%s: %s: %s", finding.path, finding.code, finding.message
                )


def large_files(
    targets: list[Target],
    snapshots: dict[str, Snapshot],
    limits: LimitSet,
) -> list[Problem]:
    names = {
        (store, experiment.path): experiment.name
        for store, snapshot in snapshots.items()
        for experiment in snapshot.experiments
    }
    runs = {
        (store, model.path): model.source_run_id
        for store, snapshot in snapshots.items()
        for model in snapshot.logged_models()
    }
    problems = []
    for target in targets:
        size = _file_size(os.path.join(target.store, target.path))
        folder = target.place.experiment_folder
        name = names.get((target.store, folder or ""))
        in_force = limits.for_experiment(name) if name else limits.top()
        limit = in_force.file
        if limit is None:
            limit = DEFAULT_FILE_LIMIT
        if size is None or size <= limit:
            continue
        run_id = target.place.run_id or runs.get(
            (target.store, target.place.unit)
        )
        of_run = f" (run {run_id})" if run_id else ""
        problems.append(
            Problem(
                _shown(target.store, target.path),
                "large-file",
                f"{natural_size(size)} ({size} bytes) is over the file "
                f"limit of {natural_size(limit)}{of_run}; keep large "
                "files out of git (Git LFS, or a remote artifact store)",
            )
        )
    return problems


def _file_size(path: str) -> int | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def staged_by_store(
    targets: list[Target], top: str
) -> dict[str, dict[str, git.Change]]:
    """Per store of the targets, every change staged in it, by path
    relative to the store root."""
    staged = {}
    for store in sorted({target.store for target in targets}):
        prefix = _prefix(store, top)
        staged[store] = {
            change.path[len(prefix) :]: change
            for change in git.staged_changes(top, [prefix or "."])
        }
    return staged


def _prefix(store: str, top: str) -> str:
    """The store root relative to the work tree's top, as a path prefix."""
    prefix = os.path.relpath(store, top).replace(os.sep, "/")
    return "" if prefix == "." else prefix + "/"


def manual_edits(
    targets: list[Target],
    staged: dict[str, dict[str, git.Change]],
    top: str,
) -> list[Problem]:
    by_store: dict[str, set[str]] = defaultdict(set)
    for target in targets:
        by_store[target.store].add(target.path)
    problems = []
    for store, given in sorted(by_store.items()):
        problems += [
            _problem(store, finding)
            for finding in _store_edits(store, given, staged[store], top)
        ]
    return problems


def _store_edits(
    store: str, given: set[str], changes: dict[str, git.Change], top: str
) -> Iterator[Finding]:
    """Check the staged changes of one store: the given files, and every
    deletion (pre-commit passes no deleted file)."""
    prefix = _prefix(store, top)
    deleted = {path: c for path, c in changes.items() if c.status == "D"}
    checked = {
        path: change
        for path, change in changes.items()
        if path in given and change.status in "AMT"
    }
    before_of = {}
    for path, change in checked.items():
        moved = _moved_from(path, deleted) if change.status == "A" else None
        before_of[path] = moved or change.before
    blobs = git.read_blobs(
        top,
        list(before_of.values()) + [c.after for c in checked.values()],
    )
    for path, change in sorted(checked.items()):
        place = place_of(path)
        if change.status == "T":
            yield from history.type_changed(path, place)
            continue
        after = blobs.get(change.after)
        before = blobs.get(before_of[path])
        if after is None:
            continue
        if before is None:
            yield from history.added(path, place, after)
        elif before != after:
            yield from history.modified(path, place, before, after)
    yield from _deletions(top, prefix, deleted)


def _moved_from(path: str, deleted: dict[str, git.Change]) -> str | None:
    """The blob a file had before MLflow moved it into or out of .trash
    (deleting or restoring its experiment), if its old path is deleted
    now."""
    if path.startswith(TRASH_PREFIX):
        twin = path[len(TRASH_PREFIX) :]
    else:
        twin = TRASH_PREFIX + path
    return deleted[twin].before if twin in deleted else None


def _deletions(
    top: str, prefix: str, deleted: dict[str, git.Change]
) -> Iterator[Finding]:
    places = {path: place_of(path) for path in deleted}
    kept = git.folders_in_index(
        top,
        {
            prefix + place.unit
            for place in places.values()
            if history.deletion_needs_unit(place)
        },
    )
    # What a metric file held tells whether repair took it out.
    metrics = {
        path: deleted[path].before
        for path, place in places.items()
        if history.is_metric(place) and prefix + place.unit in kept
    }
    blobs = git.read_blobs(top, metrics.values())
    for path, place in sorted(places.items()):
        unit_kept = prefix + place.unit in kept
        before = blobs.get(metrics[path]) if path in metrics else None
        yield from history.deleted(path, place, unit_kept, before)


def registry_links(
    targets: list[Target], staged: dict[str, dict[str, git.Change]]
) -> list[Problem]:
    """Registry versions and aliases the commit touches, checked like
    `janitor audit` checks them, when the commit changes the registry or
    deletes a run or logged model. Only findings about what the commit
    touches are reported: older damage elsewhere blocks no commit."""
    problems = []
    for store in sorted({target.store for target in targets}):
        if store in staged:
            change = _registry_change(staged[store])
        else:
            given = {t.path for t in targets if t.store == store}
            change = _registry_change({path: None for path in given})
        if change.paths or change.runs or change.models:
            problems += [
                _problem(store, finding)
                for finding in _store_links(store, change)
            ]
    return problems


def _registry_change(
    changes: Mapping[str, git.Change | None],
) -> registry.RegistryChange:
    """What in ``changes`` registry links depend on (a change of None is
    a file given without git)."""
    paths, runs, models = set(), set(), set()
    for path, change in changes.items():
        place = place_of(path)
        if place.kind == "registry":
            paths.add(path)
        elif change is None or change.status != "D":
            continue
        elif place.kind == "run" and place.part == META and place.run_id:
            runs.add(place.run_id)
        elif place.kind == "logged-model" and place.part == META:
            models.add(place.unit.rsplit("/", 1)[-1])
    return registry.RegistryChange(
        frozenset(paths), frozenset(runs), frozenset(models)
    )


def _store_links(
    store: str, change: registry.RegistryChange
) -> Iterator[Finding]:
    touched = registry.touched_links(FileStore(store).read_registry(), change)
    if not touched:
        return
    # The registry again, with the runs and models the versions name.
    versions = [version for version in touched.values() if version]
    run_ids = {registry.version_run_id(version) for version in versions}
    model_ids = {
        model_id
        for version in versions
        for model_id in registry.version_model_ids(version)
    }
    snapshot = FileStore(store).read_registry(
        {run_id for run_id in run_ids if run_id}, model_ids
    )
    context = CheckContext(now=snapshot.scanned_at, store_root=store)
    checks = [registry.check_registry, paths.check_version_paths]
    for finding in run_checks(snapshot, context, checks):
        if finding.severity >= Severity.ERROR and finding.path in touched:
            yield finding


def _problem(store: str, finding: Finding) -> Problem:
    return Problem(_shown(store, finding.path), finding.code, finding.message)


def _shown(store: str, path: str) -> str:
    return os.path.relpath(os.path.join(store, path)).replace(os.sep, "/")
