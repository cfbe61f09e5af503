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
            elif _is_dir(entry) and self._experiment_like(entry):
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

    def _entries(self, rel: str) -> Iterator[os.DirEntry[str]]:
        """Entries of a folder, minus symlinks (recorded as strays)."""
        full = os.path.join(self.root, rel) if rel else self.root
        try:
            with os.scandir(full) as iterator:
                entries = sorted(iterator, key=_name)
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            return
        for entry in entries:
            # The folder listing already says what each entry is; only
            # the rare one that is neither file nor folder needs a look.
            # Past this test an entry's is_dir() is known and cannot fail.
            if _is_dir(entry) or _is_file(entry):
                yield entry
            elif entry.is_symlink():
                path = _join(rel, entry.name)
                self._stray("symlink", path, _link_target(entry.path))
            else:
                path = _join(rel, entry.name)
                self._stray("unreadable", path, "a FIFO, socket or device")

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

    def _walk_sizes(self, rel: str) -> tuple[int, int, float]:
        """(bytes, files, newest mtime) of everything below a folder;
        iterative, so no depth of nesting can exhaust the stack."""
        total = count = 0
        newest = _mtime(f"{self.root}/{rel}")
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
        self, rel: str, prefix: str = ""
    ) -> Iterator[tuple[str, str, int, float]]:
        """(key, path, size, mtime) of files below a folder; key uses '/'.
        Iterative, like `_walk_sizes`."""
        pending = [(rel, prefix)]
        while pending:
            folder, start = pending.pop()
            for entry in self._entries(folder):
                path = f"{folder}/{entry.name}"
                # Runs repeat the same keys: keep one copy of each.
                key = sys.intern(start + entry.name)
                if entry.is_dir(follow_symlinks=False):
                    pending.append((path, key + "/"))
                else:
                    size, mtime = self._count_file(entry, path)
                    yield key, path, size, mtime

    def _read(self, rel: str, size: int = 0) -> bytes | None:
        try:
            return read_file(f"{self.root}/{rel}", size)
        except OSError as exc:
            self._stray("unreadable", rel, exc.strerror or str(exc))
            return None

    def _read_meta(self, folder: str, entry: os.DirEntry[str] | None) -> Meta:
        path = _join(folder, META)
        if entry is None:
            return missing_meta(path)
        size = self._count_file(entry, path)[0]
        try:
            raw = read_file(entry.path, size)
        except OSError as exc:
            return unreadable_meta(path, exc)
        return parse_meta(path, raw)

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
            if _is_dir(entry) and self._experiment_like(entry):
                self._add_experiment(entry.name, path, True)
            elif _is_dir(entry):
                self._stray("trash-stray", path, "no meta.yaml")
                self._walk_sizes(path)
            else:
                self._count_file(entry, path)
                self._stray("trash-stray", path, "a file, not an experiment")

    @staticmethod
    def _experiment_like(entry: os.DirEntry[str]) -> bool:
        """MLflow names experiment folders by number; any other folder
        is one only if it holds a meta.yaml."""
        if entry.name.isdigit():
            return True
        return os.path.lexists(os.path.join(entry.path, META))

    def _add_experiment(
        self, experiment_id: str, rel: str, in_trash: bool
    ) -> None:
        self.experiment_id = experiment_id
        before = self.snapshot.bytes
        children = {entry.name: entry for entry in self._entries(rel)}
        experiment = Experiment(
            experiment_id,
            rel,
            self._read_meta(rel, children.pop(META, None)),
            in_trash=in_trash,
        )
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
        children = {entry.name: entry for entry in self._entries(rel)}
        meta_entry = children.pop(META, None)
        subfolders = {sys.intern(n) for n, e in children.items() if _is_dir(e)}
        looks_like_run = bool(RUN_ID.match(name) or subfolders & RUN_PARTS)
        if meta_entry is None and not looks_like_run:
            self._stray("foreign-folder", rel, "no meta.yaml and not a run")
            self._walk_sizes(rel)
            return None

        self.run_count += 1
        before = self.snapshot.bytes
        run = Run(name, experiment_id, rel, self._read_meta(rel, meta_entry))
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
                for key, file_path, _size, mtime in self._walk_files(path):
                    files[key] = sys.intern(file_path[len(rel) + 1 :])
                    if mtime > newest:
                        newest = mtime
            elif child == "artifacts":
                size, count, mtime = self._walk_sizes(path)
                run.artifact_bytes, run.artifact_files = size, count
                newest = max(newest, mtime)
            else:
                if child == "outputs":
                    run.output_model_ids = [
                        entry.name
                        for entry in self._entries(path)
                        if _is_dir(entry)
                    ]
                newest = max(newest, self._walk_sizes(path)[2])
        run.bytes = self.snapshot.bytes - before
        run.last_write = newest
        return run

    def _metrics(
        self, rel: str, logged_model: bool
    ) -> tuple[dict[str, MetricSummary], float]:
        found: dict[str, MetricSummary] = {}
        newest = 0.0
        for key, path, size, mtime in self._walk_files(rel):
            if mtime > newest:
                newest = mtime
            raw = self._read(path, size) if self.parse_metrics else None
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
        children = {child.name: child for child in self._entries(path)}
        model = LoggedModel(
            name,
            experiment_id,
            path,
            self._read_meta(path, children.pop(META, None)),
        )
        newest = folder_mtime
        for child_name, child in children.items():
            child_path = _join(path, child_name)
            if not _is_dir(child):
                newest = max(newest, self._count_file(child, child_path)[1])
            elif child_name == "metrics":
                model.metrics, mtime = self._metrics(child_path, True)
                newest = max(newest, mtime)
            else:
                size, _count, mtime = self._walk_sizes(child_path)
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
            children = {child.name: child for child in self._entries(path)}
            model = RegisteredModel(
                entry.name,
                path,
                self._read_meta(path, children.pop(META, None)),
            )
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
        children = {child.name: child for child in self._entries(rel)}
        meta = self._read_meta(rel, children.pop(META, None))
        for name, child in children.items():
            path = _join(rel, name)
            if _is_dir(child):
                self._walk_sizes(path)
            else:
                self._count_file(child, path)
        return ModelVersion(model_name, folder[len("version-") :], rel, meta)

    def _aliases(self, rel: str) -> dict[str, str]:
        aliases = {}
        for key, path, _size, _mtime in self._walk_files(rel):
            raw = self._read(path)
            if raw is not None:
                aliases[key] = raw.decode("utf-8", "replace").strip()
        return aliases


def read_file(path: str, size_hint: int = 0) -> bytes:
    """A whole file, in one read when the size is known: fewer system
    calls than a Python file object for the many small files."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        chunk = os.read(descriptor, size_hint + 1 if size_hint else 65536)
        # A regular file reads short only at its end.
        if size_hint and len(chunk) <= size_hint:
            return chunk
        chunks = [chunk]
        while chunk:
            chunk = os.read(descriptor, 1 << 20)
            chunks.append(chunk)
    finally:
        os.close(descriptor)
    return b"".join(chunks)


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
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


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0
