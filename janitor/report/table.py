"""Human-readable audit output: tables and a closing summary line."""

from __future__ import annotations

from tabulate import tabulate

from janitor.budgets import Offender
from janitor.checks.finding import Finding
from janitor.report import AuditResult, GateResult, natural_size

WIDTHS = [None, None, 40, 50, 40]


def render_audit(result: AuditResult, quiet: bool = False) -> str:
    parts = [f"Store: {result.store}", ""]
    if result.findings:
        parts += [_findings_table(result.findings), ""]
    else:
        parts += ["No findings.", ""]
    if not quiet:
        parts += _size_tables(result)
    parts.append(result.summary_line())
    return "\n".join(parts)


def render_gate(result: GateResult, quiet: bool = False) -> str:
    parts = [f"Store: {result.store}", ""]
    if result.offenders:
        rows = [_offender_row(offender) for offender in result.offenders]
        parts += [
            "Over budget",
            tabulate(
                rows, headers=["budget", "path", "size", "limit", "over by"]
            ),
            "",
        ]
    if result.failing:
        parts += [
            f"Findings at or above {result.fail_on}",
            _findings_table(result.failing),
            "",
        ]
    if not quiet:
        parts += [
            "Budgets",
            tabulate(
                [
                    [
                        status.budget,
                        _limit(status.limit),
                        natural_size(status.largest),
                        status.largest_path or "",
                        status.offenders,
                    ]
                    for status in result.budgets
                ],
                headers=["budget", "limit", "largest", "where", "over"],
            ),
            "",
        ]
    parts.append(result.summary_line())
    return "\n".join(parts)


def _offender_row(offender: Offender) -> list[str]:
    where = offender.path
    if offender.name:
        where += f" ({offender.name})"
    return [
        offender.budget,
        where,
        natural_size(offender.bytes),
        natural_size(offender.limit),
        natural_size(offender.over_by),
    ]


def _limit(limit: int | None) -> str:
    return "not set" if limit is None else natural_size(limit)


def _findings_table(findings: list[Finding]) -> str:
    rows = [
        [f.severity.label, f.code, f.path, f.message, f.hint] for f in findings
    ]
    return tabulate(
        rows,
        headers=["severity", "code", "path", "message", "fix"],
        maxcolwidths=WIDTHS,
    )


def _size_tables(result: AuditResult) -> list[str]:
    sizes = result.sizes
    experiments = [
        [
            exp["experiment_id"] + (" (deleted)" if exp["deleted"] else ""),
            exp["name"],
            exp["runs"],
            natural_size(exp["bytes"]),
        ]
        for exp in sizes.experiments
    ]
    runs = [
        [
            run.experiment_id,
            run.run_id,
            run.name,
            natural_size(run.bytes),
            natural_size(run.artifact_bytes),
        ]
        for run in sizes.largest_runs
    ]
    files = [
        [large["path"], natural_size(large["bytes"])]
        for large in sizes.largest_files
    ]
    parts = []
    for title, rows, headers in (
        ("Experiments", experiments, ["id", "name", "runs", "size"]),
        (
            "Largest runs",
            runs,
            ["experiment", "run", "name", "size", "artifacts"],
        ),
        ("Largest files", files, ["path", "size"]),
    ):
        if rows:
            parts += [title, tabulate(rows, headers=headers), ""]
    return parts
