"""Read an MLflow file store (an ``mlruns/`` folder) into a Snapshot.

One pass over the tree with ``os.scandir``. Symbolic links are recorded
and never followed; unreadable folders are recorded and skipped. Nothing
here raises for a malformed store: what is wrong is kept in the objects
for the checks to report.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import glob
import heapq
import operator
import os
import re
import stat
import sys
import time
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, TypeVar

from janitor.errors import StoreError
from janitor.store.metayaml import missing_meta, parse_meta, unreadable_meta
from janitor.store.metrics import clean, latest_value, summarize_metric
from janitor.store.model import (
    Experiment,
    Fields,
    LargeFile,
    LoggedModel,
    Meta,
    MetricSummary,
    ModelVersion,
    RegisteredModel,
    Run,
    Snapshot,
    Stray,
)

TRASH = ".trash"
REGISTRY = "models"
LOGGED_MODELS = "models"  # inside an experiment
META = "meta.yaml"
EXPERIMENT_RESERVED = {"tags", "datasets", "traces", "models"}
RUN_PARTS = {"metrics", "params", "tags", "artifacts", "inputs", "outputs"}
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
LARGEST_FILES = 10
PROGRESS_RUNS = 250  # inside a large experiment, report every so often
# Folders held open at once (see `_Scan._held`); a folder whose parent is
# not held is reached from the deepest one that is, a name at a time.
HELD_MOST = 64
# Folders below the root are opened without following a link, and
# files without blocking on a FIFO swapped in since the listing.
ROOT_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY
DIRECTORY = ROOT_DIRECTORY | os.O_NOFOLLOW
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
BY_NAME = operator.attrgetter("name")
SPECIAL = "a FIFO, socket or device"
S_ISDIR, S_ISREG, S_ISLNK = stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK

Progress = Callable[[int, int], None]  # (experiments, runs) so far


class FileStore:
    """A file store rooted at a local folder."""

    kind = "file"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def scan(
        self,
        metrics: bool = True,
        progress: Progress | None = None,
        files_over: int | None = None,
        latest: Collection[str] | None = None,
    ) -> Snapshot:
        """Read the whole store.

        With ``metrics`` false, metric files are only sized, not parsed
        (what the size gate needs). With ``latest``, every metric file
        is still validated, but a summary is kept only for files with a
        problem; of a run's clean files of the metrics so named, only the
        latest value (`Run.latest_value` reads either). None keeps every
        summary, latest values included. Every run's
        metric keys are kept either way. With ``files_over``, every file
        larger than that many bytes is listed in
        ``Snapshot.large_files``. A large store is read by several
        processes (see `janitor.store.parallel`), with the same result.
        """
        from janitor.store import parallel

        options = ScanOptions(
            metrics,
            None if latest is None else tuple(sorted(set(latest))),
            files_over,
        )
        plan = parallel.plan(self.root)
        with collector_paused():
            if plan.workers > 1:
                return parallel.scan(self.root, options, progress, plan)
            return _Scan(self.root, options, progress).run()

    def read_runs(
        self,
        runs: Mapping[str, Iterable[str]],
        metrics: bool = True,
    ) -> Snapshot:
        """Read some runs only, without walking the rest of the store.

        ``runs`` maps experiment folders, relative to the root (``<id>``
        or ``.trash/<id>``), to run folder names; an empty list reads
        only the experiment's meta.yaml. Each run comes with its
        experiment's meta.yaml and the logged models it lists in
        ``outputs/``. Runs are read exactly as `scan` reads them, so the
        same checks apply; what was not asked for is not in the
        snapshot, and the store's totals count only what was read.
        """
        return _Scan(self.root, ScanOptions(metrics), None).selected(runs)

    def read_registry(
        self,
        run_ids: Iterable[str] = (),
        model_ids: Iterable[str] = (),
    ) -> Snapshot:
        """Read the model registry whole, and the given runs and logged
        models only, each found by its folder name (``<exp>/<run id>``,
        ``<exp>/models/<model id>``, in ``.trash`` too) without walking
        the experiments; a folder without its meta.yaml (what is left of
        a deleted one) is not found. Metric files are sized, not
        parsed."""
        scan = _Scan(self.root, ScanOptions(metrics=False), None)
        return scan.registry(run_ids, model_ids)

    def read_values(
        self, root_relative: str, folder: str, keys: Iterable[str]
    ) -> dict[str, str]:
        """The contents of params or tags files (``folder``), by key:
        regular files only, reached as a scan reaches them (no link
        followed, no FIFO waited on); a key that cannot be read that way
        is left out."""
        scan = _Scan(self.root, ScanOptions(metrics=False), None)
        base = _join(root_relative, folder)
        try:
            scan._held[base] = scan._open_folder(base)
        except OSError:
            return {}
        values = {}
        try:
            for key in keys:
                try:
                    raw = scan._file_at(base, key)
                except OSError:
                    continue
                if isinstance(raw, bytes):
                    values[key] = raw.decode("utf-8", "replace")
        finally:
            scan._release_all()
        return values

    def folder_sizes(self, rel: str) -> dict[str, int]:
        """The entries of a store folder, by name, each with the bytes of
        the regular files at or below it: reached as a scan reaches
        them, no link followed (a link counts nothing). Empty when the
        folder cannot be read."""
        scan = _Scan(self.root, ScanOptions(metrics=False), None)
        try:
            listing = scan._listing(rel, hold=True)
            sizes = dict(listing.files)
            for name in listing.folders:
                sizes[name] = scan._walk_sizes(f"{rel}/{name}")[0]
        finally:
            scan._release_all()
        # Links and special files are entries too, of no bytes counted.
        for stray in scan.snapshot.strays:
            folder, _, name = stray.path.rpartition("/")
            if folder == rel:
                sizes.setdefault(name, 0)
        return dict(sorted(sizes.items()))

    def newest_write(self, rel: str) -> float:
        """The newest mtime at or below a store path, folders included,
        no link followed; 0 when it is gone."""
        scan = _Scan(self.root, ScanOptions(metrics=False), None)
        info = scan._lstat(rel)
        if info is None:
            return 0.0
        if not S_ISDIR(info.st_mode):
            return info.st_mtime
        try:
            return max(info.st_mtime, scan._walk_sizes(rel)[2])
        finally:
            scan._release_all()

    def run_tags(self, run: Run) -> dict[str, str]:
        return self.read_values(run.path, "tags", run.tag_keys)

    def run_params(self, run: Run) -> dict[str, str]:
        return self.read_values(run.path, "params", run.param_keys)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Without the cycle collector while a store is read. A scan makes a
    million objects and no cycle; each collection walks all of them,
    and that made reading five times slower. Forked workers inherit
    the pause."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def open_file_store(root: str) -> FileStore:
    if not os.path.exists(root):
        raise StoreError(
            f"{root}: no such folder; pass the path of an MLflow store "
            "(the folder holding experiment folders, usually ./mlruns)",
        )
    if not os.path.isdir(root):
        raise StoreError(
            f"{root}: not a folder; pass the path of an MLflow store "
            "(the folder holding experiment folders, usually ./mlruns)",
        )
    if not os.access(root, os.R_OK | os.X_OK):
        raise StoreError(
            f"{root}: permission denied; run as a user who can read the store",
        )
    return FileStore(root)


@dataclass(frozen=True)
class ScanOptions:
    """What a scan reads beyond sizes (see `FileStore.scan`)."""

    metrics: bool = True
    latest: tuple[str, ...] | None = None  # sorted
    files_over: int | None = None


class _Folder:
    """One folder as listed: its subfolder names, regular file name ->
    bytes counted (0 for a hard link counted already), the newest mtime
    of the folder itself and its files, and the file contents asked
    for."""

    __slots__ = ("contents", "files", "folders", "gone", "held", "newest")

    def __init__(self) -> None:
        self.folders: list[str] = []
        self.files: dict[str, int] = {}
        self.contents: dict[str, bytes | OSError] = {}
        self.newest = 0.0
        self.gone = False  # removed since it was seen
        self.held = False  # its descriptor kept open (see `_Scan._held`)


class _Scan:
    """One walk of the tree; keeps the counters the Snapshot needs."""

    def __init__(
        self,
        root: str,
        options: ScanOptions,
        progress: Progress | None,
    ) -> None:
        self.root = root
        self.options = options
        self.parse_metrics = options.metrics
        self.progress = progress
        self.files_over = options.files_over
        self.snapshot = Snapshot(root=root, scanned_at=time.time())
        self.largest: list[tuple[int, str]] = []
        # Files smaller than this cannot be among the largest: their
        # path is not even made.
        self.floor = 0
        self.linked: set[tuple[int, int]] = set()
        self.run_count = 0
        # Set while walking inside an experiment or a run, so strays and
        # large files carry their ids.
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        # Folders held open while what is below them is read, by path:
        # a subfolder is opened through its parent's descriptor, never by
        # a path whose folders could have been swapped for links since
        # they were listed.
        self._held: dict[str, int] = {}

    def run(self) -> Snapshot:
        try:
            self._read_all()
        finally:
            self._release_all()
        return self.snapshot

    def _read_all(self) -> None:
        top = self._listing("", hold=True)
        for name in top.files:
            if name in (TRASH, REGISTRY):
                self._stray("not-a-folder", name)
        for name in top.folders:
            if name == TRASH:
                self._scan_trash()
            elif name == REGISTRY:
                self._scan_registry()
            elif self._experiment_like(name):
                self._add_experiment(name, name, False)
            else:
                self._stray("foreign-folder", name, "no meta.yaml")
                self._walk_sizes(name)
        self.snapshot.largest_files = [
            LargeFile(path, size, *self._ids_of(path))
            for size, path in sorted(self.largest, reverse=True)
        ]

    def selected(self, runs: Mapping[str, Iterable[str]]) -> Snapshot:
        """Read only the given runs of the given experiment folders."""
        try:
            for folder, names in sorted(runs.items()):
                self._add_selected(folder.strip("/"), sorted(set(names)))
        finally:
            self._release_all()
        return self.snapshot

    def registry(
        self, run_ids: Iterable[str], model_ids: Iterable[str]
    ) -> Snapshot:
        """Read the registry and the named runs and logged models."""
        try:
            if self._real_folder(REGISTRY):
                self._scan_registry()
            runs = self._find(run_ids, "")
            models = self._find(model_ids, LOGGED_MODELS + "/")
            self.selected({folder: runs.get(folder, set()) for folder in runs})
            for folder, names in sorted(models.items()):
                self._add_models(folder, names)
        finally:
            self._release_all()
        return self.snapshot

    def _find(self, names: Iterable[str], inside: str) -> dict[str, set[str]]:
        """Experiment folder -> those of ``names`` found in it, as
        ``<exp>/<inside><name>`` (``<exp>`` may be ``.trash/<id>``)."""
        found: dict[str, set[str]] = {}
        for name in sorted(set(names)):
            if not name or "/" in name or name.startswith("."):
                continue  # not a folder name MLflow would write
            for base in ("", TRASH + "/"):
                pattern = os.path.join(
                    glob.escape(os.path.join(self.root, base)),
                    "*",
                    glob.escape(inside + name),
                )
                for match in glob.glob(pattern):
                    rel = os.path.relpath(match, self.root)
                    rel = rel.replace(os.sep, "/")
                    folder = rel[: -len("/" + inside + name)]
                    if folder == REGISTRY:
                        continue
                    if os.path.islink(match):
                        self._stray("symlink", rel, _link_target(match))
                    elif os.path.isfile(os.path.join(match, META)):
                        found.setdefault(folder, set()).add(name)
        return found

    def _add_models(self, folder: str, model_ids: set[str]) -> None:
        """Logged models by id, into their experiment (read already, or
        read here without its runs)."""
        experiments = {exp.path: exp for exp in self.snapshot.experiments}
        if folder not in experiments:
            self.selected({folder: []})
            experiments[folder] = self.snapshot.experiments[-1]
        experiment = experiments[folder]
        known = {model.model_id for model in experiment.logged_models}
        for model_id in sorted(model_ids - known):
            path = _join(folder, f"{LOGGED_MODELS}/{model_id}")
            if self._real_folder(path):
                experiment.logged_models.append(
                    self._logged_model(
                        experiment.experiment_id, model_id, path
                    )
                )

    # -- walking ---------------------------------------------------------

    def _listing(
        self, rel: str, read: str | bool = False, hold: bool = False
    ) -> _Folder:
        """A folder's entries, sorted by name: its subfolders, and its
        regular files, counted into the totals as they are listed; with
        ``read``, the contents of the file so named (of every file with
        True). Links and special files are recorded as strays. With
        ``hold``, the folder stays open for its subfolders to be opened
        through (`_release` closes it), unless too many are open.

        Every call past the folder's own open is made relative to it:
        looking a full path up again for each file makes processes that
        walk one store side by side queue on the kernel's path cache.
        A subfolder is known by the type its entry gives, and its mtime
        read when it is listed in turn, through its open descriptor.
        """
        listing = _Folder()
        try:
            descriptor = self._open_folder(rel)
        except FileNotFoundError:
            listing.gone = True  # removed since its parent was listed
            return listing
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            info = self._lstat(rel)
            listing.newest = info.st_mtime if info else 0.0
            return listing
        newest = 0.0
        try:
            newest = os.fstat(descriptor).st_mtime
            with os.scandir(descriptor) as iterator:
                entries = sorted(iterator, key=BY_NAME)
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            entries = []
        # The loop every file of the store goes through: kept flat.
        folders, files = listing.folders, listing.files
        total = count = 0
        floor, files_over = self.floor, self.files_over
        try:
            for entry in entries:
                name = entry.name
                content = None
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(name)
                        continue
                    if (read is True or name == read) and entry.is_file(
                        follow_symlinks=False
                    ):
                        # Opened, then stat'ed through the open file: one
                        # name lookup instead of two.
                        info, content = _read_at(descriptor, name)
                    else:
                        info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed since the folder was listed
                except OSError as exc:
                    path = f"{rel}/{name}" if rel else name
                    self._stray("unreadable", path, exc.strerror or str(exc))
                    continue
                mode = info.st_mode
                if S_ISDIR(mode):  # a folder since the entry was read
                    folders.append(name)
                    continue
                if S_ISREG(mode):
                    size = info.st_size
                    if content is not None:
                        listing.contents[name] = content
                    if info.st_nlink > 1 and not self._first_link(info):
                        size = 0  # a hard link's bytes count once, as du
                    else:
                        total += size
                        count += 1
                        if size >= floor or (
                            files_over is not None and size > files_over
                        ):
                            self._large(f"{rel}/{name}" if rel else name, size)
                            floor = self.floor
                    files[name] = size
                else:
                    path = f"{rel}/{name}" if rel else name
                    if S_ISLNK(mode):
                        target = _link_target(name, descriptor)
                        self._stray("symlink", path, target)
                    else:
                        self._stray("unreadable", path, SPECIAL)
                    continue
                if info.st_mtime > newest:
                    newest = info.st_mtime
        finally:
            if hold and rel not in self._held and self._room():
                self._held[rel] = descriptor
                listing.held = True
            else:
                os.close(descriptor)
            self.snapshot.bytes += total
            self.snapshot.files += count
        listing.newest = newest
        return listing

    def _room(self) -> bool:
        """Whether one more folder can be held: past `HELD_MOST`, the
        shallowest folder held below a run's own folders (deep in an
        artifact tree) makes way, so that walking down a chain of
        folders goes on opening each through its parent."""
        if len(self._held) < HELD_MOST:
            return True
        deep = [rel for rel in self._held if rel.count("/") >= 3]
        if not deep:
            return False
        self._release(min(deep, key=lambda rel: rel.count("/")))
        return True

    def _release(self, rel: str) -> None:
        descriptor = self._held.pop(rel, None)
        if descriptor is not None:
            os.close(descriptor)

    def _release_all(self) -> None:
        for rel in list(self._held):
            self._release(rel)

    def _open_folder(self, rel: str) -> int:
        """An open descriptor of a folder of the store, reached without
        following a link below the root: through its parent's descriptor
        when that is held, otherwise a name at a time from the deepest
        folder held (or the root), each opened without following a link.
        A symlinked root is the user's choice."""
        if not rel:
            return os.open(self.root, ROOT_DIRECTORY)
        parent, _, name = rel.rpartition("/")
        held = self._held.get(parent)
        if held is not None:
            return os.open(name, DIRECTORY, dir_fd=held)
        names = rel.split("/")
        start = len(names) - 1
        while start and "/".join(names[:start]) not in self._held:
            start -= 1
        base = self._held.get("/".join(names[:start]))
        owned = base is None
        descriptor = (
            os.open(self.root, ROOT_DIRECTORY) if base is None else base
        )
        try:
            for name in names[start:]:
                inner = os.open(name, DIRECTORY, dir_fd=descriptor)
                if owned:
                    os.close(descriptor)
                descriptor, owned = inner, True
        except BaseException:
            if owned:
                os.close(descriptor)
            raise
        return descriptor

    def _first_link(self, info: os.stat_result) -> bool:
        inode = (info.st_dev, info.st_ino)
        if inode in self.linked:
            return False
        self.linked.add(inode)
        return True

    def _large(self, rel: str, size: int) -> None:
        if self.files_over is not None and size > self.files_over:
            self.snapshot.large_files.append(
                LargeFile(rel, size, *self._ids_of(rel))
            )
        if size >= self.floor:
            self._offer_largest(size, rel)

    def _offer_largest(self, size: int, rel: str) -> None:
        largest = self.largest
        if len(largest) < LARGEST_FILES:
            heapq.heappush(largest, (size, rel))
        elif size > largest[0][0]:
            heapq.heapreplace(largest, (size, rel))
        if len(largest) == LARGEST_FILES:
            self.floor = largest[0][0] + 1  # a tie would not get in

    def _walk_sizes(
        self, rel: str, top: _Folder | None = None
    ) -> tuple[int, int, float]:
        """(bytes, files, newest mtime) of everything below a folder,
        the folder's own mtime included; ``top`` is its listing when
        already made. Depth first and iterative, so no depth of nesting
        can exhaust the stack; a folder listed here is held open until
        everything below it is read."""
        total = count = 0
        newest = 0.0
        pending: list[tuple[str, bool]] = [(rel, False)]  # (folder, done)
        while pending:
            folder, done = pending.pop()
            if done:
                self._release(folder)
                continue
            if top is not None and folder == rel:
                listing = top
            else:
                listing = self._listing(folder, hold=True)
                if listing.held:
                    pending.append((folder, True))
            total += sum(listing.files.values())
            count += len(listing.files)
            if listing.newest > newest:
                newest = listing.newest
            pending.extend(
                (f"{folder}/{name}", False) for name in listing.folders
            )
        return total, count, newest

    def _walk_files(self, rel: str, read: bool = False) -> _Folder:
        """Every file below a folder in one listing, keyed by its path
        below the folder ('/' for nested ones): sizes, contents with
        ``read``, and the newest mtime anywhere below. A flat folder,
        the usual case, is its own listing. Iterative, like
        `_walk_sizes`."""
        merged = self._listing(rel, read)
        pending = [(f"{rel}/{name}", f"{name}/") for name in merged.folders]
        while pending:  # nested keys, rare
            folder, prefix = pending.pop()
            listing = self._listing(folder, read)
            merged.newest = max(merged.newest, listing.newest)
            for name, size in listing.files.items():
                merged.files[prefix + name] = size
            for name, raw in listing.contents.items():
                merged.contents[prefix + name] = raw
            pending += [
                (f"{folder}/{name}", f"{prefix}{name}/")
                for name in listing.folders
            ]
        return merged

    def _keys(self, rel: str) -> tuple[tuple[str, ...], float]:
        """The keys of the files below a folder, one shared copy of each
        (runs repeat them), and the newest mtime there."""
        files = self._walk_files(rel)
        return _shared(tuple(map(sys.intern, files.files))), files.newest

    def _meta(self, folder: str, listing: _Folder) -> Meta:
        """The meta.yaml of a folder listed with ``read=META``."""
        if META not in listing.files:
            return missing_meta(folder)
        raw = listing.contents.get(META, b"")
        if isinstance(raw, OSError):
            return unreadable_meta(folder, raw)
        return parse_meta(folder, raw)

    def _stray(self, kind: str, path: str, detail: str = "") -> None:
        self.snapshot.strays.append(
            Stray(kind, path, detail, self.experiment_id, self.run_id),
        )

    def _ids_of(self, path: str) -> tuple[str | None, str | None]:
        parts = path.split("/")
        if parts[0] in (TRASH, REGISTRY):
            parts = parts[1:] if parts[0] == TRASH else []
        experiment_id = parts[0] if len(parts) > 1 else None
        run_id = (
            parts[1] if len(parts) > 2 and RUN_ID.match(parts[1]) else None
        )
        return experiment_id, run_id

    # -- experiments and runs --------------------------------------------

    def _scan_trash(self) -> None:
        trash = self._listing(TRASH, hold=True)
        try:
            for name in trash.files:
                path = f"{TRASH}/{name}"
                self._stray("trash-stray", path, "a file, not an experiment")
            for name in trash.folders:
                path = f"{TRASH}/{name}"
                if self._experiment_like(path):
                    self._add_experiment(name, path, True)
                else:
                    self._stray("trash-stray", path, "no meta.yaml")
                    self._walk_sizes(path)
        finally:
            self._release(TRASH)

    def _experiment_like(self, rel: str) -> bool:
        return experiment_like(os.path.join(self.root, rel))

    def _add_experiment(
        self,
        experiment_id: str,
        rel: str,
        in_trash: bool,
        only: tuple[str, ...] | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        """Read an experiment folder; or, for a slice of a large one,
        only the folders in ``only`` (not its meta.yaml or files), or
        all but those in ``skip``."""
        self.experiment_id = experiment_id
        try:
            self._read_experiment(experiment_id, rel, in_trash, only, skip)
        finally:
            self._release(rel)
            self.experiment_id = None

    def _read_experiment(
        self,
        experiment_id: str,
        rel: str,
        in_trash: bool,
        only: tuple[str, ...] | None,
        skip: frozenset[str],
    ) -> None:
        before = self.snapshot.bytes
        if only is None:
            listing = self._listing(rel, META, hold=True)
            if listing.gone:  # deleted since the store root was listed
                return
            meta = self._meta(rel, listing)
            folders = listing.folders
        else:
            meta = missing_meta(rel)  # read by the first slice
            folders = self._still_folders(rel, only)
        experiment = Experiment(experiment_id, rel, meta, in_trash=in_trash)
        for name in folders:
            if name in skip:
                continue
            path = f"{rel}/{name}"
            if name == "models":
                experiment.logged_models.extend(
                    self._logged_models(experiment_id, path)
                )
            elif name in EXPERIMENT_RESERVED:
                self._walk_sizes(path)
            else:
                run = self._run(experiment_id, name, path)
                if run is not None:
                    experiment.runs.append(run)
                if self.progress and self.run_count % PROGRESS_RUNS == 0:
                    self.progress(
                        len(self.snapshot.experiments), self.run_count
                    )
        experiment.bytes = self.snapshot.bytes - before
        self.snapshot.experiments.append(experiment)
        if self.progress:
            self.progress(len(self.snapshot.experiments), self.run_count)

    def _still_folders(self, rel: str, names: tuple[str, ...]) -> list[str]:
        """Those of ``names`` that are still real folders in ``rel``,
        looked up relative to the open folder, which is held for them to
        be read through. A name that cannot be looked up (a folder that
        can be listed but not entered) is kept, as its listing would
        show it, for reading it to say why not."""
        found: list[str] = []
        try:
            descriptor = self._open_folder(rel)
        except FileNotFoundError:
            return found  # the experiment was deleted: so were they
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            return found
        for name in names:
            try:
                info = os.stat(name, dir_fd=descriptor, follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone since the jobs were planned
            except OSError:
                found.append(name)
                continue
            if S_ISDIR(info.st_mode):
                found.append(name)
        if rel in self._held:
            os.close(descriptor)
        else:
            self._held[rel] = descriptor
        return found

    def _run(self, experiment_id: str, name: str, rel: str) -> Run | None:
        self.run_id = name
        try:
            return self._read_run(experiment_id, name, rel)
        finally:
            self.run_id = None

    def _read_run(self, experiment_id: str, name: str, rel: str) -> Run | None:
        try:
            return self._read_run_folder(experiment_id, name, rel)
        finally:
            self._release(rel)

    def _read_run_folder(
        self, experiment_id: str, name: str, rel: str
    ) -> Run | None:
        before = self.snapshot.bytes
        listing = self._listing(rel, META, hold=True)
        if listing.gone:
            return None  # deleted while the store was read
        subfolders = _shared(frozenset(map(sys.intern, listing.folders)))
        looks_like_run = bool(RUN_ID.match(name) or subfolders & RUN_PARTS)
        if META not in listing.files and not looks_like_run:
            self._stray("foreign-folder", rel, "no meta.yaml and not a run")
            self._walk_sizes(rel, listing)
            return None

        self.run_count += 1
        run = Run(name, experiment_id, rel, self._meta(rel, listing))
        if isinstance(run.meta.data, Fields):
            run.meta.data = run.meta.data.sharing(name)  # one copy of the id
        run.subfolders = subfolders
        newest = listing.newest
        for child in listing.folders:
            path = f"{rel}/{child}"
            if child == "metrics":
                run.metrics, run.metric_keys, mtime, values = self._metrics(
                    path, False
                )
                if values:
                    run.latest_keys = self.options.latest or ()
                    run.latest_values = values
            elif child in ("params", "tags"):
                keys, mtime = self._keys(path)
                if child == "params":
                    run.param_keys = keys
                else:
                    run.tag_keys = keys
            elif child == "artifacts":
                size, count, mtime = self._walk_sizes(path)
                run.artifact_bytes, run.artifact_files = size, count
            else:
                outputs = self._listing(path, hold=True)
                if child == "outputs":
                    run.output_model_ids = tuple(outputs.folders)
                mtime = self._walk_sizes(path, outputs)[2]
                self._release(path)
            if mtime > newest:
                newest = mtime
        run.bytes = self.snapshot.bytes - before
        run.last_write = newest
        return run

    def _metrics(
        self, rel: str, logged_model: bool
    ) -> tuple[dict[str, MetricSummary], tuple[str, ...], float, tuple]:
        """Summaries of the metric files below a folder, every key, the
        newest mtime there, and latest values kept bare. With
        `ScanOptions.latest` set, a clean file's summary is kept only if
        its latest value was asked for, and a run's clean file keeps only
        that value (a store holds millions of them): the values come in
        the order of `ScanOptions.latest`, or not at all."""
        found: dict[str, MetricSummary] = {}
        latest = self.options.latest
        bare: dict[str, float | None] | None = (
            {} if latest and not logged_model else None
        )
        files = self._walk_files(rel, self.parse_metrics)
        for key, size in files.files.items():
            raw = files.contents.get(key)
            self._metric(found, bare, key, rel, size, raw, logged_model)
        keys = tuple(map(sys.intern, files.files))
        values = tuple(map(bare.get, latest)) if bare and latest else ()
        return found, _shared(keys), files.newest, values

    def _metric(
        self,
        found: dict[str, MetricSummary],
        bare: dict[str, float | None] | None,
        key: str,
        folder: str,
        size: int,
        raw: bytes | OSError | None,
        logged_model: bool,
    ) -> None:
        latest = self.options.latest
        wanted = latest is None or key in latest
        if isinstance(raw, OSError):
            self._stray(
                "unreadable", f"{folder}/{key}", raw.strerror or str(raw)
            )
            raw = None
        if raw is None:  # only sized
            if wanted:
                found[key] = MetricSummary(key, f"{folder}/{key}", size)
        elif wanted and bare is not None and clean(raw, logged_model):
            bare[key] = latest_value(raw)
        elif wanted or not clean(raw, logged_model):
            key = sys.intern(key)
            path = f"{folder}/{key}"
            found[key] = summarize_metric(key, path, raw, logged_model, wanted)

    def _logged_models(
        self, experiment_id: str, rel: str
    ) -> Iterator[LoggedModel]:
        try:
            for name in self._listing(rel, hold=True).folders:
                yield self._logged_model(experiment_id, name, f"{rel}/{name}")
        finally:
            self._release(rel)

    def _logged_model(
        self, experiment_id: str, name: str, path: str
    ) -> LoggedModel:
        before = self.snapshot.bytes
        listing = self._listing(path, META, hold=True)
        model = LoggedModel(
            name, experiment_id, path, self._meta(path, listing)
        )
        newest = listing.newest
        try:
            for child in listing.folders:
                child_path = f"{path}/{child}"
                if child == "metrics":
                    model.metrics, _keys, mtime, _values = self._metrics(
                        child_path, True
                    )
                else:
                    size, _count, mtime = self._walk_sizes(child_path)
                    if child == "artifacts":
                        model.artifact_bytes = size
                if mtime > newest:
                    newest = mtime
        finally:
            self._release(path)
        model.bytes = self.snapshot.bytes - before
        model.last_write = newest
        return model

    # -- a selection of runs ---------------------------------------------

    def _add_selected(self, rel: str, run_names: list[str]) -> None:
        experiment_id = rel.rsplit("/", 1)[-1]
        self.experiment_id = experiment_id
        experiment = Experiment(
            experiment_id,
            rel,
            self._meta_at(rel),
            in_trash=rel.startswith(TRASH + "/"),
        )
        for name in run_names:
            path = _join(rel, name)
            if not self._real_folder(path):
                continue
            run = self._run(experiment_id, name, path)
            if run is None:
                continue
            experiment.runs.append(run)
            for model_id in run.output_model_ids:
                model_path = _join(rel, f"models/{model_id}")
                if self._real_folder(model_path):
                    experiment.logged_models.append(
                        self._logged_model(experiment_id, model_id, model_path)
                    )
        self.snapshot.experiments.append(experiment)
        self.experiment_id = None

    def _lstat(self, rel: str) -> os.stat_result | None:
        """A store path's own stat, reached without following a link on
        the way; None when it cannot be."""
        parent, _, name = rel.rpartition("/")
        try:
            descriptor = self._open_folder(parent)
        except OSError:
            return None
        try:
            return os.stat(name, dir_fd=descriptor, follow_symlinks=False)
        except OSError:
            return None
        finally:
            os.close(descriptor)

    def _file_at(self, base: str, key: str) -> bytes | OSError | None:
        """The content of a file below a held folder (see `_read_at`);
        a nested key's folder is opened through it."""
        parent, _, name = key.rpartition("/")
        if not parent:
            return _read_at(self._held[base], name)[1]
        descriptor = self._open_folder(f"{base}/{parent}")
        try:
            return _read_at(descriptor, name)[1]
        finally:
            os.close(descriptor)

    def _real_folder(self, rel: str) -> bool:
        """Whether a folder of the store is there and not a link (nor
        below one)."""
        info = self._lstat(rel)
        return info is not None and S_ISDIR(info.st_mode)

    def _meta_at(self, folder: str) -> Meta:
        """A folder's meta.yaml, read as a listing reads it: a link or a
        special file counts as missing (and is recorded)."""
        try:
            descriptor = self._open_folder(folder)
        except FileNotFoundError:
            return missing_meta(folder)
        except OSError as exc:
            return unreadable_meta(folder, exc)
        path = _join(folder, META)
        try:
            info, raw = _read_at(descriptor, META)
            if S_ISLNK(info.st_mode):
                self._stray("symlink", path, _link_target(META, descriptor))
                return missing_meta(folder)
        except FileNotFoundError:
            return missing_meta(folder)
        except OSError as exc:
            return unreadable_meta(folder, exc)
        finally:
            os.close(descriptor)
        if not S_ISREG(info.st_mode):
            self._stray("unreadable", path, SPECIAL)
            return missing_meta(folder)
        if isinstance(raw, OSError):
            return unreadable_meta(folder, raw)
        return parse_meta(folder, raw or b"")

    # -- the model registry ----------------------------------------------

    def _scan_registry(self) -> None:
        try:
            for name in self._listing(REGISTRY, hold=True).folders:
                self._registered_model(name, f"{REGISTRY}/{name}")
        finally:
            self._release(REGISTRY)

    def _registered_model(self, name: str, path: str) -> None:
        listing = self._listing(path, META, hold=True)
        model = RegisteredModel(name, path, self._meta(path, listing))
        try:
            for child in listing.folders:
                child_path = f"{path}/{child}"
                if child == "aliases":
                    model.aliases = self._aliases(child_path)
                elif child.startswith("version-"):
                    model.versions.append(
                        self._version(name, child, child_path)
                    )
                else:
                    self._walk_sizes(child_path)
        finally:
            self._release(path)
        self.snapshot.registered_models.append(model)

    def _version(self, model_name: str, folder: str, rel: str) -> ModelVersion:
        listing = self._listing(rel, META, hold=True)
        meta = self._meta(rel, listing)
        try:
            for child in listing.folders:
                self._walk_sizes(f"{rel}/{child}")
        finally:
            self._release(rel)
        return ModelVersion(model_name, folder[len("version-") :], rel, meta)

    def _aliases(self, rel: str) -> dict[str, str]:
        aliases = {}
        for key, raw in self._walk_files(rel, True).contents.items():
            if isinstance(raw, OSError):
                path = f"{rel}/{key}"
                self._stray("unreadable", path, raw.strerror or str(raw))
            else:
                aliases[key] = raw.decode("utf-8", "replace").strip()
        return aliases


def _read_at(
    descriptor: int, name: str
) -> tuple[os.stat_result, bytes | OSError | None]:
    """A file of an open folder, stat'ed and, if it is a regular file,
    read whole (in one read: its size is known); or why it could not be
    read. Raises OSError only when it cannot be stat'ed either."""
    try:
        handle = os.open(name, FILE, dir_fd=descriptor)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise
        info = os.stat(name, dir_fd=descriptor, follow_symlinks=False)
        return info, exc if S_ISREG(info.st_mode) else None
    try:
        info = os.fstat(handle)
        if not S_ISREG(info.st_mode):
            return info, None  # no longer a regular file
        size = info.st_size
        try:
            chunk = os.read(handle, size + 1 if size else 65536)
            # A regular file reads short only at its end.
            if size and len(chunk) <= size:
                return info, chunk
            chunks = [chunk]
            while chunk:
                chunk = os.read(handle, 1 << 20)
                chunks.append(chunk)
            return info, b"".join(chunks)
        except OSError as exc:
            return info, exc
    finally:
        os.close(handle)


def experiment_like(path: str) -> bool:
    """MLflow names experiment folders by number; any other folder is
    one only if it holds a meta.yaml."""
    if os.path.basename(path).isdigit():
        return True
    return os.path.lexists(os.path.join(path, META))


_SHARED: dict[Hashable, Any] = {}
SHARED_MOST = 4096
_Names = TypeVar("_Names", bound=Hashable)


def _shared(names: _Names) -> _Names:
    """One copy of a run's key tuple or folder set, shared by every run
    that has the same: most runs of a store log the same keys."""
    found = _SHARED.get(names)
    if found is not None:
        return found
    if len(_SHARED) < SHARED_MOST:
        _SHARED[names] = names
    return names


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _link_target(path: str, folder: int | None = None) -> str:
    try:
        return os.readlink(path, dir_fd=folder)
    except OSError:
        return "?"
