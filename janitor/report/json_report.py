"""Machine-readable audit output (shape documented in README.md)."""

from __future__ import annotations

import json

from janitor.report import AuditResult, GateResult


def render_audit(result: AuditResult) -> str:
    document = {
        "store": result.store,
        "summary": result.summary(),
        "sizes": result.sizes.to_dict(),
        "findings": [finding.to_dict() for finding in result.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def render_gate(result: GateResult) -> str:
    document = {
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
    return json.dumps(document, indent=2, ensure_ascii=False)
