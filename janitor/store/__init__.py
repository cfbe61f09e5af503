"""The store model: read a tracking store into plain objects.

Checks, policies and reports depend only on `Store` and the objects in
`janitor.store.model`; a backend is anything with this interface.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from typing import Protocol
from urllib.parse import unquote, urlparse

from janitor.errors import StoreError
from janitor.store.filestore import FileStore, Progress, open_file_store
from janitor.store.model import Run, Snapshot

DEFAULT_STORE = "./mlruns"


class Store(Protocol):
    kind: str
    root: str

    def scan(
        self,
        metrics: bool = True,
        progress: Progress | None = None,
        files_over: int | None = None,
        latest: Collection[str] | None = None,
    ) -> Snapshot: ...

    def read_runs(
        self,
        runs: Mapping[str, Iterable[str]],
        metrics: bool = True,
    ) -> Snapshot: ...

    def run_tags(self, run: Run) -> dict[str, str]: ...

    def run_params(self, run: Run) -> dict[str, str]: ...


def resolve_location(location: str | None) -> str:
    """The store the user means: the argument, a file: tracking URI, or
    ./mlruns."""
    if location is not None:
        if not location:
            raise StoreError(
                "the STORE argument is empty; pass the store folder, e.g. "
                "./mlruns",
            )
        return _path_of(location, "the STORE argument")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri:
        return _path_of(uri, "MLFLOW_TRACKING_URI")
    return DEFAULT_STORE


def open_store(location: str | None) -> FileStore:
    store = open_file_store(resolve_location(location))
    _check_looks_like_store(store.root)
    return store


def _check_looks_like_store(root: str) -> None:
    """Refuse a folder that is plainly not a store root, rather than
    report nothing (a typo in CI) or one error per experiment."""
    if os.path.lexists(os.path.join(root, "meta.yaml")):
        raise StoreError(
            f"{root}: this holds a meta.yaml, so it is an experiment or run "
            "folder; pass the store root (the folder holding 0/ and .trash/)",
        )
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.name in (".trash", "models"):
                    return
                if entry.is_dir(follow_symlinks=False) and (
                    entry.name.isdigit()
                    or os.path.lexists(os.path.join(entry.path, "meta.yaml"))
                ):
                    return
    except OSError as exc:
        raise StoreError(f"{root}: cannot be read ({exc.strerror})") from None
    raise StoreError(
        f"{root}: no experiment folder, .trash or models here, so this is "
        "not an MLflow store; pass the store root (usually ./mlruns)",
    )


def _path_of(location: str, source: str) -> str:
    if os.path.exists(location):
        return location  # a folder, even one with a colon in its name
    refused = StoreError(
        f"{source} is {location!r}: only file stores (a folder or a "
        "file: URI) are supported; pass the store folder, e.g. ./mlruns",
    )
    try:
        parsed = urlparse(location)
    except ValueError:
        raise refused from None
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StoreError(
                f"{source} is {location!r}: a file URI on another host "
                f"({parsed.netloc}); pass a local folder",
            )
        return unquote(parsed.path) or "."
    if parsed.scheme and len(parsed.scheme) > 1:
        raise refused
    if source == "MLFLOW_TRACKING_URI" and "/" not in location:
        raise refused  # databricks, and other names that are no folder
    return location


__all__ = ["FileStore", "Store", "open_store", "resolve_location"]
