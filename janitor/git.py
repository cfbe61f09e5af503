"""The few questions `janitor hook` asks git, through the git command.

Paths given to and returned by these functions are relative to the
work tree's top folder, with '/' separators. Pathspecs are literal, so
a '*' in a file name is only a '*'. Contents are read by blob id, which
spares git from loading the index again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from janitor.errors import JanitorError


class GitError(JanitorError):
    """A git command failed where it should not have."""


NO_BLOB = "0" * 40


@dataclass(frozen=True)
class Change:
    """One staged change: git's status letter (A, M, D, T...), the path,
    and the blob ids before (HEAD) and after (the index); `NO_BLOB` when
    there is none."""

    status: str
    path: str
    before: str = NO_BLOB
    after: str = NO_BLOB


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
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "-z",
        "--",
        *pathspecs,
    )
    # Records are ":<mode> <mode> <blob> <blob> <status>" NUL "<path>" NUL.
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    changes = []
    for record, path in zip(fields[0::2], fields[1::2], strict=False):
        if not record:
            continue
        _old_mode, _new_mode, before, after, status = record.split(" ")
        changes.append(Change(status[:1], path, before, after))
    return changes


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


def read_blobs(top: str, blobs: Iterable[str]) -> dict[str, bytes]:
    """The contents of blobs, by id; one git process for all. Ids that
    are `NO_BLOB`, missing or not blobs are left out."""
    wanted = [blob for blob in dict.fromkeys(blobs) if blob != NO_BLOB]
    if not wanted:
        return {}
    request = "".join(blob + "\n" for blob in wanted)
    raw = _checked(top, "cat-file", "--batch", stdin=request.encode())
    contents: dict[str, bytes] = {}
    position = 0
    for blob in wanted:
        end = raw.index(b"\n", position)
        header = raw[position:end].split(b" ")
        position = end + 1
        if len(header) != 3:  # "<id> missing"
            continue
        size = int(header[2])
        if header[1] == b"blob":
            contents[blob] = raw[position : position + size]
        position += size + 1
    return contents
