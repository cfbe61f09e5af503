"""Human-readable audit output: tables and a closing summary line."""

from __future__ import annotations

from tabulate import tabulate

from janitor.report import AuditResult, natural_size

WIDTHS = [None, None, 40, 50, 40]


def render_audit(result: AuditResult, quiet: bool = False) -> str:
    parts = [f"Store: {result.store}", ""]
    if result.findings:
        rows = [
            [f.severity.label, f.code, f.path, f.message, f.hint]
            for f in result.findings
        ]
        parts += [
            tabulate(
                rows,
                headers=["severity", "code", "path", "message", "fix"],
                maxcolwidths=WIDTHS,
            ),
            "",
        ]
    else:
        parts += ["No findings.", ""]
    if not quiet:
        parts += _size_tables(result)
    parts.append(result.summary_line())
    return "\n".join(parts)


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
