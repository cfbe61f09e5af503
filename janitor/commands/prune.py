"""`janitor prune` and `janitor explain`: apply a retention policy."""

from __future__ import annotations

import logging
import sys
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
    run_batch,
)
from janitor.checks import CheckContext, run_checks
from janitor.errors import EXIT_FINDINGS, EXIT_OK, JanitorError, RefusedError
from janitor.policy.engine import Decision, Plan, make_plan
from janitor.policy.model import Policy
from janitor.report import json_report, natural_size
from janitor.report import plan as plan_report
from janitor.store import FileStore, open_store
from janitor.store.model import Run
from janitor.units import plural

logger = logging.getLogger("janitor")


def load(policy_path: str) -> Policy:
    from janitor.policy.load import load_policy

    return load_policy(policy_path)


def build_plan(store: FileStore, policy: Policy, now: float) -> Plan:
    # Every metric file is validated (a run with a bad one is
    # protected); only the ranked ones need their latest value.
    snapshot = store.scan(metrics=True, latest=policy.ranked_metrics())
    context = CheckContext(now=now, store_root=store.root)
    findings = run_checks(snapshot, context)

    def read_tags(run: Run, keys: object) -> dict[str, str]:
        wanted = [key for key in keys if key in run.tag_keys]  # type: ignore
        return {
            k: v.strip() if k == "mlflow.parentRunId" else v
            for k, v in store.read_values(run.path, "tags", wanted).items()
        }

    return make_plan(snapshot, policy, findings, read_tags, now)


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, --yes is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise JanitorError(
            "refusing to change the store without confirmation: no terminal "
            "to ask on; pass --yes",
        )
    if not click.confirm(question, default=False, err=True):
        raise click.exceptions.Abort()


def prune(
    location: str | None,
    policy_path: str,
    dry_run: bool,
    yes: bool,
    force: bool,
    state_dir: str | None,
    output_format: str,
) -> int:
    policy = load(policy_path)
    store = open_store(location)
    trash = Trash(state_dir or default_state_dir(store.root))
    now = time.time()
    if dry_run:
        plan = build_plan(store, policy, now)
        _show(plan, store.root, now, True, output_format)
        if can_prepare(trash, store):
            log = _log_for(trash, store, policy, "prune --dry-run")
            log.write(**_plan_record(plan, dry_run=True))
        return EXIT_FINDINGS if plan.refusal else EXIT_OK

    trash.prepare(store.root)
    with StoreLock(store.root):
        resume_unfinished(trash, store, policy)
        plan = build_plan(store, policy, now)
        if plan.refusal and not force:
            _show(plan, store.root, now, False, output_format)
            raise RefusedError(
                f"{plan.refusal}; nothing was pruned. Check the plan, then "
                "pass --force to prune anyway",
            )
        if not plan.pruned:
            _show(plan, store.root, now, False, output_format)
            click.echo("Nothing to prune.", err=output_format == "json")
            return EXIT_OK
        _show(plan, store.root, now, False, output_format)
        confirm(
            f"Move {len(plan.pruned)} runs "
            f"({natural_size(plan.bytes_freed)}) out of {store.root}?",
            yes,
        )
        errors = execute(plan, trash, store, policy)
    for error in errors:
        click.echo(f"janitor: failed: {error}", err=True)
    done = (
        f"Pruned {plural(len(plan.pruned), 'run')}"
        if not errors
        else f"Pruned with {plural(len(errors), 'failed item')} (above)"
    )
    click.echo(
        f"{done} into {trash.batch_dir(plan.prune_id)}; undo with "
        f"`janitor trash restore {plan.prune_id}`.",
        err=output_format == "json",
    )
    return EXIT_FINDINGS if errors else EXIT_OK


def can_prepare(trash: Trash, store: FileStore) -> bool:
    """Make the state dir for a dry run's record; a dry run still works
    where it cannot be made (a read-only checkout)."""
    try:
        trash.prepare(store.root)
    except OSError as exc:
        logger.warning(
            "no audit record: cannot write %s (%s)",
            trash.state_dir,
            exc.strerror,
        )
        return False
    return True


