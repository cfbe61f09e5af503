"""A store read by several processes gives exactly the serial result."""

from __future__ import annotations

import dataclasses
import heapq
import os
import random
import shutil
import signal

import pytest

from benchmarks.generate import Shape, generate
from janitor.store import filestore, open_store, parallel
from janitor.store.filestore import LARGEST_FILES
from tests.conftest import janitor


@pytest.fixture
def damaged_store(tmp_path):
    """A generated store with damage of every kind the scan records."""
    root = tmp_path / "mlruns"
    written = generate(
        str(root), Shape(runs=40, experiments=4, model_every=5, seed=9)
    )
    experiments = [root / exp_id for exp_id in written.experiment_ids[1:]]
    runs = [
        path
        for experiment in experiments
        for path in sorted(experiment.iterdir())
        if path.is_dir() and len(path.name) == 32
    ]
    (runs[0] / "meta.yaml").write_bytes(b"")
    with (runs[1] / "metrics" / "roc_auc").open("a") as handle:
        handle.write("17000")  # torn
    duplicated = runs[2] / "metrics" / "accuracy"
    duplicated.write_bytes(duplicated.read_bytes() * 2)
    (runs[3] / "metrics" / "recall").write_bytes(b"1 \xff 0\n")
    (runs[4] / "artifacts" / "link").symlink_to(tmp_path)
    os.mkfifo(runs[5] / "metrics" / "pipe")
    nested = runs[7] / "metrics" / "val"  # MLflow's metric "val/loss"
    nested.mkdir()
    (nested / "loss").write_text("1 0.5 0\n1 0.5 0\n")
    meta = runs[6] / "meta.yaml"
    meta.write_text(meta.read_text().replace("run_name: ", "run_name: 'x"))
    (experiments[1] / "plots").mkdir()
    (experiments[1] / "plots" / "roc.png").write_bytes(b"p" * 4096)
    (experiments[2] / "meta.yaml").unlink()
    (root / "backup").mkdir()
    (root / "notes.txt").write_text("x")
    (root / ".trash" / "README").write_text("hi")
    for index, run in enumerate(runs[10:30]):
        # Many ties for the largest files, across experiments.
        (run / "artifacts" / f"weights-{index}.bin").write_bytes(b"w" * 9000)
    # Hard links (counted once, where the serial scan meets them first)
    # within an experiment, across experiments, and to a root file.
    shared = runs[11] / "artifacts" / "shared.bin"
    shared.write_bytes(b"s" * 7000)
    for other in (runs[18], runs[27]):
        os.link(shared, other / "artifacts" / "shared-link.bin")
    os.link(root / "notes.txt", runs[29] / "artifacts" / "notes-link.txt")
    return root


def _scan(root, monkeypatch, workers: int):
    monkeypatch.setenv("JANITOR_WORKERS", str(workers))
    calls = []
    snapshot = open_store(str(root)).scan(
        progress=lambda experiments, runs: calls.append((experiments, runs)),
        files_over=4000,
    )
    found = dataclasses.asdict(snapshot)
    del found["scanned_at"]
    return found, calls


@pytest.mark.parametrize(
    ("workers", "slice_folders"), [(2, 250), (3, 250), (2, 3), (3, 4)]
)
def test_parallel_scan_is_the_serial_scan(
    damaged_store, monkeypatch, workers, slice_folders
):
    # Small slices cut every experiment into several jobs.
    monkeypatch.setattr(parallel, "SLICE_FOLDERS", slice_folders)
    serial, serial_calls = _scan(damaged_store, monkeypatch, 1)
    shared, shared_calls = _scan(damaged_store, monkeypatch, workers)
    assert shared == serial
    assert shared_calls[-1] == serial_calls[-1]
    kinds = {stray["kind"] for stray in serial["strays"]}
    assert kinds == {"symlink", "unreadable", "foreign-folder", "trash-stray"}


