"""The fast meta.yaml reader agrees with PyYAML, or steps aside.

Whenever `parse_canonical` accepts a file, PyYAML must load the same
mapping from it and dump that mapping back to the very same text; when
it is not sure, it returns None and PyYAML decides.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from janitor.store.fastmeta import parse_canonical
from janitor.store.metayaml import FastLoader, dump_canonical, parse_meta
from tests.conftest import MLFLOW2_STORE, REPO

TRICKY = [
    "",
    "0",
    "00",
    "-0",
    "089",
    "0x1F",
    "1_000",
    "12:30",
    "1.5",
    "1e5",
    ".inf",
    ".nan",
    "2026-01-01",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "null",
    "Null",
    "~",
    "true",
    "=",
    "<<",
    "-",
    "- x",
    "a: b",
    "a:",
    "a #b",
    "a#b",
    "#a",
    "@a",
    "%a",
    "'a'",
    '"a"',
    "a, b",
    "[a]",
    "{a}",
    "a  b",
    " a",
    "a ",
    "a\tb",
    "a\nb",
    "crédit scoring ☃",
    "élan",
    "a\u00a0b",
    "a\u2028b",
    "a\ufeffb",
    "file:///tmp/mlruns/1/abc/artifacts",
    "file:///tmp/my runs/1",
    "word " * 30,
    "x" * 200,
    "lgbm_final",
    "run-12",
    "m-0bbdcd7607fa447e8a92745a47c91b65",
    "14010eb581eb4dfc96c9bc38bc2ec5bc",
    "1234567890123456789e1",
    "a?b",
    "a:b",
    "/abs/path",
    "root",
]
VALUES = [*TRICKY, None, True, False, 0, 7, -3, 10**20, 1.5, [], {}, ["a"]]
KEYS = ["artifact_uri", "name", "on", "yes", "null", "a", "x_1", "Name"]


def holds(raw: bytes) -> bool:
    """The contract: accepted means PyYAML loads it and dumps it back
    unchanged."""
    data = parse_canonical(raw)
    if data is None:
        return True
    text = raw.decode("utf-8")
    loaded = yaml.load(text, Loader=FastLoader)
    return loaded == data and dump_canonical(loaded) == text


def _metas(root: Path) -> list[Path]:
    return sorted(root.rglob("meta.yaml"))


def test_real_stores(rich_store):
    stores = [rich_store, REPO / "examples" / "mlruns", MLFLOW2_STORE]
    accepted = 0
    for store in stores:
        for meta in _metas(store):
            raw = meta.read_bytes()
            assert holds(raw), meta
            accepted += parse_canonical(raw) is not None
    # Only registered models with aliases need PyYAML.
    assert accepted >= 40


@pytest.mark.parametrize("value", VALUES)
def test_one_value_as_mlflow_dumps_it(value):
    data = {"key": value, "name": "x"}
    raw = dump_canonical(data).encode()
    assert holds(raw)


def test_common_forms_take_the_fast_path():
    data = {
        "artifact_uri": "file:///tmp/mlruns/1/abc/artifacts",
        "end_time": 1796397907865,
        "entry_point_name": "",
        "experiment_id": "419912389571520696",
        "lifecycle_stage": "active",
        "model_type": None,
        "run_name": "lgbm final",
        "tags": [],
        "workspace": "default",
        "z": {},
    }
    assert parse_canonical(dump_canonical(data).encode()) == data


def test_random_mappings_and_hand_edits():
    rng = random.Random(5)
    edits = [
        lambda text: text.replace(": ", ":  ", 1),
        lambda text: text.replace("'", '"'),
        lambda text: "# note\n" + text,
        lambda text: text.replace("\n", "\r\n"),
        lambda text: text.rstrip("\n"),
        lambda text: text + "\n",
        lambda text: "\n".join(reversed(text.splitlines())) + "\n",
        lambda text: text.replace("\n", " \n", 1),
        lambda text: "\ufeff" + text,
        lambda text: text,
    ]
    for _ in range(3000):
        keys = rng.sample(KEYS, rng.randint(1, 4))
        data = {key: rng.choice(VALUES) for key in keys}
        text = rng.choice(edits)(dump_canonical(data))
        assert holds(text.encode()), text


def test_meta_from_the_fast_path_is_the_same_meta():
    data = {"experiment_id": "0", "name": "Default", "tags": []}
    raw = dump_canonical(data).encode()
    meta = parse_meta("0", raw)
    assert (meta.data, meta.canonical, meta.problem) == (data, True, None)
    edited = raw.replace(b"Default", b"'Default'")
    assert not parse_meta("0", edited).canonical


def test_fields_behave_as_the_mapping_they_hold():
    import copy
    import pickle

    from janitor.store.model import Fields

    data = {"run_id": "ab" * 16, "status": 3, "tags": [], "user_id": "u"}
    fields = Fields(data)
    assert fields == data and dict(fields) == data
    assert list(fields) == list(data) and len(fields) == 4
    assert fields["status"] == 3 and fields.get("missing", 7) == 7
    for again in (pickle.loads(pickle.dumps(fields)), copy.deepcopy(fields)):
        assert again == data
    other = Fields(dict(data, status=4))
    assert other._positions is fields._positions  # one copy per key set

    folder = "".join(["ab"] * 16)  # equal to the id, another object
    shared = fields.sharing(folder)
    assert shared == data and shared["run_id"] is folder


def test_plain_characters_are_the_unquoted_ascii_and_all_the_rest():
    # The class is written as the ASCII it leaves out; it must hold
    # exactly the ASCII the dumper writes unquoted, and every character
    # past ASCII.
    from janitor.store import fastmeta

    unquoted = set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789_./:@+=%~-"
    )
    plain = re.compile(fastmeta._PLAIN_CHAR)
    wrong = [
        code
        for code in range(0x110000)
        if bool(plain.fullmatch(chr(code)))
        != (code >= 0x80 or chr(code) in unquoted)
    ]
    assert wrong == []
