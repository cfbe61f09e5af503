"""Reading some runs only (`read_runs`) and listing large files: the
same objects as a full scan, without walking the rest of the store."""

from __future__ import annotations

import dataclasses
import os
import signal

from janitor.store import filestore, open_store
from janitor.store.model import Run


def _runs_by_id(snapshot) -> dict[str, Run]:
    return {run.run_id: run for run in snapshot.runs()}


def _comparable(run: Run) -> dict:
    fields = {
        field.name: getattr(run, field.name)
        for field in dataclasses.fields(run)
    }
    fields["meta"] = (run.meta.path, run.meta.data, run.meta.canonical)
    # repr: a NaN metric value equals itself only as text.
    fields["metrics"] = {key: repr(m) for key, m in run.metrics.items()}
    return fields


def test_a_selected_run_reads_as_in_a_full_scan(rich_store):
    store = open_store(str(rich_store))
    full = store.scan()
    for experiment in full.experiments:
        for run in experiment.runs:
            alone = store.read_runs({experiment.path: [run.run_id]})
            (read,) = alone.runs()
            assert _comparable(read) == _comparable(run)
            (exp,) = alone.experiments
            assert exp.meta.data == experiment.meta.data
            assert exp.in_trash == experiment.in_trash
            models = {m.model_id: m for m in experiment.logged_models}
            for model in exp.logged_models:
                assert repr(model) == repr(models[model.model_id])
            assert {m.model_id for m in exp.logged_models} == set(
                run.output_model_ids
            )


def test_reading_one_run_lists_no_other_folder(rich_store, monkeypatch):
    store = open_store(str(rich_store))
    full = store.scan()
    experiment = max(full.experiments, key=lambda exp: len(exp.runs))
    run = experiment.runs[0]
    listed = []
    real_listing = filestore._Scan._listing

    def recording_listing(self, rel, *args, **kwargs):
        listed.append(rel)
        return real_listing(self, rel, *args, **kwargs)

    monkeypatch.setattr(filestore._Scan, "_listing", recording_listing)
    store.read_runs({experiment.path: [run.run_id]})
    models = [f"{experiment.path}/models/{m}" for m in run.output_model_ids]
    assert listed, "the run was not read"
    for path in listed:
        assert path.startswith(run.path) or any(
            path.startswith(model) for model in models
        ), path


def test_missing_runs_and_experiments_are_left_out(small_store):
    store = open_store(str(small_store.root))
    snapshot = store.read_runs(
        {small_store.experiment_id: ["0" * 32], "12345": []}
    )
    assert snapshot.runs() == []
    missing = {exp.path: exp.meta.problem for exp in snapshot.experiments}
    assert missing[small_store.experiment_id] is None
    assert missing["12345"].value == "missing"


def test_files_over_lists_every_larger_file(small_store):
    big = small_store.run_dir(0) / "artifacts" / "a.bin"
    big.write_bytes(b"\0" * 5000)
    also = small_store.run_dir(1) / "artifacts" / "b.bin"
    also.write_bytes(b"\0" * 4001)
    snapshot = open_store(str(small_store.root)).scan(files_over=4000)
    found = {(f.path, f.bytes, f.run_id) for f in snapshot.large_files}
    exp = small_store.experiment_id
    assert found == {
        (
            f"{exp}/{small_store.run_ids[0]}/artifacts/a.bin",
            5000,
            small_store.run_ids[0],
        ),
        (
            f"{exp}/{small_store.run_ids[1]}/artifacts/b.bin",
            4001,
            small_store.run_ids[1],
        ),
    }
    assert open_store(str(small_store.root)).scan().large_files == []


def _runs_of(snapshot) -> dict[str, Run]:
    return {run.run_id: run for run in snapshot.runs()}


