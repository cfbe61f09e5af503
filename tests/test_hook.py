"""`janitor hook` under real git and real pre-commit, on stores written
by real MLflow.

pre-commit installs the hook from a git repository holding this
checkout's package and `.pre-commit-hooks.yaml` (uncommitted changes
included), once per test session: it needs PyPI for that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests import mlflow_stores
from tests.conftest import REPO
from tests.hook_repo import GIT_IDENTITY, git, make_hook_repo


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """This checkout as pre-commit wants a hook repository: a git repo
    with the manifest committed. Returns its path and commit."""
    repo = tmp_path_factory.mktemp("hook-repo")
    return repo, make_hook_repo(repo)


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory, hook_repo) -> Path:
    """A pre-commit cache with the hook's environment installed once."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    scratch = tmp_path_factory.mktemp("scratch")
    git(scratch, "init", "-q")
    _write_config(scratch, hook_repo)
    result = _pre_commit(scratch, home, "install-hooks")
    assert result.returncode == 0, result.stdout + result.stderr
    return home


def _write_config(root: Path, hook_repo: tuple[Path, str]) -> None:
    path, rev = hook_repo
    config = {
        "repos": [
            {"repo": str(path), "rev": rev, "hooks": [{"id": "janitor-check"}]}
        ]
    }
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))


def _pre_commit(root: Path, home: Path, *args: str):
    # HOME too: pip's cache, like pre-commit's, stays out of the real home.
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(home), "HOME": str(home)},
    )


@dataclass
class Project:
    """A git repository holding an MLflow store, with the hook."""

    root: Path
    store: mlflow_stores.SmallStore
    pre_commit_home: Path

    def run_path(self, index: int, *parts: str) -> str:
        """A path of a run, relative to the repository."""
        run = self.store.run_dir(index).relative_to(self.root)
        return "/".join([run.as_posix(), *parts])

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri="file:" + str(self.store.root))

    def commit(self, message: str = "change") -> subprocess.CompletedProcess:
        git(self.root, "add", "-A")
        return subprocess.run(
            ["git", "commit", "-q", "-m", message],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                **GIT_IDENTITY,
                "PRE_COMMIT_HOME": str(self.pre_commit_home),
            },
        )


@pytest.fixture
def project(tmp_path, hook_repo, pre_commit_home) -> Project:
    """A project whose first commit (a store MLflow wrote) is done."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    store = mlflow_stores.build_small_store(root / "mlruns")
    _write_config(root, hook_repo)
    installed = _pre_commit(root, pre_commit_home, "install")
    assert installed.returncode == 0, installed.stderr
    made = Project(root, store, pre_commit_home)
    first = made.commit("a store written by MLflow")
    assert first.returncode == 0, first.stdout + first.stderr
    return made


def failed_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The hook's own lines in pre-commit's report (git shows a hook's
    output on stderr)."""
    assert result.returncode == 1, result.stdout + result.stderr
    return [
        line
        for line in result.stderr.splitlines()
        if line.startswith("mlruns/")
    ]


def test_a_clean_commit_passes(project):
    # The fixture's first commit is the clean one; check that the hook
    # ran on it rather than being skipped.
    log = git(project.root, "log", "--format=%s")
    assert log.strip() == "a store written by MLflow"
    result = _pre_commit(
        project.root, project.pre_commit_home, "run", "--all-files"
    )
    assert result.returncode == 0, result.stderr
    assert "mlflow-janitor store check" in result.stdout
    assert "Passed" in result.stdout


def test_a_hand_edited_param_fails(project):
    (project.store.run_dir(0) / "params" / "lr").write_text("0.5")
    lines = failed_lines(project.commit())
    assert lines == [
        project.run_path(0, "params", "lr")
        + ": manual-edit: param 'lr' changed from '0.1' to '0.5'; "
        "MLflow never changes a logged param"
    ]


def test_a_rewritten_metric_line_fails(project):
    metric = project.store.run_dir(1) / "metrics" / "auc"
    lines = metric.read_text().splitlines(keepends=True)
    old = lines[1].rstrip("\n")
    lines[1] = lines[1].replace(" 1\n", "9 1\n")
    metric.write_text("".join(lines))
    new = lines[1].rstrip("\n")
    (line,) = failed_lines(project.commit())
    assert line == (
        project.run_path(1, "metrics", "auc")
        + f": manual-edit: metric 'auc' line 2 was rewritten ('{old}' "
        f"became '{new}'); MLflow only appends lines"
    )


