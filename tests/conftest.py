"""Shared fixtures: stores written by real MLflow, and a CLI runner."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

from tests import mlflow_stores  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MLFLOW2_STORE = REPO / "tests" / "fixtures" / "mlflow2" / "mlruns"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's tracking URI or writes to the real home."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def rich_store(tmp_path_factory) -> Path:
    """A pristine MLflow 3 store with every kind of object. Read-only:
    tests that change a store use `small_store` or copy this one."""
    root = tmp_path_factory.mktemp("rich") / "mlruns"
    mlflow_stores.build_rich_store(root)
    return root


@pytest.fixture
def small_store(tmp_path) -> mlflow_stores.SmallStore:
    """A fresh store with two finished runs, written by real MLflow."""
    return mlflow_stores.build_small_store(tmp_path / "mlruns")


@pytest.fixture
def mlflow2_store(tmp_path) -> Path:
    """The committed store written by MLflow 2.22.5, copied."""
    target = tmp_path / "mlruns"
    shutil.copytree(MLFLOW2_STORE, target, symlinks=True)
    # git keeps no empty folder; MLflow wrote these and needs them.
    listing = MLFLOW2_STORE.parent / "empty-folders.txt"
    for folder in listing.read_text().split():
        (target / folder).mkdir(parents=True, exist_ok=True)
    return target


def janitor(*args: str, env: dict | None = None, cwd=None):
    """Run the installed CLI in a subprocess, as a user would."""
    full_env = dict(os.environ)
    # The checkout under test, even when another copy is installed.
    path = full_env.get("PYTHONPATH", "")
    full_env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "janitor", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
    )


def audit_json(store: Path, *extra: str) -> dict:
    result = janitor("audit", str(store), "--format", "json", *extra)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def tree(root) -> dict[str, str]:
    """Every entry under root with its content hash: byte-identity."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, root)
            if os.path.islink(path):
                found[key] = "link:" + os.readlink(path)
            elif os.path.isdir(path):
                found[key] = "dir"
            else:
                with open(path, "rb") as handle:
                    found[key] = hashlib.sha256(handle.read()).hexdigest()
    return found


def rewrite_meta(path: Path, **changes) -> None:
    """Rewrite a meta.yaml in MLflow's own form with some keys changed."""
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(
        yaml.safe_dump(
            data, default_flow_style=False, allow_unicode=True, sort_keys=True
        )
    )
