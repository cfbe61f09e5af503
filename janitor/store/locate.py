"""Which store holds a file, and which part of the store the file is.

`janitor hook` gets bare file paths from pre-commit. The store root is
the nearest folder above a file that looks like one: it holds
``0/meta.yaml`` (MLflow's Default experiment), or a ``.trash`` folder,
or the file's path goes through a numbered folder of it that holds a
``meta.yaml`` (an experiment). A folder named ``.trash`` is never a
root. Only those few paths are looked at, never a folder's listing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from janitor.store.filestore import EXPERIMENT_RESERVED, META, REGISTRY, TRASH

# Janitor's own records (its audit log, its trash) live in a folder of
# this name beside a store; inside a store it is a folder like another.
JANITOR_FOLDER = ".janitor"


class StoreFinder:
    """Finds store roots, remembering each folder it has decided on."""

    def __init__(self) -> None:
        self._roots: dict[tuple[str, str], bool] = {}

    def root_of(self, path: str) -> str | None:
        """The absolute root of the store holding ``path``, or None."""
        child = os.path.abspath(path)
        folder = os.path.dirname(child)
        while folder != child:
            if self._is_root(folder, os.path.basename(child)):
                return folder
            child, folder = folder, os.path.dirname(folder)
        return None

    def _is_root(self, folder: str, child: str) -> bool:
        key = (folder, child)
        if key not in self._roots:
            self._roots[key] = looks_like_store_root(folder, child)
        return self._roots[key]


def looks_like_store_root(folder: str, child: str = "") -> bool:
    """Whether ``folder`` looks like a store root; ``child`` is the
    entry of it on the way to the file being placed."""
    if os.path.basename(folder) == TRASH:
        return False
    if os.path.isfile(os.path.join(folder, "0", META)):
        return True
    if os.path.isdir(os.path.join(folder, TRASH)):
        return True
    return child.isdigit() and os.path.isfile(
        os.path.join(folder, child, META)
    )


@dataclass(frozen=True)
class Place:
    """What a path inside a store is.

    ``kind`` is one of: run, logged-model, experiment, registry, root.
    ``unit`` is the folder of the object the path belongs to (the run,
    logged model, experiment, registered model or model version), and
    ``part`` the path inside it (``meta.yaml``, ``metrics/loss``...).
    """

    kind: str
    unit: str
    part: str
    experiment_folder: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None


def place_of(path: str) -> Place:
    """Classify a path relative to the store root ('/' separated)."""
    parts = path.split("/")
    if parts[0] == REGISTRY and len(parts) > 2:
        return _registry_place(parts)
    base = 1 if parts[0] == TRASH else 0
    if len(parts) < base + 2:
        return Place("root", ".", path)
    experiment_folder = "/".join(parts[: base + 1])
    experiment_id = parts[base]
    inner = parts[base + 1 :]
    if len(inner) >= 3 and inner[0] == "models":
        unit = f"{experiment_folder}/models/{inner[1]}"
        return Place(
            "logged-model",
            unit,
            "/".join(inner[2:]),
            experiment_folder,
            experiment_id,
        )
    if len(inner) == 1 or inner[0] in EXPERIMENT_RESERVED:
        return Place(
            "experiment",
            experiment_folder,
            "/".join(inner),
            experiment_folder,
            experiment_id,
        )
    return Place(
        "run",
        f"{experiment_folder}/{inner[0]}",
        "/".join(inner[1:]),
        experiment_folder,
        experiment_id,
        inner[0],
    )


def _registry_place(parts: list[str]) -> Place:
    if len(parts) > 3 and parts[2].startswith("version-"):
        return Place("registry", "/".join(parts[:3]), "/".join(parts[3:]))
    return Place("registry", "/".join(parts[:2]), "/".join(parts[2:]))


def janitor_folder(path: str) -> str | None:
    """The path up to its first folder named ``.janitor``, if it has
    one: where janitor's own records would be."""
    parts = path.replace(os.sep, "/").split("/")
    if JANITOR_FOLDER not in parts[:-1]:
        return None
    return "/".join(parts[: parts.index(JANITOR_FOLDER) + 1])
