"""Write a synthetic MLflow file store, the way MLflow 3.17.2 lays it out.

Every meta.yaml is dumped with the settings MLflow's file store uses
(PyYAML's safe dumper, block style, sorted keys, unicode kept) and holds
the keys MLflow 3 writes. The same seed and output folder give the same
bytes. The default shape has about 20 files per run, like the stores
users report as slow (406,000 files for 20,000 runs).

    python -m benchmarks.generate /tmp/mlruns --runs 10000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

try:
    from yaml import CSafeDumper as MetaDumper
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeDumper as MetaDumper  # type: ignore[assignment]

# 2026-01-01, in milliseconds: every timestamp is an offset from it.
EPOCH_MS = 1_767_225_600_000
FINISHED, FAILED = 3, 4
LOCAL_SOURCE = 4
READY_MODEL = 2
REGISTERED_NAME = "bench_model"
REGISTERED_VERSIONS = 3
METRIC_NAMES = (
    "accuracy",
    "roc_auc",
    "recall",
    "precision",
    "f1_score",
    "log_loss",
    "train_time_s",
    "val/loss",
)
PARAM_NAMES = (
    "learning_rate",
    "max_depth",
    "n_estimators",
    "num_leaves",
    "subsample",
    "reg_alpha",
    "reg_lambda",
)
MODEL_FILES = {
    "MLmodel": 800,
    "conda.yaml": 130,
    "python_env.yaml": 110,
    "requirements.txt": 33,
}


@dataclass
class Shape:
    """What to write; the defaults give about 20 files per run."""

    runs: int = 1000
    experiments: int = 10
    deleted_experiments: int = 1
    metrics: int = 7
    history: int = 3
    params: int = 5
    artifacts: int = 2
    artifact_bytes: int = 2048
    model_every: int = 25  # every Nth run logs an MLflow 3 model
    model_bytes: int = 4096  # its pickled model file
    deleted_every: int = 40  # every Nth run is soft-deleted
    failed_every: int = 15  # every Nth run ended FAILED
    seed: int = 1


@dataclass
class Written:
    """What the generator wrote, for tests to compare against."""

    root: str
    experiment_ids: list[str] = field(default_factory=list)
    deleted_experiment_ids: list[str] = field(default_factory=list)
    # run id -> metric key -> the value MLflow shows (the latest)
    latest_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    # logged model id -> its experiment id
    logged_models: dict[str, str] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0


def dump_meta(data: dict[str, Any]) -> bytes:
    """A meta.yaml exactly as MLflow's file store writes it."""
    text = yaml.dump(
        data,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
        Dumper=MetaDumper,
    )
    return text.encode("utf-8")


