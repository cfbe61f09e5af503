"""`janitor migrate-check`: would `mlflow migrate-filestore` fail on this
store, or lose data? Which findings, and which of them repair fixes."""

from __future__ import annotations

import click

from janitor.commands.repair import plan_for
from janitor.errors import EXIT_FINDINGS, EXIT_OK
from janitor.repair import RebaseRequest
from janitor.repair.migration import Blocker, blockers
from janitor.report import repair as repair_report
from janitor.store import FileStore, open_store


def blocking(store: FileStore) -> list[Blocker]:
    plan, snapshot, findings = plan_for(store, RebaseRequest())
    return blockers(snapshot, findings, plan)


def migrate_check(location: str | None, output_format: str) -> int:
    store = open_store(location)
    found = blocking(store)
    if output_format == "json":
        click.echo(repair_report.render_check_json(store.root, found))
    else:
        click.echo(repair_report.render_check_table(store.root, found))
    return EXIT_FINDINGS if found else EXIT_OK