def test_artifacts_deeper_than_the_path_limit_are_counted(small_store):
    # Hand-made: a copied-in artifact tree whose paths pass PATH_MAX
    # (4,096 bytes on Linux), which MLflow could not have written.
    run = small_store.run_dir(0)
    before = _runs_of(open_store(str(small_store.root)).scan())
    folder = os.open(run / "artifacts", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(20):
            name = f"{level:02d}" + "d" * 240
            os.mkdir(name, dir_fd=folder)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
            os.close(folder)
            folder = inner
        deepest = os.open(
            "weights.bin", os.O_WRONLY | os.O_CREAT, dir_fd=folder
        )
        os.write(deepest, b"w" * 1234)
        os.close(deepest)
    finally:
        os.close(folder)
    snapshot = open_store(str(small_store.root)).scan()
    after = _runs_of(snapshot)[small_store.run_ids[0]]
    old = before[small_store.run_ids[0]]
    assert after.artifact_bytes == old.artifact_bytes + 1234
    assert after.artifact_files == old.artifact_files + 1
    assert [
        stray for stray in snapshot.strays if stray.kind == "unreadable"
    ] == []


def test_a_deep_chain_of_folders_opens_each_folder_once(
    small_store, monkeypatch
):
    # Hand-made: an artifact tree 300 folders deep, far more than the
    # folders the reader holds open at once. Every folder must still be
    # opened through its parent, once, not reached again from the top.
    run = small_store.run_dir(0)
    folder = os.open(run / "artifacts", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _level in range(300):
            os.mkdir("d", dir_fd=folder)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
            os.close(folder)
            folder = inner
        leaf = os.open("leaf.bin", os.O_WRONLY | os.O_CREAT, dir_fd=folder)
        os.write(leaf, b"x" * 77)
        os.close(leaf)
    finally:
        os.close(folder)
    folders = sum(1 for _ in os.walk(small_store.root))
    opened = []
    real_open = os.open

    def counting(path, flags, *args, **kwargs):
        if flags & os.O_DIRECTORY:
            opened.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(filestore.os, "open", counting)
    monkeypatch.setenv("JANITOR_WORKERS", "1")
    snapshot = open_store(str(small_store.root)).scan()
    assert folders <= len(opened) <= folders + 10
    found = _runs_of(snapshot)[small_store.run_ids[0]]
    assert found.artifact_files == 2 and found.artifact_bytes == 5 + 77


def test_a_run_removed_while_the_store_is_read_is_left_out(
    small_store, monkeypatch
):
    # The race of a run deleted between its experiment's listing and its
    # own: reproduced by making its folder vanish at that moment.
    gone = f"{small_store.experiment_id}/{small_store.run_ids[0]}"
    open_folder = filestore._Scan._open_folder

    def vanishing(self, rel):
        if rel == gone:
            raise FileNotFoundError(2, "No such file or directory")
        return open_folder(self, rel)

    monkeypatch.setattr(filestore._Scan, "_open_folder", vanishing)
    snapshot = open_store(str(small_store.root)).scan()
    assert set(_runs_of(snapshot)) == {small_store.run_ids[1]}
    assert snapshot.strays == []


def test_a_runs_last_write_is_its_newest_mtime_folders_included(
    small_store, monkeypatch
):
    # A run's last write is the newest mtime of anything in it: a file
    # written, or a folder whose entries changed (an artifact deleted
    # deep inside shows only on its folder). Every kind is moved forward
    # alone, and every way of reading the store must see it.
    root = small_store.root
    run = small_store.run_dir(0)
    old, new = 1_600_000_000, 1_700_000_000
    every = [path for path, _, _ in os.walk(root)] + [
        os.path.join(path, name)
        for path, _, names in os.walk(root)
        for name in names
    ]
    targets = [
        run,  # the run folder itself
        run / "artifacts" / "notes",  # a nested artifact folder
        run / "metrics" / "auc",  # a file
        run / "params",  # a folder of files
    ]
    for target in targets:
        for path in every:
            os.utime(path, (old, old))
        os.utime(target, (new, new))
        for workers in ("1", "2"):
            monkeypatch.setenv("JANITOR_WORKERS", workers)
            scanned = _runs_by_id(open_store(str(root)).scan())
            assert scanned[run.name].last_write == new, (target, workers)
            assert scanned[small_store.run_ids[1]].last_write == old
        selected = open_store(str(root)).read_runs(
            {small_store.experiment_id: [run.name]}
        )
        assert _runs_by_id(selected)[run.name].last_write == new, target


def test_tag_values_are_read_without_following_links_or_waiting(
    small_store, tmp_path
):
    # A prune reads some tag values after the scan. A tag file swapped
    # since for a FIFO must not hang it, nor one swapped for a link make
    # it read a file outside the store; other values, nested keys
    # included, still read.
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri="file:" + str(small_store.root))
    client.set_tag(small_store.run_ids[0], "group/sub", "nested")
    store = open_store(str(small_store.root))
    run_path = f"{small_store.experiment_id}/{small_store.run_ids[0]}"
    keys = ["team", "group/sub", "mlflow.runName"]
    assert store.read_values(run_path, "tags", keys) == {
        "team": "credit",
        "group/sub": "nested",
        "mlflow.runName": "run-0",
    }
    tags = small_store.run_dir(0) / "tags"
    (tags / "team").unlink()
    os.mkfifo(tags / "team")
    secret = tmp_path / "secret"
    secret.write_text("outside")
    (tags / "mlflow.runName").unlink()
    (tags / "mlflow.runName").symlink_to(secret)

    def waited(*_args):
        # Not an OSError, which the reader would take for an unreadable
        # file and pass over.
        raise AssertionError("read_values waited on the FIFO")

    # A FIFO opened for reading would wait forever for a writer.
    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(10)
    try:
        values = store.read_values(run_path, "tags", keys)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert values == {"group/sub": "nested"}
