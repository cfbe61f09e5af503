"""Machine-readable audit output (shape documented in README.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

from janitor.report import AuditResult, GateResult


def write(document: Any) -> None:
    """Write a document to stdout as indented JSON, a piece at a time:
    built whole, the text of a plan of 100,000 runs took hundreds of MB."""
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
