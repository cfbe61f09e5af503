"""`janitor trash list|restore|purge`: the way back, and the way out."""

from __future__ import annotations

import time

import click
import humanize
from tabulate import tabulate

from janitor.actions.auditlog import AuditLog
from janitor.actions.lock import StoreLock
from janitor.actions.trash import Trash, age, default_state_dir, restore_batch
from janitor.commands.prune import confirm
from janitor.errors import EXIT_FINDINGS, EXIT_OK
from janitor.report import natural_size
from janitor.store import resolve_location


def trash_for(state_dir: str | None, store: str | None) -> Trash:
    return Trash(state_dir or default_state_dir(resolve_location(store)))


def list_batches(trash: Trash) -> int:
    now = time.time()
    rows = [
        [
            batch.prune_id,
            batch.kind,
            humanize.naturaldelta(age(batch, now)),
            batch.state,
            len(batch.items),
            natural_size(batch.bytes),
            batch.store,
        ]
        for batch in trash.batches()
    ]
    if not rows:
        click.echo(f"The trash in {trash.root} is empty.")
        return EXIT_OK
    click.echo(
        tabulate(
            rows,
            headers=[
                "prune id",
                "kind",
                "age",
                "state",
                "items",
                "size",
                "store",
            ],
        )
    )
    return EXIT_OK


def restore(trash: Trash, prune_id: str, yes: bool) -> int:
    batch = trash.load(prune_id)
    confirm(f"Put {len(batch.items)} items back into {batch.store}?", yes)
    with StoreLock(trash.state_dir, batch.store):
        log = AuditLog(
            trash.audit_log_path(), "trash restore", store=batch.store
        )
        errors = restore_batch(trash, batch, log)
    for error in errors:
        click.echo(f"janitor: failed: {error}", err=True)
    if errors:
        click.echo(
            f"Restored part of {prune_id}; fix the failures and run "
            "the same command again."
        )
        return EXIT_FINDINGS
    click.echo(
        f"Restored {len(batch.items)} items of {prune_id} into {batch.store}."
    )
    return EXIT_OK


def purge(trash: Trash, older_than: float, yes: bool) -> int:
    now = time.time()
    doomed = [b for b in trash.batches() if age(b, now) > older_than]
    if not doomed:
        click.echo("Nothing in the trash is that old.")
        return EXIT_OK
    size = natural_size(sum(batch.bytes for batch in doomed))
    confirm(f"Delete {len(doomed)} prunes ({size}) for good?", yes)
    for batch in doomed:
        log = AuditLog(
            trash.audit_log_path(), "trash purge", store=batch.store
        )
        fields = {
            "prune_id": batch.prune_id,
            "action": "purge",
            "bytes": batch.bytes,
            "dry_run": False,
        }
        log.write(**fields, outcome="started")
        trash.discard(batch)
        log.write(**fields, outcome="done")
    click.echo(f"Purged {len(doomed)} prunes, {size}.")
    return EXIT_OK
