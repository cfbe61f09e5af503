"""One faulty store per check: the finding's code, severity and path.

Stores are written by real MLflow, then damaged the way real stores get
damaged; each test says which real failure it reproduces.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests import mlflow_stores
from tests.conftest import audit_json, rewrite_meta


def findings(store: Path, code: str) -> list[dict]:
    report = audit_json(store)
    return [f for f in report["findings"] if f["code"] == code]


def only(store: Path, code: str) -> dict:
    found = findings(store, code)
    assert len(found) == 1, found
    return found[0]


def rel(store, path: Path) -> str:
    return path.relative_to(store.root).as_posix()


def client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri="file:" + str(root))


def test_missing_run_meta(small_store):
    # A crash between mkdir and the first write of meta.yaml.
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.unlink()
    finding = only(small_store.root, "missing-meta")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, meta)
    assert finding["run_id"] == small_store.run_ids[0]


def test_missing_experiment_meta_orphans_its_runs(small_store):
    meta = small_store.root / small_store.experiment_id / "meta.yaml"
    meta.unlink()
    assert only(small_store.root, "missing-meta")["path"] == rel(
        small_store, meta
    )
    (orphan,) = findings(small_store.root, "orphan-run")
    assert orphan["path"] == small_store.experiment_id
    assert orphan["severity"] == "error"
    assert orphan["message"].startswith("2 runs in ")


def test_empty_meta(small_store):
    # A full disk leaves meta.yaml at zero bytes; MLflow then fails to
    # list the whole experiment.
    meta = small_store.run_dir(1) / "meta.yaml"
    meta.write_bytes(b"")
    finding = only(small_store.root, "empty-meta")
    assert (finding["severity"], finding["path"]) == (
        "error",
        rel(small_store, meta),
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("run_id: [unclosed\n", "does not parse"),
        ("- a list\n- not a mapping\n", "not a mapping"),
    ],
)
def test_unparseable_meta(small_store, content, expected):
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.write_text(content)
    finding = only(small_store.root, "malformed-yaml")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, meta)
    assert expected in finding["message"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": 9}, "status 9"),
        ({"lifecycle_stage": "archived"}, "lifecycle_stage 'archived'"),
        ({"user_id": None}, "'user_id' has a wrong type"),
    ],
)
def test_invalid_meta_values(small_store, changes, expected):
    meta = small_store.run_dir(0) / "meta.yaml"
    rewrite_meta(meta, **changes)
    finding = only(small_store.root, "malformed-yaml")
    assert finding["path"] == rel(small_store, meta)
    assert expected in finding["message"]


def test_missing_required_key(small_store):
    meta = small_store.run_dir(0) / "meta.yaml"
    data = yaml.safe_load(meta.read_text())
    del data["start_time"]
    meta.write_text(yaml.safe_dump(data, default_flow_style=False))
    assert (
        "missing key 'start_time'"
        in only(small_store.root, "malformed-yaml")["message"]
    )


def test_run_id_mismatch_is_what_mlflow_refuses(small_store):
    # A run folder copied under a new name keeps its old run_id.
    run_dir = small_store.run_dir(0)
    copy = run_dir.parent / ("f" * 32)
    shutil.copytree(run_dir, copy)
    finding = only(small_store.root, "id-mismatch")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, copy / "meta.yaml")
    with pytest.raises(MlflowException):
        client(small_store.root).get_run("f" * 32)


def test_experiment_id_mismatch_hides_the_run(small_store):
    meta = small_store.run_dir(1) / "meta.yaml"
    rewrite_meta(meta, experiment_id="999")
    finding = only(small_store.root, "id-mismatch")
    assert finding["path"] == rel(small_store, meta)
    assert "MLflow hides this run" in finding["message"]


def test_orphan_run_without_params_folder(small_store):
    # MLflow 3.17 lists such a run but refuses to open it.
    shutil.rmtree(small_store.run_dir(0) / "params")
    finding = only(small_store.root, "orphan-run")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, small_store.run_dir(0))
    with pytest.raises(MlflowException):
        client(small_store.root).get_run(small_store.run_ids[0])


def test_malformed_metric_line_with_its_number(small_store):
    metric = small_store.run_dir(0) / "metrics" / "auc"
    with metric.open("a") as handle:
        handle.write("1700000000000 not-a-number 3\n")
    finding = only(small_store.root, "malformed-metric")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, metric)
    assert "line 4" in finding["message"]
    with pytest.raises(ValueError):
        client(small_store.root).get_run(small_store.run_ids[0])


def test_torn_last_metric_line(small_store):
    # A process killed mid-write leaves a line without its newline.
    metric = small_store.run_dir(1) / "metrics" / "auc"
    with metric.open("a") as handle:
        handle.write("17000000")
    finding = only(small_store.root, "malformed-metric")
    assert "line 4: torn last line" in finding["message"]


def test_empty_metric_file(small_store):
    metric = small_store.run_dir(1) / "metrics" / "auc"
    metric.write_bytes(b"")
    assert (
        "line 1: the file is empty"
        in only(small_store.root, "malformed-metric")["message"]
    )


def test_duplicate_metric_entries(small_store):
    metric = small_store.run_dir(0) / "metrics" / "auc"
    first = metric.read_text().splitlines()[0]
    with metric.open("a") as handle:
        handle.write(first + "\n")
    finding = only(small_store.root, "duplicate-metric-entries")
    assert finding["severity"] == "warning"
    assert finding["path"] == rel(small_store, metric.parent)
    assert "1 duplicated line in 1 metric file " in finding["message"]


def test_manual_edit_of_meta_yaml(small_store):
    # Same values, but quoted by hand: MLflow never writes it this way.
    meta = small_store.run_dir(0) / "meta.yaml"
    text = meta.read_text().replace("run_name: run-0", 'run_name: "run-0"')
    meta.write_text(text)
    finding = only(small_store.root, "manual-edit")
    assert (finding["severity"], finding["path"]) == (
        "warning",
        rel(small_store, meta),
    )


def test_moved_store_is_one_foreign_path_finding(small_store, tmp_path):
    moved = tmp_path / "elsewhere" / "mlruns"
    shutil.copytree(small_store.root, moved)
    finding = only(moved, "foreign-path")
    assert finding["path"] == "."
    assert str(small_store.root) in finding["message"]
    assert f"--rebase {small_store.root}={moved}" in finding["hint"]


def test_artifact_location_outside_the_store(small_store, tmp_path):
    import mlflow

    mlflow.set_tracking_uri("file:" + str(small_store.root))
    outside = tmp_path / "shared-artifacts"
    experiment_id = mlflow.create_experiment(
        "external", artifact_location=str(outside)
    )
    finding = only(small_store.root, "foreign-path")
    assert finding["path"] == f"{experiment_id}/meta.yaml"
    assert str(outside) in finding["message"]


def test_dangling_version_after_run_folder_removed(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    shutil.rmtree(store.run_dir(0))
    found = findings(store.root, "dangling-version")
    assert {f["severity"] for f in found} == {"error"}
    assert {f["path"] for f in found} == {"models/clf/version-1/meta.yaml"}


def test_dangling_version_of_soft_deleted_run(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    client(store.root).delete_run(store.run_ids[0])
    finding = only(store.root, "dangling-version")
    assert finding["severity"] == "warning"
    assert "is deleted" in finding["message"]


def test_alias_to_a_deleted_version(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    registry = MlflowClient(
        tracking_uri="file:" + str(store.root),
        registry_uri="file:" + str(store.root),
    )
    registry.set_registered_model_alias("clf", "prod", "1")
    meta = store.root / "models" / "clf" / "version-1" / "meta.yaml"
    rewrite_meta(meta, current_stage="Deleted_Internal")
    finding = only(store.root, "dangling-version")
    assert finding["path"] == "models/clf/aliases/prod"


def test_orphan_logged_model(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    shutil.rmtree(store.run_dir(0))
    finding = only(store.root, "orphan-logged-model")
    assert finding["severity"] == "warning"
    assert finding["path"].startswith(f"{store.experiment_id}/models/m-")


def test_missing_model_files_of_a_version(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    (artifacts,) = (store.root / store.experiment_id / "models").glob(
        "m-*/artifacts"
    )
    shutil.rmtree(artifacts)
    finding = only(store.root, "missing-artifacts")
    assert finding["severity"] == "error"
    assert finding["path"] == "models/clf/version-1/meta.yaml"


def test_missing_mlflow2_model_folder(mlflow2_store):
    history = next(mlflow2_store.glob("*/*/tags/mlflow.log-model.history"))
    run_dir = history.parent.parent
    shutil.rmtree(run_dir / "artifacts" / "model")
    found = {
        (f["path"], f["severity"])
        for f in findings(mlflow2_store, "missing-artifacts")
    }
    model = rel_to(mlflow2_store, run_dir / "artifacts" / "model")
    assert (model, "warning") in found
    # The store was moved too: versions of this run's model are found
    # broken at the files' new place.
    versions = {path for path, severity in found if severity == "error"}
    assert versions and all(p.startswith("models/") for p in versions)


def rel_to(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def test_duplicate_experiment_name(small_store):
    # An experiment folder copied by hand under a new id.
    source = small_store.root / small_store.experiment_id
    copy = small_store.root / "123456789"
    shutil.copytree(source, copy)
    rewrite_meta(copy / "meta.yaml", experiment_id="123456789")
    for run_meta in copy.glob("*/meta.yaml"):
        rewrite_meta(run_meta, experiment_id="123456789")
    finding = only(small_store.root, "duplicate-experiment-name")
    assert finding["severity"] == "error"
    assert finding["path"] in {
        "123456789/meta.yaml",
        f"{small_store.experiment_id}/meta.yaml",
    }


def test_stale_running_run(small_store):
    run = client(small_store.root).create_run(small_store.experiment_id)
    run_dir = small_store.root / small_store.experiment_id / run.info.run_id
    old = time.time() - 3 * 86400
    for path in [run_dir, *run_dir.rglob("*")]:
        os.utime(path, (old, old))
    finding = only(small_store.root, "stale-running")
    assert finding["severity"] == "warning"
    assert finding["run_id"] == run.info.run_id


def test_fresh_running_run_is_not_stale(small_store):
    client(small_store.root).create_run(small_store.experiment_id)
    assert findings(small_store.root, "stale-running") == []


def test_foreign_folders(small_store):
    (small_store.root / "backup").mkdir()
    (small_store.root / "backup" / "notes.txt").write_text("x")
    stray = small_store.root / small_store.experiment_id / "plots"
    stray.mkdir()
    (stray / "roc.png").write_bytes(b"png")
    found = findings(small_store.root, "foreign-folder")
    assert {f["path"] for f in found} == {
        "backup",
        f"{small_store.experiment_id}/plots",
    }
    assert {f["severity"] for f in found} == {"warning"}


def test_trash_anomalies(small_store):
    import mlflow

    mlflow.set_tracking_uri("file:" + str(small_store.root))
    doomed = mlflow.create_experiment("doomed")
    client(small_store.root).delete_experiment(doomed)
    (small_store.root / ".trash" / "README").write_text("hi")
    rewrite_meta(
        small_store.root / ".trash" / doomed / "meta.yaml",
        lifecycle_stage="active",
    )
    found = findings(small_store.root, "trash-anomaly")
    assert {f["path"] for f in found} == {
        ".trash/README",
        f".trash/{doomed}/meta.yaml",
    }


def test_symlink_is_reported_and_not_followed(small_store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"x" * 100_000)
    link = small_store.run_dir(0) / "artifacts" / "data"
    link.symlink_to(outside)
    report = audit_json(small_store.root)
    (finding,) = [f for f in report["findings"] if f["code"] == "symlink"]
    assert finding["path"] == rel(small_store, link)
    assert str(outside) in finding["message"]
    assert report["summary"]["bytes"] < 100_000


def test_special_file_is_not_opened(small_store):
    fifo = small_store.run_dir(0) / "metrics" / "pipe"
    os.mkfifo(fifo)
    finding = only(small_store.root, "unreadable")
    assert finding["path"] == rel(small_store, fifo)


def test_bad_key_name_breaks_the_whole_experiment(small_store):
    # A param file created by hand with a name MLflow never writes.
    bad = small_store.run_dir(0) / "params" / "lr(init)"
    bad.write_text("0.1")
    finding = only(small_store.root, "bad-key-name")
    assert finding["severity"] == "error"
    assert finding["path"] == rel(small_store, bad)
    with pytest.raises(MlflowException):
        client(small_store.root).search_runs([small_store.experiment_id])


def test_registry_version_folder_and_meta_disagree(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    versions = store.root / "models" / "clf"
    shutil.copytree(versions / "version-1", versions / "version-7")
    finding = only(store.root, "id-mismatch")
    assert finding["path"] == "models/clf/version-7/meta.yaml"
    assert "version is '1' but the folder says '7'" in finding["message"]


def test_symlinked_run_is_not_called_missing(tmp_path):
    # MLflow follows the link; the janitor reports it and goes no further.
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    run_dir = store.run_dir(0)
    moved = tmp_path / "elsewhere"
    shutil.move(str(run_dir), moved)
    run_dir.symlink_to(moved)
    report = audit_json(store.root)
    codes = {f["code"] for f in report["findings"]}
    assert "symlink" in codes
    assert not codes & {"dangling-version", "orphan-logged-model"}


def test_symlinked_meta_yaml_is_not_called_missing(small_store, tmp_path):
    meta = small_store.run_dir(0) / "meta.yaml"
    target = tmp_path / "meta-copy.yaml"
    shutil.move(str(meta), target)
    meta.symlink_to(target)
    report = audit_json(small_store.root)
    codes = [f["code"] for f in report["findings"]]
    assert codes == ["symlink"]


def test_moved_store_from_windows_names_the_whole_old_root(small_store):
    # A store written on Windows and cloned here.
    for meta in small_store.root.glob("**/meta.yaml"):
        text = meta.read_text().replace(
            f"file://{small_store.root}", "file:///C:/Users/alice/mlruns"
        )
        meta.write_text(text)
    finding = only(small_store.root, "foreign-path")
    assert "point at /C:/Users/alice/mlruns," in finding["message"]
    assert "--rebase /C:/Users/alice/mlruns=" in finding["hint"]


def test_invalid_url_in_a_location_is_no_crash(small_store):
    meta = small_store.root / small_store.experiment_id / "meta.yaml"
    rewrite_meta(meta, artifact_location="file://[::1/x")
    report = audit_json(small_store.root)
    assert report["summary"]["errors"] == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [(".trash", "trash-anomaly"), ("models", "foreign-folder")],
)
def test_reserved_folder_that_is_a_file(small_store, name, code):
    shutil.rmtree(small_store.root / name, ignore_errors=True)
    (small_store.root / name).write_text("oops")
    finding = only(small_store.root, code)
    assert (finding["severity"], finding["path"]) == ("error", name)


def test_deep_nesting_is_no_crash(small_store):
    top = small_store.run_dir(0) / "artifacts"
    folder = top
    for _ in range(1200):  # deeper than Python's recursion limit
        folder = folder / "d"
        folder.mkdir()
    (folder / "leaf.txt").write_text("x")
    try:
        report = audit_json(small_store.root)
        assert report["summary"]["errors"] == 0
    finally:
        # Remove it deepest first: recursive removers (pytest's own
        # cleanup of old temporary folders) would overflow on it.
        (folder / "leaf.txt").unlink()
        while folder != top:
            folder.rmdir()
            folder = folder.parent


def test_hard_links_count_once(small_store):
    blob = small_store.run_dir(0) / "artifacts" / "blob.bin"
    blob.write_bytes(b"x" * 1_000_000)
    os.link(blob, small_store.run_dir(1) / "artifacts" / "same.bin")
    report = audit_json(small_store.root)
    assert 1_000_000 < report["summary"]["bytes"] < 1_100_000


def test_crlf_line_ends_are_not_a_hand_edit(small_store):
    # git's autocrlf on a Windows checkout.
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.write_bytes(meta.read_bytes().replace(b"\n", b"\r\n"))
    assert findings(small_store.root, "manual-edit") == []


def test_huge_meta_yaml_is_malformed_not_slow(small_store):
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.write_text("a: " + "x " * 1_000_000 + "\n")
    assert (
        "far more than any meta.yaml"
        in only(small_store.root, "malformed-yaml")["message"]
    )


def test_findings_on_folders_deleted_since_they_were_read_are_left_out(
    small_store,
):
    # MLflow deletes an experiment by rewriting its meta.yaml, then
    # moving the folder to .trash; a run can go the same way. Read in
    # between, the folder looked torn: an empty meta.yaml. Reproduced by
    # reading the store, then deleting the folder before the checks run.
    from janitor.checks import CheckContext, run_checks
    from janitor.store import open_store

    (small_store.run_dir(0) / "meta.yaml").write_bytes(b"")
    root = str(small_store.root)
    context = CheckContext(now=time.time(), store_root=root)
    snapshot = open_store(root).scan()
    codes = {f.code for f in run_checks(snapshot, context)}
    assert "empty-meta" in codes
    shutil.rmtree(small_store.run_dir(0))
    assert run_checks(snapshot, context) == []
    (small_store.root / small_store.experiment_id / "meta.yaml").write_bytes(
        b""
    )
    snapshot = open_store(root).scan()
    assert "empty-meta" in {f.code for f in run_checks(snapshot, context)}
    shutil.rmtree(small_store.root / small_store.experiment_id)
    assert run_checks(snapshot, context) == []


def test_the_model_history_tag_is_read_without_waiting_or_following(
    mlflow2_store, tmp_path
):
    # The tag is read after the scan; swapped meanwhile for a FIFO it
    # must not hang the audit, and for a link it must not be followed.
    import signal

    from janitor.checks import CheckContext, run_checks
    from janitor.store import open_store

    snapshot = open_store(str(mlflow2_store)).scan()
    history = next(mlflow2_store.glob("*/*/tags/mlflow.log-model.history"))
    context = CheckContext(now=time.time(), store_root=str(mlflow2_store))

    def waited(*_args):
        raise AssertionError("the audit waited on the FIFO")

    previous = signal.signal(signal.SIGALRM, waited)
    try:
        history.unlink()
        os.mkfifo(history)
        signal.alarm(10)
        run_checks(snapshot, context)
        signal.alarm(0)
        history.unlink()
        outside = tmp_path / "history.json"
        outside.write_text('[{"artifact_path": "FROM_OUTSIDE"}]')
        history.symlink_to(outside)
        findings = run_checks(snapshot, context)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not any("FROM_OUTSIDE" in finding.message for finding in findings)
