"""Validate metric files and find the value MLflow shows as latest.

A run's metric file holds one line per logged value,
``<timestamp_ms> <value> [<step> [<dataset name> <dataset digest>]]``:
2, 3 or 5 fields. A logged model's file adds the run id after the step:
4 or 6 fields. MLflow's latest value is the maximum by
(step, timestamp, value), not the last line; a 5-field run line counts
as step 0, as MLflow reads it.
"""

from __future__ import annotations

import re

from janitor.store.model import BadMetricLine, MetricSummary

RUN_FIELD_COUNTS = (2, 3, 5)
MODEL_FIELD_COUNTS = (4, 6)
TORN = "torn last line: no newline at the end (a write was cut short)"

# The lines MLflow writes, for a whole file at once: timestamp, value,
# optional step (and the run id in a logged model's file). Every token
# these accept reads the same with int() and float() as in the
# line-by-line parser; a file they do not match takes that parser.
_VALUE = rb"-?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|inf)|nan"
_INTEGER = rb"-?[0-9]+"


def _lines(open_group: bytes) -> tuple[bytes, bytes]:
    """The run and logged-model line patterns, each field in a group
    opened with ``open_group``: b"(" captures it (to read the values),
    b"(?:" does not (a whole file is checked faster without)."""
    integer = open_group + _INTEGER + b")"
    value = open_group + _VALUE + b")"
    run_id = open_group + b"[0-9a-f]{32})"
    run = integer + b" " + value + b"(?: " + integer + b")?\n"
    model = b" ".join([integer, value, integer, run_id]) + b"\n"
    return run, model


_RUN_LINE, _MODEL_LINE = _lines(b"(")
RUN_LINE = re.compile(_RUN_LINE)
MODEL_LINE = re.compile(_MODEL_LINE)
RUN_FILE, MODEL_FILE = (
    re.compile(b"(?:" + line + b")+") for line in _lines(b"(?:")
)


def clean(raw: bytes, logged_model: bool = False) -> bool:
    """Whether every line of a metric file is well formed and none
    repeats: nothing to report, told without building a summary."""
    if not (MODEL_FILE if logged_model else RUN_FILE).fullmatch(raw):
        return False
    if raw.count(b"\n") == 1:
        return True
    lines = raw.split(b"\n")  # the last is the empty rest after "\n"
    return len(set(lines)) == len(lines)


def summarize_metric(
    key: str,
    path: str,
    raw: bytes,
    logged_model: bool = False,
    latest: bool = True,
) -> MetricSummary:
    """Validate a metric file; with ``latest`` also work out the value
    MLflow shows (a file with a bad line always gets it)."""
    file_pattern = MODEL_FILE if logged_model else RUN_FILE
    if not file_pattern.fullmatch(raw):
        return _summarize_lines(key, path, raw, logged_model)
    if latest:
        return _summarize_wellformed(key, path, raw, logged_model)
    # Well formed, so every line is one MLflow wrote in the one form it
    # writes: equal lines are equal bytes.
    lines = raw.count(b"\n")
    return MetricSummary(
        key=key,
        path=path,
        size=len(raw),
        line_count=lines,
        duplicate_lines=lines - (len(set(raw.split(b"\n"))) - 1),
    )


def _summarize_wellformed(
    key: str,
    path: str,
    raw: bytes,
    logged_model: bool,
) -> MetricSummary:
    """A file every line of which is well formed: no bad line to find."""
    line_pattern = MODEL_LINE if logged_model else RUN_LINE
    lines = line_pattern.findall(raw)
    best = _latest(lines)
    return MetricSummary(
        key=key,
        path=path,
        size=len(raw),
        line_count=len(lines),
        latest_step=best[0],
        latest_timestamp=best[1],
        latest_value=best[2],
        duplicate_lines=len(lines) - len(set(lines)),
    )


def latest_value(raw: bytes) -> float:
    """The latest value of a run's metric file that `clean` passed."""
    return _latest(RUN_LINE.findall(raw))[2]


def _latest(lines: list[tuple[bytes, ...]]) -> tuple[int, int, float]:
    """(step, timestamp, value) of the latest of well-formed lines: the
    greatest, as MLflow orders them; a 2-field run line is step 0."""
    return max(
        [
            (int(step or 0), int(timestamp), float(value))
            for timestamp, value, step, *_run_id in lines
        ]
    )


def _summarize_lines(
    key: str,
    path: str,
    raw: bytes,
    logged_model: bool,
) -> MetricSummary:
    summary = MetricSummary(key=key, path=path, size=len(raw))
    if not raw:
        summary.bad_lines.append(BadMetricLine(1, "the file is empty"))
        return summary
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_number = raw.count(b"\n", 0, exc.start) + 1
        summary.bad_lines.append(
            BadMetricLine(line_number, "bytes that are not UTF-8"),
        )
        return summary

    lines = text.split("\n")
    torn = lines[-1] != ""
    if not torn:
        lines.pop()
    summary.line_count = len(lines)
    counts = MODEL_FIELD_COUNTS if logged_model else RUN_FIELD_COUNTS
    seen: set[str] = set()
    best: tuple[int, int, float] | None = None
    for number, line in enumerate(lines, 1):
        last_torn = torn and number == len(lines)
        if last_torn:
            summary.bad_lines.append(BadMetricLine(number, TORN))
        if line in seen:
            summary.duplicate_lines += 1
            continue
        seen.add(line)
        point = _parse_line(line, counts, logged_model)
        if isinstance(point, str) and not last_torn:
            summary.bad_lines.append(BadMetricLine(number, point))
        if not isinstance(point, str) and (best is None or point > best):
            best = point
    if best is not None:
        step, timestamp, value = best
        summary.latest_step = step
        summary.latest_timestamp = timestamp
        summary.latest_value = value
    return summary


def line_problem(line: str, logged_model: bool = False) -> str | None:
    """Why MLflow cannot read one metric line (without its newline), or
    None when it can."""
    counts = MODEL_FIELD_COUNTS if logged_model else RUN_FIELD_COUNTS
    point = _parse_line(line, counts, logged_model)
    return point if isinstance(point, str) else None


def raw_line_problem(line: bytes, logged_model: bool = False) -> str | None:
    """`line_problem` for a line as bytes: bytes that are not UTF-8 are
    a problem too."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not UTF-8"
    return line_problem(text, logged_model)


def _parse_line(
    line: str,
    counts: tuple[int, ...],
    logged_model: bool,
) -> tuple[int, int, float] | str:
    """(step, timestamp, value) of a line, or why it is malformed."""
    fields = line.strip().split(" ")
    if len(fields) not in counts:
        expected = " or ".join(str(count) for count in counts)
        return f"{len(fields)} fields, expected {expected}"
    try:
        timestamp = int(fields[0])
    except ValueError:
        return f"timestamp {fields[0]!r} is not an integer"
    try:
        value = float(fields[1])
    except ValueError:
        return f"value {fields[1]!r} is not a number"
    has_step = logged_model or len(fields) == 3
    try:
        step = int(fields[2]) if has_step else 0
    except ValueError:
        return f"step {fields[2]!r} is not an integer"
    return (step, timestamp, value)