@pytest.mark.parametrize(
    ("workers", "slice_folders"), [(1, 250), (2, 250), (2, 3)]
)
def test_an_experiment_deleted_while_the_store_is_read_is_left_out(
    damaged_store, monkeypatch, workers, slice_folders
):
    # MLflow deletes an experiment by moving its folder to .trash: if that
    # happens after the store root was listed, the folder is gone when
    # its own listing opens it. Reproduced by making it vanish then.
    monkeypatch.setattr(parallel, "SLICE_FOLDERS", slice_folders)
    gone = max(
        (p for p in damaged_store.iterdir() if p.name.isdigit()),
        key=lambda p: len(list(p.iterdir())),
    ).name
    open_folder = filestore._Scan._open_folder

    def vanishing(self, rel):
        if rel == gone:
            raise FileNotFoundError(2, "No such file or directory")
        return open_folder(self, rel)

    whole, _ = _scan(damaged_store, monkeypatch, workers)
    monkeypatch.setattr(filestore._Scan, "_open_folder", vanishing)
    vanished, _ = _scan(damaged_store, monkeypatch, workers)
    monkeypatch.setattr(filestore._Scan, "_open_folder", open_folder)
    shutil.rmtree(damaged_store / gone)
    deleted, _ = _scan(damaged_store, monkeypatch, workers)
    assert vanished == deleted != whole
    assert gone in {exp["experiment_id"] for exp in whole["experiments"]}


def test_parallel_audit_output_is_the_serial_one(damaged_store):
    serial = janitor(
        "audit",
        str(damaged_store),
        "--format",
        "json",
        env={"JANITOR_WORKERS": "1"},
    )
    shared = janitor(
        "audit",
        str(damaged_store),
        "--format",
        "json",
        env={"JANITOR_WORKERS": "2"},
    )
    assert serial.returncode == shared.returncode == 1
    assert shared.stdout == serial.stdout


def _heap_of(items):
    """The serial scan's ten largest, from files in the order seen."""
    heap: list[tuple[int, str]] = []
    for size, path in items:
        if len(heap) < LARGEST_FILES:
            heapq.heappush(heap, (size, path))
        elif size > heap[0][0]:
            heapq.heapreplace(heap, (size, path))
    return sorted(heap, reverse=True)


def test_largest_file_candidates_keep_the_serial_ties(monkeypatch):
    # Drop hopeless candidates often, as a large experiment would.
    monkeypatch.setattr(parallel, "CANDIDATES_SLACK", 12)
    rng = random.Random(3)
    for _ in range(2000):
        groups = []
        for group in range(rng.randint(1, 5)):
            count = rng.randint(0, 40)
            groups.append(
                [
                    (
                        rng.choice([1, 2, 3, 5, 8]),
                        f"{rng.random():.6f}-{group}",
                    )
                    for _ in range(count)
                ]
            )
        serial = _heap_of(item for group in groups for item in group)
        replayed = []
        for group in groups:
            candidates = parallel._Candidates()
            for size, path in group:
                candidates.offer(size, path)
            replayed.extend(candidates.final())
        assert _heap_of(replayed) == serial


def test_small_stores_are_read_serially(damaged_store, monkeypatch):
    monkeypatch.delenv("JANITOR_WORKERS", raising=False)
    assert parallel.plan(str(damaged_store)).workers == 1
    monkeypatch.setenv("JANITOR_WORKERS", "2")
    plan = parallel.plan(str(damaged_store))
    assert plan.workers == 2
    # Default, three live experiments (one without meta.yaml), one deleted.
    assert len(plan.jobs) == 5


def test_no_shared_memory_means_one_process(damaged_store, monkeypatch):
    serial, _calls = _scan(damaged_store, monkeypatch, 1)

    refused = []

    def no_shared_memory(*_args, **_kwargs):
        refused.append(True)
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(
        "multiprocessing.context.ForkContext.Value", no_shared_memory
    )
    assert _scan(damaged_store, monkeypatch, 2)[0] == serial
    assert refused


def _die() -> None:
    os._exit(9)  # killed with a job taken and not sent


def _stop() -> None:
    # Stopped (SIGSTOP, a debugger, a stuck mount): it never sends its
    # job, nor closes its pipe.
    os.kill(os.getpid(), signal.SIGSTOP)


@pytest.mark.parametrize("failure", [_die, _stop])
def test_jobs_a_worker_never_sends_are_read_here(
    damaged_store, monkeypatch, failure
):
    serial, _calls = _scan(damaged_store, monkeypatch, 1)
    here = os.getpid()
    read_job = parallel._read_job

    def failing_worker(root, options, job):
        if os.getpid() != here:
            failure()
        return read_job(root, options, job)

    monkeypatch.setattr(parallel, "_read_job", failing_worker)
    monkeypatch.setattr(parallel, "STALLED_SECONDS", 0.5)
    assert _scan(damaged_store, monkeypatch, 3)[0] == serial


