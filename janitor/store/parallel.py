"""Read a large file store with several processes.

The experiment folders are cut into jobs: a small experiment whole, a
large one in slices of its folders (the first slice also reads the
experiment's own meta.yaml and files). This process and the workers
take jobs one at a time, in store order, from a shared counter, so all
finish within a job of each other whatever the shape of the store.
Then this process walks the store as the serial scan does and, where
that scan would read an experiment, joins the slices read, in order, so
experiments, runs, strays and totals come in serial order.

The ten largest files need care to stay identical: the serial scan
keeps them in a heap whose ties depend on the order files were seen,
so each job hands back, in order, every file that could still be among
them (see `_Candidates`), and this process offers those to its heap as
the serial scan would have.

``JANITOR_WORKERS`` sets the number of processes: 1 reads serially, 2
or more forces a parallel read even of a small store (never more
processes than jobs); anything else is ignored with a warning. Unset, a
store of at least `PARALLEL_MIN_ENTRIES` folders and files in its
experiments, on a machine with several cores, is read by two processes.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray

from janitor.actions.safepath import exists_at
from janitor.store.filestore import (
    DIRECTORY,
    LARGEST_FILES,
    META,
    REGISTRY,
    TRASH,
    Progress,
    ScanOptions,
    _Scan,
)
from janitor.store.model import (
    Experiment,
    LargeFile,
    MetricSummary,
    Run,
    Snapshot,
    Stray,
)

logger = logging.getLogger("janitor")

PARALLEL_MIN_ENTRIES = 2000
DEFAULT_WORKERS = 2
# Folders of one experiment per job: small enough that the processes
# finish close together, large enough that a job is worth sending.
SLICE_FOLDERS = 250
# Past this many kept files a job drops those that can no longer be
# among the largest.
CANDIDATES_SLACK = 256
# Once this process has no job left, a worker that sends nothing for
# this long (stopped, or stuck) leaves the jobs it holds to this process.
STALLED_SECONDS = 30.0


@dataclass
class ExperimentPart:
    """What one job read: an experiment, or a slice of its folders
    (None: the experiment was deleted before its job listed it)."""

    experiment: Experiment | None
    strays: list[Stray]
    bytes: int
    files: int
    largest: list[tuple[int, str]] = field(default_factory=list)
    large_files: list[LargeFile] = field(default_factory=list)
    # Files with more than one link counted here, by (device, inode).
    linked: set[tuple[int, int]] = field(default_factory=set)


@dataclass(frozen=True)
class _Job:
    experiment_id: str
    rel: str
    in_trash: bool
    entries: int  # folder entries: a guess at the work
    # A later slice reads only these folders; the first slice (or the
    # whole experiment) lists the folder and skips those of later ones.
    only: tuple[str, ...] | None = None
    skip: frozenset[str] = frozenset()


@dataclass
class Plan:
    """How many processes read the store, and the jobs they share."""

    workers: int
    jobs: list[_Job] = field(default_factory=list)


def plan(root: str) -> Plan:
    configured = os.environ.get("JANITOR_WORKERS", "").strip()
    if configured and not (configured.isdigit() and int(configured) > 0):
        logger.warning(
            "JANITOR_WORKERS=%r is not a number of processes (1 or more); "
            "ignored",
            configured,
        )
        configured = ""
    if configured == "1":
        return Plan(1)
    jobs = experiment_jobs(root)
    if configured:  # no more processes than jobs
        return Plan(max(1, min(int(configured), len(jobs))), jobs)
    if (os.cpu_count() or 1) < 2 or len(jobs) < 2:
        return Plan(1, jobs)
    entries = sum(job.entries for job in jobs)
    if entries < PARALLEL_MIN_ENTRIES:
        return Plan(1, jobs)
    return Plan(DEFAULT_WORKERS, jobs)


def experiment_jobs(root: str) -> list[_Job]:
    """The folders the serial scan would read as experiments, in its
    order, a large one cut into slices. Every folder is opened through
    its parent, without following a link, as the scan opens them."""
    jobs: list[_Job] = []
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return jobs
    try:
        for name in _folders(top):
            if name == TRASH:
                trash = _open(top, name)
                if trash is None:
                    continue
                try:
                    for deleted in _folders(trash):
                        rel = f"{TRASH}/{deleted}"
                        jobs.extend(_jobs(trash, deleted, rel, True))
                finally:
                    os.close(trash)
            elif name != REGISTRY:
                jobs.extend(_jobs(top, name, name, False))
    finally:
        os.close(top)
    return jobs


def _jobs(parent: int, name: str, rel: str, in_trash: bool) -> list[_Job]:
    """The jobs of one experiment folder; none if it is not one (no
    number and no meta.yaml, as `experiment_like` judges)."""
    folder = _open(parent, name)
    if folder is None:  # read, and reported, by the scan itself
        return [_Job(name, rel, in_trash, 0)] if name.isdigit() else []
    try:
        if not name.isdigit() and not _has(folder, META):
            return []
        folders = sorted(_folders(folder))
    finally:
        os.close(folder)
    if len(folders) <= SLICE_FOLDERS:
        return [_Job(name, rel, in_trash, len(folders))]
    slices = [
        tuple(folders[start : start + SLICE_FOLDERS])
        for start in range(SLICE_FOLDERS, len(folders), SLICE_FOLDERS)
    ]
    later = frozenset(folder for names in slices for folder in names)
    first = _Job(name, rel, in_trash, SLICE_FOLDERS, skip=later)
    return [first] + [
        _Job(name, rel, in_trash, len(names), only=names) for names in slices
    ]


def _open(parent: int, name: str) -> int | None:
    try:
        return os.open(name, DIRECTORY, dir_fd=parent)
    except OSError:
        return None


def _has(folder: int, name: str) -> bool:
    try:
        return exists_at(folder, name)
    except OSError:  # cannot be looked up: not known to be there
        return False


def _folders(folder: int) -> list[str]:
    try:
        with os.scandir(folder) as iterator:
            return [
                entry.name
                for entry in iterator
                if entry.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return []


def scan(
    root: str,
    options: ScanOptions,
    progress: Progress | None,
    plan: Plan,
) -> Snapshot:
    try:
        team = _Team(root, options, plan)
    except OSError as exc:  # no fork or no shared memory here
        logger.debug("reading the store in one process: %s", exc)
        return _Scan(root, options, progress).run()
    with team:
        parts = team.read(progress)
    slices: dict[str, list[ExperimentPart]] = {}
    for index, job in enumerate(plan.jobs):
        slices.setdefault(job.rel, []).append(parts[index])
    merging = _MergingScan(root, options, _Counter(progress), slices)
    snapshot = merging.run()
    if merging.linked_twice():
        # A hard link counts once, where the serial scan meets it first;
        # two jobs met the same file, so read the store again in order.
        logger.debug("hard links across jobs: reading the store serially")
        return _Scan(root, options, progress).run()
    return snapshot


@dataclass
class _Shared:
    """What the processes share: the next job free, and the experiments
    and runs read so far (for progress)."""

    next_job: Synchronized[int]
    read: SynchronizedArray[int]

    def claim(self) -> int | None:
        """The next job free; None if the lock stays taken (a worker
        stopped while holding it)."""
        lock = self.next_job.get_lock()
        if not lock.acquire(timeout=STALLED_SECONDS):
            return None
        try:
            index = self.next_job.value
            self.next_job.value = index + 1
        finally:
            lock.release()
        return index

    def add(self, job: _Job, part: ExperimentPart) -> tuple[int, int]:
        """Count a part read, for progress (left uncounted if the lock
        stays taken)."""
        runs = part.experiment.runs if part.experiment else ()
        lock = self.read.get_lock()
        if not lock.acquire(timeout=STALLED_SECONDS):
            return self.read[0], self.read[1]
        try:
            self.read[0] += job.only is None
            self.read[1] += len(runs)
            return self.read[0], self.read[1]
        finally:
            lock.release()


class _Team:
    """This process and forked workers, reading the jobs of a plan.

    A worker sends each part as soon as it is read; a thread here takes
    the bytes off the pipe at once (so a worker never waits), and this
    process loads them between its own jobs. A job a worker took but
    never sent (it died) is read here at the end.
    """

    def __init__(self, root: str, options: ScanOptions, plan: Plan) -> None:
        context = multiprocessing.get_context("fork")
        self.root, self.options, self.jobs = root, options, plan.jobs
        self.shared = _Shared(context.Value("l", 0), context.Array("l", 2))
        self.arrived: list[bytes] = []
        self.processes = []
        receivers = []
        for _ in range(plan.workers - 1):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=self._work, args=(send,), daemon=True
            )
            process.start()
            send.close()
            self.processes.append(process)
            receivers.append(receive)
        # Threads only once every worker is forked.
        self.threads = [
            threading.Thread(target=self._receive, args=(receive,))
            for receive in receivers
        ]
        for thread in self.threads:
            thread.daemon = True
            thread.start()

    def __enter__(self) -> _Team:
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()

    def read(self, progress: Progress | None) -> dict[int, ExperimentPart]:
        parts: dict[int, ExperimentPart] = {}
        started = time.monotonic()
        mine = 0
        while (index := self._next_job()) is not None:
            job = self.jobs[index]
            parts[index] = part = _read_job(self.root, self.options, job)
            mine += 1
            done = self.shared.add(job, part)
            if progress:
                progress(*done)
            self._load(parts)
        logger.debug(
            "this process read %d of %d jobs in %.2fs",
            mine,
            len(self.jobs),
            time.monotonic() - started,
        )
        self._wait(parts)
        for index, job in enumerate(self.jobs):
            if index not in parts:  # a worker died or stalled with it
                parts[index] = _read_job(self.root, self.options, job)
        return parts

    def _next_job(self) -> int | None:
        index = self.shared.claim()
        return index if index is not None and index < len(self.jobs) else None

    def _wait(self, parts: dict[int, ExperimentPart]) -> None:
        """Load parts until every worker is done, or until none has sent
        one for `STALLED_SECONDS`: a job a worker is stuck on is read
        again here, and what it sends later is ignored. A job that is
        merely slow is then read twice, which costs time, not
        correctness."""
        heard = time.monotonic()
        count = len(parts)
        for thread in self.threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
                self._load(parts)
                if len(parts) > count:
                    heard, count = time.monotonic(), len(parts)
                elif time.monotonic() - heard > STALLED_SECONDS:
                    logger.debug(
                        "no part for %.0fs: reading the rest here",
                        STALLED_SECONDS,
                    )
                    return
        self._load(parts)

    def _load(self, parts: dict[int, ExperimentPart]) -> None:
        while self.arrived:
            index, packed = pickle.loads(self.arrived.pop())
            parts[index] = _unpack(packed)

    def _receive(self, receive: Connection) -> None:
        with receive:
            while True:
                try:
                    self.arrived.append(receive.recv_bytes())
                except (EOFError, OSError):
                    return

    def _work(self, send: Connection) -> None:
        """In a worker: read jobs and send each part, until none is
        left."""
        with send:
            try:
                while (index := self._next_job()) is not None:
                    job = self.jobs[index]
                    part = _read_job(self.root, self.options, job)
                    self.shared.add(job, part)
                    send.send_bytes(
                        pickle.dumps(
                            (index, _pack(part)), pickle.HIGHEST_PROTOCOL
                        )
                    )
            except Exception as exc:  # the parent reads the job again
                logger.debug("a worker stopped: %r", exc)


class _Counter:
    """Progress as experiments are joined: experiments and runs."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.experiments = self.runs = 0

    def add(self, runs: int) -> None:
        self.experiments += 1
        self.runs += runs
        if self.progress:
            self.progress(self.experiments, self.runs)


