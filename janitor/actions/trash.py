"""The janitor's trash: pruned runs are moved here, not deleted.

Layout, in the state dir (outside the store: MLflow reads every folder
of the store root as an experiment)::

    <state-dir>/trash/<prune id>/manifest.json
    <state-dir>/trash/<prune id>/store/<the item's path in the store>

A batch's manifest lists every item before the first one moves, so a
batch cut short by a crash can be finished (`resume`) or undone
(`restore`). Moves are renames on one filesystem: each item is either in
the store or in the trash, never half in each.

Repair also rewrites files in place (kind ``replaced-file``): the
original is linked (or copied) into the batch first, then the new
content replaces it with one atomic rename, so restoring puts the
original bytes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from janitor.actions.auditlog import AuditLog
from janitor.actions.safepath import exists_at, inside, parent_of
from janitor.errors import ConfigError, JanitorError

IN_PROGRESS = "in-progress"
COMPLETE = "complete"
MANIFEST = "manifest.json"
REPLACED = "replaced-file"
CREATED = "created-folder"
GITIGNORE = (
    "# janitor state: keep the audit log, not the trash\ntrash/\nlocks/\n"
)


def new_batch_id(now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(3)}"


def default_state_dir(store_root: str) -> str:
    return os.path.join(
        os.path.dirname(os.path.abspath(store_root)), ".janitor"
    )


@dataclass
class Item:
    path: str  # relative to the store root
    kind: str  # run | logged-model | artifact | file | folder | REPLACED
    bytes: int = 0
    experiment_id: str | None = None
    run_id: str | None = None
    rule: str = ""
    detail: str = ""
    # For a replaced file: the sha256 of what repair wrote, so a restore
    # never overwrites what was written after it.
    written_sha256: str | None = None


@dataclass
class Batch:
    prune_id: str
    store: str
    kind: str  # prune | repair
    created: float
    items: list[Item] = field(default_factory=list)
    state: str = IN_PROGRESS
    policy: str | None = None

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.items)


class Trash:
    def __init__(self, state_dir: str) -> None:
        self.state_dir = os.path.abspath(state_dir)
        self.root = os.path.join(self.state_dir, "trash")

    def audit_log_path(self) -> str:
        return os.path.join(self.state_dir, "audit.jsonl")

    def prepare(self, store_root: str) -> None:
        """Create the state dir, after refusing any place where a move
        would not be one atomic rename, or would land in a store."""
        self.refuse_inside(store_root)
        self._refuse_links()
        existing = self.state_dir
        while not os.path.lexists(existing):
            existing = os.path.dirname(existing)
        try:
            same_disk = os.stat(existing).st_dev == os.stat(store_root).st_dev
        except OSError as exc:
            raise ConfigError(f"{existing}: {exc.strerror}") from None
        if not same_disk:
            raise ConfigError(
                f"{self.state_dir}: the state dir is on another filesystem "
                f"than the store {store_root}; pass --state-dir on the "
                "store's filesystem so moves are atomic",
            )
        try:
            os.makedirs(self.root, exist_ok=True)
            self._write_gitignore()
        except OSError as exc:
            raise ConfigError(
                f"{self.state_dir}: cannot make the state dir here "
                f"({exc.strerror}); pass --state-dir",
            ) from None

    def _refuse_links(self) -> None:
        """The state dir may come from a cloned repository: a link there
        would send the janitor's writes anywhere."""
        for path in (
            self.state_dir,
            self.root,
            self.audit_log_path(),
            os.path.join(self.state_dir, ".gitignore"),
        ):
            if os.path.islink(path):
                raise ConfigError(
                    f"{path} is a symbolic link; the janitor writes only "
                    "to real folders: remove the link or pass --state-dir",
                )

    def _write_gitignore(self) -> None:
        path = os.path.join(self.state_dir, ".gitignore")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            handle = os.open(path, flags, 0o644)
        except FileExistsError:
            return
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(GITIGNORE)

    def refuse_inside(self, store_root: str) -> None:
        """Refuse a state dir inside the store, or a store inside the state
        dir, before anything is made."""
        store = os.path.realpath(store_root)
        state = os.path.realpath(self.state_dir)
        if state == store or state.startswith(store + os.sep):
            raise ConfigError(
                f"{self.state_dir}: the state dir is inside the store, where "
                "MLflow would read it as an experiment; pass --state-dir "
                "outside the store",
            )
        if store.startswith(state + os.sep):
            raise ConfigError(
                f"{self.state_dir}: the store {store_root} is inside this "
                "state dir; pass --state-dir beside the store, not above it",
            )

    # -- batches ---------------------------------------------------------

    def batch_dir(self, prune_id: str) -> str:
        return inside(self.root, prune_id.rstrip("/"))

    def save(self, batch: Batch) -> None:
        folder = self.batch_dir(batch.prune_id)
        os.makedirs(folder, exist_ok=True)
        data = asdict(batch)
        temporary = os.path.join(folder, MANIFEST + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                # ASCII with escapes: a file name need not be valid UTF-8,
                # and its escaped form reads back as the same name.
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, os.path.join(folder, MANIFEST))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def load(self, prune_id: str) -> Batch:
        path = os.path.join(self.batch_dir(prune_id), MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                data: dict[str, Any] = json.load(handle)
        except FileNotFoundError:
            raise JanitorError(
                f"{prune_id}: no such prune in {self.root}; see "
                "`janitor trash list` (and --state-dir)",
            ) from None
        except (OSError, ValueError) as exc:
            raise JanitorError(
                f"{path}: unreadable manifest ({exc})"
            ) from None
        try:
            items = [Item(**item) for item in data.pop("items")]
            batch = Batch(items=items, **data)
        except (AttributeError, KeyError, TypeError) as exc:
            raise JanitorError(
                f"{path}: not a manifest the janitor wrote ({exc})"
            ) from None
        if not isinstance(batch.store, str) or not batch.store:
            raise JanitorError(f"{path}: the manifest names no store")
        return batch

    def batches(self, store: str | None = None) -> Iterator[Batch]:
        """The readable batches, those of one store when it is given;
        anything else in the trash folder is passed over."""
        try:
            names = sorted(os.listdir(self.root))
        except OSError:
            return
        wanted = os.path.realpath(store) if store else None
        for name in names:
            try:
                batch = self.load(name)
            except JanitorError:
                continue
            if wanted is None or os.path.realpath(batch.store) == wanted:
                yield batch

    # -- moving ----------------------------------------------------------

    def trash_path(self, batch: Batch, item: Item) -> str:
        return inside(self._batch_store(batch), item.path)

    def move_out(self, batch: Batch, item: Item) -> bool:
        """Move an item from the store into the batch; False when it was
        already there (a resumed batch)."""
        inside(batch.store, item.path)  # a plain path, no link on the way
        target = self.trash_path(batch, item)
        try:
            with parent_of(batch.store, item.path) as (folder, name):
                if not exists_at(folder, name) and os.path.lexists(target):
                    return False
                os.makedirs(os.path.dirname(target), exist_ok=True)
                # Through the descriptors: a folder of the path swapped
                # for a link since the check is not followed.
                with parent_of(self._batch_store(batch), item.path) as (
                    into,
                    target_name,
                ):
                    os.rename(
                        name, target_name, src_dir_fd=folder, dst_dir_fd=into
                    )
        except FileNotFoundError:
            if os.path.lexists(target):
                return False  # moved already (a resumed batch)
            raise
        return True

    def _batch_store(self, batch: Batch) -> str:
        return os.path.join(self.batch_dir(batch.prune_id), "store")

    def replace(self, batch: Batch, item: Item, content: bytes) -> bool:
        """Keep a store file's original in the batch, then give the file
        new content atomically; False when the original was already kept
        (the file is then left alone)."""
        target = inside(batch.store, item.path)
        original = self.trash_path(batch, item)
        if os.path.lexists(original):
            return False
        mode = os.lstat(target).st_mode
        if not stat.S_ISREG(mode):
            raise JanitorError(
                f"{item.path}: not a regular file any more; run the "
                "repair again",
            )
        os.makedirs(os.path.dirname(original), exist_ok=True)
        try:
            os.link(target, original, follow_symlinks=False)
        except OSError:
            shutil.copy2(target, original, follow_symlinks=False)
        _write_atomically(
            target, content, stat.S_IMODE(mode), self.batch_dir(batch.prune_id)
        )
        return True

    def create_folder(self, batch: Batch, item: Item) -> bool:
        """Make an empty folder the store lacks; False when it is there."""
        target = inside(batch.store, item.path)
        if os.path.lexists(target):
            return False
        os.mkdir(target)
        return True

    def move_back(self, batch: Batch, item: Item) -> bool:
        """Put an item back in the store; False when it is already there.

        Never creates a folder in the store: an item whose place is gone
        (its run pruned, its experiment deleted since) is refused, rather
        than put back as a fragment MLflow cannot read.
        """
        target = inside(batch.store, item.path)
        if item.kind == CREATED:
            # Undo a created folder: remove it while it is still empty.
            try:
                with parent_of(batch.store, item.path) as (folder, name):
                    if not exists_at(folder, name):
                        return False
                    os.rmdir(name, dir_fd=folder)
            except FileNotFoundError:
                return False
            return True
        source = self.trash_path(batch, item)
        if not os.path.lexists(source):
            if os.path.lexists(target) and item.kind != REPLACED:
                return False  # never moved out, or already put back
            if item.kind == REPLACED and not _written_by(target, item):
                return False  # the original is back already
            raise JanitorError(
                f"{item.path}: no longer in the trash ({source}); it cannot "
                "be put back",
            )
        # Through the descriptors: a folder of the path swapped for a
        # link since it was checked is not followed.
        with contextlib.ExitStack() as stack:
            try:
                folder, name = stack.enter_context(
                    parent_of(batch.store, item.path)
                )
            except (FileNotFoundError, NotADirectoryError):
                raise JanitorError(
                    f"{item.path}: its folder is no longer in the store "
                    "(pruned or deleted since?); restore that first, then run "
                    "the same command again",
                ) from None
            kept, kept_name = stack.enter_context(
                parent_of(self._batch_store(batch), item.path)
            )
            if item.kind == REPLACED:
                if exists_at(folder, name) and not _written_by(target, item):
                    raise JanitorError(
                        f"{item.path}: changed since the repair wrote it; "
                        "putting the original back would lose that "
                        f"(original kept in {source})",
                    )
                os.replace(kept_name, name, src_dir_fd=kept, dst_dir_fd=folder)
                return True
            if exists_at(folder, name):
                raise JanitorError(
                    f"{item.path}: something is already at this place in the "
                    "store; move it away, then restore again",
                )
            os.rename(kept_name, name, src_dir_fd=kept, dst_dir_fd=folder)
        return True

    def discard(self, batch: Batch) -> None:
        """Delete a batch's folder for good (links removed, not followed):
        its copy of the store first, its manifest last, so that a purge
        cut short leaves a batch that is still listed and can be purged
        again."""
        folder = self.batch_dir(batch.prune_id)
        kept = self._batch_store(batch)
        if os.path.lexists(kept):
            remove_tree(kept)
        remove_tree(folder)


# A folder deeper than this below the one being removed is moved up to
# it first: removing holds one descriptor per level.
REMOVE_DEPTH = 32


def remove_tree(path: str) -> None:
    """Delete a folder and everything below it without following a link
    and without recursion: a copied-in tree can be deeper than Python's
    stack, or than the number of files a process may hold open."""
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    # (descriptor, name in its parent, subfolders still to empty, or
    # None before it is listed)
    stack: list[tuple[int, str, list[str] | None]] = [(top, "", None)]
    moved = 0
    try:
        while stack:
            folder, name, waiting = stack[-1]
            if waiting is None:
                waiting = _empty_of_files(folder)
                stack[-1] = (folder, name, waiting)
            if waiting:
                child = waiting.pop()
                if len(stack) > REMOVE_DEPTH:
                    moved += 1
                    flat = f".removing-{moved}"
                    os.rename(child, flat, src_dir_fd=folder, dst_dir_fd=top)
                    top_waiting = stack[0][2]
                    assert top_waiting is not None  # listed first
                    top_waiting.append(flat)
                    continue
                inner = os.open(
                    child,
                    os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                    dir_fd=folder,
                )
                stack.append((inner, child, None))
                continue
            stack.pop()
            if stack:
                os.close(folder)
                os.rmdir(name, dir_fd=stack[-1][0])
    finally:
        for frame in stack[1:]:
            os.close(frame[0])
        os.close(top)
    os.rmdir(path)


def _empty_of_files(folder: int) -> list[str]:
    """Unlink every entry of an open folder but its subfolders, which
    are returned."""
    subfolders = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=folder)
    return subfolders


