"""Reports: render results for people (table), programs (json) and CI
(github, sarif)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import humanize

from janitor.budgets import BudgetStatus, Offender
from janitor.checks.finding import Finding, Severity
from janitor.sizes import SizeReport
from janitor.store.model import Snapshot


def natural_size(size: int) -> str:
    return humanize.naturalsize(size)


@dataclass
class AuditResult:
    store: str
    snapshot: Snapshot
    findings: list[Finding]
    sizes: SizeReport

    def counts(self) -> Counter[str]:
        return Counter(finding.severity.label for finding in self.findings)

    def summary(self) -> dict[str, Any]:
        snapshot = self.snapshot
        counts = self.counts()
        experiments = snapshot.experiments
        return {
            "experiments": sum(not exp.in_trash for exp in experiments),
            "deleted_experiments": sum(exp.in_trash for exp in experiments),
            "runs": len(snapshot.runs()),
            "logged_models": len(snapshot.logged_models()),
            "registered_models": len(snapshot.registered_models),
            "model_versions": sum(
                len(model.versions) for model in snapshot.registered_models
            ),
            "bytes": snapshot.bytes,
            "files": snapshot.files,
            "errors": counts.get(Severity.ERROR.label, 0),
            "warnings": counts.get(Severity.WARNING.label, 0),
            "infos": counts.get(Severity.INFO.label, 0),
        }

    def summary_line(self) -> str:
        summary = self.summary()
        return (
            f"{_count(summary['errors'], 'error')}, "
            f"{_count(summary['warnings'], 'warning')}, "
            f"{summary['infos']} info; "
            f"{_count(summary['experiments'], 'experiment')}, "
            f"{_count(summary['runs'], 'run')}, "
            f"{_count(summary['logged_models'], 'logged model')}, "
            f"{_count(summary['registered_models'], 'registered model')}; "
            f"{natural_size(summary['bytes'])} in "
            f"{_count(summary['files'], 'file')}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass
class GateResult:
    store: str
    snapshot: Snapshot
    budgets: list[BudgetStatus]
    offenders: list[Offender]
    findings: list[Finding]
    failing: list[Finding]  # the findings at or above --fail-on
    fail_on: str = "error"
    # Where CI paths start: the git work tree holding the store, else
    # the store itself.
    repo_root: str = field(default="")

    @property
    def passed(self) -> bool:
        return not self.offenders and not self.failing

    def repo_path(self, store_path: str) -> str:
        """A store path (``"."`` is the store) relative to the repo."""
        full = os.path.join(self.store, store_path)
        relative = os.path.relpath(full, self.repo_root or self.store)
        return relative.replace(os.sep, "/")

    def store_limit(self) -> int | None:
        for status in self.budgets:
            if status.budget == "store":
                return status.limit
        return None

    def summary_line(self) -> str:
        if self.offenders:
            kinds = Counter(offender.budget for offender in self.offenders)
            over = ", ".join(
                _count(kinds[budget], budget)
                for budget in ("store", "experiment", "run", "file")
                if kinds[budget]
            )
            verdict = f"Over budget: {over}"
        else:
            verdict = "Within budget"
        limit = self.store_limit()
        store = natural_size(self.snapshot.bytes)
        store += (
            f" (limit {natural_size(limit)})"
            if limit is not None
            else " (no limit)"
        )
        return (
            f"{verdict}; {_count(len(self.failing), 'failing finding')}; "
            f"store {store}"
        )


def find_repo_root(path: str) -> str:
    """The nearest folder at or above ``path`` holding ``.git``, or
    ``path`` itself when there is none."""
    current = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return os.path.abspath(path)
        current = parent
