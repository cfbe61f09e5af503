"""The audit log: JSON Lines, append-only, flushed to disk per record.

A record is written *before* each action (outcome "started") and another
after it ("done" or "failed"), so after a crash the log says what was in
flight.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import socket
from typing import Any

from janitor import __version__


def actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, path: str, command: str, **common: Any) -> None:
        self.path = path
        self.common = {
            "actor": actor(),
            "janitor_version": __version__,
            "command": command,
            **common,
        }

    def write(self, **fields: Any) -> None:
        record = {
            "ts": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="milliseconds",
            ),
            **self.common,
            **fields,
        }
        # ASCII with escapes: paths need not be valid UTF-8.
        line = json.dumps(record, sort_keys=False)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def plan_record(
    batch_id: str, dry_run: bool, **details: Any
) -> dict[str, Any]:
    """The record of a plan (prune or repair), written before anything
    moves; `details` says what the plan would do."""
    return {
        "prune_id": batch_id,
        "action": "plan",
        "dry_run": dry_run,
        "outcome": "planned",
        **details,
    }


def read_records(path: str) -> list[dict[str, Any]]:
    """Every record, skipping a torn last line."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return records