# A part goes from a worker to this process as tuples of plain values:
# pickle writes and reads those in C, while each dataclass it meets
# costs a Python call both ways, and a store has one metric summary per
# metric file.
_RUN_FIELDS = tuple(
    run_field.name for run_field in fields(Run) if run_field.name != "metrics"
)
_PATH_AT = _RUN_FIELDS.index("path")
_PackedMetric = tuple[
    str, int, int, float | None, int | None, int | None, list, int
]


def _pack(part: ExperimentPart) -> tuple:
    if part.experiment is None:
        return (part, [])
    runs = part.experiment.runs
    part.experiment.runs = []
    packed_runs = [
        (
            tuple(getattr(run, name) for name in _RUN_FIELDS),
            [_pack_metric(summary) for summary in run.metrics.values()],
        )
        for run in runs
    ]
    return (part, packed_runs)


def _pack_metric(summary: MetricSummary) -> _PackedMetric:
    return (
        summary.key,
        summary.size,
        summary.line_count,
        summary.latest_value,
        summary.latest_step,
        summary.latest_timestamp,
        summary.bad_lines,
        summary.duplicate_lines,
    )


def _unpack(packed: tuple) -> ExperimentPart:
    part, packed_runs = packed
    if part.experiment is None:
        return part
    runs = part.experiment.runs
    for values, metrics in packed_runs:
        folder = f"{values[_PATH_AT]}/metrics/"
        summaries = {
            key: MetricSummary(key, folder + key, *rest)
            for key, *rest in metrics
        }
        runs.append(
            Run(
                **dict(zip(_RUN_FIELDS, values, strict=True)),
                metrics=summaries,
            )
        )
    return part