class _Writer:
    """Writes files below one root, counting them."""

    def __init__(self, written: Written) -> None:
        self.written = written

    def folder(self, *parts: str) -> str:
        path = os.path.join(self.written.root, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def file(self, folder: str, name: str, content: bytes) -> None:
        path = os.path.join(folder, name)
        if "/" in name:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
        self.written.files += 1
        self.written.bytes += len(content)


class _Generator:
    def __init__(self, root: str, shape: Shape) -> None:
        self.shape = shape
        self.random = random.Random(shape.seed)
        self.written = Written(os.path.abspath(root))
        self.out = _Writer(self.written)
        self.uri = "file://" + self.written.root
        self.clock = EPOCH_MS
        self.models: list[tuple[str, str, str]] = []  # (exp, model, run)

    def run(self) -> Written:
        self.out.folder(".trash")
        self._experiment("0", "Default", deleted=False)
        for index, count in enumerate(self._runs_per_experiment()):
            experiment_id = self._experiment_id()
            deleted = index < self.shape.deleted_experiments and (
                self.shape.experiments > 1
            )
            self._experiment(experiment_id, f"bench-{index:03d}", deleted)
            for _ in range(count):
                self._run(experiment_id, deleted)
        self._registry()
        return self.written

    def _runs_per_experiment(self) -> list[int]:
        experiments = max(1, self.shape.experiments)
        share, extra = divmod(self.shape.runs, experiments)
        return [share + (index < extra) for index in range(experiments)]

    def _tick(self, milliseconds: int = 7) -> int:
        self.clock += milliseconds
        return self.clock

    def _hex(self) -> str:
        return f"{self.random.getrandbits(128):032x}"

    def _experiment_id(self) -> str:
        return str(self.random.randrange(10**17, 10**18))

    def _base(self, experiment_id: str, deleted: bool) -> list[str]:
        return [".trash", experiment_id] if deleted else [experiment_id]

    # -- experiments and runs --------------------------------------------

    def _experiment(
        self, experiment_id: str, name: str, deleted: bool
    ) -> None:
        folder = self.out.folder(*self._base(experiment_id, deleted))
        created = self._tick()
        meta: dict[str, Any] = {
            "artifact_location": f"{self.uri}/{experiment_id}",
            "creation_time": created,
            "effective_trace_archival_retention": None,
            "experiment_id": experiment_id,
            "last_update_time": created,
            "lifecycle_stage": "deleted" if deleted else "active",
            "name": name,
            "trace_location": None,
            "workspace": "default",
        }
        if deleted:
            # MLflow rewrites the file on delete, tags included.
            meta["tags"] = {}
            self.written.deleted_experiment_ids.append(experiment_id)
        else:
            self.written.experiment_ids.append(experiment_id)
        self.out.file(folder, "meta.yaml", dump_meta(meta))

    def _run(self, experiment_id: str, experiment_deleted: bool) -> None:
        shape = self.shape
        number = len(self.written.latest_metrics) + 1
        run_id = self._hex()
        base = [*self._base(experiment_id, experiment_deleted), run_id]
        folder = self.out.folder(*base)
        for part in ("artifacts", "metrics", "params", "tags"):
            self.out.folder(*base, part)
        started = self._tick()
        self.written.latest_metrics[run_id] = self._metrics(folder)
        self._params(folder)
        self._tags(folder, f"run-{number}")
        self._artifacts(folder)
        if shape.model_every and number % shape.model_every == 0:
            self._logged_model(experiment_id, experiment_deleted, run_id)
        ended = self._tick()
        deleted = experiment_deleted or (
            shape.deleted_every > 0 and number % shape.deleted_every == 0
        )
        failed = shape.failed_every > 0 and number % shape.failed_every == 0
        meta: dict[str, Any] = {
            "artifact_uri": f"{self.uri}/{experiment_id}/{run_id}/artifacts",
            "end_time": ended,
            "entry_point_name": "",
            "experiment_id": experiment_id,
            "lifecycle_stage": "deleted" if deleted else "active",
            "run_id": run_id,
            "run_name": f"run-{number}",
            "source_name": "",
            "source_type": LOCAL_SOURCE,
            "source_version": "",
            "start_time": started,
            "status": FAILED if failed else FINISHED,
            "tags": [],
            "user_id": "bench",
        }
        if deleted:
            meta["deleted_time"] = self._tick()
        self.out.file(folder, "meta.yaml", dump_meta(meta))

    def _metrics(self, folder: str, run_id: str = "") -> dict[str, float]:
        """Metric histories, one line a step; the latest value by key."""
        latest = {}
        suffix = f" {run_id}" if run_id else ""
        for key in _names(METRIC_NAMES, self.shape.metrics):
            lines = []
            for step in range(self.shape.history):
                value = round(self.random.random(), 4)
                lines.append(f"{self._tick(3)} {value} {step}{suffix}\n")
                latest[key] = value
            content = "".join(lines).encode()
            self.out.file(os.path.join(folder, "metrics"), key, content)
        return latest

    def _params(self, folder: str) -> None:
        for key in _names(PARAM_NAMES, self.shape.params):
            value = str(round(self.random.uniform(0.001, 100), 3))
            self.out.file(os.path.join(folder, "params"), key, value.encode())

    def _tags(self, folder: str, run_name: str) -> None:
        tags = {
            "mlflow.runName": run_name,
            "mlflow.source.name": "train.py",
            "mlflow.source.type": "LOCAL",
            "mlflow.user": "bench",
        }
        for key, value in tags.items():
            self.out.file(os.path.join(folder, "tags"), key, value.encode())

    def _artifacts(self, folder: str) -> None:
        names = ["metrics_report.txt", "plots/roc.png", "features.csv"]
        for index in range(self.shape.artifacts):
            name = names[index % len(names)]
            if index >= len(names):
                name = f"extra/{index}/{name}"
            content = _filler(self.shape.artifact_bytes, index)
            self.out.file(os.path.join(folder, "artifacts"), name, content)

    # -- MLflow 3 logged models and the registry -------------------------

    def _logged_model(
        self, experiment_id: str, experiment_deleted: bool, run_id: str
    ) -> None:
        model_id = "m-" + self._hex()
        base = self._base(experiment_id, experiment_deleted)
        folder = self.out.folder(*base, "models", model_id)
        for part in ("artifacts", "metrics", "params", "tags"):
            self.out.folder(*base, "models", model_id, part)
        created = self._tick()
        artifacts = os.path.join(folder, "artifacts")
        for name, size in MODEL_FILES.items():
            self.out.file(artifacts, name, _filler(size, 1))
        pickled = _filler(self.shape.model_bytes, 2)
        self.out.file(artifacts, "python_model.pkl", pickled)
        self._metrics(folder, run_id)
        tags = {
            "mlflow.source.name": "train.py",
            "mlflow.source.type": "LOCAL",
            "mlflow.user": "bench",
        }
        for key, value in tags.items():
            self.out.file(os.path.join(folder, "tags"), key, value.encode())
        location = f"{self.uri}/{experiment_id}/models/{model_id}/artifacts"
        meta = {
            "artifact_location": location,
            "creation_timestamp": created,
            "experiment_id": experiment_id,
            "last_updated_timestamp": self._tick(),
            "model_id": model_id,
            "model_type": None,
            "name": "model",
            "source_run_id": run_id,
            "status": READY_MODEL,
            "status_message": None,
        }
        self.out.file(folder, "meta.yaml", dump_meta(meta))
        link = self.out.folder(*base, run_id, "outputs", model_id)
        output = {
            "destination_id": model_id,
            "destination_type": "MODEL_OUTPUT",
            "source_id": model_id,
            "source_type": "RUN_OUTPUT",
            "step": 0,
            "tags": {},
        }
        self.out.file(link, "meta.yaml", dump_meta(output))
        self.written.logged_models[model_id] = experiment_id
        if not experiment_deleted:
            self.models.append((experiment_id, model_id, run_id))

    def _registry(self) -> None:
        """One registered model whose versions are the first live logged
        models, the alias `champion` on the last one."""
        chosen = self.models[:REGISTERED_VERSIONS]
        if not chosen:
            return
        folder = self.out.folder("models", REGISTERED_NAME)
        created = self._tick()
        for number, (experiment_id, model_id, run_id) in enumerate(chosen, 1):
            self._version(folder, number, experiment_id, model_id, run_id)
        aliases = self.out.folder("models", REGISTERED_NAME, "aliases")
        self.out.file(aliases, "champion", str(len(chosen)).encode())
        meta = {
            "aliases": {"champion": str(len(chosen))},
            "creation_timestamp": created,
            "deployment_job_id": None,
            "deployment_job_state": None,
            "description": "Synthetic model for benchmarks.",
            "last_updated_timestamp": self._tick(),
            "name": REGISTERED_NAME,
            "workspace": "default",
        }
        self.out.file(folder, "meta.yaml", dump_meta(meta))

    def _version(
        self,
        folder: str,
        number: int,
        experiment_id: str,
        model_id: str,
        run_id: str,
    ) -> None:
        location = f"{self.uri}/{experiment_id}/models/{model_id}/artifacts"
        created = self._tick()
        meta = {
            "creation_timestamp": created,
            "current_stage": "None",
            "deployment_job_state": None,
            "description": None,
            "last_updated_timestamp": created,
            "model_id": model_id,
            "name": REGISTERED_NAME,
            "run_id": run_id,
            "run_link": None,
            "source": f"models:/{model_id}",
            "status": "READY",
            "status_message": None,
            "storage_location": location,
            "user_id": None,
            "version": number,
            "workspace": "default",
        }
        version = self.out.folder(
            "models", REGISTERED_NAME, f"version-{number}"
        )
        self.out.file(version, "meta.yaml", dump_meta(meta))
        tag = f'[{{"name": "{REGISTERED_NAME}", "version": {number}}}]'
        tags = os.path.join(self.written.root, experiment_id, "models")
        self.out.file(
            os.path.join(tags, model_id, "tags"),
            "mlflow.modelVersions",
            tag.encode(),
        )


def _names(pool: tuple[str, ...], count: int) -> Iterator[str]:
    """`count` distinct keys: the pool first, then numbered ones."""
    for index in range(count):
        if index < len(pool):
            yield pool[index]
        else:
            yield f"{pool[index % len(pool)]}_{index}"


def _filler(size: int, salt: int) -> bytes:
    """Deterministic bytes of a given length."""
    unit = bytes((salt * 31 + offset) % 256 for offset in range(256))
    return (unit * (size // 256 + 1))[:size]


def generate(root: str, shape: Shape) -> Written:
    """Write a store at `root`, which must not exist yet."""
    if os.path.exists(root):
        raise FileExistsError(f"{root} exists; pass a new folder")
    return _Generator(root, shape).run()


def _parse(argv: list[str] | None) -> tuple[str, str | None, Shape]:
    defaults = Shape()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Write a synthetic MLflow 3 file store.",
    )
    parser.add_argument("out", help="the store folder to create")
    for name, value in vars(defaults).items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=value,
            help=f"(default {value})",
        )
    parser.add_argument(
        "--record",
        metavar="JSON",
        help="also write the shape and the counts written to this file",
    )
    args = parser.parse_args(argv)
    out, record = args.out, args.record
    del args.out, args.record
    return out, record, Shape(**vars(args))


def main(argv: list[str] | None = None) -> int:
    out, record, shape = _parse(argv)
    started = time.monotonic()
    try:
        written = generate(out, shape)
    except FileExistsError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    print(
        f"wrote {len(written.latest_metrics)} runs, "
        f"{len(written.logged_models)} logged models, "
        f"{written.files} files, {written.bytes} bytes "
        f"in {seconds:.1f}s to {written.root}"
    )
    if record:
        counts = {"files": written.files, "bytes": written.bytes}
        with open(record, "w", encoding="utf-8") as handle:
            json.dump({"shape": asdict(shape), **counts}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
