"""Artifact location checks: local paths stay inside the store and exist.

MLflow records absolute ``file://`` locations. When a store is copied or
cloned elsewhere they still point at the old place: MLflow then lists
no artifacts and cannot load models.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

from janitor.actions.safepath import parent_of
from janitor.checks import CheckContext
from janitor.checks.finding import Finding, Severity
from janitor.errors import JanitorError
from janitor.store.model import Meta, Snapshot

HISTORY_TAG = "mlflow.log-model.history"  # MLflow 2's list of a run's models

REBASE_HINT = (
    "the store was moved or copied from {old}: rewrite that prefix to this "
    "store's path (`janitor repair --rebase {old}={new}`)"
)
OUTSIDE_HINT = (
    "artifacts kept outside the store are neither sized nor pruned; "
    "if the store was moved, rewrite the old prefix "
    "(`janitor repair --rebase OLD=NEW`)"
)


# The rest of a location MLflow wrote below the store: folder names of
# ids and words, nothing a URL parser or normpath would change.
_PLAIN_REST = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*\Z")


def plainly_inside(uri: str, root: str) -> bool:
    """Whether a location is, with no doubt, ``file://<root>/...`` of
    plain folder names: most of a store's locations, told without
    parsing."""
    prefix = _plain_prefix(root)
    return (
        prefix is not None
        and uri.startswith(prefix)
        and bool(_PLAIN_REST.match(uri, len(prefix)))
    )


@functools.lru_cache(maxsize=8)
def _plain_prefix(root: str) -> str | None:
    """``file://<root>/``, or None for a root whose characters a URL
    parser may read otherwise (the long way knows what it makes of them)."""
    if not root.startswith("/") or any(c in root for c in "%;?#"):
        return None
    return f"file://{root}/"


def local_path(uri: str) -> str | None:
    """The filesystem path of a local URI, or None for remote ones."""
    try:
        parsed = urlparse(uri)
    except ValueError:  # not a URL at all, e.g. an unclosed [ in the host
        return None
    if parsed.scheme == "file":
        return os.path.normpath(unquote(parsed.path))
    if not parsed.scheme and uri.startswith("/"):
        return os.path.normpath(uri)
    return None


def old_root(path: str, folder: str) -> str | None:
    """The store root a foreign path implies, if it ends like the object
    it belongs to (``<exp>/<run>/artifacts`` and so on)."""
    folder = folder.removeprefix(".trash/")
    marker = "/" + folder
    index = path.find(marker + "/")
    if index < 0 and path.endswith(marker):
        index = len(path) - len(marker)
    return path[:index] if index > 0 else None


def check_paths(
    snapshot: Snapshot, context: CheckContext
) -> Iterator[Finding]:
    foreign = []
    for finding in _path_findings(snapshot):
        if finding.code == "foreign-path":
            foreign.append(finding)
        else:
            yield finding
    yield from _group_moved(snapshot.root, foreign)


def _group_moved(root: str, foreign: list[Finding]) -> Iterator[Finding]:
    """A moved store makes every recorded location foreign: say it once
    per old root, naming one example, instead of once per file."""
    by_root: dict[str, list[Finding]] = {}
    for finding in foreign:
        previous = moved_from(finding)
        by_root.setdefault(previous or "", []).append(finding)
    for previous, findings in by_root.items():
        if not previous or len(findings) == 1:
            yield from findings
            continue
        yield Finding(
            "foreign-path",
            Severity.WARNING,
            ".",
            f"{len(findings)} recorded artifact locations point at "
            f"{previous}, where this store used to be (first: "
            f"{findings[0].path}); MLflow looks for artifacts there",
            REBASE_HINT.format(old=previous, new=root),
        )


def moved_from(finding: Finding) -> str | None:
    """The old store root a foreign-path finding names, if it names one."""
    marker = "copied from "
    start = finding.hint.find(marker)
    if start < 0:
        return None
    rest = finding.hint[start + len(marker) :]
    return rest.split(": rewrite that prefix", 1)[0]


def _path_findings(snapshot: Snapshot) -> Iterator[Finding]:
    root = snapshot.root
    for experiment in snapshot.experiments:
        exp_id = experiment.experiment_id
        yield from _location(
            root,
            experiment.meta,
            "artifact_location",
            experiment.path,
            exp_id,
            None,
        )
        for run in experiment.runs:
            yield from _location(
                root,
                run.meta,
                "artifact_uri",
                run.path,
                exp_id,
                run.run_id,
            )
            history = HISTORY_TAG in run.tag_keys
            if history and not experiment.in_trash:
                yield from _logged_model_history(
                    root,
                    run.path,
                    exp_id,
                    run.run_id,
                )
        for model in experiment.logged_models:
            yield from _location(
                root,
                model.meta,
                "artifact_location",
                model.path,
                exp_id,
                None,
            )
    yield from check_version_paths(snapshot)


def check_version_paths(
    snapshot: Snapshot, _context: CheckContext | None = None
) -> Iterator[Finding]:
    """The registry versions' model files: outside the store, or gone."""
    for registered in snapshot.registered_models:
        for version in registered.versions:
            if not version.meta.ok or version.deleted:
                continue
            yield from _version_location(snapshot.root, version.meta)


