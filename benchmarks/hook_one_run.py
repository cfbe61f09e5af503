"""How long `janitor hook` takes on a big store when one run is staged.

Builds, under benchmarks/out/ (or --out), a git repository holding a
store of --runs runs: MLflow writes the first run, the others are copies
of it with their own run id, name and artifact_uri (meta.yaml rewritten
in MLflow's form), all committed. Then MLflow writes one more run, it is
staged, and `janitor hook <its files>` is timed, as pre-commit calls it.
With --pre-commit, `pre-commit run` of the janitor-check hook is timed
too (its environment is installed first, from this checkout; that needs
PyPI).

    MLFLOW_ALLOW_FILE_STORE=true python benchmarks/hook_one_run.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.hook_repo import git, make_hook_repo  # noqa: E402


def log_run(mlflow, experiment_id: str, name: str) -> str:
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.log_params({"lr": 0.1, "depth": 6, "seed": 7})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("auc", 0.5 + step / 10, step=step)
        mlflow.set_tag("team", "bench")
        mlflow.log_text("notes", "notes.txt")
        return run.info.run_id


def copy_run(template: Path, experiment: Path, index: int) -> None:
    run_id = uuid.uuid4().hex
    target = experiment / run_id
    shutil.copytree(template, target)
    meta_path = target / "meta.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["run_id"] = run_id
    meta["run_name"] = f"copy-{index}"
    meta["artifact_uri"] = (target / "artifacts").as_uri()
    meta_path.write_text(
        yaml.safe_dump(
            meta, default_flow_style=False, allow_unicode=True, sort_keys=True
        )
    )
    (target / "tags" / "mlflow.runName").write_text(f"copy-{index}")


def build(root: Path, runs: int) -> tuple[object, str]:
    import mlflow

    store = root / "mlruns"
    mlflow.set_tracking_uri("file:" + str(store))
    experiment_id = mlflow.create_experiment("bench")
    template = store / experiment_id / log_run(mlflow, experiment_id, "first")
    for index in range(1, runs):
        copy_run(template, store / experiment_id, index)
    return mlflow, experiment_id


def time_hook(root: Path, files: list[str], repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "janitor", "hook", *files],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
        )
        timings.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(
                f"the hook failed:\n{result.stdout}{result.stderr}"
            )
    return timings


def time_pre_commit(root: Path, repeat: int) -> list[float]:
    """`pre-commit run` on the staged files, the hook installed from a
    git repository holding this checkout."""
    hooks = root.parent / "hook-repo"
    if hooks.exists():
        shutil.rmtree(hooks)
    hooks.mkdir()
    rev = make_hook_repo(hooks)
    config = {
        "repos": [
            {
                "repo": str(hooks),
                "rev": rev,
                "hooks": [{"id": "janitor-check"}],
            }
        ]
    }
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(root, "add", ".pre-commit-config.yaml")
    home = root.parent / "pre-commit-home"
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    command = [sys.executable, "-m", "pre_commit"]
    started = time.perf_counter()
    subprocess.run([*command, "install-hooks"], cwd=root, env=env, check=True)
    print(f"pre-commit environment: {time.perf_counter() - started:.1f}s")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([*command, "run"], cwd=root, env=env, check=True)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "out"
    )
    parser.add_argument("--pre-commit", action="store_true")
    args = parser.parse_args()
    root = args.out / f"hook-{args.runs}-runs"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)

    started = time.perf_counter()
    mlflow, experiment_id = build(root, args.runs)
    print(f"store of {args.runs} runs: {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "store")
    files = int(git(root, "ls-files", "--", "mlruns").count("\n"))
    print(f"committed {files} files: {time.perf_counter() - started:.0f}s")

    new_run = log_run(mlflow, experiment_id, "new")
    git(root, "add", "-A")
    staged = git(root, "diff", "--cached", "--name-only").split()
    print(f"staged run {new_run}: {len(staged)} files")
    report("janitor hook", time_hook(root, staged, args.repeat))
    if args.pre_commit:
        report("pre-commit run", time_pre_commit(root, args.repeat))


def report(what: str, timings: list[float]) -> None:
    print(
        f"{what}: "
        + ", ".join(f"{seconds:.3f}s" for seconds in timings)
        + f" (median {statistics.median(timings):.3f}s)"
    )


if __name__ == "__main__":
    main()
