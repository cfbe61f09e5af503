"""Build stores with real MLflow, the way users' stores are written."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _client(root: Path):
    import mlflow
    from mlflow import MlflowClient

    uri = "file:" + str(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow, MlflowClient(tracking_uri=uri, registry_uri=uri)


class TinyModel:
    """Built lazily so importing this module does not import mlflow."""


def _model_class():
    import mlflow

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[float]) -> list[float]:
            return [2 * value for value in model_input]

    return Doubler


@dataclass
class SmallStore:
    root: Path
    experiment_id: str
    run_ids: list[str] = field(default_factory=list)

    def run_dir(self, index: int = 0) -> Path:
        return self.root / self.experiment_id / self.run_ids[index]


def build_small_store(root: Path) -> SmallStore:
    """One experiment, two finished runs with metrics, params, tags and a
    small artifact."""
    mlflow, _client_ = _client(root)
    experiment_id = mlflow.create_experiment("small")
    store = SmallStore(root, experiment_id)
    for index in range(2):
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"run-{index}"
        ) as run:
            mlflow.log_param("lr", 0.1 * (index + 1))
            for step in range(3):
                mlflow.log_metric(
                    "auc", 0.5 + 0.1 * step + index / 100, step=step
                )
            mlflow.set_tag("team", "credit")
            mlflow.log_text("hello", "notes/hello.txt")
            store.run_ids.append(run.info.run_id)
    return store


def build_rich_store(root: Path) -> dict[str, str]:
    """Runs, nested runs, deleted runs, a deleted experiment, unicode and
    long names, logged models, a registered model with an alias."""
    mlflow, client = _client(root)
    model_class = _model_class()
    ids = {}
    credit = mlflow.create_experiment("crédit scoring ☃")
    for index in range(3):
        with mlflow.start_run(
            experiment_id=credit, run_name=f"lgbm_{index}"
        ) as run:
            mlflow.log_params(
                {"learning_rate": 0.05 * (index + 1), "max_depth": 4 + index}
            )
            for step in range(4):
                mlflow.log_metric(
                    "ROC_AUC", 0.70 + 0.02 * step + index / 50, step=step
                )
            mlflow.log_metric("Recall", float("nan"))
            mlflow.log_metric("val/loss", 1.0 / (index + 1))
            mlflow.log_text("auc\n", "metrics_LightGBM.txt")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=model_class(),
                registered_model_name="LightGBM_prod" if index else None,
            )
            ids[f"run{index}"] = run.info.run_id
            ids[f"model{index}"] = info.model_id
    client.set_registered_model_alias("LightGBM_prod", "champion", "2")

    long_name = "a-very-long-experiment-name-" + "x" * 180
    other = mlflow.create_experiment(long_name)
    with mlflow.start_run(experiment_id=other, run_name="parent") as parent:
        mlflow.log_metric("loss", 0.3)
        with mlflow.start_run(
            experiment_id=other, run_name="enfant ünï", nested=True
        ) as child:
            mlflow.log_metric("loss", 0.2)
            mlflow.log_param("clé", "valeur")
    ids["parent"] = parent.info.run_id
    ids["child"] = child.info.run_id
    with mlflow.start_run(experiment_id=other, run_name="failed") as failed:
        mlflow.log_metric("loss", 9.0)
    client.set_terminated(failed.info.run_id, "FAILED")
    with mlflow.start_run(experiment_id=other, run_name="gone") as gone:
        mlflow.log_metric("loss", 1.0)
    client.delete_run(gone.info.run_id)
    ids["failed"] = failed.info.run_id
    ids["deleted"] = gone.info.run_id

    doomed = mlflow.create_experiment("doomed")
    with mlflow.start_run(experiment_id=doomed):
        mlflow.log_metric("x", 1.0)
    client.delete_experiment(doomed)
    ids["credit"], ids["other"], ids["doomed"] = credit, other, doomed
    return ids


def build_registered_store(root: Path) -> SmallStore:
    """One run whose logged model is registered as `clf` version 1."""
    mlflow, _client_ = _client(root)
    experiment_id = mlflow.create_experiment("registered")
    store = SmallStore(root, experiment_id)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("auc", 0.8)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=_model_class()()
        )
        store.run_ids.append(run.info.run_id)
    mlflow.register_model(info.model_uri, "clf")
    return store


def build_policy_store(root: Path) -> dict[str, str]:
    """Runs shaped to exercise every policy rule; returns names -> ids.

    Experiment `credit`: r0 FAILED (ROC_AUC 0.70), r1 FINISHED (0.80,
    logged model registered as `prod` v1), r2 KILLED (0.75, logged model
    not registered), r3 FINISHED (NaN, tag janitor.keep=true), r4
    soft-deleted (no ROC_AUC), r5 FINISHED (0.80, newer than r1), r6
    still RUNNING. Experiment `nested`: parent p with child c (FAILED).
    Runs start in this order, one millisecond or more apart.
    """
    mlflow, client = _client(root)
    model_class = _model_class()
    ids: dict[str, str] = {}
    credit = mlflow.create_experiment("credit")
    plan = [
        ("r0", 0.70, "FAILED"),
        ("r1", 0.80, "FINISHED"),
        ("r2", 0.75, "KILLED"),
        ("r3", float("nan"), "FINISHED"),
        ("r4", None, "FINISHED"),
        ("r5", 0.80, "FINISHED"),
    ]
    for name, auc, status in plan:
        with mlflow.start_run(experiment_id=credit, run_name=name) as run:
            if auc is not None:
                mlflow.log_metric("ROC_AUC", auc)
            mlflow.log_param("name", name)
            mlflow.log_text("x" * 1000, "blob.txt")
            if name in ("r1", "r2"):
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=model_class()
                )
                ids[f"{name}_model"] = info.model_id
                if name == "r1":
                    mlflow.register_model(info.model_uri, "prod")
            if name == "r3":
                mlflow.set_tag("janitor.keep", "true")
        if status != "FINISHED":
            client.set_terminated(run.info.run_id, status)
        ids[name] = run.info.run_id
    client.delete_run(ids["r4"])
    ids["r6"] = client.create_run(credit, run_name="r6").info.run_id

    nested = mlflow.create_experiment("nested")
    with mlflow.start_run(experiment_id=nested, run_name="p") as parent:
        with mlflow.start_run(
            experiment_id=nested, run_name="c", nested=True
        ) as child:
            mlflow.set_tag("janitor.keep", "true")
    client.set_terminated(child.info.run_id, "FAILED")
    ids["p"], ids["c"] = parent.info.run_id, child.info.run_id
    ids["credit"], ids["nested"] = credit, nested
    return ids


def build_migration_store(root: Path) -> dict[str, str]:
    """What a user migrates: a model registered as `clf` straight from
    `log_model(registered_model_name=...)` (MLflow 3.17.2 then writes
    every metric line of that run twice), a run with a metric history,
    a NaN, a nested run, and a deleted experiment."""
    mlflow, client = _client(root)
    model_class = _model_class()
    ids: dict[str, str] = {}
    credit = mlflow.create_experiment("credit")
    with mlflow.start_run(experiment_id=credit, run_name="trained") as run:
        mlflow.log_params({"learning_rate": 0.05, "max_depth": 6})
        for step in range(3):
            mlflow.log_metric("ROC_AUC", 0.70 + 0.05 * step, step=step)
        mlflow.log_metric("Recall", float("nan"))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model_class(),
            registered_model_name="clf",
        )
        ids["trained"], ids["model"] = run.info.run_id, info.model_id
    with mlflow.start_run(experiment_id=credit, run_name="sweep") as parent:
        mlflow.log_param("search", "grid")
        for step in range(4):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        with mlflow.start_run(
            experiment_id=credit, run_name="trial", nested=True
        ) as child:
            mlflow.log_param("clé", "valeur")
            mlflow.log_metric("loss", 0.3)
    ids["sweep"], ids["trial"] = parent.info.run_id, child.info.run_id
    old = mlflow.create_experiment("old")
    with mlflow.start_run(experiment_id=old, run_name="forgotten") as gone:
        mlflow.log_metric("x", 1.0)
    client.delete_experiment(old)
    ids["credit"], ids["old"], ids["forgotten"] = credit, old, gone.info.run_id
    return ids
