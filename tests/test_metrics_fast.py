"""Whole-file metric validation gives what the line-by-line parser gives."""

from __future__ import annotations

import math
import random

import pytest

from janitor.store import metrics
from janitor.store.metrics import summarize_metric

RUN_ID = "a" * 32
TIMESTAMPS = ["100", "200", "-5", "007", "+3", "1e3", "x", ""]
VALUES = ["0.5", "1", "1.", "-2.5e-05", "3E+20", "nan", "inf", "-inf", "x"]
VALUES += ["NaN", "1_0", " 1", "0.9"]
STEPS = ["0", "1", "2", "-1", "1.5", "", "03"]


def _line(rng: random.Random, logged_model: bool) -> str:
    fields = [rng.choice(TIMESTAMPS), rng.choice(VALUES)]
    shape = rng.random()
    if logged_model or shape < 0.6:
        fields.append(rng.choice(STEPS))
    if logged_model:
        fields.append(RUN_ID if shape < 0.9 else "xyz")
    elif shape > 0.95:
        fields += ["train", "abc123"]
    return " ".join(fields)


def _same(left, right) -> bool:
    def key(summary):
        value = summary.latest_value
        nan = value is not None and math.isnan(value)
        return (
            summary.key,
            summary.path,
            summary.size,
            summary.line_count,
            "nan" if nan else value,
            summary.latest_step,
            summary.latest_timestamp,
            [(bad.line_number, bad.reason) for bad in summary.bad_lines],
            summary.duplicate_lines,
        )

    return key(left) == key(right)


@pytest.mark.parametrize("logged_model", [False, True])
def test_random_files_agree_with_the_line_parser(logged_model):
    rng = random.Random(11)
    for _ in range(4000):
        lines = [_line(rng, logged_model) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.3:
            lines.append(rng.choice(lines))  # a duplicate line
        text = "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")
        raw = text.encode()
        fast = summarize_metric("k", "p", raw, logged_model)
        slow = metrics._summarize_lines("k", "p", raw, logged_model)
        assert _same(fast, slow), text


def test_mlflow_lines_take_the_whole_file_path():
    raw = b"100 0.5 0\n200 0.7 1\n100 0.5 0\n"
    assert metrics.RUN_FILE.fullmatch(raw)
    summary = summarize_metric("k", "p", raw)
    assert (summary.latest_value, summary.duplicate_lines) == (0.7, 1)
    model = f"100 0.5 0 {RUN_ID}\n".encode()
    assert metrics.MODEL_FILE.fullmatch(model)
    assert not metrics.RUN_FILE.fullmatch(model)
