"""`janitor trash list|restore|purge`: the way back, and the way out.

Each batch records the store it came from. Restore puts a batch back into
that store only (or into `--store` when the recorded store is gone: a
moved project); purge deletes only the batches of one store, under that
store's lock, unless told `--all-stores`.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass

import click
from tabulate import tabulate

from janitor.actions.auditlog import AuditLog
from janitor.actions.lock import StoreLock
from janitor.actions.trash import (
    Batch,
    Trash,
    age,
    default_state_dir,
    restore_batch,
)
from janitor.commands.prune import confirm
from janitor.errors import EXIT_FINDINGS, EXIT_OK, JanitorError, StoreError
from janitor.report import natural_size, short_age
from janitor.store import resolve_location
from janitor.units import plural


@dataclass
class TrashPlace:
    trash: Trash
    store: str  # absolute path of the store the command is about
    explicit: bool  # the user named the store with --store


def trash_for(state_dir: str | None, store: str | None) -> TrashPlace:
    if store is not None and not os.path.isdir(store):
        raise StoreError(
            f"{store}: no such store folder; pass the store the prunes "
            "came from with --store",
        )
    root = os.path.abspath(resolve_location(store))
    trash = Trash(state_dir or default_state_dir(root))
    return TrashPlace(trash, root, store is not None)


def list_batches(place: TrashPlace) -> int:
    now = time.time()
    only = place.store if place.explicit else None
    rows = [
        [
            batch.prune_id,
            batch.kind,
            short_age(age(batch, now)),
            batch.state,
            len(batch.items),
            natural_size(batch.bytes),
            batch.store,
        ]
        for batch in place.trash.batches(only)
    ]
    if not rows:
        click.echo(f"The trash in {place.trash.root} is empty.")
        return EXIT_OK
    headers = ["prune id", "kind", "age", "state", "items", "size", "store"]
    click.echo(tabulate(rows, headers=headers))
    return EXIT_OK


def _target(place: TrashPlace, batch: Batch) -> str:
    """The store to put a batch back into."""
    recorded = os.path.realpath(batch.store)
    if not place.explicit or os.path.realpath(place.store) == recorded:
        if not os.path.isdir(batch.store):
            raise JanitorError(
                f"{batch.prune_id} came from {batch.store}, which is gone; "
                "if the store moved, pass its new place with --store",
            )
        return batch.store
    if os.path.isdir(batch.store):
        raise JanitorError(
            f"{batch.prune_id} came from {batch.store}, not {place.store}; "
            f"pass --store {batch.store}",
        )
    return place.store  # the project moved: the recorded store is gone


def restore(place: TrashPlace, prune_id: str, yes: bool) -> int:
    trash = place.trash
    batch = trash.load(prune_id)
    batch.store = _target(place, batch)
    confirm(f"Put {len(batch.items)} items back into {batch.store}?", yes)
    with StoreLock(batch.store):
        log = AuditLog(
            trash.audit_log_path(), "trash restore", store=batch.store
        )
        errors, moved = restore_batch(trash, batch, log)
    for error in errors:
        click.echo(f"janitor: failed: {error}", err=True)
    if errors:
        click.echo(
            f"Restored {plural(moved, 'item')} of {prune_id}; "
            f"{plural(len(errors), 'item')} could not be put back: fix "
            "that and run the same command again."
        )
        return EXIT_FINDINGS
    click.echo(
        f"Restored {plural(moved, 'item')} of {prune_id} into {batch.store}."
    )
    return EXIT_OK


def purge(
    place: TrashPlace, older_than: float, yes: bool, all_stores: bool
) -> int:
    now = time.time()
    trash = place.trash
    batches = trash.batches(None if all_stores else place.store)
    doomed = [b for b in batches if age(b, now) > older_than]
    if not doomed:
        click.echo("Nothing in the trash is that old.")
        return EXIT_OK
    size = natural_size(sum(batch.bytes for batch in doomed))
    confirm(f"Delete {plural(len(doomed), 'prune')} ({size}) for good?", yes)
    for batch in doomed:
        lock = StoreLock(batch.store) if os.path.isdir(batch.store) else None
        with lock or nullcontext():
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
    click.echo(f"Purged {plural(len(doomed), 'prune')}, {size}.")
    return EXIT_OK
