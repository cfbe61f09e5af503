"""`janitor policy check`: validate policy files, as a person or a
pre-commit hook would."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click

from janitor.errors import EXIT_OK
from janitor.policy.describe import describe
from janitor.policy.load import PolicyError, load_policy

logger = logging.getLogger("janitor")


def check(paths: Sequence[str], quiet: bool = False) -> int:
    """Print `PATH: ok; <summary>` or every problem of each file; the
    exit code is PolicyError's when any file is invalid."""
    invalid = 0
    for path in paths:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            invalid += 1
            for problem in exc.problems:
                click.echo(str(problem))
            continue
        if not quiet:
            click.echo(f"{path}: ok; {describe(policy)}")

    logger.info("%d of %d policies invalid", invalid, len(paths))
    return PolicyError.exit_code if invalid else EXIT_OK
