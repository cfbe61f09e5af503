"""The kinds of value a policy holds, and how each checks a YAML node.

Every check walks the node tree from `yaml.compose`, so each problem
carries the line and column where the user wrote the value. A check
returns the value it accepted, or `INVALID` after recording why not; it
never stops at the first problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from janitor.units import parse_duration, parse_size

NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file, and where (1-based)."""

    path: str
    line: int | None
    column: int | None
    message: str
    hint: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.message}; {self.hint}"


class Problems:
    """The problems found so far in one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Problem] = []

    def add(self, node: Node, message: str, hint: str) -> None:
        mark = node.start_mark
        self.items.append(
            Problem(self.path, mark.line + 1, mark.column + 1, message, hint)
        )

    def at(self, line: int, column: int, message: str, hint: str) -> None:
        self.items.append(Problem(self.path, line, column, message, hint))


class Mismatch(Exception):
    """A value of the wrong type, or out of range; `hint` says why."""

    def __init__(self, hint: str | None = None) -> None:
        super().__init__(hint)
        self.hint = hint


@dataclass(frozen=True, kw_only=True)
class Kind:
    """What a value may be. `nullable`: an empty value means "not set"."""

    hint: str = ""
    nullable: bool = False
    node_type: type[Node] = field(default=ScalarNode, init=False)

    @property
    def expects(self) -> str:
        raise NotImplementedError

    def check(self, node: Node, where: str, problems: Problems) -> Any:
        if self.nullable and _is_null(node):
            return self.empty()
        if not isinstance(node, self.node_type):
            self.mismatch(node, where, problems, self.hint)
            return INVALID
        found = len(problems.items)
        value = self.walk(node, where, problems)
        if len(problems.items) > found:
            return INVALID
        return self.finish(value)

    def mismatch(
        self, node: Node, where: str, problems: Problems, hint: str | None
    ) -> None:
        problems.add(
            node,
            f"{_subject(where)} must be {self.expects}, not {_shown(node)}",
            hint or self.hint,
        )

    def empty(self) -> Any:
        return None

    def finish(self, value: Any) -> Any:
        """The value to return once its node showed no problem."""
        return value

    def walk(self, node: Any, where: str, problems: Problems) -> Any:
        """A scalar: build the YAML value, then convert it."""
        try:
            value = SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError):
            problems.add(
                node,
                f"{_subject(where)} has a value YAML cannot read ({node.tag})",
                "remove the tag or quote the value",
            )
            return INVALID
        try:
            return self.convert(value, node)
        except Mismatch as exc:
            self.mismatch(node, where, problems, exc.hint)
            return INVALID

    def convert(self, value: Any, node: ScalarNode) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Bool(Kind):
    hint: str = "write true or false, without quotes"

    @property
    def expects(self) -> str:
        return "true or false"

    def convert(self, value: Any, node: ScalarNode) -> bool:
        if not isinstance(value, bool):
            raise Mismatch
        return value


@dataclass(frozen=True, kw_only=True)
class Int(Kind):
    minimum: int = 0
    hint: str = "write a whole number, without quotes"

    @property
    def expects(self) -> str:
        return f"a whole number {self.minimum} or more"

    def convert(self, value: Any, node: ScalarNode) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Mismatch
        if value < self.minimum:
            raise Mismatch
        return value


@dataclass(frozen=True, kw_only=True)
class Number(Kind):
    minimum: float = 0
    maximum: float = 100
    hint: str = "write a number, without quotes"

    @property
    def expects(self) -> str:
        return f"a number from {self.minimum:g} to {self.maximum:g}"

    def convert(self, value: Any, node: ScalarNode) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Mismatch
        if not self.minimum <= value <= self.maximum:
            raise Mismatch
        return float(value)


@dataclass(frozen=True, kw_only=True)
class Const(Kind):
    value: int

    @property
    def expects(self) -> str:
        return str(self.value)

    def convert(self, value: Any, node: ScalarNode) -> int:
        if type(value) is not type(self.value) or value != self.value:
            raise Mismatch
        return self.value


@dataclass(frozen=True, kw_only=True)
class Text(Kind):
    @property
    def expects(self) -> str:
        return "a non-empty text"

    def convert(self, value: Any, node: ScalarNode) -> str:
        if not isinstance(value, str) or not value.strip():
            raise Mismatch
        return value


@dataclass(frozen=True, kw_only=True)
class Choice(Kind):
    """One word of `values`; with `fold_case`, in any case, and the
    result is the spelling in `values`."""

    values: tuple[str, ...]
    fold_case: bool = False

    @property
    def expects(self) -> str:
        if len(self.values) == 2:
            return " or ".join(self.values)
        return "one of " + ", ".join(self.values)

    def convert(self, value: Any, node: ScalarNode) -> str:
        if not isinstance(value, str):
            raise Mismatch
        for known in self.values:
            if value == known or (
                self.fold_case and value.lower() == known.lower()
            ):
                return known
        raise Mismatch(did_you_mean(value, self.values))


@dataclass(frozen=True, kw_only=True)
class Duration(Kind):
    @property
    def expects(self) -> str:
        return "a duration such as 14d"

    def convert(self, value: Any, node: ScalarNode) -> float:
        try:
            return parse_duration(node.value)
        except ValueError as exc:
            raise Mismatch(_units_hint(exc)) from None


@dataclass(frozen=True, kw_only=True)
class Size(Kind):
    @property
    def expects(self) -> str:
        return "a size such as 200MB"

    def convert(self, value: Any, node: ScalarNode) -> int:
        try:
            return parse_size(value if isinstance(value, int) else node.value)
        except ValueError as exc:
            raise Mismatch(_units_hint(exc)) from None


@dataclass(frozen=True, kw_only=True)
class ListOf(Kind):
    item: Kind
    unique: bool = False
    hint: str = "write one '- item' per line, or [a, b] on one line"
    node_type: type[Node] = field(default=SequenceNode, init=False)

    @property
    def expects(self) -> str:
        return "a list"

    def empty(self) -> list[Any]:
        return []

    def walk(self, node: Any, where: str, problems: Problems) -> Any:
        return [
            self.item.check(child, f"{where}[{index}]", problems)
            for index, child in enumerate(node.value)
        ]

    def finish(self, value: Any) -> Any:
        return list(dict.fromkeys(value)) if self.unique else value


@dataclass(frozen=True, kw_only=True)
class TextMap(Kind):
    """Names to values, both compared as the text the user wrote."""

    hint: str = "write one 'name: value' per line"
    node_type: type[Node] = field(default=MappingNode, init=False)

    @property
    def expects(self) -> str:
        return "a mapping of names to values"

    def empty(self) -> dict[str, str]:
        return {}

    def walk(self, node: Any, where: str, problems: Problems) -> Any:
        values = {}
        for key, _, value_node in _pairs(node, where, problems):
            if isinstance(value_node, ScalarNode) and not _is_null(value_node):
                values[key] = value_node.value
                continue
            problems.add(
                value_node,
                f"{where}[{key!r}] must be a text value, "
                f"not {_shown(value_node)}",
                "write the value to match, e.g. 'true'",
            )
        return values


@dataclass(frozen=True, kw_only=True)
class Section(Kind):
    """A mapping of known keys. `required` maps a key that must be given
    to the hint shown when it is missing; `build` turns the keys given
    into the model's object."""

    fields: dict[str, Kind]
    required: dict[str, str] = field(default_factory=dict)
    build: Callable[..., Any] | None = None
    hint: str = "indent its keys under it, one 'key: value' per line"
    node_type: type[Node] = field(default=MappingNode, init=False)

    @property
    def expects(self) -> str:
        return "a mapping of keys"

    def empty(self) -> dict[str, Any]:
        return {}

    def walk(self, node: Any, where: str, problems: Problems) -> Any:
        given: dict[str, Any] = {}
        for key, key_node, value_node in _pairs(node, where, problems):
            kind = self.fields.get(key)
            if kind is None:
                problems.add(
                    key_node,
                    f"unknown key {key!r} in {_place(where)}",
                    did_you_mean(key, self.fields)
                    or "known keys: " + ", ".join(self.fields),
                )
                continue
            given[key] = kind.check(value_node, _join(where, key), problems)
        for key, hint in self.required.items():
            if key not in given:
                problems.add(node, f"{_subject(where)} has no {key!r}", hint)
        return given

    def finish(self, value: Any) -> Any:
        return self.build(**value) if self.build else value


