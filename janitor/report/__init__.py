"""Reports: render results for people (table) and programs (json)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import humanize

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
