"""One janitor at a time per store: an exclusive lock in the state dir.

The lock is an flock on a file; the kernel drops it when the process
dies, even under kill -9, so a crash never leaves a store locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from types import TracebackType

from janitor.errors import RefusedError


class StoreLock:
    def __init__(self, state_dir: str, store_root: str) -> None:
        digest = hashlib.sha256(store_root.encode()).hexdigest()[:16]
        self.path = os.path.join(state_dir, "locks", f"{digest}.lock")
        self.store_root = store_root
        self.handle: int | None = None

    def __enter__(self) -> StoreLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip()
            os.close(handle)
            raise RefusedError(
                f"{self.store_root}: another janitor is changing this store "
                f"(lock {self.path} held by pid {holder or '?'}); wait for "
                "it to finish",
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        self.handle = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None
