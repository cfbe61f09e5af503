"""The pure parts of repair: rebasing recorded paths, cleaning metric
lines, and the `--rebase` values."""

from __future__ import annotations

import pytest
import yaml

from janitor.repair.metrics import clean_metric
from janitor.repair.rebase import (
    Rebase,
    former_home,
    parse_pair,
    parse_request,
    rebase_location,
    rebase_mlmodel,
)

MOVE = [Rebase("/home/ana/my runs/mlruns", "/srv/été/mlruns")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "file:///home/ana/my%20runs/mlruns/1/abc/artifacts",
            "file:///srv/%C3%A9t%C3%A9/mlruns/1/abc/artifacts",
        ),
        ("/home/ana/my runs/mlruns/1", "/srv/été/mlruns/1"),
        (
            "file:///home/ana/my%20runs/mlruns",
            "file:///srv/%C3%A9t%C3%A9/mlruns",
        ),
        ("file:///home/ana/my%20runs/mlruns2/1", None),
        ("s3://bucket/home/ana/my runs/mlruns/1", None),
        ("models:/m-0123", None),
        ("runs:/abc/model", None),
    ],
)
def test_rebase_location_keeps_the_form(value, expected):
    assert rebase_location(value, MOVE) == expected


def test_rebase_location_keeps_the_tail_as_spelled():
    rebase = [Rebase("/old", "/new")]
    assert (
        rebase_location("file:///old/1/a%7Eb", rebase) == "file:///new/1/a%7Eb"
    )


def test_parse_request():
    assert parse_request([]).auto is True
    request = parse_request(["/a=/b"])
    assert (request.auto, request.pairs) == (False, (Rebase("/a", "/b"),))
    assert parse_request(["auto", "file:///a/=/b/"]).pairs == (
        Rebase("/a", "/b"),
    )


def test_a_path_may_hold_an_equals_sign():
    assert parse_pair("/data/x=1/mlruns=/srv/mlruns") == Rebase(
        "/data/x=1/mlruns", "/srv/mlruns"
    )


@pytest.mark.parametrize("value", ["/a", "a=/b", "/a=b", "/a=/a", "/a=/b=/c"])
def test_bad_pairs(value):
    with pytest.raises(ValueError):
        parse_pair(value)


def test_clean_metric_keeps_first_of_each_line_and_drops_bad_ones():
    raw = b"1 0.5 0\n2 0.6 1\n1 0.5 0\nx 0.1 2\n\xff\xfe\n3 0.7 2\n4 0.8"
    cleaned = clean_metric(raw)
    assert cleaned.content() == b"1 0.5 0\n2 0.6 1\n3 0.7 2\n"
    assert cleaned.duplicates == [3]
    assert [number for number, _ in cleaned.bad] == [4, 5, 7]
    assert "torn last line" in cleaned.bad[-1][1]


def test_clean_metric_of_a_logged_model_wants_its_run_id():
    cleaned = clean_metric(b"1 0.5 0 abc\n1 0.5 0\n", logged_model=True)
    assert cleaned.kept == [b"1 0.5 0 abc"]
    assert [number for number, _ in cleaned.bad] == [2]


def test_clean_metric_of_a_good_file_changes_nothing():
    assert not clean_metric(b"1 0.5 0\n1 0.5 1\n").changed


MLMODEL = """\
artifact_path: file:///old/1/models/m-1/artifacts
flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_model: python_model.pkl
model_id: m-1
signature:
  inputs: '[{"type": "double", "required": true}]'
"""


def test_mlmodel_changes_only_the_rebased_value():
    rebased = rebase_mlmodel(MLMODEL.encode(), [Rebase("/old", "/new")])
    assert rebased == MLMODEL.replace("/old/", "/new/").encode()
    assert rebase_mlmodel(MLMODEL.encode(), [Rebase("/x", "/y")]) is None


def test_mlmodel_written_again_when_a_value_needs_quotes():
    plain = MLMODEL.replace("file:///old", "/old")
    rebased = rebase_mlmodel(plain.encode(), [Rebase("/old", "/new: x")])
    assert rebased is not None
    data = yaml.safe_load(rebased)
    assert data["artifact_path"] == "/new: x/1/models/m-1/artifacts"
    assert data["signature"] == yaml.safe_load(MLMODEL)["signature"]


def test_former_home(tmp_path):
    assert former_home(str(tmp_path / "gone"), ["1"])
    (tmp_path / "art" / "1").mkdir(parents=True)
    assert not former_home(str(tmp_path / "art"), ["1"])
    (tmp_path / "art" / "1" / "meta.yaml").write_text("name: x\n")
    assert former_home(str(tmp_path / "art"), ["1"])
