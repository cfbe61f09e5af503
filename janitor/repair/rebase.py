"""Rewrite the absolute paths a moved or cloned store still records.

MLflow stores absolute ``file://`` locations: the experiment's
artifact_location, the run's artifact_uri, the logged model's
artifact_location, a registry version's storage_location and source,
and the ``artifact_path`` of an MLmodel file. A `Rebase` swaps one old
prefix for a new one and keeps the rest of each location as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import yaml

from janitor.checks.paths import local_path

OPTION = "option"
AUTO = "auto"


@dataclass(frozen=True)
class Rebase:
    """Every recorded location under `old` moves under `new`."""

    old: str
    new: str
    source: str = OPTION  # option | auto

    def apply(self, path: str) -> str | None:
        """The rebased path, or None when `path` is not under `old`."""
        if path == self.old:
            return self.new
        if path.startswith(self.old.rstrip("/") + "/"):
            return self.new.rstrip("/") + path[len(self.old.rstrip("/")) :]
        return None

    def to_dict(self) -> dict[str, str]:
        return {"old": self.old, "new": self.new, "source": self.source}


@dataclass(frozen=True)
class RebaseRequest:
    """What the user asked for: explicit prefixes, automatic, or both."""

    pairs: tuple[Rebase, ...] = ()
    auto: bool = True


def parse_request(values: Iterable[str]) -> RebaseRequest:
    """`--rebase` values: ``auto`` or ``OLD=NEW``; none means auto.

    Raises ValueError with a message naming the bad value.
    """
    values = list(values)
    pairs = tuple(parse_pair(v) for v in values if v != AUTO)
    auto = AUTO in values or not values
    return RebaseRequest(pairs, auto)


def parse_pair(value: str) -> Rebase:
    """``OLD=NEW``, both absolute paths or file: URIs. A path may hold
    '=' itself: the split is the one '=' with an absolute path on both
    sides."""
    splits = [
        (value[:index], value[index + 1 :])
        for index, char in enumerate(value)
        if char == "="
        and _absolute(value[:index])
        and _absolute(value[index + 1 :])
    ]
    if len(splits) != 1:
        raise ValueError(
            f"{value!r}: expected OLD=NEW with two absolute paths or file: "
            "URIs, e.g. /home/ci/mlruns=/srv/mlruns, or 'auto'",
        )
    old, new = (_normalized(side) for side in splits[0])
    if old == new:
        raise ValueError(f"{value!r}: OLD and NEW are the same path")
    return Rebase(old, new)


def _absolute(side: str) -> bool:
    path = local_path(side)
    return path is not None and path.startswith("/")


def _normalized(side: str) -> str:
    path = local_path(side)
    assert path is not None  # checked by _absolute
    return path.rstrip("/") or "/"


def rebase_location(value: str, rebases: Iterable[Rebase]) -> str | None:
    """The recorded location with its old prefix swapped, in the same form
    (``file://`` URI or plain path); None when no rebase applies."""
    path = local_path(value)
    if path is None:
        return None
    for rebase in rebases:
        new_path = rebase.apply(path)
        if new_path is None:
            continue
        if urlparse(value).scheme != "file":
            return _swap_prefix(value, rebase.old, rebase.new) or new_path
        old_uri, new_uri = _file_uri(rebase.old), _file_uri(rebase.new)
        return _swap_prefix(value, old_uri, new_uri) or _file_uri(new_path)
    return None


def _swap_prefix(value: str, old: str, new: str) -> str | None:
    """Swap a literal prefix, keeping the tail's own spelling."""
    old = old.rstrip("/")
    if value == old or value.startswith(old + "/"):
        return new.rstrip("/") + value[len(old) :]
    return None


def _file_uri(path: str) -> str:
    """The URI MLflow records for a local path (`pathlib`'s as_uri)."""
    return PurePosixPath(path).as_uri()


def rebase_mlmodel(raw: bytes, rebases: list[Rebase]) -> bytes | None:
    """An MLmodel file with every location under an old prefix rebased,
    or None when nothing changes (or the file is not readable YAML).

    Only the rebased values change: each one is replaced where it stands
    in the text. When that cannot be done line by line, the file is
    written again the way MLflow writes it (``yaml.safe_dump``).
    """
    try:
        text = raw.decode("utf-8")
        data = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    changes: dict[str, str] = {}
    expected = _map_strings(data, lambda s: _note(s, rebases, changes))
    if not changes:
        return None
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        for old, new in changes.items():
            for lead in (": ", "- "):
                if line.rstrip("\r\n").endswith(lead + old):
                    body = line.rstrip("\r\n")
                    ending = line[len(body) :]
                    lines[index] = body[: -len(old)] + new + ending
    rewritten = "".join(lines)
    try:
        if yaml.safe_load(rewritten) == expected:
            return rewritten.encode("utf-8")
    except yaml.YAMLError:
        pass
    dumped: str = yaml.safe_dump(expected, default_flow_style=False)
    return dumped.encode("utf-8")


def _note(value: str, rebases: list[Rebase], changes: dict[str, str]) -> str:
    new = rebase_location(value, rebases)
    if new is None or new == value:
        return value
    changes[value] = new
    return new


def _map_strings(data: Any, change: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return change(data)
    if isinstance(data, dict):
        return {key: _map_strings(v, change) for key, v in data.items()}
    if isinstance(data, list):
        return [_map_strings(item, change) for item in data]
    return data


def former_home(old: str, experiment_ids: Iterable[str]) -> bool:
    """Whether `old` is where this store used to live: gone from this
    machine, or holding a copy of one of its experiments. A folder that
    exists but holds no store is an artifact root kept apart on purpose
    (``mlflow server --default-artifact-root``): never rebase that on a
    guess."""
    if not os.path.lexists(old):
        return True
    for experiment_id in experiment_ids:
        for folder in (experiment_id, os.path.join(".trash", experiment_id)):
            if os.path.isfile(os.path.join(old, folder, "meta.yaml")):
                return True
    return False
