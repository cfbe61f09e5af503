"""Machine-readable audit output (shape documented in README.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from janitor.report import AuditResult, GateResult


class Rows:
    """A list in a document, made an item at a time as `write` writes
    it: the plan of 100,000 runs held as one list of dicts took about
    80 MB."""

    def __init__(self, make: Callable[[], Iterable[Any]]):
        self.make = make


def write(document: dict[str, Any]) -> None:
    """Write a document to stdout as ``json.dump(document, indent=2,
    ensure_ascii=False)`` would, then a newline, a piece at a time:
    `Rows` are made as they are written, so the whole text is never
    held."""
    out = sys.stdout
    out.write("{")
    for index, (key, value) in enumerate(document.items()):
        out.write(",\n  " if index else "\n  ")
        out.write(f"{_string(key)}: ")
        if isinstance(value, Rows):
            _write_rows(out, value)
        else:  # JSON escapes newlines in strings: each one is layout
            out.write(_dumps(value).replace("\n", "\n  "))
    out.write("\n}\n" if document else "}\n")


def _write_rows(out: TextIO, rows: Rows) -> None:
    first = "[\n    "
    separator = first
    for item in rows.make():
        out.write(separator)
        out.write(_row(item))
        separator = ",\n    "
    out.write("[]" if separator is first else "\n  ]")


def _row(item: Any) -> str:
    """An item of `Rows`, two levels deep."""
    flat = _flat_row(item)
    return _dumps(item).replace("\n", "\n    ") if flat is None else flat


def _flat_row(item: Any) -> str | None:
    """A flat mapping (plain values and lists of them, as a plan's runs
    are) laid out with the encoder's C string escaping, several times
    faster than its Python indenting encoder; None for anything else."""
    if not isinstance(item, dict) or not item:
        return None
    fields = []
    for key, value in item.items():
        text = _plain(value)
        if text is None:
            if not isinstance(value, (list, tuple)):
                return None
            texts = []
            for element in value:
                element_text = _plain(element)
                if element_text is None:
                    return None
                texts.append(element_text)
            text = (
                "[\n        " + ",\n        ".join(texts) + "\n      ]"
                if texts
                else "[]"
            )
        label = _LABELS.get(key)
        if label is None:
            if not isinstance(key, str):
                return None
            label = _LABELS[key] = _string(key) + ": "
        fields.append(label + text)
    return "{\n      " + ",\n      ".join(fields) + "\n    }"


# The encoded keys of rows, which repeat in every row.
_LABELS: dict[str, str] = {}


def _plain(value: Any) -> str | None:
    """A string, integer, boolean or null as the encoder writes it; None
    for anything else."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


_string = json.encoder.encode_basestring  # the encoder's own (C) escaping


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
