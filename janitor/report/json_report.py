"""Machine-readable audit output (shape documented in README.md)."""

from __future__ import annotations

import json

from janitor.report import AuditResult


def render_audit(result: AuditResult) -> str:
    document = {
        "store": result.store,
        "summary": result.summary(),
        "sizes": result.sizes.to_dict(),
        "findings": [finding.to_dict() for finding in result.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)