def _show(
    plan: Plan, store: str, now: float, dry_run: bool, output_format: str
) -> None:
    if output_format == "json":
        json_report.write(plan_report.plan_document(plan, store, dry_run))
    else:
        click.echo(plan_report.render_table(plan, store, now, dry_run))


def _log_for(
    trash: Trash, store: FileStore, policy: Policy, command: str
) -> AuditLog:
    return AuditLog(
        trash.audit_log_path(),
        command,
        store=store.root,
        policy=policy.path,
        policy_sha256=policy.sha256,
    )


def _plan_record(plan: Plan, dry_run: bool) -> dict[str, object]:
    """The audit record of a plan, written before anything moves."""
    return plan_record(
        plan.prune_id,
        dry_run,
        runs=plan.total_runs,
        pruned=len(plan.pruned),
        bytes=plan.bytes_freed,
    )


def plan_items(plan: Plan, store: FileStore) -> list[Item]:
    items = []
    for decision in plan.pruned:
        items += _decision_items(decision, plan.policy.action, store)
    return items


def _decision_items(
    decision: Decision, action: str, store: FileStore
) -> list[Item]:
    run = decision.run
    exp_id = decision.experiment.experiment_id
    rule = ", ".join(decision.prune_reasons)
    if action == "delete":
        items = [Item(run.path, "run", run.bytes, exp_id, run.run_id, rule)]
        items += [
            Item(
                model.path,
                "logged-model",
                model.bytes,
                exp_id,
                run.run_id,
                rule,
            )
            for model in decision.logged_models
        ]
        return items
    folders = [f"{run.path}/artifacts"] + [
        f"{model.path}/artifacts" for model in decision.logged_models
    ]
    items = []
    for folder in folders:
        for name, size in store.folder_sizes(folder).items():
            items.append(
                Item(
                    f"{folder}/{name}",
                    "artifact",
                    size,
                    exp_id,
                    run.run_id,
                    rule,
                )
            )
    return items


def execute(
    plan: Plan, trash: Trash, store: FileStore, policy: Policy
) -> list[str]:
    batch = Batch(
        plan.prune_id,
        store.root,
        "prune",
        time.time(),
        plan_items(plan, store),
        policy=policy.path,
    )
    log = _log_for(trash, store, policy, "prune")
    log.write(**_plan_record(plan, dry_run=False))
    action = "prune" if policy.action == "delete" else "strip-artifacts"
    return carry_out(trash, batch, log, action)


def resume_unfinished(trash: Trash, store: FileStore, policy: Policy) -> None:
    """Finish batches a crash cut short, before planning anew. A run
    written to since the batch was planned stays: it is no longer the run
    the plan judged."""
    for batch in trash.batches(store.root):
        if batch.state != IN_PROGRESS or batch.kind != "prune":
            continue  # a repair cut short is undone, never resumed
        logger.warning("finishing prune %s, cut short earlier", batch.prune_id)
        log = _log_for(trash, store, policy, "prune (resume)")
        changed = {
            item.run_id
            for item in batch.items
            if item.run_id and _changed_since(store, item.path, batch.created)
        }
        for item in batch.items:
            if item.run_id in changed:
                log.write(
                    prune_id=batch.prune_id,
                    action="prune",
                    path=item.path,
                    run_id=item.run_id,
                    dry_run=False,
                    outcome="skipped",
                    error="written to since the prune was planned",
                )
        batch.items = [i for i in batch.items if i.run_id not in changed]
        errors = run_batch(trash, batch, log, "prune")
        for error in errors:
            click.echo(f"janitor: failed: {error}", err=True)


def _changed_since(store: FileStore, path: str, since: float) -> bool:
    """Whether anything under a store path was written after `since`
    (False when the path is already gone from the store)."""
    return store.newest_write(path) > since


def explain(location: str | None, run_id: str, policy_path: str) -> int:
    policy = load(policy_path)
    store = open_store(location)
    now = time.time()
    plan = build_plan(store, policy, now)
    decision = plan.decision_for(run_id)
    if decision is None:
        raise JanitorError(
            f"{run_id}: no such run in {store.root}; list runs with "
            "`janitor prune --dry-run --format json`",
        )
    click.echo(plan_report.render_explanation(decision, now))
    return EXIT_OK