def _location(
    root: str,
    meta: Meta,
    key: str,
    folder: str,
    experiment_id: str | None,
    run_id: str | None,
) -> Iterator[Finding]:
    value = meta.get(key) if meta.ok else None
    if not isinstance(value, str) or plainly_inside(value, root):
        return
    path = local_path(value)
    if path is None or inside_root(path, root):
        return
    yield _foreign(
        root,
        meta.path,
        key,
        path,
        old_root(path, folder),
        experiment_id,
        run_id,
    )


def _foreign(
    root: str,
    meta_path: str,
    key: str,
    path: str,
    previous: str | None,
    experiment_id: str | None,
    run_id: str | None,
) -> Finding:
    hint = (
        REBASE_HINT.format(old=previous, new=root)
        if previous
        else OUTSIDE_HINT
    )
    return Finding(
        "foreign-path",
        Severity.WARNING,
        meta_path,
        f"{key} points outside the store, at {path}",
        hint,
        experiment_id,
        run_id,
    )


def _version_location(root: str, meta: Meta) -> Iterator[Finding]:
    value = meta.get("storage_location") or meta.get("source")
    if not isinstance(value, str):
        return
    path = local_path(value)
    if path is None:
        return
    run_id = meta.get("run_id") or None
    if not inside_root(path, root):
        previous = old_root(path, store_relative_tail(path))
        yield _foreign(
            root, meta.path, "storage_location", path, previous, None, run_id
        )
        # Where the files are now, if the whole store moved.
        path = root + path[len(previous) :] if previous else path
    if not os.path.isdir(path) and (inside_root(path, root) or previous):
        yield Finding(
            "missing-artifacts",
            Severity.ERROR,
            meta.path,
            f"the model files of this version are gone ({path}); "
            "loading it fails",
            "restore the model files, or delete the version",
            None,
            run_id,
        )


def _logged_model_history(
    root: str,
    run_path: str,
    experiment_id: str,
    run_id: str,
) -> Iterator[Finding]:
    """MLflow 2 lists a run's models in a tag; their files live under
    the run's artifacts."""
    from janitor.store.filestore import FileStore

    # Read as the scan reads: no link followed, no FIFO waited on.
    raw = FileStore(root).read_values(run_path, "tags", [HISTORY_TAG])
    if HISTORY_TAG not in raw:
        return
    try:
        history = json.loads(raw[HISTORY_TAG])
    except (ValueError, RecursionError):
        return
    if not isinstance(history, list):
        return
    for entry in history:
        artifact_path = (
            entry.get("artifact_path") if isinstance(entry, dict) else None
        )
        if not isinstance(artifact_path, str) or not artifact_path:
            continue
        if not _folder_in_store(root, f"{run_path}/artifacts/{artifact_path}"):
            yield Finding(
                "missing-artifacts",
                Severity.WARNING,
                f"{run_path}/artifacts/{artifact_path}",
                f"the run records a model at {artifact_path!r} but its "
                "folder is gone",
                "restore the model files, or prune the run",
                experiment_id,
                run_id,
            )


def _folder_in_store(root: str, relative: str) -> bool:
    """Whether a plain path below the root is a folder, reached without
    following a link ('..' or an absolute path never is)."""
    try:
        with parent_of(root, relative.strip("/")) as (folder, name):
            info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except (OSError, JanitorError):
        return False
    return stat.S_ISDIR(info.st_mode)


def store_relative_tail(path: str) -> str:
    """For a registry location, the part that names the experiment onward
    (``<exp>/...``): the first all-digit folder in the path."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part.isdigit():
            return "/".join(parts[index:])
    return path


def inside_root(path: str, root: str) -> bool:
    for base in _bases(root):
        if path == base or path.startswith(base.rstrip("/") + "/"):
            return True
    return False


@functools.lru_cache(maxsize=8)
def _bases(root: str) -> frozenset[str]:
    """The root as given and as resolved: resolving costs a system call
    per folder of the path, so once per store, not once per location."""
    return frozenset({root, os.path.realpath(root)})
