"""JSON reports are written a piece at a time, as json.dump would."""

from __future__ import annotations

import json

import pytest

from janitor.report import json_report

ODD = [
    {},
    {"value": 0.5, "nan": float("nan")},
    {"nested": {"a": [1, [2]]}},
    {"tuple": ("a", None), "flag": False, "none": None},
    ["a", 1],
    "text",
]


@pytest.mark.parametrize("count", [0, 1, 3, 10])
def test_rows_are_written_as_the_list_they_stand_for(capsys, count):
    items = [
        {
            "run_id": f'r{i}\n\t"é\u2028',
            "reasons": ("keep.tags", "é") if i % 2 else [],
            "bytes": i * 10**20,
            "kept": bool(i % 3),
            "protected": None,
        }
        for i in range(count)
    ] + ODD[: max(0, count - 4)]
    made = []

    def make():
        for item in items:
            made.append(item)
            yield item

    document = {
        "store": "/s",
        "runs": json_report.Rows(make),
        "findings": [{"code": "x", "nested": {"a": [1, 2]}}],
        "empty": {},
    }
    json_report.write(document)
    written = capsys.readouterr().out
    expected = dict(document, runs=items)
    # Tuples are written as lists, as the encoder does.
    assert written == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert made == items  # each made once


def test_an_empty_document(capsys):
    json_report.write({})
    assert capsys.readouterr().out == "{}\n"