def _pairs(
    node: MappingNode, where: str, problems: Problems
) -> Iterator[tuple[str, Node, Node]]:
    """The keys of a mapping, in order, with a problem for each key YAML
    would accept but a policy must not have."""
    first_seen: dict[str, Node] = {}
    for key_node, value_node in node.value:
        if key_node.tag == MERGE_TAG:
            problems.add(
                key_node,
                f"a merge key (<<) in {_place(where)}",
                "write the keys out: merge keys are not supported in a "
                "policy, and experiment overrides inherit anyway",
            )
            continue
        if not isinstance(key_node, ScalarNode) or _is_null(key_node):
            problems.add(
                key_node,
                f"a key in {_place(where)} is not a name",
                "write keys as plain words",
            )
            continue
        key = key_node.value
        if key in first_seen:
            line = first_seen[key].start_mark.line + 1
            problems.add(
                key_node,
                f"duplicate key {key!r} in {_place(where)} "
                f"(first at line {line})",
                "merge the two into one: YAML keeps only the last",
            )
        first_seen.setdefault(key, key_node)
        yield key, key_node, value_node


def did_you_mean(word: str, choices: Any) -> str | None:
    """A hint naming the choice closest to `word`, ignoring case."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), by_lower, n=1)
    return f"did you mean {by_lower[close[0]]!r}?" if close else None


def _units_hint(exc: ValueError) -> str:
    # janitor.units says "bad duration '…': <what to write>".
    return str(exc).partition(": ")[2] or str(exc)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG


def _shown(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node):
        return "empty"
    return repr(node.value) if node.tag == STR_TAG else str(node.value)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _subject(where: str) -> str:
    return where or "the policy"


def _place(where: str) -> str:
    return where or "the top level"
