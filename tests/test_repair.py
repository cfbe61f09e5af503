"""`janitor repair` end to end: each fix on a store real MLflow wrote, the
way back (`trash restore`), and the migration it makes possible."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from janitor.actions.auditlog import read_records
from janitor.actions.lock import StoreLock
from janitor.actions.trash import Batch, Item, Trash
from janitor.store import open_store
from janitor.store.metrics import line_problem
from tests import mlflow_stores
from tests.conftest import audit_json, janitor, rewrite_meta, tree

MLFLOW = [sys.executable, "-m", "mlflow"]


def repair(store: Path, *extra: str):
    return janitor("repair", str(store), *extra)


def state_dir(store: Path) -> Path:
    return store.parent / ".janitor"


def batches(store: Path) -> list[str]:
    trash = state_dir(store) / "trash"
    return sorted(os.listdir(trash)) if trash.exists() else []


def original_in_batch(store: Path, path: str) -> Path:
    (batch,) = batches(store)
    return state_dir(store) / "trash" / batch / "store" / path


def codes(report: dict) -> set[str]:
    return {finding["code"] for finding in report["findings"]}


def meta(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="session")
def migration_template(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("template") / "mlruns"
    return root, mlflow_stores.build_migration_store(root)


@pytest.fixture
def moved_store(tmp_path, migration_template) -> tuple[Path, dict[str, str]]:
    """A copy of the template: every recorded path names the template,
    as in a store copied to another machine."""
    template, ids = migration_template
    root = tmp_path / "copy" / "mlruns"
    shutil.copytree(template, root)
    return root, ids


# -- what a user sees before migrating ---------------------------------------


def migrate(store: Path, database: Path) -> subprocess.CompletedProcess:
    """`mlflow migrate-filestore`, as a user runs it."""
    return subprocess.run(
        [
            *MLFLOW,
            "migrate-filestore",
            "--source",
            str(store),
            "--target",
            f"sqlite:///{database}",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )


def _value(value: float) -> float | str:
    return "nan" if math.isnan(value) else value


def janitor_view(store: Path) -> dict:
    """Experiments, runs, params, latest metric values and histories as
    the janitor reads them; a history keeps each good line once."""
    file_store = open_store(str(store))
    snapshot = file_store.scan()
    experiments = {
        exp.experiment_id: (exp.name, exp.lifecycle_stage)
        for exp in snapshot.experiments
    }
    runs = {}
    for run in snapshot.runs():
        histories = {}
        for key, summary in run.metrics.items():
            lines = (store / summary.path).read_text().split("\n")[:-1]
            points = []
            for line in dict.fromkeys(lines):
                if line_problem(line) is None:
                    fields = line.split(" ")
                    step = int(fields[2]) if len(fields) > 2 else 0
                    points.append(
                        (int(fields[0]), step, _value(float(fields[1])))
                    )
            histories[key] = sorted(points)
        runs[run.run_id] = {
            "experiment_id": run.experiment_id,
            "name": run.name,
            "params": file_store.run_params(run),
            "latest": {
                key: _value(summary.latest_value)
                for key, summary in run.metrics.items()
            },
            "histories": histories,
        }
    return {"experiments": experiments, "runs": runs}


def database_view(database: Path) -> dict:
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiments = client.search_experiments(view_type=ViewType.ALL)
    found = client.search_runs(
        [exp.experiment_id for exp in experiments], run_view_type=ViewType.ALL
    )
    runs = {}
    for run in found:
        histories = {
            key: sorted(
                (m.timestamp, m.step, _value(m.value))
                for m in client.get_metric_history(run.info.run_id, key)
            )
            for key in run.data.metrics
        }
        runs[run.info.run_id] = {
            "experiment_id": run.info.experiment_id,
            "name": run.info.run_name,
            "params": run.data.params,
            "latest": {k: _value(v) for k, v in run.data.metrics.items()},
            "histories": histories,
        }
    return {
        "experiments": {
            exp.experiment_id: (exp.name, exp.lifecycle_stage)
            for exp in experiments
        },
        "runs": runs,
    }


def test_repair_lets_mlflow_migrate_a_moved_damaged_store(tmp_path):
    # The issue: a store written by MLflow 3.17.2 (a model registered from
    # log_model), moved to another machine, with a metric line torn by a
    # killed process; `mlflow migrate-filestore` aborts on it.
    laptop = tmp_path / "laptop" / "mlruns"
    ids = mlflow_stores.build_migration_store(laptop)
    store = tmp_path / "server" / "mlruns"
    shutil.copytree(laptop, store)
    shutil.rmtree(laptop)
    metric = store / ids["credit"] / ids["sweep"] / "metrics" / "loss"
    with metric.open("ab") as handle:
        handle.write(b"1796400000000 0.2")
    expected = janitor_view(store)
    before = audit_json(store)
    assert {"duplicate-metric-entries", "malformed-metric"} <= codes(before)

    failed = migrate(store, tmp_path / "before.db")
    assert failed.returncode == 1
    assert "UNIQUE constraint failed: metrics.key" in failed.stderr
    assert janitor("migrate-check", str(store)).returncode == 1

    repaired = repair(store, "--yes")
    assert repaired.returncode == 0, repaired.stderr
    assert f"Rebase: {laptop} -> {store} (automatic" in repaired.stdout
    assert codes(audit_json(store)) == set()
    check = janitor("migrate-check", str(store))
    assert check.returncode == 0, check.stdout
    assert "Ready to migrate" in check.stdout

    database = tmp_path / "after.db"
    migrated = migrate(store, database)
    assert migrated.returncode == 0, migrated.stderr
    assert database_view(database) == expected
    assert len(expected["runs"]) == before["summary"]["runs"] == 4

    # The model files are found at the store's new place.
    import mlflow.pyfunc

    mlflow.set_tracking_uri(f"sqlite:///{database}")
    mlflow.set_registry_uri(f"sqlite:///{database}")
    model = mlflow.pyfunc.load_model("models:/clf/1")
    assert model.predict([1.0, 2.0]) == [2.0, 4.0]


# -- safety: idempotent, undoable, dry, confirmed, locked --------------------


def test_a_second_repair_changes_nothing(moved_store):
    root, _ = moved_store
    first = repair(root, "--yes")
    assert first.returncode == 0, first.stderr
    after_first = tree(root)
    second = repair(root, "--yes")
    assert second.returncode == 0, second.stderr
    assert "Nothing to repair." in second.stdout
    assert tree(root) == after_first
    assert len(batches(root)) == 1


def test_restore_puts_back_every_byte(moved_store):
    root, ids = moved_store
    # Every kind of change: files rewritten, a missing folder created and
    # a foreign folder moved out.
    shutil.rmtree(root / ids["credit"] / ids["trial"] / "params")
    (root / "backup").mkdir()
    (root / "backup" / "notes.txt").write_text("x")
    before = tree(root)
    result = repair(root, "--yes")
    assert result.returncode == 0, result.stderr
    assert tree(root) != before
    (batch,) = batches(root)
    listing = janitor("trash", "list", "--store", str(root))
    assert batch in listing.stdout and "repair" in listing.stdout
    restored = janitor(
        "trash", "restore", batch, "--store", str(root), "--yes"
    )
    assert restored.returncode == 0, restored.stderr
    assert tree(root) == before
    assert batches(root) == []


def test_dry_run_writes_nothing_to_the_store(moved_store):
    root, ids = moved_store
    before = tree(root)
    result = repair(root, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert tree(root) == before
    assert batches(root) == []
    assert f"{ids['credit']}/{ids['trained']}/metrics/ROC_AUC" in result.stdout
    assert "(dry run: nothing was changed)." in result.stdout
    (record,) = read_records(str(state_dir(root) / "audit.jsonl"))
    assert (record["command"], record["dry_run"], record["action"]) == (
        "repair --dry-run",
        True,
        "plan",
    )


def test_dry_run_json(moved_store, migration_template):
    root, ids = moved_store
    template, _ = migration_template
    result = repair(root, "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["dry_run"] is True
    assert document["rebase"] == [
        {"old": str(template), "new": str(root), "source": "auto"}
    ]
    fixes = {fix["path"]: fix for fix in document["fixes"]}
    roc = fixes[f"{ids['credit']}/{ids['trained']}/metrics/ROC_AUC"]
    assert roc["action"] == "rewrite"
    assert roc["codes"] == ["duplicate-metric-entries"]
    assert roc["problem"] == "1 duplicated line"
    assert document["summary"]["fixes"] == len(fixes)
    assert document["manual"] == []


def test_repair_needs_confirmation_without_a_terminal(moved_store):
    root, _ = moved_store
    before = tree(root)
    result = repair(root)
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert tree(root) == before


def test_a_locked_store_is_refused(moved_store):
    root, _ = moved_store
    with StoreLock(str(state_dir(root)), str(root)):
        result = repair(root, "--yes")
    assert result.returncode == 1
    assert "another janitor is changing this store" in result.stderr


def test_every_change_is_in_the_audit_log(moved_store):
    root, ids = moved_store
    repair(root, "--yes")
    records = read_records(str(state_dir(root) / "audit.jsonl"))
    roc = f"{ids['credit']}/{ids['trained']}/metrics/ROC_AUC"
    steps = [r for r in records if r.get("path") == roc]
    assert [r["outcome"] for r in steps] == ["started", "done"]
    assert steps[0]["kind"] == "replaced-file"
    assert steps[0]["rule"] == "duplicate-metric-entries"
    assert steps[0]["detail"] == "duplicate lines 4"
    assert records[-1]["action"] == "summary"
    assert records[-1]["outcome"] == "done"


def test_bad_rebase_value_is_a_usage_error(moved_store):
    root, _ = moved_store
    result = repair(root, "--dry-run", "--rebase", "relative=/x")
    assert result.returncode == 2
    assert "expected OLD=NEW" in result.stderr


def test_prune_never_resumes_a_repair_batch(small_store):
    from janitor.commands.prune import resume_unfinished

    class Policy:
        path, sha256 = "policy.yaml", "0" * 64

    root = small_store.root
    trash = Trash(str(state_dir(root)))
    trash.prepare(str(root))
    metric = (
        f"{small_store.experiment_id}/{small_store.run_ids[0]}/metrics/auc"
    )
    item = Item(metric, "replaced-file")
    trash.save(
        Batch("20260101T000000Z-abcdef", str(root), "repair", 0.0, [item])
    )
    before = tree(root)
    resume_unfinished(trash, open_store(str(root)), Policy())
    assert tree(root) == before


# -- one test per fix ----------------------------------------------------------


def test_duplicate_lines_keep_the_first_of_each_in_order(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    run_metric = store.run_dir(0) / "metrics" / "auc"
    (model_metric,) = (store.root / store.experiment_id / "models").glob(
        "m-*/metrics/auc"
    )
    model_line = model_metric.read_bytes()
    model_metric.write_bytes(model_line * 3)
    run_lines = run_metric.read_bytes()
    assert run_lines.count(b"\n") == 2  # MLflow wrote the line twice
    first = run_lines.split(b"\n")[0]
    run_metric.write_bytes(first + b"\n1700000000001 0.9 1\n" + first + b"\n")

    result = repair(store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert run_metric.read_bytes() == first + b"\n1700000000001 0.9 1\n"
    assert model_metric.read_bytes() == model_line
    rel = run_metric.relative_to(store.root).as_posix()
    assert original_in_batch(store.root, rel).read_bytes().count(first) == 2
    assert codes(audit_json(store.root)) == set()


def test_torn_and_malformed_lines_go_to_the_trash(small_store):
    # A hand edit left a bad line; a killed process left a torn one.
    metric = small_store.run_dir(0) / "metrics" / "auc"
    good = metric.read_bytes()
    damaged = good + b"1700000000000 not-a-number 3\n" + b"1700000000001 0.5"
    metric.write_bytes(damaged)

    result = repair(small_store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert metric.read_bytes() == good
    rel = metric.relative_to(small_store.root).as_posix()
    assert original_in_batch(small_store.root, rel).read_bytes() == damaged
    (batch,) = batches(small_store.root)
    manifest = json.loads(
        (
            state_dir(small_store.root) / "trash" / batch / "manifest.json"
        ).read_text()
    )
    (item,) = manifest["items"]
    assert (item["kind"], item["detail"]) == (
        "replaced-file",
        "bad lines 4, 5",
    )
    assert codes(audit_json(small_store.root)) == set()
    run = MlflowClient(tracking_uri=f"file:{small_store.root}").get_run(
        small_store.run_ids[0]
    )
    assert run.data.metrics["auc"] == pytest.approx(0.7)


@pytest.mark.parametrize("content", [b"", b"1700000000"])
def test_a_metric_file_with_no_good_line_is_moved_out(small_store, content):
    # A full disk leaves an empty file; a crash, a lone torn line.
    metric = small_store.run_dir(1) / "metrics" / "auc"
    metric.write_bytes(content)
    result = repair(small_store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert not metric.exists()
    rel = metric.relative_to(small_store.root).as_posix()
    assert original_in_batch(small_store.root, rel).read_bytes() == content
    assert codes(audit_json(small_store.root)) == set()


def test_rebase_option_rewrites_the_old_prefix(small_store, tmp_path):
    moved = tmp_path / "elsewhere" / "mlruns"
    shutil.copytree(small_store.root, moved)
    result = repair(
        moved, "--yes", "--rebase", f"{small_store.root}=file://{moved}"
    )
    assert result.returncode == 0, result.stderr
    assert f"Rebase: {small_store.root} -> {moved} (--rebase)" in result.stdout
    experiment = moved / small_store.experiment_id
    assert meta(experiment / "meta.yaml")["artifact_location"] == (
        f"file://{experiment}"
    )
    run_id = small_store.run_ids[0]
    assert meta(experiment / run_id / "meta.yaml")["artifact_uri"] == (
        f"file://{experiment}/{run_id}/artifacts"
    )
    shutil.rmtree(small_store.root)
    client = MlflowClient(tracking_uri=f"file:{moved}")
    (notes,) = client.list_artifacts(run_id)
    assert notes.path == "notes"
    assert codes(audit_json(moved)) == set()


def test_plain_paths_stay_plain_and_unrelated_ones_stay(small_store, tmp_path):
    moved = tmp_path / "elsewhere" / "mlruns"
    shutil.copytree(small_store.root, moved)
    run_meta = moved / small_store.experiment_id / small_store.run_ids[0]
    run_meta = run_meta / "meta.yaml"
    old = meta(run_meta)["artifact_uri"].removeprefix("file://")
    rewrite_meta(run_meta, artifact_uri=old)
    other = moved / small_store.experiment_id / small_store.run_ids[1]
    rewrite_meta(other / "meta.yaml", artifact_uri="s3://bucket/artifacts")
    result = repair(moved, "--yes", "--rebase", f"{small_store.root}={moved}")
    assert result.returncode == 0, result.stderr
    assert meta(run_meta)["artifact_uri"] == old.replace(
        str(small_store.root), str(moved)
    )
    assert meta(other / "meta.yaml")["artifact_uri"] == "s3://bucket/artifacts"


def test_auto_rebase_rewrites_models_and_registry(moved_store):
    root, ids = moved_store
    result = repair(root, "--yes")
    assert result.returncode == 0, result.stderr
    model_dir = root / ids["credit"] / "models" / ids["model"]
    artifacts = f"file://{model_dir}/artifacts"
    assert meta(model_dir / "meta.yaml")["artifact_location"] == artifacts
    mlmodel = meta(model_dir / "artifacts" / "MLmodel")
    assert mlmodel["artifact_path"] == artifacts
    version = meta(root / "models" / "clf" / "version-1" / "meta.yaml")
    assert version["storage_location"] == artifacts
    assert version["source"] == f"models:/{ids['model']}"
    trashed = meta(root / ".trash" / ids["old"] / "meta.yaml")
    assert trashed["artifact_location"] == f"file://{root}/{ids['old']}"


def test_auto_rebase_leaves_an_artifact_root_alone(small_store, tmp_path):
    # `mlflow server --default-artifact-root /data/artifacts` records
    # locations shaped like a moved store's; that folder is no store.
    artifact_root = tmp_path / "artifacts"
    artifact_root.mkdir()
    experiment = small_store.root / small_store.experiment_id
    rewrite_meta(
        experiment / "meta.yaml",
        artifact_location=f"file://{artifact_root}/{small_store.experiment_id}",
    )
    for run_id in small_store.run_ids:
        rewrite_meta(
            experiment / run_id / "meta.yaml",
            artifact_uri=(
                f"file://{artifact_root}/{small_store.experiment_id}/"
                f"{run_id}/artifacts"
            ),
        )
    before = tree(small_store.root)
    result = repair(small_store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert tree(small_store.root) == before
    assert f"Note: {artifact_root}: not rebased automatically" in result.stdout
    assert "foreign-path" in result.stdout  # left as a manual step


def test_missing_run_folders_are_recreated(tmp_path):
    # A store kept under git loses empty folders; MLflow 3.17 then lists
    # the run but refuses to open it. The run is registered, too.
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    run_dir = store.run_dir(0)
    shutil.rmtree(run_dir / "params")
    client = MlflowClient(tracking_uri=f"file:{store.root}")
    with pytest.raises(MlflowException):
        client.get_run(store.run_ids[0])
    before = tree(store.root)
    result = repair(store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert (run_dir / "params").is_dir()
    assert client.get_run(store.run_ids[0]).data.metrics == {"auc": 0.8}
    assert "orphan-run" not in codes(audit_json(store.root))
    (batch,) = batches(store.root)
    janitor("trash", "restore", batch, "--store", str(store.root), "--yes")
    assert tree(store.root) == before


def test_runs_of_an_experiment_without_meta_are_left_alone(small_store):
    (small_store.root / small_store.experiment_id / "meta.yaml").unlink()
    before = tree(small_store.root)
    result = repair(small_store.root, "--yes", "--format", "json")
    assert result.returncode == 1
    assert tree(small_store.root) == before
    assert "Nothing to repair." in result.stderr
    document = json.loads(result.stdout)
    manual = {(f["code"], f["path"]) for f in document["manual"]}
    assert manual == {
        ("missing-meta", f"{small_store.experiment_id}/meta.yaml"),
        ("orphan-run", small_store.experiment_id),
    }


def test_foreign_folders_are_moved_but_hidden_ones_stay(small_store):
    root = small_store.root
    (root / "backup").mkdir()
    (root / "backup" / "notes.txt").write_text("x")
    plots = root / small_store.experiment_id / "plots"
    plots.mkdir()
    (plots / "roc.png").write_bytes(b"png")
    (root / ".git").mkdir()
    result = repair(root, "--yes")
    assert result.returncode == 0, result.stderr
    assert not (root / "backup").exists() and not plots.exists()
    assert (root / ".git").is_dir()
    assert "Note: .git: not moved: hidden folders" in result.stdout
    remaining = audit_json(root)["findings"]
    assert [(f["code"], f["path"]) for f in remaining] == [
        ("foreign-folder", ".git")
    ]


def test_hand_edited_meta_is_written_in_mlflows_form(small_store):
    run_meta = small_store.run_dir(0) / "meta.yaml"
    canonical = run_meta.read_text()
    run_meta.write_text(
        canonical.replace("run_name: run-0", 'run_name: "run-0"')
    )
    result = repair(small_store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert run_meta.read_text() == canonical
    assert codes(audit_json(small_store.root)) == set()


def test_what_cannot_be_repaired_gets_its_manual_step(small_store):
    (small_store.run_dir(0) / "meta.yaml").unlink()
    copy = small_store.run_dir(1).parent / ("f" * 32)
    shutil.copytree(small_store.run_dir(1), copy)
    before = tree(small_store.root)
    result = repair(small_store.root, "--yes")
    assert result.returncode == 1
    assert tree(small_store.root) == before
    assert "Needs a manual step (repair does not guess):" in result.stdout
    assert "missing-meta" in result.stdout and "id-mismatch" in result.stdout
    assert "restore it from a backup" in result.stdout
    assert "Nothing to repair." in result.stdout


def test_links_are_never_followed(small_store, tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"1 0.5 0\n1 0.5 0\n")
    (small_store.run_dir(0) / "metrics" / "linked").symlink_to(outside)
    result = repair(small_store.root, "--yes")
    assert result.returncode == 0, result.stderr
    assert outside.read_bytes() == b"1 0.5 0\n1 0.5 0\n"
    assert (small_store.run_dir(0) / "metrics" / "linked").is_symlink()


def test_repair_of_the_mlflow2_store(mlflow2_store):
    # Written by MLflow 2.22.5 elsewhere: registry sources are file URIs.
    result = repair(mlflow2_store, "--yes")
    assert result.returncode == 0, result.stderr
    assert codes(audit_json(mlflow2_store)) == set()
    version = meta(mlflow2_store / "models/LightGBM_prod/version-1/meta.yaml")
    assert version["source"].startswith(f"file://{mlflow2_store}/")
    assert version["source"] == version["storage_location"]
    (model_dir,) = {
        Path(p).parent
        for p in mlflow2_store.glob("*/*/artifacts/model/MLmodel")
        if version["run_id"] in str(p)
    }
    assert meta(model_dir / "MLmodel")["artifact_path"] == "model"


def test_a_state_dir_inside_the_store_is_refused(small_store):
    root = small_store.root
    for extra in ("--dry-run", "--yes"):
        result = repair(root, extra, "--state-dir", str(root / "state"))
        assert result.returncode == 2
        assert "inside the store" in result.stderr
        assert not (root / "state").exists()
