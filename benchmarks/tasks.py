"""Child programs the benchmark times where no janitor command does the
job yet, the MLflow baseline and a reference reading.

    python -m benchmarks.tasks gate STORE
    python -m benchmarks.tasks prune STORE [--metric roc_auc] [--keep 3]
    python -m benchmarks.tasks mlflow STORE
    python -m benchmarks.tasks bare STORE [--processes 2]

`gate` is what the size gate needs: a scan without metric parsing and
the size report. `prune` is the work of `janitor prune --dry-run` with a
top-N policy: a full scan, then the best N runs of each experiment by
their latest metric kept and the others planned for pruning. `mlflow`
lists every run with MlflowClient, as a user's script would. `bare` is
no command's work but a reference: the least any reader of the store
does (stat every entry, read every meta.yaml, parse every metric line),
in Python, in one process or split over several.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import stat
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the MLflow task loads nothing of the janitor
    from janitor.store.model import Run


def gate(store: str) -> dict[str, int]:
    from janitor.sizes import size_report
    from janitor.store import open_store

    snapshot = open_store(store).scan(metrics=False)
    report = size_report(snapshot)
    return {"bytes": report.store_bytes, "files": report.files}


def prune_plan(store: str, metric: str, keep: int) -> dict[str, int]:
    from janitor.store import open_store
    from janitor.store.model import DELETED

    snapshot = open_store(store).scan(metrics=True)
    kept = pruned = 0
    for experiment in snapshot.experiments:
        live = [
            run
            for run in experiment.runs
            if run.lifecycle_stage != DELETED and not experiment.in_trash
        ]
        ranked = sorted(live, key=lambda run: _score(run, metric))
        kept += min(keep, len(ranked))
        pruned += len(experiment.runs) - min(keep, len(ranked))
    return {"kept": kept, "pruned": pruned}


def _score(run: Run, metric: str) -> float:
    """Sort key: best first, runs without the metric last."""
    value = run.latest_value(metric)
    return -value if value is not None and value == value else float("inf")


def mlflow_runs(store: str) -> dict[str, int]:
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri="file:" + os.path.abspath(store))
    experiment_ids = [
        experiment.experiment_id
        for experiment in client.search_experiments(view_type=ViewType.ALL)
    ]
    count, token = 0, None
    while True:
        page = client.search_runs(
            experiment_ids,
            run_view_type=ViewType.ALL,
            max_results=50_000,
            page_token=token,
        )
        count += len(page)
        token = page.token
        if not token:
            return {"runs": count}


def bare_pass(store: str, processes: int = 1) -> dict[str, int]:
    """The least any reader of the store does: stat every entry, read
    every meta.yaml, parse every metric line, keep nothing and check
    nothing. With several processes, the folders below the experiments
    (runs, mostly) are dealt out in turn, for an even share."""
    root = os.path.abspath(store)
    # (folder, whether to go below it): the root, .trash and experiment
    # folders for their own files; what is below them, whole.
    shallow = [root]
    for top in _subfolders(root):
        shallow.append(top)
        if os.path.basename(top) == ".trash":
            shallow += _subfolders(top)
    deep = [folder for top in shallow[1:] for folder in _subfolders(top)]
    deep = [folder for folder in deep if folder not in shallow]
    work = [(folder, False) for folder in shallow]
    work += [(folder, True) for folder in deep]
    shares = [work[index::processes] for index in range(processes)]
    # This process walks the first share, forked ones the others.
    context = multiprocessing.get_context("fork")
    receivers, children = [], []
    for share in shares[1:]:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_send_walk, args=(share, send))
        child.start()
        receivers.append(receive)
        children.append(child)
    counts = [_bare_walk(shares[0])]
    counts += [receive.recv() for receive in receivers]
    for child in children:
        child.join()
    return {key: sum(count[key] for count in counts) for key in counts[0]}


def _send_walk(share: list[tuple[str, bool]], send: Connection) -> None:
    send.send(_bare_walk(share))


def _subfolders(folder: str) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(
            entry.path
            for entry in entries
            if entry.is_dir(follow_symlinks=False)
        )


def _bare_walk(work: list[tuple[str, bool]]) -> dict[str, int]:
    """Files, bytes and metric lines in the given folders, below each
    one too where asked. Every call is made relative to an open folder,
    the cheapest way to reach a file from Python."""
    files = size = lines = 0
    pending: list[tuple[str, bool, int | None]] = [
        (folder, deep, None) for folder, deep in work
    ]
    while pending:
        name, deep, parent = pending.pop()
        descriptor = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=parent)
        if parent is not None:
            os.close(parent)
        metrics = name == "metrics"
        below = []
        with os.scandir(descriptor) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    if deep:
                        below.append(entry.name)
                    continue
                files += 1
                size += info.st_size
                if entry.name == "meta.yaml" or metrics:
                    handle = os.open(
                        entry.name, os.O_RDONLY, dir_fd=descriptor
                    )
                    raw = os.read(handle, info.st_size + 1)
                    os.close(handle)
                    for line in raw.splitlines() if metrics else ():
                        timestamp, value, *_rest = line.split()
                        int(timestamp), float(value)
                        lines += 1
        for child in below:
            pending.append((child, True, os.dup(descriptor)))
        os.close(descriptor)
    return {"files": files, "bytes": size, "metric_lines": lines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tasks")
    parser.add_argument("task", choices=["gate", "prune", "mlflow", "bare"])
    parser.add_argument("store")
    parser.add_argument("--metric", default="roc_auc")
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    if args.task == "gate":
        result = gate(args.store)
    elif args.task == "prune":
        result = prune_plan(args.store, args.metric, args.keep)
    elif args.task == "bare":
        result = bare_pass(args.store, args.processes)
    else:
        result = mlflow_runs(args.store)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
