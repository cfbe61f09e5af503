"""A git repository holding this checkout's hook, as pre-commit wants
one: the package and `.pre-commit-hooks.yaml`, committed (uncommitted
changes of the checkout included)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
FILES = (".pre-commit-hooks.yaml", "pyproject.toml", "README.md")


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    if result.returncode != 0:
        raise AssertionError(f"git {args[0]} failed: {result.stderr}")
    return result.stdout


def make_hook_repo(target: Path) -> str:
    """Fill ``target`` (an empty folder) and commit; the commit's id."""
    for name in FILES:
        shutil.copy(REPO / name, target / name)
    shutil.copytree(
        REPO / "janitor",
        target / "janitor",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "janitor under test")
    return git(target, "rev-parse", "HEAD").strip()
