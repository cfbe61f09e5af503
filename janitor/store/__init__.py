"""The store model: read a tracking store into plain objects.

Checks, policies and reports depend only on `Store` and the objects in
`janitor.store.model`; a backend is anything with this interface.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
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
    if location:
        return _path_of(location, "the STORE argument")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri:
        return _path_of(uri, "MLFLOW_TRACKING_URI")
    return DEFAULT_STORE


def open_store(location: str | None) -> FileStore:
    return open_file_store(resolve_location(location))


def _path_of(location: str, source: str) -> str:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return unquote(parsed.path) or "."
    if parsed.scheme and len(parsed.scheme) > 1:
        raise StoreError(
            f"{source} is {location!r}: only file stores (a folder or a "
            "file: URI) are supported; pass the store folder, e.g. "
            "./mlruns",
        )
    return location


__all__ = ["FileStore", "Store", "open_store", "resolve_location"]