def test_a_worker_stopped_holding_the_job_lock_is_not_waited_for(
    damaged_store, monkeypatch
):
    serial, _calls = _scan(damaged_store, monkeypatch, 1)
    here = os.getpid()
    claim = parallel._Shared.claim

    def stopping_claim(self):
        if os.getpid() != here:
            self.next_job.get_lock().acquire()
            _stop()
        return claim(self)

    monkeypatch.setattr(parallel._Shared, "claim", stopping_claim)
    monkeypatch.setattr(parallel, "STALLED_SECONDS", 0.5)
    assert _scan(damaged_store, monkeypatch, 2)[0] == serial


def test_one_large_experiment_is_shared_out_in_slices(tmp_path, monkeypatch):
    root = tmp_path / "mlruns"
    generate(str(root), Shape(runs=30, experiments=1, seed=4))
    monkeypatch.setattr(parallel, "SLICE_FOLDERS", 7)
    monkeypatch.delenv("JANITOR_WORKERS", raising=False)
    jobs = parallel.experiment_jobs(str(root))
    sliced = [job for job in jobs if job.only]
    assert len(sliced) >= 3
    first = next(job for job in jobs if job.skip)
    assert first.skip == {name for job in sliced for name in job.only}
    serial, _ = _scan(root, monkeypatch, 1)
    shared, _ = _scan(root, monkeypatch, 2)
    assert shared == serial
    assert sum(len(exp["runs"]) for exp in shared["experiments"]) == 30


@pytest.mark.parametrize("workers", [1, 2])
def test_a_lean_scan_keeps_faulty_summaries_and_asked_values(
    damaged_store, monkeypatch, workers
):
    monkeypatch.setenv("JANITOR_WORKERS", str(workers))
    full = open_store(str(damaged_store)).scan()
    lean = open_store(str(damaged_store)).scan(latest=["roc_auc"])
    lean_runs = {run.path: run for run in lean.runs()}
    faulty = bare = 0
    for run in full.runs():
        kept = lean_runs[run.path]
        assert kept.metric_keys == run.metric_keys == tuple(run.metrics)
        expected = {
            key: summary
            for key, summary in run.metrics.items()
            if summary.bad_lines or summary.duplicate_lines
        }
        faulty += len(expected)
        assert set(kept.metrics) == set(expected)
        for key, summary in kept.metrics.items():
            assert summary.bad_lines == expected[key].bad_lines
            assert summary.duplicate_lines == expected[key].duplicate_lines
        # A clean roc_auc file leaves only its value, as the full
        # summary has it.
        value = run.metrics["roc_auc"].latest_value
        assert kept.latest_value("roc_auc") == value
        if "roc_auc" not in expected:
            assert kept.latest_values == (value,)
            bare += 1
        assert kept.latest_value("accuracy") is None  # not asked for
    assert faulty >= 2  # the duplicated and the unreadable-bytes files
    assert bare >= 3


def test_workers_are_capped_and_nonsense_is_ignored(
    damaged_store, monkeypatch, caplog
):
    monkeypatch.setenv("JANITOR_WORKERS", "300")
    plan = parallel.plan(str(damaged_store))
    assert plan.workers == len(plan.jobs) == 5
    for nonsense in ("0", "-1", "two", "2.5"):
        monkeypatch.setenv("JANITOR_WORKERS", nonsense)
        caplog.clear()
        assert parallel.plan(str(damaged_store)).workers == 1  # small store
        assert f"JANITOR_WORKERS={nonsense!r}" in caplog.text


