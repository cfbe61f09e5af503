"""Metric files validated without working out their latest value (what
audit and repair need) must say the same about lines and duplicates."""

from __future__ import annotations

import pytest

from janitor.store.metrics import summarize_metric

FILES = [
    b"1 0.5 0\n",
    b"1 0.5 0\n2 0.25 1\n1 0.5 0\n",
    b"1 0.5\n1 0.5 0\n1 0.5\n1 0.5\n",
    b"5 nan 3\n5 nan 3\n6 inf 4\n",
    b"1 0.5 0\ntorn",  # not well formed: the line parser is used
]


@pytest.mark.parametrize("raw", FILES)
def test_validation_alone_agrees_with_the_full_summary(raw):
    full = summarize_metric("m", "0/r/metrics/m", raw)
    quick = summarize_metric("m", "0/r/metrics/m", raw, latest=False)
    assert quick.line_count == full.line_count
    assert quick.duplicate_lines == full.duplicate_lines
    assert quick.bad_lines == full.bad_lines


def test_latest_value_only_when_asked_for():
    raw = b"1 0.5 0\n2 0.25 1\n"
    assert summarize_metric("m", "p", raw).latest_value == 0.25
    assert summarize_metric("m", "p", raw, latest=False).latest_value is None


def test_model_file_duplicates_counted_without_parsing():
    run_id = "a" * 32
    line = f"1 0.5 0 {run_id}\n".encode()
    quick = summarize_metric("m", "p", line * 3, True, latest=False)
    assert (quick.line_count, quick.duplicate_lines) == (3, 2)
