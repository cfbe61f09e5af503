"""Machine-readable audit output (shape documented in README.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from janitor.report import AuditResult, GateResult


class Rows(list[Any]):
    """A list in a document, made an item at a time as `write` writes
    it: the plan of 100,000 runs held as one list of dicts took about
    80 MB. Only `write` may write one: the C encoder behind
    ``json.dumps`` reads a list's storage, which stays empty here."""

    def __init__(self, make: Callable[[], Iterable[Any]], length: int):
        super().__init__()
        self.make = make
        self.length = length

    def __iter__(self) -> Iterator[Any]:
        return iter(self.make())

    def __len__(self) -> int:
        return self.length


def write(document: dict[str, Any]) -> None:
    """Write a document to stdout as indented JSON, a piece at a time.
    ``json.dump`` always takes the Python encoder, which walks lists
    with ``len`` and ``iter``: so `Rows` are made as they are written,
    and the whole text is never held. One dump, not one per item: each
    call makes encoder closures that refer to each other, and the
    command runs with the cycle collector off."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def audit_document(result: AuditResult) -> dict[str, Any]:
    return {
        "store": result.store,
        "summary": result.summary(),
        "sizes": result.sizes.to_dict(),
        "findings": [finding.to_dict() for finding in result.findings],
    }


def gate_document(result: GateResult) -> dict[str, Any]:
    return {
        "store": result.store,
        "passed": result.passed,
        "fail_on": result.fail_on,
        "summary": {
            "offenders": len(result.offenders),
            "failing_findings": len(result.failing),
            "store_bytes": result.snapshot.bytes,
            "files": result.snapshot.files,
        },
        "budgets": [status.to_dict() for status in result.budgets],
        "offenders": [offender.to_dict() for offender in result.offenders],
        "findings": [finding.to_dict() for finding in result.findings],
    }
