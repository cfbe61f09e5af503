"""The few questions `janitor hook` asks git, through the git command.

Paths given to and returned by these functions are relative to the
work tree's top folder, with '/' separators. Pathspecs are literal, so
a '*' in a file name is only a '*'.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from janitor.errors import JanitorError


class GitError(JanitorError):
    """A git command failed where it should not have."""


@dataclass(frozen=True)
class Change:
    """One staged change: git's status letter (A, M, D, T...) and path."""

    status: str
    path: str


def _git(
    top: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "--literal-pathspecs", *args],
        cwd=top,
        input=stdin,
        capture_output=True,
    )


def _checked(top: str, *args: str, stdin: bytes | None = None) -> bytes:
    result = _git(top, *args, stdin=stdin)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(
            f"`git {args[0]}` failed in {top}: {detail}; check that the "
            "repository is not damaged",
        )
    return result.stdout


def work_tree_top(folder: str) -> str | None:
    """The top folder of the git work tree holding ``folder``, or None
    outside one (or without git)."""
    try:
        result = _git(folder, "rev-parse", "--show-toplevel")
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def staged_changes(top: str, pathspecs: Iterable[str]) -> list[Change]:
    """What the index changes against HEAD (against nothing before the
    first commit), renames split into a deletion and an addition."""
    raw = _checked(
        top,
        "diff",
        "--cached",
        "--name-status",
        "--no-renames",
        "-z",
        "--",
        *pathspecs,
    )
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    return [
        Change(status[:1], path)
        for status, path in zip(fields[0::2], fields[1::2], strict=False)
        if status
    ]


def folders_in_index(top: str, folders: Iterable[str]) -> set[str]:
    """Those of ``folders`` that still hold a file in the index."""
    wanted = sorted(set(folders))
    if not wanted:
        return set()
    raw = _checked(top, "ls-files", "-z", "--", *wanted)
    kept = set()
    for path in raw.decode("utf-8", "surrogateescape").split("\0"):
        folder = path
        while "/" in folder:
            folder = folder.rsplit("/", 1)[0]
            kept.add(folder)
    return kept & set(wanted)


def read_blobs(top: str, specs: Iterable[str]) -> dict[str, bytes | None]:
    """The contents of ``HEAD:<path>`` or ``:<path>`` (the index) specs,
    None for those that do not exist; one git process for all."""
    wanted = [spec for spec in dict.fromkeys(specs) if "\n" not in spec]
    if not wanted:
        return {}
    request = "".join(spec + "\n" for spec in wanted)
    raw = _checked(
        top,
        "cat-file",
        "--batch",
        stdin=request.encode("utf-8", "surrogateescape"),
    )
    blobs: dict[str, bytes | None] = {}
    position = 0
    for spec in wanted:
        end = raw.index(b"\n", position)
        header = raw[position:end]
        position = end + 1
        if header.endswith((b" missing", b" ambiguous")):
            blobs[spec] = None
            continue
        _name, kind, size = header.split(b" ")
        content = raw[position : position + int(size)]
        position += int(size) + 1
        blobs[spec] = content if kind == b"blob" else None
    return blobs
