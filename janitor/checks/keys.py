"""Key name checks: MLflow refuses to read a metric, param or tag file
whose name it would not have written, and then fails for the whole
experiment."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator

from janitor.checks import CheckContext
from janitor.checks.finding import Finding, Severity
from janitor.store.model import Snapshot

# What MLflow accepts on POSIX: letters, digits, _ - . / : and spaces.
VALID = re.compile(r"^[/\w.\- :]*$")


@functools.lru_cache(maxsize=1 << 16)
def bad_key(name: str) -> str:
    """Why MLflow refuses a key, or "" when it accepts it (remembered:
    every run of a store repeats the same keys)."""
    if not VALID.match(name):
        return (
            "has characters MLflow refuses (allowed: letters, digits, "
            "_ - . / : and spaces)"
        )
    normal = posixpath.normpath(name)
    if normal != name or normal == "." or normal.startswith(("..", "/")):
        return "is not a plain relative name"
    return ""


def check_keys(
    snapshot: Snapshot, _context: CheckContext
) -> Iterator[Finding]:
    for experiment in snapshot.experiments:
        exp_id = experiment.experiment_id
        for run in experiment.runs:
            groups = (
                ("metric", "metrics", run.metric_keys),
                ("param", "params", run.param_keys),
                ("tag", "tags", run.tag_keys),
            )
            for what, folder, keys in groups:
                for key in keys:
                    reason = bad_key(key)
                    if reason:
                        yield Finding(
                            "bad-key-name",
                            Severity.ERROR,
                            f"{run.path}/{folder}/{key}",
                            f"{what} name {key!r} {reason}; MLflow fails to "
                            "list every run of this experiment",
                            "rename or move out the file (its value was "
                            "not logged through MLflow)",
                            exp_id,
                            run.run_id,
                        )
