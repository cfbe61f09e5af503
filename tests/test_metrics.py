"""Metric file parsing: MLflow's latest value, every bad line found."""

from __future__ import annotations

import math

import pytest

from janitor.store.metrics import summarize_metric


def summarize(text: str, logged_model: bool = False):
    return summarize_metric("m", "m", text.encode(), logged_model)


def test_latest_is_max_by_step_not_last_line():
    summary = summarize("100 0.9 2\n200 0.1 1\n300 0.5 0\n")
    assert (summary.latest_step, summary.latest_value) == (2, 0.9)
    assert summary.bad_lines == []


def test_ties_on_step_go_to_the_later_timestamp_then_higher_value():
    summary = summarize("100 0.9 1\n200 0.1 1\n200 0.2 1\n")
    assert (summary.latest_timestamp, summary.latest_value) == (200, 0.2)


def test_two_and_five_field_lines_count_as_step_zero():
    # MLflow reads the step only from 3-field run lines.
    summary = summarize("100 0.5\n50 0.7 0 train abc123\n")
    assert summary.bad_lines == []
    assert (summary.latest_step, summary.latest_value) == (0, 0.5)


@pytest.mark.parametrize("token", ["nan", "inf", "-inf"])
def test_special_values_are_valid(token):
    summary = summarize(f"100 {token} 0\n")
    assert summary.bad_lines == []
    assert math.isnan(summary.latest_value) or math.isinf(summary.latest_value)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("100 0.5 0\n100 0.5 0 extra\n", 2, "4 fields, expected 2 or 3 or 5"),
        ("abc 0.5 0\n", 1, "timestamp 'abc' is not an integer"),
        ("100 x 0\n", 1, "value 'x' is not a number"),
        ("100 0.5 1.5\n", 1, "step '1.5' is not an integer"),
        ("100 0.5 0\n\n", 2, "1 fields"),
        ("100 0.5 0\n100 0.6", 2, "torn last line"),
        ("", 1, "the file is empty"),
    ],
)
def test_bad_lines_are_reported_with_their_number(text, line, reason):
    (bad,) = summarize(text).bad_lines
    assert bad.line_number == line
    assert reason in bad.reason


def test_torn_duplicate_of_an_earlier_line_is_still_torn():
    (bad,) = summarize("100 0.5 0\n100 0.5 0").bad_lines
    assert "torn" in bad.reason


def test_non_utf8_bytes():
    summary = summarize_metric("m", "m", b"100 0.5 0\n\xff\xfe 1 0\n")
    (bad,) = summary.bad_lines
    assert (bad.line_number, bad.reason) == (2, "bytes that are not UTF-8")


def test_duplicates_are_counted():
    summary = summarize("100 0.5 0\n200 0.6 1\n100 0.5 0\n100 0.5 0\n")
    assert summary.duplicate_lines == 2
    assert summary.latest_value == 0.6


def test_logged_model_lines_carry_the_run_id():
    run = "a" * 32
    summary = summarize(f"100 0.5 3 {run}\n", logged_model=True)
    assert summary.bad_lines == []
    assert summary.latest_step == 3
    (bad,) = summarize("100 0.5 3\n", logged_model=True).bad_lines
    assert "expected 4 or 6" in bad.reason
