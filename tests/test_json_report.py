"""JSON reports are written a piece at a time, as json.dump would."""

from __future__ import annotations

import json

import pytest

from janitor.report import json_report


@pytest.mark.parametrize("count", [0, 1, 3])
def test_rows_are_written_as_the_list_they_stand_for(capsys, count):
    items = [
        {"run_id": f"r{i}", "reasons": ["keep.tags", "é"], "bytes": i}
        for i in range(count)
    ]
    made = []

    def make():
        for item in items:
            made.append(item["run_id"])
            yield item

    document = {
        "store": "/s",
        "runs": json_report.Rows(make, len(items)),
        "findings": [{"code": "x", "nested": {"a": [1, 2]}}],
        "empty": {},
    }
    json_report.write(document)
    written = capsys.readouterr().out
    expected = dict(document, runs=items)
    assert written == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert made == [item["run_id"] for item in items]  # made once, lazily