def test_an_edited_run_id_fails(project):
    meta = project.store.run_dir(0) / "meta.yaml"
    real = project.store.run_ids[0]
    fake = "f" * 32
    meta.write_text(
        meta.read_text().replace(f"run_id: {real}", f"run_id: {fake}")
    )
    lines = failed_lines(project.commit())
    path = project.run_path(0, "meta.yaml")
    assert (
        f"{path}: manual-edit: run_id changed from '{real}' to '{fake}'; "
        "MLflow never changes it"
    ) in lines
    # The integrity check says what MLflow makes of it.
    assert any(line.startswith(f"{path}: id-mismatch: ") for line in lines)


def test_a_60_mb_artifact_fails(project, tmp_path):
    weights = tmp_path / "weights.bin"
    with open(weights, "wb") as handle:
        handle.truncate(60_000_000)
    run_id = project.store.run_ids[1]
    project.client().log_artifact(run_id, str(weights))
    (line,) = failed_lines(project.commit())
    assert line == (
        project.run_path(1, "artifacts", "weights.bin")
        + ": large-file: 60.0 MB (60000000 bytes) is over the file limit "
        f"of 50.0 MB (run {run_id}); keep large files out of git (Git LFS, "
        "or a remote artifact store)"
    )


def test_a_new_run_made_by_mlflow_passes(project):
    mlflow, _client = mlflow_stores._client(project.store.root)
    with mlflow.start_run(experiment_id=project.store.experiment_id):
        mlflow.log_param("lr", 0.3)
        mlflow.log_metric("auc", 0.9)
        mlflow.log_text("more", "notes/more.txt")
    result = project.commit()
    assert result.returncode == 0, result.stderr
    assert "mlflow-janitor store check" in result.stderr


def test_changes_mlflow_makes_pass(project):
    client = project.client()
    first, second = project.store.run_ids
    client.log_metric(first, "auc", 0.95, step=3)
    client.set_tag(first, "team", "risk")
    client.delete_tag(second, "team")
    client.delete_run(second)
    client.rename_experiment(project.store.experiment_id, "renamed")
    result = project.commit()
    assert result.returncode == 0, result.stderr


def test_deleting_whole_runs_passes(project):
    # As `janitor prune` does it; a new run in the same commit makes
    # pre-commit run the hook, which also sees the deletions.
    shutil.rmtree(project.store.run_dir(0))
    mlflow, _client = mlflow_stores._client(project.store.root)
    with mlflow.start_run(experiment_id=project.store.experiment_id):
        mlflow.log_metric("auc", 0.7)
    result = project.commit()
    assert result.returncode == 0, result.stderr


def test_deleting_part_of_a_run_fails(project):
    (project.store.run_dir(0) / "params" / "lr").unlink()
    mlflow, _client = mlflow_stores._client(project.store.root)
    with mlflow.start_run(experiment_id=project.store.experiment_id):
        mlflow.log_metric("auc", 0.7)
    (line,) = failed_lines(project.commit())
    assert line == (
        project.run_path(0, "params", "lr")
        + f": manual-edit: deleted while run {project.store.run_ids[0]} "
        "is kept; MLflow deletes whole runs, never a part of one"
    )


def test_deleting_an_experiment_with_mlflow_passes(project):
    # MLflow moves the experiment into .trash, rewriting its meta.yaml
    # files on the way; the moved files are compared with the old ones.
    project.client().delete_experiment(project.store.experiment_id)
    result = project.commit()
    assert result.returncode == 0, result.stderr


def test_an_edit_hidden_in_a_move_to_trash_fails(project):
    project.client().delete_experiment(project.store.experiment_id)
    run = project.store.run_ids[0]
    param = (
        project.store.root
        / ".trash"
        / project.store.experiment_id
        / run
        / "params"
        / "lr"
    )
    param.write_text("0.7")
    (line,) = failed_lines(project.commit())
    assert line.endswith(
        ": manual-edit: param 'lr' changed from '0.1' to '0.7'; MLflow "
        "never changes a logged param"
    )
    assert line.startswith("mlruns/.trash/")


def test_the_manifest_and_the_readme_config_are_valid(tmp_path):
    manifest = _pre_commit(
        REPO, tmp_path, "validate-manifest", ".pre-commit-hooks.yaml"
    )
    assert manifest.returncode == 0, manifest.stdout
    readme = (REPO / "README.md").read_text()
    config = readme.split("```yaml\nrepos:\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "config.yaml"
    path.write_text("repos:\n" + config)
    result = _pre_commit(REPO, tmp_path, "validate-config", str(path))
    assert result.returncode == 0, result.stdout


def test_the_example_workflow_gates_pull_requests():
    workflow = yaml.safe_load(
        (REPO / "examples" / "github-workflow.yml").read_text()
    )
    # PyYAML reads the key `on` as True.
    assert "pull_request" in workflow[True]
    steps = workflow["jobs"]["gate"]["steps"]
    commands = [step.get("run", "") for step in steps]
    assert any("pip install" in command for command in commands)
    assert any(
        command.startswith("janitor gate") and "--format github" in command
        for command in commands
    )
