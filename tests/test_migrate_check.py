"""`janitor migrate-check`: its verdict, its exit codes, and that it agrees
with what `mlflow migrate-filestore` really does to a store."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from janitor.store import open_store
from tests import mlflow_stores
from tests.conftest import janitor


def check(store: Path, *extra: str):
    return janitor("migrate-check", str(store), *extra)


def last_line(result) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


def copy_experiment(root: Path, experiment_id: str, new_id: str) -> None:
    """An experiment folder copied by hand under a new id, runs dropped."""
    copy = root / new_id
    shutil.copytree(root / experiment_id, copy)
    for child in copy.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
    data = yaml.safe_load((copy / "meta.yaml").read_text())
    data["experiment_id"] = new_id
    (copy / "meta.yaml").write_text(
        yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)
    )


@pytest.fixture(scope="module")
def registered_template(tmp_path_factory) -> mlflow_stores.SmallStore:
    return mlflow_stores.build_registered_store(
        tmp_path_factory.mktemp("registered") / "mlruns"
    )


@pytest.fixture
def registered(registered_template, tmp_path) -> mlflow_stores.SmallStore:
    """A store as MLflow 3.17.2 writes it when a run logs a model: its
    metric lines twice. In place, so no path points elsewhere."""
    root = tmp_path / "mlruns"
    shutil.copytree(registered_template.root, root)
    old, new = str(registered_template.root), str(root)
    for meta in root.glob("**/meta.yaml"):
        meta.write_text(meta.read_text().replace(old, new))
    for mlmodel in root.glob("**/MLmodel"):
        mlmodel.write_text(mlmodel.read_text().replace(old, new))
    return mlflow_stores.SmallStore(
        root, registered_template.experiment_id, registered_template.run_ids
    )


def test_a_store_mlflow_wrote_fails_until_repaired(registered):
    result = check(registered.root)
    assert result.returncode == 1
    assert last_line(result) == (
        "Migration would fail: 1 blocking finding; run `janitor repair` to "
        "fix it, then check again."
    )
    assert "duplicate-metric-entries" in result.stdout
    assert "aborts: UNIQUE constraint" in result.stdout
    repaired = janitor("repair", str(registered.root), "--yes")
    assert repaired.returncode == 0, repaired.stderr
    result = check(registered.root)
    assert result.returncode == 0
    assert last_line(result) == (
        "Ready to migrate: no finding makes `mlflow migrate-filestore` fail "
        "or lose data."
    )


def test_manual_blockers_are_named_in_the_verdict(small_store):
    copy_experiment(small_store.root, small_store.experiment_id, "123")
    result = check(small_store.root)
    assert result.returncode == 1
    assert last_line(result) == (
        "Migration would fail: 1 blocking finding; `janitor repair` cannot "
        "fix it: take the manual step shown."
    )
    document = json.loads(check(small_store.root, "--format", "json").stdout)
    (blocker,) = document["blocking"]
    assert blocker["code"] == "duplicate-experiment-name"
    assert blocker["repairable"] is False
    assert blocker["hint"].startswith("rename all but one")


def test_mixed_blockers(registered):
    copy_experiment(registered.root, registered.experiment_id, "123")
    result = check(registered.root)
    assert result.returncode == 1
    assert last_line(result) == (
        "Migration would fail: 2 blocking findings; run `janitor repair` to "
        "fix 1 of them, and take the manual step shown for the other 1."
    )


def test_warnings_that_migrate_fine_do_not_block(small_store, tmp_path):
    import mlflow

    root = small_store.root
    (root / "backup").mkdir()
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.write_text(
        meta.read_text().replace("run_name: run-0", "run_name: 'run-0'")
    )
    mlflow.set_tracking_uri(f"file:{root}")
    mlflow.create_experiment("shared", artifact_location=str(tmp_path / "art"))
    shutil.rmtree(small_store.run_dir(1) / "params")
    audit = janitor("audit", str(root), "--format", "json")
    found = {f["code"] for f in json.loads(audit.stdout)["findings"]}
    assert found == {
        "foreign-folder",
        "manual-edit",
        "foreign-path",
        "orphan-run",
    }
    result = check(root)
    assert result.returncode == 0, result.stdout
    assert last_line(result).startswith("Ready to migrate")


def test_json_document(registered):
    result = check(registered.root, "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ready"] is False
    assert document["summary"] == {"blocking": 1, "repairable": 1, "manual": 0}
    blocker = document["blocking"][0]
    assert blocker["code"] == "duplicate-metric-entries"
    assert blocker["repairable"] is True
    assert blocker["effect"].startswith("aborts: UNIQUE constraint failed")
    assert document["verdict"].startswith("Migration would fail: 1 blocking")


def test_usage_errors_exit_2(tmp_path):
    result = check(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "no such folder" in result.stderr
    result = janitor("migrate-check", "--format", "xml", str(tmp_path))
    assert result.returncode == 2


# -- agreement with the real migration ---------------------------------------


def _dedupe(root: Path) -> None:
    for path in root.glob("**/metrics/**/*"):
        if path.is_file():
            lines = path.read_bytes().splitlines(keepends=True)
            path.write_bytes(b"".join(dict.fromkeys(lines)))


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _run_dir(store: mlflow_stores.SmallStore) -> Path:
    return store.run_dir(0)


def _logged_model(store: mlflow_stores.SmallStore) -> Path:
    (model,) = (store.root / store.experiment_id / "models").glob("m-*")
    return model


def _in_both(store: mlflow_stores.SmallStore) -> None:
    (store.root / ".trash").mkdir(exist_ok=True)
    copy_experiment(store.root, store.experiment_id, "777")
    os.rename(store.root / "777", store.root / ".trash" / store.experiment_id)
    meta = store.root / ".trash" / store.experiment_id / "meta.yaml"
    data = yaml.safe_load(meta.read_text())
    data.update(experiment_id=store.experiment_id, name="gone")
    meta.write_text(yaml.safe_dump(data, default_flow_style=False))


DAMAGE = {
    "clean": lambda s: None,
    "duplicate line": lambda s: _append(
        _run_dir(s) / "metrics" / "auc",
        (_run_dir(s) / "metrics" / "auc").read_bytes(),
    ),
    "torn line": lambda s: _append(_run_dir(s) / "metrics" / "auc", b"17000"),
    "bad value": lambda s: _append(
        _run_dir(s) / "metrics" / "auc", b"1700000000000 abc 1\n"
    ),
    "empty metric file": lambda s: (
        _run_dir(s) / "metrics" / "auc"
    ).write_bytes(b""),
    "bad logged-model line": lambda s: _append(
        _logged_model(s) / "metrics" / "auc", b"1700 0.5\n"
    ),
    "missing run meta": lambda s: (_run_dir(s) / "meta.yaml").unlink(),
    "empty experiment meta": lambda s: (
        s.root / s.experiment_id / "meta.yaml"
    ).write_bytes(b""),
    "missing version meta": lambda s: (
        s.root / "models" / "clf" / "version-1" / "meta.yaml"
    ).unlink(),
    "copied run": lambda s: shutil.copytree(
        _run_dir(s), _run_dir(s).parent / ("f" * 32)
    ),
    "experiment name twice": lambda s: copy_experiment(
        s.root, s.experiment_id, "123"
    ),
    "experiment in trash and root": _in_both,
    "run without params": lambda s: shutil.rmtree(_run_dir(s) / "params"),
    "foreign folder": lambda s: (s.root / "backup").mkdir(),
    "mlruns folder": lambda s: (s.root / "mlruns").mkdir(),
}


def _migrate(root: Path, database: Path) -> str | None:
    """The error the migration aborts with, or None."""
    from mlflow.store.fs2db import migrate

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            migrate(root, f"sqlite:///{database}", progress=False)
    except Exception as exc:  # whatever MLflow raises is the answer
        return f"{type(exc).__name__}: {exc}"
    return None


def _everything_migrated(root: Path, database: Path) -> bool:
    """Every experiment, run, logged model, version and good metric line
    the janitor reads is a row in the database."""
    snapshot = open_store(str(root)).scan()
    runs = snapshot.runs()
    models = snapshot.logged_models()

    def lines(owners) -> int:
        return sum(
            summary.line_count - summary.duplicate_lines
            for owner in owners
            for summary in owner.metrics.values()
        )

    expected = {
        "experiments": len(snapshot.experiments),
        "runs": len(runs),
        "metrics": lines(runs),
        "logged_models": len(models),
        "logged_model_metrics": lines(models),
        "model_versions": sum(
            len(model.versions) for model in snapshot.registered_models
        ),
    }
    with contextlib.closing(sqlite3.connect(database)) as connection:
        found = {
            table: connection.execute(
                f"SELECT COUNT(*) FROM {table}"
            ).fetchone()[0]
            for table in expected
        }
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM experiments")
        }
    wanted = {exp.name for exp in snapshot.experiments if exp.meta.ok}
    return found == expected and names == wanted


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_blocking_verdict_agrees_with_the_migration(
    damage, registered, tmp_path
):
    _dedupe(registered.root)
    DAMAGE[damage](registered)
    error = _migrate(registered.root, tmp_path / "db.sqlite")
    fails_or_loses = error is not None or not _everything_migrated(
        registered.root, tmp_path / "db.sqlite"
    )
    result = check(registered.root)
    assert result.returncode == (1 if fails_or_loses else 0), (
        error,
        result.stdout,
    )
