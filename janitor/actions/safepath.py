"""Resolve store-relative paths without ever leaving the store.

Every path the janitor moves or deletes goes through `inside`: no
absolute paths, no `..`, and no symbolic link on the way, so a link in
the store can never redirect an action outside it.
"""

from __future__ import annotations

import os
import stat

from janitor.errors import JanitorError


class UnsafePathError(JanitorError):
    """A path would lead outside the folder it must stay in."""


def inside(root: str, relative: str) -> str:
    """The absolute path of `relative` under `root`, checked."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(
            f"{relative}: not a plain path inside {root}; refusing to touch "
            "it",
        )
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