def _read_job(root: str, options: ScanOptions, job: _Job) -> ExperimentPart:
    """One experiment, or a slice of it, read as the serial scan reads
    it."""
    reader = _PartScan(root, options)
    try:
        reader._add_experiment(
            job.experiment_id, job.rel, job.in_trash, job.only, job.skip
        )
    finally:
        reader._release_all()
    snapshot = reader.snapshot
    return ExperimentPart(
        snapshot.experiments[0] if snapshot.experiments else None,
        snapshot.strays,
        snapshot.bytes,
        snapshot.files,
        reader.candidates.final(),
        snapshot.large_files,
        reader.linked,
    )


class _PartScan(_Scan):
    """The serial scan of one job, keeping largest-file candidates
    instead of a heap."""

    def __init__(self, root: str, options: ScanOptions) -> None:
        super().__init__(root, options, None)
        self.candidates = _Candidates()

    def _offer_largest(self, size: int, rel: str) -> None:
        self.candidates.offer(size, rel)
        if len(self.candidates.sizes) == LARGEST_FILES:
            self.floor = self.candidates.sizes[0]


class _Candidates:
    """The files of one experiment that could be among the store's
    largest, in the order they were seen.

    The serial heap holds the largest sizes; among files of the boundary
    size, a file gets in only while fewer than `LARGEST_FILES` files at
    least that large came before it, and files below the boundary never
    push out one at or above it. So a file can matter only if it is at
    least as large as this experiment's own boundary size and, when it
    is exactly that size, fewer than `LARGEST_FILES` files at least as
    large come before it here.
    """

    def __init__(self) -> None:
        self.sizes: list[int] = []  # heap of the largest sizes so far
        self.kept: list[tuple[int, str]] = []

    def offer(self, size: int, rel: str) -> None:
        sizes = self.sizes
        if len(sizes) < LARGEST_FILES:
            heapq.heappush(sizes, size)
        elif size > sizes[0]:
            heapq.heapreplace(sizes, size)
        elif size < sizes[0]:
            return
        self.kept.append((size, rel))
        if len(self.kept) > CANDIDATES_SLACK:
            self._drop_hopeless()

    def final(self) -> list[tuple[int, str]]:
        self._drop_hopeless()
        return self.kept

    def _drop_hopeless(self) -> None:
        if len(self.sizes) < LARGEST_FILES:
            return
        boundary = self.sizes[0]
        kept = []
        at_least = 0
        for size, rel in self.kept:
            if size < boundary or (
                size == boundary and at_least >= LARGEST_FILES
            ):
                continue
            kept.append((size, rel))
            at_least += 1
        self.kept = kept


