"""SARIF 2.1.0 output, for code scanning dashboards.

One rule per check code and one per budget (``budget-store``,
``budget-experiment``, ``budget-run``, ``budget-file``), always all of
them, so a rule's index never changes. Result locations are relative to
the repository holding the store (``%SRCROOT%``).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any
from urllib.parse import quote

from janitor import __version__
from janitor.budgets import BUDGETS, Offender
from janitor.checks import CODES
from janitor.checks.finding import Severity
from janitor.report import GateResult
from janitor.report.github import offender_message

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
    "sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
LEVELS = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}
BUDGET_RULES = {
    "store": "the whole store is larger than the store budget",
    "experiment": "an experiment is larger than the experiment budget",
    "run": "a run's artifacts and logged models are larger than the run "
    "budget",
    "file": "a file is larger than the file budget",
}


def rule_id(budget: str) -> str:
    return f"budget-{budget}"


def rules() -> list[dict[str, Any]]:
    found = [
        _rule(code, description, LEVELS[severity])
        for code, (severity, description) in CODES.items()
    ]
    found += [
        _rule(rule_id(budget), BUDGET_RULES[budget], "error")
        for budget in BUDGETS
    ]
    return found


def _rule(identifier: str, description: str, level: str) -> dict[str, Any]:
    return {
        "id": identifier,
        "shortDescription": {"text": description},
        "defaultConfiguration": {"level": level},
    }


def render_gate(result: GateResult) -> str:
    all_rules = rules()
    index = {rule["id"]: number for number, rule in enumerate(all_rules)}
    results = [
        _offender_result(result, offender, index)
        for offender in result.offenders
    ]
    for finding in result.findings:
        results.append(
            {
                "ruleId": finding.code,
                "ruleIndex": index[finding.code],
                "level": LEVELS[finding.severity],
                "message": {"text": f"{finding.message}. Fix: {finding.hint}"},
                "locations": [_location(result, finding.path)],
                "properties": _ids(finding.experiment_id, finding.run_id),
            }
        )
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlflow-janitor",
                        "version": __version__,
                        "rules": all_rules,
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "uri": pathlib.Path(result.repo_root).as_uri() + "/"
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _offender_result(
    result: GateResult, offender: Offender, index: dict[str, int]
) -> dict[str, Any]:
    identifier = rule_id(offender.budget)
    properties = _ids(offender.experiment_id, offender.run_id)
    properties.update(bytes=offender.bytes, limit=offender.limit)
    return {
        "ruleId": identifier,
        "ruleIndex": index[identifier],
        "level": "error",
        "message": {
            "text": offender_message(offender, result.repo_path(offender.path))
        },
        "locations": [_location(result, offender.path)],
        "properties": properties,
    }


def _location(result: GateResult, store_path: str) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {
                # A name that is not UTF-8 keeps its own bytes, escaped.
                "uri": quote(
                    result.repo_path(store_path), errors="surrogateescape"
                ),
                "uriBaseId": SRCROOT,
            }
        }
    }


def _ids(experiment_id: str | None, run_id: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if experiment_id:
        found["experimentId"] = experiment_id
    if run_id:
        found["runId"] = run_id
    return found
