"""`janitor repair`: fix what the audit finds and the janitor can fix
safely; every changed or moved file goes to a trash batch first."""

from __future__ import annotations

import hashlib
import logging
import time

import click

from janitor.actions.auditlog import AuditLog, plan_record
from janitor.actions.lock import StoreLock
from janitor.actions.trash import (
    IN_PROGRESS,
    Batch,
    Item,
    Trash,
    carry_out,
    default_state_dir,
)
from janitor.checks import CheckContext, run_checks
from janitor.checks.finding import Finding, Severity
from janitor.commands.prune import can_prepare, confirm
from janitor.errors import EXIT_FINDINGS, EXIT_OK
from janitor.repair import RebaseRequest, RepairPlan, plan_repair
from janitor.repair.reader import StoreFiles
from janitor.report import repair as repair_report
from janitor.store import FileStore, open_store
from janitor.store.model import Snapshot
from janitor.units import plural

logger = logging.getLogger("janitor")
KIND = "repair"


def plan_for(
    store: FileStore, request: RebaseRequest
) -> tuple[RepairPlan, Snapshot, list[Finding]]:
    """Scan, check and plan: the plan with what it was made from."""
    snapshot = store.scan(metrics=True, latest=())
    now = time.time()
    findings = run_checks(snapshot, CheckContext(now, store_root=store.root))
    files = StoreFiles(store.root)
    return (
        plan_repair(snapshot, findings, request, files, now),
        snapshot,
        findings,
    )


def build_plan(store: FileStore, request: RebaseRequest) -> RepairPlan:
    return plan_for(store, request)[0]


def repair(
    location: str | None,
    request: RebaseRequest,
    dry_run: bool,
    yes: bool,
    state_dir: str | None,
    output_format: str,
) -> int:
    store = open_store(location)
    trash = Trash(state_dir or default_state_dir(store.root))
    trash.refuse_inside(store.root)
    if dry_run:
        plan = build_plan(store, request)
        _show(plan, True, output_format)
        _record_dry_run(trash, store, plan)
        return _exit_code(plan, [])

    trash.prepare(store.root)
    with StoreLock(store.root):
        _warn_unfinished(trash, store)
        plan = build_plan(store, request)
        if not plan.fixes:
            _show(plan, False, output_format)
            click.echo("Nothing to repair.", err=output_format == "json")
            return _exit_code(plan, [])
        _show(plan, False, output_format)
        confirm(
            f"Repair {plural(len(plan.fixes), 'path')} in {store.root}?", yes
        )
        errors = execute(plan, trash, store)
    for error in errors:
        click.echo(f"janitor: failed: {error}", err=True)
    click.echo(
        f"Repaired {plural(len(plan.fixes) - len(errors), 'path')}; the "
        f"originals are in {trash.batch_dir(plan.repair_id)}; undo with "
        f"`janitor trash restore {plan.repair_id}`.",
        err=output_format == "json",
    )
    return _exit_code(plan, errors)


def _exit_code(plan: RepairPlan, errors: list[str]) -> int:
    """1 when a fix failed or an error is left for a person to fix."""
    left = any(f.severity >= Severity.ERROR for f in plan.manual)
    return EXIT_FINDINGS if errors or left else EXIT_OK


def _show(plan: RepairPlan, dry_run: bool, output_format: str) -> None:
    if output_format == "json":
        click.echo(repair_report.render_plan_json(plan, dry_run))
    else:
        click.echo(repair_report.render_plan_table(plan, dry_run))


def _log_for(trash: Trash, store: FileStore, command: str) -> AuditLog:
    return AuditLog(trash.audit_log_path(), command, store=store.root)


def _plan_record(plan: RepairPlan, dry_run: bool) -> dict[str, object]:
    return plan_record(
        plan.repair_id,
        dry_run,
        rebase=[rebase.to_dict() for rebase in plan.rebases],
        **plan.counts(),
    )


def _record_dry_run(trash: Trash, store: FileStore, plan: RepairPlan) -> None:
    """Leave a record of the dry run in the state dir, when it can be
    made; the store itself is never written."""
    if can_prepare(trash, store):
        log = _log_for(trash, store, "repair --dry-run")
        log.write(**_plan_record(plan, True))


def plan_items(plan: RepairPlan) -> list[Item]:
    return [
        Item(
            fix.path,
            fix.item_kind,
            fix.size,
            fix.experiment_id,
            fix.run_id,
            ", ".join(fix.codes),
            fix.detail,
            hashlib.sha256(fix.content).hexdigest()
            if fix.content is not None
            else None,
        )
        for fix in plan.fixes
    ]


def execute(plan: RepairPlan, trash: Trash, store: FileStore) -> list[str]:
    batch = Batch(
        plan.repair_id, store.root, KIND, time.time(), plan_items(plan)
    )
    replacements = {
        fix.path: fix.content for fix in plan.fixes if fix.content is not None
    }
    log = _log_for(trash, store, "repair")
    log.write(**_plan_record(plan, False))
    return carry_out(trash, batch, log, KIND, replacements)


def _warn_unfinished(trash: Trash, store: FileStore) -> None:
    """A repair cut short is not resumed: this one plans afresh from the
    store as it is; the earlier one can still be undone."""
    for batch in trash.batches():
        if (
            batch.kind == KIND
            and batch.state == IN_PROGRESS
            and batch.store == store.root
        ):
            logger.warning(
                "repair %s was cut short; undo what it did with `janitor "
                "trash restore %s`, or keep it",
                batch.prune_id,
                batch.prune_id,
            )
