"""Manual edits: a staged change to a store that MLflow would not make.

MLflow adds runs and files, appends metric lines, rewrites a meta.yaml
only to change a few keys (status, end time, stage, name...), deletes
tags, and `mlflow gc` or `janitor prune` delete whole runs. `janitor
repair` rebases recorded locations, takes repeated and unreadable
lines out of metric files and writes meta.yaml files again in MLflow's
form. Anything else in a store's history was done by hand: a param
whose value changed, metric lines rewritten or removed, an id or start
time edited, a meta.yaml not in the form MLflow writes, a part of a
kept run deleted.

Each function gets one change (the path's `Place`, the bytes before and
after) and yields `manual-edit` findings, errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from janitor.checks.finding import Finding, Severity
from janitor.checks.paths import local_path
from janitor.store.locate import Place
from janitor.store.metayaml import parse_meta
from janitor.store.metrics import raw_line_problem

CODE = "manual-edit"
HINT = (
    "restore the file as committed (`git restore --staged --worktree "
    "--source=HEAD -- <path>`) and let MLflow make the change"
)

# The meta.yaml keys MLflow itself changes, by kind of object.
MUTABLE_KEYS = {
    "run": {
        "status",
        "end_time",
        "lifecycle_stage",
        "deleted_time",
        "last_update_time",
        "tags",
        "run_name",
    },
    # Renaming changes the name; any rewrite adds `tags: {}`.
    "experiment": {
        "name",
        "lifecycle_stage",
        "last_update_time",
        "deleted_time",
        "tags",
    },
    "logged-model": {
        "status",
        "status_message",
        "last_updated_timestamp",
        "lifecycle_stage",
        "tags",
    },
}
# Recorded locations `janitor repair` rebases when a store has moved.
LOCATION_KEYS = {
    "artifact_location",
    "artifact_uri",
    "storage_location",
    "source",
}
# Parts MLflow deletes from an object it keeps: tags, aliases, and (for
# `janitor prune --action strip-artifacts`) artifacts; traces and
# datasets have their own delete calls.
ARTIFACTS = "artifacts/"
DELETABLE = ("tags/", "aliases/", ARTIFACTS, "traces/", "datasets/")
MISSING = object()
SHOWN = 40  # characters of a value quoted in a message


def modified(
    path: str, place: Place, before: bytes, after: bytes
) -> Iterator[Finding]:
    """A file that exists in HEAD and in the index, with other bytes."""
    if place.kind == "root" or place.part.startswith(ARTIFACTS):
        return
    if place.part.endswith("meta.yaml"):
        yield from _meta_change(path, place, before, after)
    elif place.kind in ("run", "logged-model"):
        if place.part.startswith("metrics/"):
            yield from _metric_change(path, place, before, after)
        elif place.part.startswith("params/"):
            yield _finding(
                path,
                place,
                f"param {place.part[len('params/') :]!r} changed from "
                f"{_show(before)} to {_show(after)}; MLflow never changes "
                "a logged param",
            )


def added(path: str, place: Place, after: bytes) -> Iterator[Finding]:
    """A new file: fine, unless it is a meta.yaml MLflow did not write."""
    if place.kind == "root" or place.part.startswith(ARTIFACTS):
        return
    if not place.part.endswith("meta.yaml"):
        return
    meta = parse_meta(path.rpartition("/")[0], after)
    if meta.ok and not meta.canonical:
        yield _not_canonical(path, place)


def deletion_needs_unit(place: Place) -> bool:
    """Whether deleting this file is fine only with its whole run (or
    experiment, logged model, registry entry)."""
    return place.kind != "root" and not place.part.startswith(DELETABLE)


def deleted(
    path: str, place: Place, unit_kept: bool, before: bytes | None = None
) -> Iterator[Finding]:
    """A file gone from the index; ``unit_kept`` tells whether the run,
    experiment, logged model or registry entry it was part of still
    has files, ``before`` is what the file held, if known. A metric
    file with no good line goes whole (what `janitor repair` does)."""
    if not unit_kept or not deletion_needs_unit(place):
        return
    if before is not None and is_metric(place):
        if _repaired_metric(before, b"", place.kind == "logged-model"):
            return
    what = {
        "run": f"run {place.run_id}",
        "logged-model": f"logged model {place.unit.rsplit('/', 1)[-1]}",
        "experiment": f"experiment {place.experiment_id}",
        "registry": place.unit,
    }[place.kind]
    yield _finding(
        path,
        place,
        f"deleted while {what} is kept; MLflow deletes whole runs, "
        "never a part of one",
    )


def type_changed(path: str, place: Place) -> Iterator[Finding]:
    """A file that became a link, or the other way round."""
    if place.kind != "root":
        yield _finding(
            path, place, "changed type (a file became a link, or back)"
        )


def _meta_change(
    path: str, place: Place, before: bytes, after: bytes
) -> Iterator[Finding]:
    folder = path.rpartition("/")[0]
    old, new = parse_meta(folder, before), parse_meta(folder, after)
    if new.problem is not None:
        detail = f": {new.detail}" if new.detail else ""
        yield _finding(
            path,
            place,
            "meta.yaml no longer reads as a mapping "
            f"({new.problem.value}{detail})",
        )
        return
    mutable = MUTABLE_KEYS.get(place.kind)
    if old.ok and mutable is not None and place.part == "meta.yaml":
        for key in sorted(set(old.data) | set(new.data)):
            was, now = old.data.get(key, MISSING), new.data.get(key, MISSING)
            if key in mutable or was == now:
                continue
            if key in LOCATION_KEYS and _rebased(was, now, place):
                continue
            yield _finding(path, place, _key_change(key, was, now))
    if not new.canonical:
        yield _not_canonical(path, place)


def _rebased(was: Any, now: Any, place: Place) -> bool:
    """Whether a location moved as a rebase moves it: both local, in the
    same form (path or file URI), the same from the experiment's folder
    onward, under another prefix."""
    if not (isinstance(was, str) and isinstance(now, str)):
        return False
    if was.startswith("file:") != now.startswith("file:"):
        return False
    old, new = local_path(was), local_path(now)
    if old is None or new is None or old == new:
        return False
    old_parts, new_parts = old.split("/"), new.split("/")
    for index, part in enumerate(old_parts):
        tail = old_parts[index:]
        if (
            index > 0
            and part == place.experiment_id
            and len(new_parts) > len(tail)
            and new_parts[-len(tail) :] == tail
        ):
            return True
    return False


def _key_change(key: str, was: Any, now: Any) -> str:
    if was is MISSING:
        return f"{key} was added ({_show(now)}); MLflow never adds it"
    if now is MISSING:
        return f"{key} was removed (was {_show(was)}); MLflow keeps it"
    return (
        f"{key} changed from {_show(was)} to {_show(now)}; MLflow never "
        "changes it"
    )


def _metric_change(
    path: str, place: Place, before: bytes, after: bytes
) -> Iterator[Finding]:
    if after.startswith(before):
        return
    if _repaired_metric(before, after, place.kind == "logged-model"):
        return
    key = place.part[len("metrics/") :]
    old_lines, new_lines = before.split(b"\n"), after.split(b"\n")
    for number, (old, new) in enumerate(
        zip(old_lines, new_lines, strict=False), 1
    ):
        if old != new:
            yield _finding(
                path,
                place,
                f"metric {key!r} line {number} was rewritten "
                f"({_show(old)} became {_show(new)}); MLflow only "
                "appends lines",
            )
            return
    yield _finding(
        path,
        place,
        f"metric {key!r} was cut short ({len(before)} bytes before, "
        f"{len(after)} now); MLflow only appends lines",
    )


def is_metric(place: Place) -> bool:
    return place.kind in ("run", "logged-model") and place.part.startswith(
        "metrics/"
    )


def _repaired_metric(before: bytes, after: bytes, logged_model: bool) -> bool:
    """Whether ``after`` is ``before`` with lines taken out as `janitor
    repair` takes them out: exact repeats of a line kept earlier, lines
    MLflow cannot read, and a torn last line. Nothing else changes."""
    if after and not after.endswith(b"\n"):
        return False
    old_lines = before.split(b"\n")
    old_lines.pop()  # a torn last line, always taken out, or ""
    new_lines = after.split(b"\n")[:-1]
    kept: set[bytes] = set()
    position = 0
    for line in old_lines:
        if position < len(new_lines) and new_lines[position] == line:
            kept.add(line)
            position += 1
        elif line not in kept and not raw_line_problem(line, logged_model):
            return False
    return position == len(new_lines)


def _not_canonical(path: str, place: Place) -> Finding:
    return _finding(
        path,
        place,
        "meta.yaml is not in the form MLflow writes (sorted keys, block "
        "style, as PyYAML dumps it): edited by hand",
    )


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _finding(path: str, place: Place, message: str) -> Finding:
    return Finding(
        CODE,
        Severity.ERROR,
        path,
        message,
        HINT,
        place.experiment_id,
        place.run_id,
    )
