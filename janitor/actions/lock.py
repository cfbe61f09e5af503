"""One janitor at a time per store: an exclusive lock on the store.

The lock is an flock on the store folder itself, so every janitor sees
it whatever its --state-dir and whatever path led it to the store, and
the kernel drops it when the process dies, even under kill -9: a crash
never leaves a store locked. It stops other janitors, not MLflow.
"""

from __future__ import annotations

import fcntl
import os
from types import TracebackType

from janitor.errors import RefusedError, StoreError


class StoreLock:
    def __init__(self, store_root: str) -> None:
        self.store_root = store_root
        self.handle: int | None = None

    def __enter__(self) -> StoreLock:
        try:
            handle = os.open(self.store_root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StoreError(
                f"{self.store_root}: cannot open the store to lock it "
                f"({exc.strerror})",
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise RefusedError(
                f"{self.store_root}: another janitor is changing this store; "
                "wait for it to finish",
            ) from None
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
