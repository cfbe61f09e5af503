"""A fast reader for meta.yaml files in the flat form MLflow writes.

Almost every meta.yaml is a flat mapping, one ``key: value`` line per
key in sorted order, each value a null, a boolean, an integer, an empty
string, list or mapping, a quoted number or a plain one-line string.
For such a file `parse_canonical` returns what PyYAML loads, and the
file is canonical by construction: every accepted line is exactly what
PyYAML's dumper writes for that key and value (the tests hold both to
PyYAML). For anything else it returns None and the caller falls back to
PyYAML and the re-dump comparison.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from yaml.resolver import Resolver

KEY = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")
INTEGER = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
# A number kept as a string, such as an experiment id: the dumper must
# quote it, since bare it would load as an integer.
QUOTED_INTEGER = re.compile(r"'(?:0|[1-9][0-9]*)'\Z")
# A plain string: a safe first character, then characters the dumper
# never quotes; single spaces only between two other characters.
# Written as the ASCII it excludes: the same set as
# [A-Za-z0-9_./:@+=%~\-\u0080-\U0010ffff], compiled fifty times faster.
_PLAIN_CHAR = r"[^\x00-\x20\x7f!\"#$&'()*,;<>?\[\\\]^`{|}]"
PLAIN = re.compile(rf"[A-Za-z0-9_/](?:{_PLAIN_CHAR}| (?={_PLAIN_CHAR}))*\Z")
# The same for a token without a space (ids, locations): much faster.
PLAIN_WORD = re.compile(rf"[A-Za-z0-9_/]{_PLAIN_CHAR}*\Z")
# The dumper folds a plain string at a space past this column.
FOLD_COLUMN = 80

SHARED_LENGTH = 24
REMEMBERED = 4096

_KEYWORDS: dict[str, Any] = {"null": None, "true": True, "false": False}
_UNSURE = object()
# Tokens already read, and what they read as. Only immutable values:
# every file gets its own lists and mappings. Tokens with a space are
# left out, since whether one is canonical depends on the line length.
_GOOD_KEYS: dict[str, str] = {}
_SEEN_VALUES: dict[str, Any] = {}
# Whole lines already read, (key, value): most lines of a run's
# meta.yaml (stage, status, user, experiment id) repeat in every run.
_SEEN_LINES: dict[str, tuple[str, Any]] = {}
LINE_LENGTH = 64
_IMMUTABLE = (str, int, bool, type(None))


def parse_canonical(raw: bytes) -> dict[str, Any] | None:
    """The mapping of a flat, canonical meta.yaml; None if not sure."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\n"):
        return None
    data: dict[str, Any] = {}
    previous = ""
    for line in text[:-1].split("\n"):
        known = _SEEN_LINES.get(line)
        if known is not None:
            key, value = known
            if key <= previous:
                return None
            data[key] = value
            previous = key
            continue
        key, separator, token = line.partition(": ")
        if not separator or key <= previous:
            return None
        good = _GOOD_KEYS.get(key)
        if good is None:
            if not KEY.match(key) or not _loads_as_string(key):
                return None
            good = _remember(_GOOD_KEYS, key, sys.intern(key))
        value = _SEEN_VALUES.get(token, _UNSURE)
        if value is _UNSURE:
            value = _value(token, len(line))
            if value is _UNSURE:
                return None
            if " " not in token and isinstance(value, _IMMUTABLE):
                value = _remember(_SEEN_VALUES, token, value)
        if (
            token in _SEEN_VALUES
            and len(line) <= LINE_LENGTH
            and len(_SEEN_LINES) < REMEMBERED
        ):
            _SEEN_LINES[sys.intern(line)] = (good, value)
        data[good] = value
        previous = good
    return data


def _remember(seen: dict[str, Any], token: str, value: Any) -> Any:
    """Keep what a short token reads as, for the next file: runs repeat
    their keys and most of their values."""
    if len(token) <= SHARED_LENGTH and len(seen) < REMEMBERED:
        token = sys.intern(token)
        seen[token] = value
    return value


def _value(token: str, line_length: int) -> Any:
    if token in _KEYWORDS:
        return _KEYWORDS[token]
    if token == "''":
        return ""
    if token == "[]":
        return []
    if token == "{}":
        return {}
    if INTEGER.match(token):
        return int(token)
    if QUOTED_INTEGER.match(token):
        return _shared(token[1:-1])
    if _plain_string(token, line_length):
        return _shared(token)
    return _UNSURE


def _shared(text: str) -> str:
    """One copy of the short strings every run repeats (stage, user,
    experiment id), not one per file: a store of 100,000 runs holds
    a million of them."""
    return sys.intern(text) if len(text) <= SHARED_LENGTH else text


def _plain_string(token: str, line_length: int) -> bool:
    pattern = PLAIN if " " in token else PLAIN_WORD
    if not pattern.match(token) or ": " in token or token.endswith(":"):
        return False
    if " " in token and line_length > FOLD_COLUMN:
        return False
    if not token.isascii() and not token.isprintable():
        return False
    return _loads_as_string(token)


def _loads_as_string(token: str) -> bool:
    """Whether PyYAML reads this plain token as a string, not as a
    number, boolean, null or date (YAML 1.1 rules)."""
    for _tag, pattern in Resolver.yaml_implicit_resolvers.get(token[0], ()):
        if pattern.match(token):
            return False
    return True
