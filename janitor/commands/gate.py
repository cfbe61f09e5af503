"""`janitor gate`: fail CI when a store is over budget or broken.

Only stats files: metric files are sized, never parsed, so the gate
runs every check except the one that reads metric lines.
"""

from __future__ import annotations

import logging
import os
import time

import click

from janitor.budgets import LimitSet, limits_in_force, measure
from janitor.checks import CheckContext, run_checks, stat_checks
from janitor.commands.audit import failing
from janitor.errors import EXIT_FINDINGS, EXIT_OK, ConfigError
from janitor.policy.model import Limits
from janitor.report import (
    GateResult,
    find_repo_root,
    github,
    json_report,
    sarif,
)
from janitor.store import open_store

logger = logging.getLogger("janitor")
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def gate_store(
    location: str | None, limits: LimitSet, fail_on: str
) -> GateResult:
    """Scan a store (sizes only), check it, hold it to its budgets."""
    store = open_store(location)
    started = time.monotonic()
    snapshot = store.scan(
        metrics=False, files_over=limits.smallest_file_limit(), latest=()
    )
    logger.debug("scanned %s in %.2fs", store.root, time.monotonic() - started)
    context = CheckContext(now=time.time(), store_root=store.root)
    findings = run_checks(snapshot, context, stat_checks())
    budgets, offenders = measure(snapshot, limits)
    return GateResult(
        store.root,
        snapshot,
        budgets,
        offenders,
        findings,
        failing(findings, fail_on),
        fail_on,
        find_repo_root(store.root),
    )


def gate(
    location: str | None,
    policy_path: str | None,
    overrides: Limits,
    output_format: str,
    fail_on: str,
    quiet: bool,
) -> int:
    limits = limits_in_force(policy_path, overrides)
    result = gate_store(location, limits, fail_on)
    if not limits.any_set():
        logger.warning(
            "no size budget is set, so only integrity is checked; pass "
            "--policy or --max-store/--max-experiment/--max-run/--max-file",
        )
    if output_format == "json":
        json_report.write(json_report.gate_document(result))
    elif output_format == "sarif":
        click.echo(sarif.render_gate(result))
    elif output_format == "github":
        click.echo(github.render_gate(result))
        _append_step_summary(result)
    else:
        from janitor.report import table  # tabulate: only for tables

        click.echo(table.render_gate(result, quiet=quiet))
    return EXIT_OK if result.passed else EXIT_FINDINGS


def _append_step_summary(result: GateResult) -> None:
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(github.step_summary(result))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot append the step summary "
            f"({exc.strerror or exc}); check {STEP_SUMMARY}",
        ) from exc
