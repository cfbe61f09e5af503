"""Read an MLflow file store (an ``mlruns/`` folder) into a Snapshot.

One pass over the tree with ``os.scandir``. Symbolic links are recorded
and never followed; unreadable folders are recorded and skipped. Nothing
here raises for a malformed store: what is wrong is kept in the objects
for the checks to report.
"""

from __future__ import annotations

import glob
import heapq
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from janitor.errors import StoreError
from janitor.store.metayaml import missing_meta, parse_meta, unreadable_meta
from janitor.store.metrics import summarize_metric
from janitor.store.model import (
    Experiment,
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
# Folders below the root are opened without following a link, and
# files without blocking on a FIFO swapped in since the listing.
ROOT_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY
DIRECTORY = ROOT_DIRECTORY | os.O_NOFOLLOW
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK

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
    ) -> Snapshot:
        """Read the whole store.

        With ``metrics`` false, metric files are only sized, not parsed
        (what the size gate needs). With ``files_over``, every file larger
        than that many bytes is listed in ``Snapshot.large_files``. A
        large store is read by several processes, one experiment each,
        with the same result.
        """
        from janitor.store import parallel

        plan = parallel.plan(self.root)
        if plan.workers > 1:
            return parallel.scan(
                self.root, metrics, progress, plan, files_over
            )
        return _Scan(self.root, metrics, progress, files_over).run()

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
        return _Scan(self.root, metrics, None).selected(runs)

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
        return _Scan(self.root, False, None).registry(run_ids, model_ids)

    def read_values(
        self, root_relative: str, files: dict[str, str]
    ) -> dict[str, str]:
        """The contents of params or tags files, by key."""
        values = {}
        for key, path in files.items():
            full = os.path.join(self.root, root_relative, path)
            try:
                with open(full, encoding="utf-8", errors="replace") as handle:
                    values[key] = handle.read()
            except OSError:
                continue
        return values

    def run_tags(self, run: Run) -> dict[str, str]:
        return self.read_values(run.path, run.tag_files)

    def run_params(self, run: Run) -> dict[str, str]:
        return self.read_values(run.path, run.param_files)


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