class _MergingScan(_Scan):
    """The serial walk, joining each experiment from the slices read."""

    def __init__(
        self,
        root: str,
        options: ScanOptions,
        counter: _Counter,
        slices: dict[str, list[ExperimentPart]],
    ) -> None:
        super().__init__(root, options, None)
        self.counter = counter
        self.slices = slices
        self.linked_by_part: list[set[tuple[int, int]]] = []

    def linked_twice(self) -> bool:
        """Whether a file with several links was counted by two jobs, or
        by a job and this process."""
        seen = set(self.linked)
        for linked in self.linked_by_part:
            if not seen.isdisjoint(linked):
                return True
            seen |= linked
        return False

    def _add_experiment(
        self,
        experiment_id: str,
        rel: str,
        in_trash: bool,
        only: tuple[str, ...] | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        parts = self.slices.pop(rel, None)
        if parts is None:  # appeared since the jobs were listed
            job = _Job(experiment_id, rel, in_trash, 0)
            parts = [_read_job(self.root, self.options, job)]
        experiment = parts[0].experiment
        if experiment is None:  # deleted before it was listed: as serial
            return
        snapshot = self.snapshot
        snapshot.experiments.append(experiment)
        for index, part in enumerate(parts):
            if index and part.experiment:
                experiment.runs.extend(part.experiment.runs)
                experiment.logged_models.extend(part.experiment.logged_models)
                experiment.bytes += part.experiment.bytes
            snapshot.strays.extend(part.strays)
            snapshot.large_files.extend(part.large_files)
            snapshot.bytes += part.bytes
            snapshot.files += part.files
            if part.linked:
                self.linked_by_part.append(part.linked)
            for size, path in part.largest:
                self._offer_largest(size, path)
        self.run_count += len(experiment.runs)
        self.counter.add(len(experiment.runs))
