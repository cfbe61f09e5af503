"""Metric file checks: every line readable, no line written twice."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from janitor.checks import CheckContext
from janitor.checks.finding import Finding, Severity
from janitor.store.model import MetricSummary, Snapshot
from janitor.units import plural


def check_metrics(
    snapshot: Snapshot, _context: CheckContext
) -> Iterator[Finding]:
    for experiment in snapshot.experiments:
        exp_id = experiment.experiment_id
        for run in experiment.runs:
            yield from _metric_findings(
                run.metrics.values(),
                f"{run.path}/metrics",
                exp_id,
                run.run_id,
            )
        for model in experiment.logged_models:
            yield from _metric_findings(
                model.metrics.values(),
                f"{model.path}/metrics",
                exp_id,
                None,
            )


def _metric_findings(
    summaries: Iterable[MetricSummary],
    folder: str,
    experiment_id: str,
    run_id: str | None,
) -> Iterator[Finding]:
    duplicated = []
    for summary in summaries:
        if summary.duplicate_lines:
            duplicated.append(summary)
        if not summary.bad_lines:
            continue
        first = summary.bad_lines[0]
        more = len(summary.bad_lines) - 1
        extra = f" (and {more} more bad lines)" if more else ""
        yield Finding(
            "malformed-metric",
            Severity.ERROR,
            summary.path,
            f"metric {summary.key!r} line {first.line_number}: "
            f"{first.reason}{extra}",
            "take the bad lines out with `janitor repair` (it keeps a "
            "backup) or restore the file; a bad line makes MLflow fail on "
            "this run, a torn one breaks the next value logged",
            experiment_id,
            run_id,
        )
    if duplicated:
        # MLflow 3 duplicates every metric of a run that logs a model;
        # one finding per run says it once.
        lines = sum(summary.duplicate_lines for summary in duplicated)
        keys = ", ".join(summary.key for summary in duplicated[:3])
        if len(duplicated) > 3:
            keys += f" and {len(duplicated) - 3} more"
        files = "file" if len(duplicated) == 1 else "files"
        yield Finding(
            "duplicate-metric-entries",
            Severity.WARNING,
            folder,
            f"{plural(lines, 'duplicated line')} in {len(duplicated)} "
            f"metric {files} "
            f"({keys}); `mlflow migrate-filestore` fails on them",
            "keep one of each line (`janitor repair`) before migrating",
            experiment_id,
            run_id,
        )
