"""A policy in one line of plain words, for people checking it."""

from __future__ import annotations

import humanize

from janitor.policy.model import KeepRules, Limits, Policy, PruneRules

# Largest first; weeks are left out so that 14d reads back as written.
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def describe(policy: Policy) -> str:
    """What the policy keeps, prunes and caps, e.g. "keeps registered,
    newest 5; prunes deleted, FAILED or KILLED older than 30d; action
    delete"."""
    parts = [
        _listed("keeps", keep_clauses(policy.keep)),
        _listed("prunes", prune_clauses(policy.prune)),
    ]
    limits = limit_clauses(policy.limits)
    if limits:
        parts.append(_listed("limits", limits))
    parts.append(f"action {policy.action}")
    if policy.experiments:
        count = len(policy.experiments)
        parts.append(f"{count} experiment override{'s' * (count != 1)}")
    return "; ".join(parts)


def keep_clauses(keep: KeepRules) -> list[str]:
    clauses = ["registered"] if keep.registered else []
    if keep.newest is not None:
        clauses.append(f"newest {keep.newest}")
    for rule in keep.top_n:
        lowest = " (lowest)" if rule.order == "min" else ""
        clauses.append(f"top {rule.n} by {rule.metric}{lowest}")
    if keep.younger_than is not None:
        clauses.append(f"younger than {duration_text(keep.younger_than)}")
    clauses += [f"tag {name}={value}" for name, value in keep.tags.items()]
    return clauses


def prune_clauses(prune: PruneRules) -> list[str]:
    clauses = ["deleted"] if prune.deleted else []
    if prune.status:
        statuses = " or ".join(prune.status)
        if prune.status_older_than is not None:
            age = duration_text(prune.status_older_than)
            statuses += f" older than {age}"
        clauses.append(statuses)
    if prune.older_than is not None:
        clauses.append(f"any run older than {duration_text(prune.older_than)}")
    return clauses


def limit_clauses(limits: Limits) -> list[str]:
    return [
        f"{name.replace('_', ' ')} {size_text(size)}"
        for name, size in vars(limits).items()
        if size is not None
    ]


def duration_text(seconds: float) -> str:
    for unit, length in _UNITS:
        if seconds >= length and seconds % length == 0:
            return f"{int(seconds // length)}{unit}"
    return f"{seconds:g}s"


def size_text(size: int) -> str:
    binary = size % 1024 == 0 and size % 1000 != 0
    return humanize.naturalsize(size, binary=binary, format="%.4g")


def _listed(verb: str, clauses: list[str]) -> str:
    return f"{verb} {', '.join(clauses) if clauses else 'nothing'}"