@pytest.mark.parametrize(
    ("workers", "slice_folders"), [(1, 250), (2, 250), (2, 3)]
)
def test_a_run_swapped_for_a_link_while_read_is_not_followed(
    small_store, tmp_path, monkeypatch, workers, slice_folders
):
    # A run folder renamed away and replaced by a symlink to elsewhere
    # (by hand, or by a sync tool) just after it was listed: what is read
    # below it must come from the folder listed, never from the link's
    # target outside the store.
    monkeypatch.setattr(parallel, "SLICE_FOLDERS", slice_folders)
    root = small_store.root
    run = small_store.run_dir(0)
    outside = tmp_path / "outside"
    for part in ("metrics", "params", "artifacts"):
        (outside / part).mkdir(parents=True)
    (outside / "metrics" / "stolen").write_text("1 0.5 0\n")
    (outside / "artifacts" / "secret.bin").write_bytes(b"s" * 100_000)
    before = {
        found.run_id: found for found in open_store(str(root)).scan().runs()
    }
    rel = f"{small_store.experiment_id}/{run.name}"
    listing = filestore._Scan._listing
    moved = tmp_path / "moved-away"

    def swapping(self, folder, *args, **kwargs):
        listed = listing(self, folder, *args, **kwargs)
        if folder == rel and not run.is_symlink():
            run.rename(moved)
            run.symlink_to(outside)
        return listed

    monkeypatch.setattr(filestore._Scan, "_listing", swapping)
    monkeypatch.setenv("JANITOR_WORKERS", str(workers))
    try:
        snapshot = open_store(str(root)).scan()
    finally:
        if run.is_symlink():
            run.unlink()
            moved.rename(run)
    read = {found.run_id: found for found in snapshot.runs()}
    swapped, original = read[run.name], before[run.name]
    assert "stolen" not in swapped.metric_keys
    assert swapped.metric_keys == original.metric_keys
    assert swapped.bytes == original.bytes
    assert all("secret" not in large.path for large in snapshot.largest_files)


def test_an_experiment_that_cannot_be_entered_reads_alike(
    damaged_store, monkeypatch
):
    # An experiment folder that can be listed but not entered (mode 0444
    # for a user other than root): every lookup of a name inside fails
    # with EACCES, as reproduced here for its run folders. Read in slices
    # or whole, the store must read the same.
    experiment = max(
        (path for path in damaged_store.iterdir() if path.name.isdigit()),
        key=lambda path: len(list(path.iterdir())),
    )
    locked = {path.name for path in experiment.iterdir() if path.is_dir()}
    real_open, real_stat = os.open, os.stat

    def refused(name) -> bool:
        return isinstance(name, str) and name in locked

    def opening(name, flags, mode=0o777, *, dir_fd=None):
        if dir_fd is not None and refused(name):
            raise PermissionError(13, "Permission denied")
        return real_open(name, flags, mode, dir_fd=dir_fd)

    def stating(name, *, dir_fd=None, follow_symlinks=True):
        if dir_fd is not None and refused(name):
            raise PermissionError(13, "Permission denied")
        return real_stat(name, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(filestore.os, "open", opening)
    monkeypatch.setattr(filestore.os, "stat", stating)
    monkeypatch.setattr(parallel, "SLICE_FOLDERS", 3)
    serial, _calls = _scan(damaged_store, monkeypatch, 1)
    shared, _calls = _scan(damaged_store, monkeypatch, 2)
    assert shared == serial
    unreadable = {
        stray["path"]
        for stray in serial["strays"]
        if stray["kind"] == "unreadable"
    }
    assert {f"{experiment.name}/{name}" for name in locked} <= unreadable


def test_planning_never_lists_a_folder_through_a_link(
    small_store, tmp_path, monkeypatch
):
    # An experiment folder swapped for a link to a look-alike folder
    # outside the store just after the store root was listed: the jobs
    # must not carry the outside folder's names.
    root = small_store.root
    experiment = root / small_store.experiment_id
    outside = tmp_path / "outside"
    for index in range(parallel.SLICE_FOLDERS + 5):
        (outside / f"outside-{index:04d}").mkdir(parents=True)
    listed = parallel._folders

    def swapping(folder):
        names = listed(folder)
        if small_store.experiment_id in names and not experiment.is_symlink():
            experiment.rename(tmp_path / "moved-away")
            experiment.symlink_to(outside)
        return names

    monkeypatch.setattr(parallel, "_folders", swapping)
    jobs = parallel.experiment_jobs(str(root))
    names = [name for job in jobs for name in job.only or ()]
    assert not any(name.startswith("outside-") for name in names)
    (job,) = [job for job in jobs if job.rel == small_store.experiment_id]
    assert job.entries == 0
