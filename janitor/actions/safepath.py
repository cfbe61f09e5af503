"""Resolve store-relative paths without ever leaving the store.

Every path the janitor moves or deletes goes through `inside`: no
absolute paths, no `..`, and no symbolic link on the way, so a link in
the store can never redirect an action outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

from janitor.errors import JanitorError


class UnsafePathError(JanitorError):
    """A path would lead outside the folder it must stay in."""


FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _parts(root: str, relative: str) -> list[str]:
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(
            f"{relative}: not a plain path inside {root}; refusing to touch "
            "it",
        )
    return parts


def inside(root: str, relative: str) -> str:
    """The absolute path of `relative` under `root`, checked."""
    parts = _parts(root, relative)
    path = root
    for part in parts:
        path = os.path.join(path, part)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return os.path.join(root, *parts)
        if stat.S_ISLNK(mode):
            raise UnsafePathError(
                f"{relative}: {path} is a symbolic link; the janitor never "
                "follows links, move it out of the store by hand",
            )
    return path


@contextlib.contextmanager
def parent_of(root: str, relative: str) -> Iterator[tuple[int, str]]:
    """The folder holding `relative` under `root`, open, and the last
    name: reached a folder at a time without following a link, so that
    an action taken through the descriptor (a rename, a removal) stays
    in the folder that was checked even if a path on the way is swapped
    for a link meanwhile. Raises FileNotFoundError when a folder on the
    way is missing."""
    parts = _parts(root, relative)
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, FOLDER, dir_fd=descriptor)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(
                    part, descriptor
                ):
                    raise UnsafePathError(
                        f"{relative}: {part} is a symbolic link; the janitor "
                        "never follows links, move it out of the store by "
                        "hand",
                    ) from None
                raise
            os.close(descriptor)
            descriptor = inner
        yield descriptor, parts[-1]
    finally:
        os.close(descriptor)


def exists_at(folder: int, name: str) -> bool:
    """Whether a name is in an open folder (a link counts, unfollowed)."""
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _is_link(name: str, folder: int) -> bool:
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISLNK(info.st_mode)
