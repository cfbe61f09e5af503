"""Read a large file store with several processes, one experiment each.

Each experiment folder is read apart, by this process or by a worker
(`share_jobs` decides); then this process walks the store as the serial
scan does and, where that scan would read an experiment, takes the part
already read, so experiments, strays and totals come in serial order.
The ten largest files need care to stay identical: the serial scan
keeps them in a heap whose ties depend on the order files were seen,
so each worker hands back, in order, every file that could still be
among them (see `_Candidates`), and the parent offers those to its heap
as the serial scan would have.

``JANITOR_WORKERS`` sets the number of processes: 1 reads serially, 2
or more forces a parallel read even of a small store. Unset, a store of
at least `PARALLEL_MIN_ENTRIES` runs in two or more experiments, on a
machine with several cores, is read by two processes.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import os
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import Union

from janitor.store.filestore import (
    LARGEST_FILES,
    REGISTRY,
    TRASH,
    Progress,
    ScanOptions,
    _Scan,
    experiment_like,
)
from janitor.store.model import Experiment, LargeFile, Snapshot, Stray

logger = logging.getLogger("janitor")

PARALLEL_MIN_ENTRIES = 2000
DEFAULT_WORKERS = 2
# Measured on 10,000 runs, with the cycle collector paused: sending a
# part costs a worker about a tenth of reading it, and rebuilding it
# here about as much.
SEND_COST = 0.1
REBUILD_COST = 0.1
# Past this many kept files a worker drops those that can no longer
# be among the largest.
CANDIDATES_SLACK = 256


@dataclass
class ExperimentPart:
    """What a worker read of one experiment folder."""

    experiment: Experiment
    strays: list[Stray]
    bytes: int
    files: int
    runs: int
    largest: list[tuple[int, str]] = field(default_factory=list)
    large_files: list[LargeFile] = field(default_factory=list)


@dataclass
class _Job:
    experiment_id: str
    rel: str
    in_trash: bool
    entries: int  # folder entries: a guess at the work


@dataclass
class Plan:
    """How many processes read the store, and its experiment folders."""

    workers: int
    jobs: list[_Job] = field(default_factory=list)


def plan(root: str) -> Plan:
    configured = os.environ.get("JANITOR_WORKERS", "").strip()
    if configured == "1":
        return Plan(1)
    jobs = experiment_jobs(root)
    if configured.isdigit() and int(configured) > 1:
        return Plan(int(configured), jobs)
    if (os.cpu_count() or 1) < 2 or len(jobs) < 2:
        return Plan(1, jobs)
    entries = sum(job.entries for job in jobs)
    if entries < PARALLEL_MIN_ENTRIES:
        return Plan(1, jobs)
    return Plan(DEFAULT_WORKERS, jobs)


def experiment_jobs(root: str) -> list[_Job]:
    """The folders the serial scan would read as experiments."""
    jobs = []
    for entry in _folders(root):
        if entry.name == TRASH:
            for deleted in _folders(entry.path):
                if experiment_like(deleted.path):
                    rel = f"{TRASH}/{deleted.name}"
                    jobs.append(_job(deleted, rel, True))
        elif entry.name != REGISTRY and experiment_like(entry.path):
            jobs.append(_job(entry, entry.name, False))
    return jobs


def _job(entry: os.DirEntry[str], rel: str, in_trash: bool) -> _Job:
    try:
        entries = len(os.listdir(entry.path))
    except OSError:
        entries = 0
    return _Job(entry.name, rel, in_trash, entries)


def _folders(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as iterator:
            return [
                entry
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
    mine, theirs = share_jobs(plan.jobs, plan.workers)
    try:
        pool = multiprocessing.get_context("fork").Pool(plan.workers - 1)
    except OSError as exc:  # no fork or no shared memory here
        logger.debug("reading the store in one process: %s", exc)
        return _Scan(root, options, progress).run()
    with pool:
        parts: dict[str, _Part] = {
            job.rel: pool.apply_async(_read_experiment, (root, options, job))
            for job in theirs
        }
        counter = _Counter(progress)
        for job in mine:
            part = _read_experiment(root, options, job)
            parts[job.rel] = _Ready(part)
            counter.add(job.rel, part)
        merging = _MergingScan(root, options, counter, parts)
        return merging.run()


def share_jobs(
    jobs: list[_Job], workers: int
) -> tuple[list[_Job], list[_Job]]:
    """(read here, read by the other processes), biggest first.

    This process reads a share itself: what a worker reads must be sent
    back and rebuilt here, which costs about `REBUILD_COST` of reading
    it, and this process pays for that.
    """
    mine: list[_Job] = []
    theirs: list[_Job] = []
    own_load = 0.0
    worker_loads = [0.0] * (workers - 1)
    for job in sorted(jobs, key=lambda job: -job.entries):
        cost = job.entries or 1
        busiest = min(range(len(worker_loads)), key=worker_loads.__getitem__)
        if own_load + cost <= worker_loads[busiest] + cost * SEND_COST:
            mine.append(job)
            own_load += cost
        else:
            theirs.append(job)
            worker_loads[busiest] += cost * (1 + SEND_COST)
            own_load += cost * REBUILD_COST
    return mine, theirs


class _Ready:
    """A part read in this process, with the interface of a result."""

    def __init__(self, part: ExperimentPart) -> None:
        self.part = part

    def get(self) -> ExperimentPart:
        return self.part


_Part = Union[_Ready, "AsyncResult[ExperimentPart]"]


class _Counter:
    """Progress as parts come in: experiments and runs read so far."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.counted: set[str] = set()
        self.experiments = self.runs = 0

    def add(self, rel: str, part: ExperimentPart) -> None:
        if rel in self.counted:
            return
        self.counted.add(rel)
        self.experiments += 1
        self.runs += part.runs
        if self.progress:
            self.progress(self.experiments, self.runs)


def _read_experiment(
    root: str, options: ScanOptions, job: _Job
) -> ExperimentPart:
    """One experiment, read as the serial scan reads it."""
    reader = _PartScan(root, options)
    reader._add_experiment(job.experiment_id, job.rel, job.in_trash)
    snapshot = reader.snapshot
    return ExperimentPart(
        snapshot.experiments[0],
        snapshot.strays,
        snapshot.bytes,
        snapshot.files,
        reader.run_count,
        reader.candidates.final(),
        snapshot.large_files,
    )


class _PartScan(_Scan):
    """The serial scan of one experiment, keeping largest-file
    candidates instead of a heap."""

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
    """The serial walk, taking each experiment from the parts read."""

    def __init__(
        self,
        root: str,
        options: ScanOptions,
        counter: _Counter,
        parts: dict[str, _Part],
    ) -> None:
        super().__init__(root, options, None)
        self.counter = counter
        self.parts = parts

    def _add_experiment(
        self, experiment_id: str, rel: str, in_trash: bool
    ) -> None:
        result = self.parts.pop(rel, None)
        if result is None:  # appeared since the jobs were listed
            job = _Job(experiment_id, rel, in_trash, 0)
            result = _Ready(_read_experiment(self.root, self.options, job))
        part = result.get()
        snapshot = self.snapshot
        snapshot.experiments.append(part.experiment)
        snapshot.strays.extend(part.strays)
        snapshot.large_files.extend(part.large_files)
        snapshot.bytes += part.bytes
        snapshot.files += part.files
        self.run_count += part.runs
        for size, path in part.largest:
            self._offer_largest(size, path)
        self.counter.add(rel, part)
