"""Read the files a repair plan needs, never through a symbolic link."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Protocol

from janitor.actions.safepath import UnsafePathError, inside


class Files(Protocol):
    """What the planner reads; tests can hand it a fake."""

    def read(self, relative: str) -> bytes: ...

    def find(self, folder: str, name: str) -> Iterator[str]: ...

    def size(self, relative: str) -> int: ...


class StoreFiles:
    def __init__(self, root: str) -> None:
        self.root = root

    def read(self, relative: str) -> bytes:
        """A regular file's bytes; OSError or UnsafePathError otherwise."""
        path = inside(self.root, relative)
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                raise OSError(f"{relative}: not a regular file")
            chunks = []
            while chunk := os.read(handle, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(handle)

    def find(self, folder: str, name: str) -> Iterator[str]:
        """Store paths of the regular files called `name` below a folder,
        in a stable order; links are not entered."""
        try:
            with os.scandir(inside(self.root, folder)) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except (OSError, UnsafePathError):
            return
        for entry in entries:
            path = f"{folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from self.find(path, name)
            elif entry.name == name and entry.is_file(follow_symlinks=False):
                yield path

    def size(self, relative: str) -> int:
        """Bytes of the regular files at or below a path; links count as
        themselves, never as what they point to."""
        try:
            info = os.lstat(inside(self.root, relative))
        except (OSError, UnsafePathError):
            return 0
        if not stat.S_ISDIR(info.st_mode):
            return info.st_size
        total = 0
        try:
            with os.scandir(os.path.join(self.root, relative)) as iterator:
                names = [entry.name for entry in iterator]
        except OSError:
            return 0
        for name in names:
            total += self.size(f"{relative}/{name}")
        return total
