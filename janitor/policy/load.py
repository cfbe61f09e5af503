"""Read a policy file, check it against the schema, build the Policy.

Checking finishes before anything is built: a policy with any problem
yields no Policy at all, and every problem is reported at once.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from typing import Any, TypeVar

import yaml
from yaml.nodes import Node

from janitor.errors import ConfigError
from janitor.policy.kinds import INVALID, Problem, Problems
from janitor.policy.model import (
    ExperimentOverride,
    KeepRules,
    Limits,
    Policy,
    PruneRules,
    Safety,
)
from janitor.policy.schema import POLICY

__all__ = ["PolicyError", "Problem", "load_policy", "validate_policy_text"]

Rules = TypeVar("Rules", KeepRules, PruneRules, Limits)


class PolicyError(ConfigError):
    """A policy file cannot be read or is invalid; one line per problem."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def load_policy(path: str) -> Policy:
    """The validated policy in the file at `path`; PolicyError if the
    file cannot be read or has any problem."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PolicyError(
            [
                Problem(
                    path,
                    None,
                    None,
                    f"cannot read the policy: {reason}",
                    "check the file name and its permissions",
                )
            ]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise PolicyError(
            [
                Problem(
                    path,
                    line,
                    column,
                    "the policy is not UTF-8 text",
                    "save the file as UTF-8",
                )
            ]
        ) from None
    policy, problems = validate_policy_text(
        text, path, sha256=hashlib.sha256(raw).hexdigest()
    )
    if policy is None:
        raise PolicyError(problems)
    return policy


def validate_policy_text(
    text: str, path: str, *, sha256: str | None = None
) -> tuple[Policy | None, list[Problem]]:
    """Check a policy's text; the Policy when it has no problem.

    `path` only names the file in problems and in the Policy; `sha256`
    defaults to the hash of the text encoded as UTF-8.
    """
    problems = Problems(path)
    root = _compose(text, problems)
    if root is None:
        return None, problems.items
    given = POLICY.check(root, "", problems)
    if given is INVALID:
        items = sorted(
            problems.items, key=lambda p: (p.line or 0, p.column or 0)
        )
        return None, items
    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _build(given, path, sha256), []


def _compose(text: str, problems: Problems) -> Node | None:
    """The YAML node tree, or None after recording why there is none."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        _syntax_problem(exc, problems)
        return None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        problems.at(
            before.count("\n") + 1,
            exc.position - before.rfind("\n"),
            f"a character YAML does not allow ({_code_point(exc.character)})",
            "remove it, or write it as an escape in a double-quoted string",
        )
        return None
    except yaml.YAMLError as exc:  # no mark to give: the start of the file
        problems.at(1, 1, f"invalid YAML: {exc}", "fix the YAML syntax")
        return None
    if root is None:
        problems.at(
            1,
            1,
            "the policy is empty",
            "write at least 'version: 1', or start from policies/default.yaml",
        )
    return root


def _syntax_problem(exc: yaml.MarkedYAMLError, problems: Problems) -> None:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = exc.problem or exc.context or "unreadable YAML"
    hint = "check the indentation, colons and quotes"
    if "'\\t'" in message:
        hint = "indent with spaces: YAML does not allow tabs there"
    elif "another document" in message:
        hint = "a policy is one YAML document: remove the second '---'"
    context = exc.context if exc.problem else None
    if context and exc.context_mark:
        at = (
            f"at line {exc.context_mark.line + 1}, "
            f"column {exc.context_mark.column + 1}"
        )
        # PyYAML's context is either "while parsing …" or the first half
        # of a sentence that its problem finishes.
        if context.startswith("while"):
            hint += f" ({context} {at})"
        else:
            message = f"{context} ({at}), {message}"
    problems.at(line, column, f"invalid YAML: {message}", hint)


def _code_point(character: Any) -> str:
    if isinstance(character, int):
        return f"U+{character:04X}"
    return repr(character)


def _build(given: dict[str, Any], path: str, sha256: str) -> Policy:
    keep = KeepRules(**given.pop("keep", {}))
    prune = PruneRules(**given.pop("prune", {}))
    limits = Limits(**given.pop("limits", {}))
    overrides = [
        ExperimentOverride(
            match=entry["match"],
            keep=_merged(keep, entry.get("keep", {})),
            prune=_merged(prune, entry.get("prune", {})),
            limits=_merged(limits, entry.get("limits", {})),
        )
        for entry in given.pop("experiments", [])
    ]
    return Policy(
        path=path,
        sha256=sha256,
        keep=keep,
        prune=prune,
        limits=limits,
        safety=Safety(**given.pop("safety", {})),
        experiments=overrides,
        **given,
    )


def _merged(base: Rules, given: dict[str, Any]) -> Rules:
    """`base` with the keys an override gives replaced whole."""
    return dataclasses.replace(copy.deepcopy(base), **given)