def _written_by(path: str, item: Item) -> bool:
    """Whether a file still holds what repair wrote there."""
    if item.written_sha256 is None:
        return True  # a batch from before hashes were kept
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return False
    return digest == item.written_sha256


def _write_atomically(
    target: str, content: bytes, mode: int, work_dir: str
) -> None:
    """Write a temporary file, fsync it, rename it over `target`.

    The temporary file lives in the batch folder, on the store's
    filesystem (`Trash.prepare` checks), so the rename is atomic; a crash
    never leaves a half-written file in the store, nor a stray temporary
    file where MLflow would read it as a metric or an artifact.
    """
    handle, temporary = tempfile.mkstemp(prefix="new-", dir=work_dir)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    folder = os.open(os.path.dirname(target), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def run_batch(
    trash: Trash,
    batch: Batch,
    log: AuditLog,
    action: str,
    replacements: Mapping[str, bytes] | None = None,
) -> list[str]:
    """Move every item of a batch out of the store (or, for a replaced
    file, keep its original and write its replacement), journaling each
    step; the errors, one line per failed item."""
    trash.save(batch)
    errors, _moved = _journaled(
        batch,
        batch.items,
        log,
        action,
        lambda item: _apply(trash, batch, item, replacements or {}),
    )
    batch.state = COMPLETE
    trash.save(batch)
    return errors


def carry_out(
    trash: Trash,
    batch: Batch,
    log: AuditLog,
    action: str,
    replacements: Mapping[str, bytes] | None = None,
) -> list[str]:
    """`run_batch`, then one closing record: how the batch went."""
    errors = run_batch(trash, batch, log, action, replacements)
    log.write(
        prune_id=batch.prune_id,
        action="summary",
        dry_run=False,
        outcome="failed" if errors else "done",
        items=len(batch.items),
        errors=len(errors),
    )
    return errors


def _apply(
    trash: Trash, batch: Batch, item: Item, replacements: Mapping[str, bytes]
) -> bool:
    if item.kind == CREATED:
        return trash.create_folder(batch, item)
    if item.kind != REPLACED:
        return trash.move_out(batch, item)
    if item.path not in replacements:
        raise JanitorError(
            f"{item.path}: the new content is not known (a repair cut "
            "short is not resumed); restore the batch or repair again",
        )
    return trash.replace(batch, item, replacements[item.path])


def restore_batch(
    trash: Trash, batch: Batch, log: AuditLog
) -> tuple[list[str], int]:
    """Put every item back, last moved first: the errors, and how many
    items moved. The batch is deleted only when everything is back."""
    errors, count = _journaled(
        batch,
        list(reversed(batch.items)),
        log,
        "restore",
        lambda item: trash.move_back(batch, item),
    )
    if not errors:
        trash.discard(batch)
    return errors, count


def _journaled(
    batch: Batch,
    items: list[Item],
    log: AuditLog,
    action: str,
    step: Callable[[Item], bool],
) -> tuple[list[str], int]:
    """Do one step per item, each logged before ("started") and after
    ("done", "already-done" or "failed"); the errors, one line per
    failed item, and how many steps changed something."""
    errors = []
    changed = 0
    for item in items:
        fields = _item_fields(batch, item, action)
        log.write(**fields, outcome="started")
        try:
            done = step(item)
        except (OSError, JanitorError) as exc:
            errors.append(f"{item.path}: {exc}")
            log.write(**fields, outcome="failed", error=str(exc))
            continue
        changed += done
        log.write(**fields, outcome="done" if done else "already-done")
    return errors, changed


def _item_fields(batch: Batch, item: Item, action: str) -> dict[str, Any]:
    fields = {
        "prune_id": batch.prune_id,
        "action": action,
        "kind": item.kind,
        "experiment_id": item.experiment_id,
        "run_id": item.run_id,
        "path": item.path,
        "bytes": item.bytes,
        "rule": item.rule,
        "dry_run": False,
    }
    if item.detail:
        fields["detail"] = item.detail
    return fields


def age(batch: Batch, now: float | None = None) -> float:
    return (now or time.time()) - batch.created
