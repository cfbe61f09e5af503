"""GitHub Actions output: workflow commands that annotate the pull
request, and a Markdown summary for the job's page.

Paths are relative to the repository holding the store, which is where
a workflow's steps run by default.
"""

from __future__ import annotations

from janitor.budgets import Offender
from janitor.checks.finding import Finding, Severity
from janitor.report import GateResult, natural_size

LEVELS = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    """A workflow command's message: GitHub decodes these three."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (file=, title=), where ':' and ',' end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, file: str, title: str) -> str:
    return (
        f"::{level} file={escape_property(file)},"
        f"title={escape_property(title)}::{escape_data(message)}"
    )


def render_gate(result: GateResult) -> str:
    """One annotation per offender and finding: what fails the gate is
    an error, other findings keep their own level."""
    lines = [_offender_command(result, item) for item in result.offenders]
    failing = set(result.failing)
    for finding in result.findings:
        level = "error" if finding in failing else LEVELS[finding.severity]
        lines.append(
            command(
                level,
                f"{finding.message}. Fix: {finding.hint}",
                result.repo_path(finding.path),
                finding.code,
            )
        )
    lines.append(result.summary_line())
    return "\n".join(lines)


def _offender_command(result: GateResult, offender: Offender) -> str:
    path = result.repo_path(offender.path)
    return command(
        "error",
        offender_message(offender, path),
        path,
        f"{offender.budget.capitalize()} over budget",
    )


def offender_message(offender: Offender, path: str) -> str:
    what = {
        "store": "the store",
        "experiment": f"experiment {offender.name or offender.path}",
        "run": f"the artifacts of run {offender.run_id}",
        "file": path,
    }[offender.budget]
    message = (
        f"{what}: {natural_size(offender.bytes)}, "
        f"{natural_size(offender.over_by)} over the {offender.budget} "
        f"budget of {natural_size(offender.limit)}"
    )
    if offender.budget == "file" and offender.run_id:
        message += f" (run {offender.run_id})"
    return message


def step_summary(result: GateResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY."""
    verdict = "passed" if result.passed else "failed"
    parts = [
        f"### janitor gate {verdict}",
        "",
        "| budget | limit | largest | over budget |",
        "| --- | --- | --- | --- |",
    ]
    for status in result.budgets:
        limit = (
            "not set" if status.limit is None else natural_size(status.limit)
        )
        parts.append(
            f"| {status.budget} | {limit} | {natural_size(status.largest)} "
            f"| {status.offenders} |"
        )
    if result.offenders:
        parts += [
            "",
            "| over budget | path | size | limit | over by |",
            "| --- | --- | --- | --- | --- |",
        ]
        for offender in result.offenders:
            cells = [
                offender.budget,
                _cell(result.repo_path(offender.path)),
                natural_size(offender.bytes),
                natural_size(offender.limit),
                natural_size(offender.over_by),
            ]
            parts.append("| " + " | ".join(cells) + " |")
    if result.failing:
        parts += _findings_table(result, result.failing)
    parts += ["", result.summary_line(), ""]
    return "\n".join(parts)


def _findings_table(result: GateResult, findings: list[Finding]) -> list[str]:
    rows = [
        "",
        f"| finding ({result.fail_on} or worse) | path | message |",
        "| --- | --- | --- |",
    ]
    for finding in findings:
        rows.append(
            f"| {finding.code} | {_cell(result.repo_path(finding.path))} "
            f"| {_cell(finding.message)} |"
        )
    return rows


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell."""
    flat = " ".join(text.splitlines())
    return flat.replace("\\", "\\\\").replace("|", "\\|")
