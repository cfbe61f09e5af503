"""Integrity checks: each turns facts of a Snapshot into Findings.

A check is a function ``(snapshot, context) -> iterable of Finding``;
`CHECKS` lists them all, and `CODES` documents every code a check can
emit, with its usual severity (README's table is made from it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from janitor.checks.finding import Finding, Severity
from janitor.store.model import Snapshot


@dataclass
class CheckContext:
    now: float
    stale_after: float = 24 * 3600  # seconds without a write
    store_root: str = ""
    extra: dict[str, object] = field(default_factory=dict)


Check = Callable[[Snapshot, CheckContext], Iterable[Finding]]

CODES: dict[str, tuple[Severity, str]] = {
    "missing-meta": (
        Severity.ERROR,
        "an experiment, run, logged model or registry folder has no meta.yaml",
    ),
    "empty-meta": (Severity.ERROR, "a meta.yaml is empty"),
    "malformed-yaml": (
        Severity.ERROR,
        "a meta.yaml does not parse, or lacks keys, or has wrong types, "
        "stage or status",
    ),
    "id-mismatch": (
        Severity.ERROR,
        "a run_id or experiment_id disagrees with its folder",
    ),
    "orphan-run": (Severity.ERROR, "a run folder MLflow cannot list or open"),
    "dangling-version": (
        Severity.ERROR,
        "a registry version or alias points at a missing or deleted run, "
        "logged model or version",
    ),
    "orphan-logged-model": (
        Severity.WARNING,
        "a logged model whose source run is not in the store",
    ),
    "malformed-metric": (
        Severity.ERROR,
        "a metric line MLflow cannot read (with its line number)",
    ),
    "duplicate-metric-entries": (
        Severity.WARNING,
        "identical lines in a metric file",
    ),
    "manual-edit": (
        Severity.WARNING,
        "a meta.yaml not in the form MLflow writes",
    ),
    "foreign-path": (
        Severity.WARNING,
        "an artifact location outside this store",
    ),
    "missing-artifacts": (
        Severity.WARNING,
        "a recorded artifact folder does not exist",
    ),
    "duplicate-experiment-name": (
        Severity.ERROR,
        "two experiments share one name",
    ),
    "stale-running": (
        Severity.WARNING,
        "a RUNNING run with no write for a long time",
    ),
    "foreign-folder": (
        Severity.WARNING,
        "a folder MLflow would misread as an experiment or run",
    ),
    "trash-anomaly": (
        Severity.WARNING,
        "something in .trash that is not a deleted experiment",
    ),
    "symlink": (Severity.WARNING, "a symbolic link inside the store"),
    "bad-key-name": (
        Severity.ERROR,
        "a metric, param or tag file name MLflow refuses to read",
    ),
    "over-budget": (
        Severity.ERROR,
        "a policy size limit still exceeded after pruning (a kept run "
        "over limits.run_artifacts is a warning)",
    ),
    "unreadable": (
        Severity.ERROR,
        "a file or folder the janitor could not read",
    ),
}


def all_checks() -> list[Check]:
    """Every check, in the order `janitor audit` runs them."""
    from janitor.checks import keys, layout, meta, metrics, paths, registry

    return [
        meta.check_meta,
        layout.check_layout,
        layout.check_experiment_names,
        layout.check_stale_running,
        metrics.check_metrics,
        keys.check_keys,
        registry.check_registry,
        registry.check_logged_models,
        paths.check_paths,
    ]


def stat_checks() -> list[Check]:
    """The checks that need no metric file parsed: what a snapshot from
    ``scan(metrics=False)`` supports (`janitor gate`)."""
    from janitor.checks import metrics

    return [
        check for check in all_checks() if check is not metrics.check_metrics
    ]


def run_local_checks() -> list[Check]:
    """The checks whose findings on a run need only that run, its
    experiment's meta.yaml and its logged models: what a snapshot from
    ``read_runs`` supports (`janitor hook`). Experiment names and the
    registry need the whole store, and a stale run is no reason to stop
    a commit."""
    from janitor.checks import layout, registry

    left_out = {
        layout.check_experiment_names,
        layout.check_stale_running,
        registry.check_registry,
    }
    return [check for check in all_checks() if check not in left_out]


def run_checks(
    snapshot: Snapshot,
    context: CheckContext,
    checks: Iterable[Check] | None = None,
) -> list[Finding]:
    """The findings of some checks (all of them by default), sorted."""
    chosen = all_checks() if checks is None else checks
    findings = [
        finding for check in chosen for finding in check(snapshot, context)
    ]
    if context.store_root:
        findings = _still_there(context.store_root, findings)
    return sorted(findings, key=Finding.sort_key)


def _still_there(root: str, findings: list[Finding]) -> list[Finding]:
    """Leave out the findings on a run or experiment whose folder is gone
    by now: deleted while the store was read, it could look torn (a
    meta.yaml rewritten, a folder half removed), and there is nothing
    left to fix."""
    exists: dict[str, bool] = {}
    kept = []
    for finding in findings:
        folder = _folder_of(finding)
        if folder is not None and folder not in exists:
            exists[folder] = os.path.lexists(os.path.join(root, folder))
        if folder is None or exists[folder]:
            kept.append(finding)
    return kept


def _folder_of(finding: Finding) -> str | None:
    """The run or experiment folder a finding's path lies in; None for a
    finding about anything else (the registry, the store root)."""
    parts = finding.path.split("/")
    start = 1 if parts[0] == ".trash" else 0
    if len(parts) <= start or parts[start] != finding.experiment_id:
        return None
    end = start + 1
    if finding.run_id and parts[end : end + 1] == [finding.run_id]:
        end += 1
    return "/".join(parts[:end])


__all__ = [
    "CODES",
    "CheckContext",
    "Finding",
    "Severity",
    "all_checks",
    "run_checks",
    "run_local_checks",
    "stat_checks",
]
