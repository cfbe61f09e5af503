"""`janitor audit`: integrity findings and sizes of a store."""

from __future__ import annotations

import logging
import time

import click

from janitor.checks import CheckContext, run_checks
from janitor.checks.finding import Finding, Severity
from janitor.errors import EXIT_FINDINGS, EXIT_OK
from janitor.report import AuditResult, json_report
from janitor.report.progress import ProgressLine
from janitor.sizes import size_report
from janitor.store import open_store
from janitor.store.filestore import Progress

logger = logging.getLogger("janitor")


def audit_store(
    location: str | None,
    stale_after: float = 24 * 3600,
    progress: Progress | None = None,
) -> AuditResult:
    """Scan a store, run every check, size it."""
    store = open_store(location)
    started = time.monotonic()
    # Every metric line is validated; no report shows latest values.
    snapshot = store.scan(metrics=True, progress=progress, latest=())
    logger.debug("scanned %s in %.2fs", store.root, time.monotonic() - started)
    context = CheckContext(
        now=time.time(), stale_after=stale_after, store_root=store.root
    )
    findings = run_checks(snapshot, context)
    return AuditResult(store.root, snapshot, findings, size_report(snapshot))


def failing(findings: list[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above the --fail-on level."""
    if fail_on == "never":
        return []
    level = Severity.parse(fail_on)
    return [finding for finding in findings if finding.severity >= level]


def audit(
    location: str | None,
    output_format: str,
    fail_on: str,
    stale_after: float,
    quiet: bool,
    progress: ProgressLine | None = None,
) -> int:
    try:
        result = audit_store(location, stale_after, progress)
    finally:
        if progress:
            progress.finish()
    if output_format == "json":
        json_report.write(json_report.audit_document(result))
    else:
        from janitor.report import table  # tabulate: only for tables

        click.echo(table.render_audit(result, quiet=quiet))
    return EXIT_FINDINGS if failing(result.findings, fail_on) else EXIT_OK