class _Scan:
    """One walk of the tree; keeps the counters the Snapshot needs."""

    def __init__(
        self,
        root: str,
        metrics: bool,
        progress: Progress | None,
        files_over: int | None = None,
    ) -> None:
        self.root = root
        self.parse_metrics = metrics
        self.progress = progress
        self.files_over = files_over
        self.snapshot = Snapshot(root=root, scanned_at=time.time())
        self.largest: list[tuple[int, str]] = []
        self.linked: set[tuple[int, int]] = set()
        self.run_count = 0
        # Set while walking inside an experiment or a run, so strays and
        # large files carry their ids.
        self.experiment_id: str | None = None
        self.run_id: str | None = None

    def run(self) -> Snapshot:
        for entry in self._entries(""):
            if entry.name == TRASH and _is_dir(entry):
                self._scan_trash()
            elif entry.name == REGISTRY and _is_dir(entry):
                self._scan_registry()
            elif _is_dir(entry) and self._experiment_like(entry.name):
                self._add_experiment(entry.name, entry.name, False)
            elif _is_dir(entry):
                self._stray("foreign-folder", entry.name, "no meta.yaml")
                self._walk_sizes(entry.name)
            else:
                if entry.name in (TRASH, REGISTRY):
                    self._stray("not-a-folder", entry.name)
                self._count_file(entry, entry.name)
        self.snapshot.largest_files = [
            LargeFile(path, size, *self._ids_of(path))
            for size, path in sorted(self.largest, reverse=True)
        ]
        return self.snapshot

    def selected(self, runs: Mapping[str, Iterable[str]]) -> Snapshot:
        """Read only the given runs of the given experiment folders."""
        for folder, names in sorted(runs.items()):
            self._add_selected(folder.strip("/"), sorted(set(names)))
        return self.snapshot

    def registry(
        self, run_ids: Iterable[str], model_ids: Iterable[str]
    ) -> Snapshot:
        """Read the registry and the named runs and logged models."""
        if self._folder_mtime(REGISTRY) is not None:
            self._scan_registry()
        runs = self._find(run_ids, "")
        models = self._find(model_ids, LOGGED_MODELS + "/")
        self.selected({folder: runs.get(folder, set()) for folder in runs})
        for folder, names in sorted(models.items()):
            self._add_models(folder, names)
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
            mtime = self._folder_mtime(path)
            if mtime is None:
                continue
            experiment.logged_models.append(
                self._logged_model(
                    experiment.experiment_id, model_id, path, mtime
                )
            )

    # -- walking ---------------------------------------------------------

    def _entries(self, rel: str) -> list[os.DirEntry[str]]:
        """Entries of a folder, files and folders only (symlinks and
        special files are recorded as strays)."""
        return self._listing(rel)[0]

    def _listing(
        self, rel: str, read: str | bool = False
    ) -> tuple[list[os.DirEntry[str]], dict[str, bytes | OSError]]:
        """Entries of a folder by name, each already stat'ed, and the
        contents of the regular file named ``read`` (of every one with
        True), or why it could not be read.

        Every call past the folder's own open is made relative to it:
        looking a full path up again for each file makes processes that
        walk one store side by side queue on the kernel's path cache.
        """
        full = f"{self.root}/{rel}" if rel else self.root
        try:
            # A symlinked root is the user's choice; below it, a folder
            # turned into a link since it was listed is not entered.
            descriptor = os.open(full, DIRECTORY if rel else ROOT_DIRECTORY)
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            return [], {}
        kept: list[os.DirEntry[str]] = []
        contents: dict[str, bytes | OSError] = {}
        try:
            try:
                with os.scandir(descriptor) as iterator:
                    entries = sorted(iterator, key=_name)
            except OSError as exc:
                self._stray("unreadable", rel, exc.strerror or str(exc))
                return [], {}
            for entry in entries:
                name = entry.name
                try:
                    # Cached in the entry: later stat() calls cost nothing.
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError as exc:
                    self._stray(
                        "unreadable",
                        _join(rel, name),
                        exc.strerror or str(exc),
                    )
                    continue
                if stat.S_ISDIR(mode):
                    kept.append(entry)
                elif stat.S_ISREG(mode):
                    kept.append(entry)
                    if read is True or name == read:
                        contents[name] = _read_at(descriptor, entry)
                elif stat.S_ISLNK(mode):
                    target = _link_target(name, descriptor)
                    self._stray("symlink", _join(rel, name), target)
                else:
                    self._stray(
                        "unreadable",
                        _join(rel, name),
                        "a FIFO, socket or device",
                    )
        finally:
            os.close(descriptor)
        return kept, contents

    def _count_file(
        self, entry: os.DirEntry[str], rel: str
    ) -> tuple[int, float]:
        """Add a regular file to the totals; (size, mtime)."""
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            return 0, 0.0
        if not stat.S_ISREG(info.st_mode):
            return 0, info.st_mtime
        if info.st_nlink > 1:
            # A hard link: its bytes count once, as du counts them.
            inode = (info.st_dev, info.st_ino)
            if inode in self.linked:
                return 0, info.st_mtime
            self.linked.add(inode)
        size = info.st_size
        self.snapshot.bytes += size
        self.snapshot.files += 1
        if self.files_over is not None and size > self.files_over:
            self.snapshot.large_files.append(
                LargeFile(rel, size, *self._ids_of(rel))
            )
        self._offer_largest(size, rel)
        return size, info.st_mtime

    def _offer_largest(self, size: int, rel: str) -> None:
        if len(self.largest) < LARGEST_FILES:
            heapq.heappush(self.largest, (size, rel))
        elif size > self.largest[0][0]:
            heapq.heapreplace(self.largest, (size, rel))

    def _walk_sizes(
        self, rel: str, newest: float = 0.0
    ) -> tuple[int, int, float]:
        """(bytes, files, newest mtime) of everything below a folder,
        the folder's own mtime (``newest``) included; iterative, so no
        depth of nesting can exhaust the stack."""
        total = count = 0
        pending = [rel]
        while pending:
            folder = pending.pop()
            for entry in self._entries(folder):
                path = f"{folder}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                    mtime = _entry_mtime(entry)
                else:
                    size, mtime = self._count_file(entry, path)
                    total += size
                    count += 1
                if mtime > newest:
                    newest = mtime
        return total, count, newest

    def _walk_files(
        self, rel: str, prefix: str = "", read: bool = False
    ) -> Iterator[tuple[str, str, int, float, bytes | OSError | None]]:
        """(key, path, size, mtime, contents) of files below a folder;
        key uses '/', contents only with ``read``. Iterative, like
        `_walk_sizes`."""
        pending = [(rel, prefix)]
        while pending:
            folder, start = pending.pop()
            entries, contents = self._listing(folder, read)
            for entry in entries:
                path = f"{folder}/{entry.name}"
                # Runs repeat the same keys: keep one copy of each.
                key = sys.intern(start + entry.name)
                if entry.is_dir(follow_symlinks=False):
                    pending.append((path, key + "/"))
                else:
                    size, mtime = self._count_file(entry, path)
                    yield key, path, size, mtime, contents.get(entry.name)

    def _read_meta(
        self,
        folder: str,
        entry: os.DirEntry[str] | None,
        raw: bytes | OSError | None,
    ) -> Meta:
        path = _join(folder, META)
        if entry is None:
            return missing_meta(path)
        self._count_file(entry, path)
        if isinstance(raw, OSError):
            return unreadable_meta(path, raw)
        return parse_meta(path, raw or b"")

    def _children(self, rel: str) -> tuple[dict[str, os.DirEntry[str]], Meta]:
        """A folder's entries by name, less its meta.yaml, and that
        meta.yaml read."""
        entries, contents = self._listing(rel, META)
        children = {entry.name: entry for entry in entries}
        meta = self._read_meta(
            rel, children.pop(META, None), contents.get(META)
        )
        return children, meta

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
        for entry in self._entries(TRASH):
            path = _join(TRASH, entry.name)
            if _is_dir(entry) and self._experiment_like(path):
                self._add_experiment(entry.name, path, True)
            elif _is_dir(entry):
                self._stray("trash-stray", path, "no meta.yaml")
                self._walk_sizes(path)
            else:
                self._count_file(entry, path)
                self._stray("trash-stray", path, "a file, not an experiment")

    def _experiment_like(self, rel: str) -> bool:
        return experiment_like(os.path.join(self.root, rel))

    def _add_experiment(
        self, experiment_id: str, rel: str, in_trash: bool
    ) -> None:
        self.experiment_id = experiment_id
        before = self.snapshot.bytes
        children, meta = self._children(rel)
        experiment = Experiment(experiment_id, rel, meta, in_trash=in_trash)
        for name, entry in children.items():
            path = _join(rel, name)
            if not _is_dir(entry):
                self._count_file(entry, path)
            elif name == "models":
                experiment.logged_models.extend(
                    self._logged_models(experiment_id, path)
                )
            elif name in EXPERIMENT_RESERVED:
                self._walk_sizes(path)
            else:
                run = self._run(experiment_id, name, path, _entry_mtime(entry))
                if run is not None:
                    experiment.runs.append(run)
                if self.progress and self.run_count % PROGRESS_RUNS == 0:
                    self.progress(
                        len(self.snapshot.experiments), self.run_count
                    )
        experiment.bytes = self.snapshot.bytes - before
        self.snapshot.experiments.append(experiment)
        self.experiment_id = None
        if self.progress:
            self.progress(len(self.snapshot.experiments), self.run_count)

    def _run(
        self,
        experiment_id: str,
        name: str,
        rel: str,
        folder_mtime: float,
    ) -> Run | None:
        self.run_id = name
        try:
            return self._read_run(experiment_id, name, rel, folder_mtime)
        finally:
            self.run_id = None

    def _read_run(
        self,
        experiment_id: str,
        name: str,
        rel: str,
        folder_mtime: float,
    ) -> Run | None:
        entries, contents = self._listing(rel, META)
        children = {entry.name: entry for entry in entries}
        meta_entry = children.pop(META, None)
        subfolders = {sys.intern(n) for n, e in children.items() if _is_dir(e)}
        looks_like_run = bool(RUN_ID.match(name) or subfolders & RUN_PARTS)
        if meta_entry is None and not looks_like_run:
            self._stray("foreign-folder", rel, "no meta.yaml and not a run")
            self._walk_sizes(rel)
            return None

        self.run_count += 1
        before = self.snapshot.bytes
        meta = self._read_meta(rel, meta_entry, contents.get(META))
        run = Run(name, experiment_id, rel, meta)
        run.subfolders = subfolders
        newest = folder_mtime
        for child, entry in children.items():
            path = _join(rel, child)
            if not _is_dir(entry):
                newest = max(newest, self._count_file(entry, path)[1])
            elif child == "metrics":
                run.metrics, mtime = self._metrics(path, False)
                newest = max(newest, mtime)
            elif child in ("params", "tags"):
                files = run.param_files if child == "params" else run.tag_files
                for key, file_path, _size, mtime, _ in self._walk_files(path):
                    files[key] = sys.intern(file_path[len(rel) + 1 :])
                    if mtime > newest:
                        newest = mtime
            elif child == "artifacts":
                size, count, mtime = self._walk_sizes(
                    path, _entry_mtime(entry)
                )
                run.artifact_bytes, run.artifact_files = size, count
                newest = max(newest, mtime)
            else:
                if child == "outputs":
                    run.output_model_ids = [
                        entry.name
                        for entry in self._entries(path)
                        if _is_dir(entry)
                    ]
                mtime = self._walk_sizes(path, _entry_mtime(entry))[2]
                newest = max(newest, mtime)
        run.bytes = self.snapshot.bytes - before
        run.last_write = newest
        return run

    def _metrics(
        self, rel: str, logged_model: bool
    ) -> tuple[dict[str, MetricSummary], float]:
        found: dict[str, MetricSummary] = {}
        newest = 0.0
        read = self.parse_metrics
        for key, path, size, mtime, raw in self._walk_files(rel, "", read):
            if mtime > newest:
                newest = mtime
            if isinstance(raw, OSError):
                self._stray("unreadable", path, raw.strerror or str(raw))
                raw = None
            if raw is None:
                found[key] = MetricSummary(key=key, path=path, size=size)
            else:
                found[key] = summarize_metric(key, path, raw, logged_model)
        return found, newest

    def _logged_models(
        self, experiment_id: str, rel: str
    ) -> Iterator[LoggedModel]:
        for entry in self._entries(rel):
            path = _join(rel, entry.name)
            if not _is_dir(entry):
                self._count_file(entry, path)
                continue
            yield self._logged_model(
                experiment_id, entry.name, path, _entry_mtime(entry)
            )

    def _logged_model(
        self,
        experiment_id: str,
        name: str,
        path: str,
        folder_mtime: float,
    ) -> LoggedModel:
        before = self.snapshot.bytes
        children, meta = self._children(path)
        model = LoggedModel(name, experiment_id, path, meta)
        newest = folder_mtime
        for child_name, child in children.items():
            child_path = _join(path, child_name)
            if not _is_dir(child):
                newest = max(newest, self._count_file(child, child_path)[1])
            elif child_name == "metrics":
                model.metrics, mtime = self._metrics(child_path, True)
                newest = max(newest, mtime)
            else:
                size, _count, mtime = self._walk_sizes(
                    child_path, _entry_mtime(child)
                )
                if child_name == "artifacts":
                    model.artifact_bytes = size
                newest = max(newest, mtime)
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
            folder_mtime = self._folder_mtime(path)
            if folder_mtime is None:
                continue
            run = self._run(experiment_id, name, path, folder_mtime)
            if run is None:
                continue
            experiment.runs.append(run)
            for model_id in run.output_model_ids:
                model_path = _join(rel, f"models/{model_id}")
                model_mtime = self._folder_mtime(model_path)
                if model_mtime is not None:
                    experiment.logged_models.append(
                        self._logged_model(
                            experiment_id, model_id, model_path, model_mtime
                        )
                    )
        self.snapshot.experiments.append(experiment)
        self.experiment_id = None

    def _folder_mtime(self, rel: str) -> float | None:
        """The mtime of a real folder (not a link), or None."""
        try:
            info = os.lstat(os.path.join(self.root, rel))
        except OSError:
            return None
        return info.st_mtime if stat.S_ISDIR(info.st_mode) else None

    def _meta_at(self, folder: str) -> Meta:
        """A folder's meta.yaml read by path, as `_read_meta` reads it
        from a listing: a link or a special file counts as missing."""
        path = _join(folder, META)
        full = os.path.join(self.root, path)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            return missing_meta(path)
        except OSError as exc:
            return unreadable_meta(path, exc)
        if stat.S_ISLNK(info.st_mode):
            self._stray("symlink", path, _link_target(full))
            return missing_meta(path)
        if not stat.S_ISREG(info.st_mode):
            self._stray("unreadable", path, "a FIFO, socket or device")
            return missing_meta(path)
        try:
            with open(full, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            return unreadable_meta(path, exc)
        return parse_meta(path, raw)

    # -- the model registry ----------------------------------------------

    def _scan_registry(self) -> None:
        for entry in self._entries(REGISTRY):
            path = _join(REGISTRY, entry.name)
            if not _is_dir(entry):
                self._count_file(entry, path)
                continue
            children, meta = self._children(path)
            model = RegisteredModel(entry.name, path, meta)
            for name, child in children.items():
                child_path = _join(path, name)
                if not _is_dir(child):
                    self._count_file(child, child_path)
                elif name == "aliases":
                    model.aliases = self._aliases(child_path)
                elif name.startswith("version-"):
                    model.versions.append(
                        self._version(entry.name, name, child_path)
                    )
                else:
                    self._walk_sizes(child_path)
            self.snapshot.registered_models.append(model)

    def _version(self, model_name: str, folder: str, rel: str) -> ModelVersion:
        children, meta = self._children(rel)
        for name, child in children.items():
            path = _join(rel, name)
            if _is_dir(child):
                self._walk_sizes(path)
            else:
                self._count_file(child, path)
        return ModelVersion(model_name, folder[len("version-") :], rel, meta)

    def _aliases(self, rel: str) -> dict[str, str]:
        aliases = {}
        for key, path, _size, _mtime, raw in self._walk_files(rel, "", True):
            if isinstance(raw, OSError):
                self._stray("unreadable", path, raw.strerror or str(raw))
            elif raw is not None:
                aliases[key] = raw.decode("utf-8", "replace").strip()
        return aliases


def _read_at(descriptor: int, entry: os.DirEntry[str]) -> bytes | OSError:
    """A regular file of an open folder, whole, in one read when its size
    is known; or why it could not be read."""
    try:
        size = entry.stat(follow_symlinks=False).st_size
        handle = os.open(entry.name, FILE, dir_fd=descriptor)
    except OSError as exc:
        return exc
    try:
        chunk = os.read(handle, size + 1 if size else 65536)
        # A regular file reads short only at its end.
        if size and len(chunk) <= size:
            return chunk
        chunks = [chunk]
        while chunk:
            chunk = os.read(handle, 1 << 20)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        return exc
    finally:
        os.close(handle)


def experiment_like(path: str) -> bool:
    """MLflow names experiment folders by number; any other folder is
    one only if it holds a meta.yaml."""
    if os.path.basename(path).isdigit():
        return True
    return os.path.lexists(os.path.join(path, META))


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _link_target(path: str, folder: int | None = None) -> str:
    try:
        return os.readlink(path, dir_fd=folder)
    except OSError:
        return "?"


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _entry_mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0
