"""Plain objects for what a tracking store holds.

Every backend (the file store today) produces these; checks, policies
and reports read only them. Fields hold what the store says, not what
MLflow would make of it: a bad meta.yaml is kept as a `Meta` whose
`problem` says what is wrong, so checks can report it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

META_FILE = "meta.yaml"
RUN_STATUSES = {
    1: "RUNNING",
    2: "SCHEDULED",
    3: "FINISHED",
    4: "FAILED",
    5: "KILLED",
}
ACTIVE = "active"
DELETED = "deleted"
DELETED_VERSION_STAGE = "Deleted_Internal"


class MetaProblem(enum.Enum):
    MISSING = "missing"
    EMPTY = "empty"
    UNPARSEABLE = "unparseable"
    NOT_A_MAPPING = "not-a-mapping"
    UNREADABLE = "unreadable"


class Fields(Mapping[str, Any]):
    """A flat meta.yaml's mapping, kept small: a tuple of its values and
    the key positions, one copy of which serves every file with the same
    keys (a store of 100,000 runs has 100,000 such mappings)."""

    __slots__ = ("_positions", "_values")
    _shared: ClassVar[dict[tuple[str, ...], dict[str, int]]] = {}

    def __init__(self, data: Mapping[str, Any]) -> None:
        keys = tuple(data)
        positions = self._shared.get(keys)
        if positions is None:
            positions = {key: index for index, key in enumerate(keys)}
            if len(self._shared) < 256:
                self._shared[keys] = positions
        self._positions = positions
        self._values = tuple(data.values())

    def __getitem__(self, key: str) -> Any:
        return self._values[self._positions[key]]

    def get(self, key: str, default: Any = None) -> Any:
        index = self._positions.get(key)
        return default if index is None else self._values[index]

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Fields, (dict(self),))

    def sharing(self, value: str) -> Fields:
        """The same mapping, holding ``value`` itself wherever it holds an
        equal string (a run's id is its folder name too)."""
        values = tuple(
            value if item == value else item for item in self._values
        )
        copy = Fields.__new__(Fields)
        copy._positions, copy._values = self._positions, values
        return copy


@dataclass(slots=True)
class Meta:
    """A meta.yaml as found: its mapping, or the reason there is none."""

    # The folder holding it, relative to the store root ("" for the root
    # itself): the same string as the folder's own path, not a new one.
    folder: str
    data: Mapping[str, Any] = field(default_factory=dict)
    problem: MetaProblem | None = None
    detail: str = ""
    canonical: bool = True

    @property
    def path(self) -> str:
        return f"{self.folder}/{META_FILE}" if self.folder else META_FILE

    @property
    def ok(self) -> bool:
        return self.problem is None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass
class BadMetricLine:
    line_number: int
    reason: str


@dataclass(slots=True)
class MetricSummary:
    """One metric file: its latest value and whatever is wrong with it."""

    key: str
    path: str
    size: int
    line_count: int = 0
    latest_value: float | None = None
    latest_step: int | None = None
    latest_timestamp: int | None = None
    bad_lines: list[BadMetricLine] = field(default_factory=list)
    duplicate_lines: int = 0


@dataclass
class Stray:
    """A filesystem entry MLflow would misread or the janitor won't enter."""

    kind: str  # symlink | foreign-folder | unreadable | trash-stray
    path: str
    detail: str = ""
    experiment_id: str | None = None
    run_id: str | None = None


@dataclass(slots=True)
class Run:
    run_id: str  # the folder name
    experiment_id: str  # the experiment folder it sits in
    path: str
    meta: Meta
    subfolders: frozenset[str] = frozenset()
    # Metric files by key: every one, or (from a scan that names the
    # metrics whose latest value it wants) those with a problem, and the
    # named ones when metric files are only sized.
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    # Keys of the files under metrics/, params/ and tags/ ('/' for
    # nested ones).
    metric_keys: tuple[str, ...] = ()
    param_keys: tuple[str, ...] = ()
    tag_keys: tuple[str, ...] = ()
    # From a scan that names metrics: the latest values of those of them
    # whose files are clean, in the order of ``latest_keys`` (None where
    # the run has no clean file of the key); a summary in ``metrics``
    # holds any other.
    latest_keys: tuple[str, ...] = ()
    latest_values: tuple[float | None, ...] = ()
    output_model_ids: tuple[str, ...] = ()
    bytes: int = 0
    artifact_bytes: int = 0
    artifact_files: int = 0
    last_write: float = 0.0  # newest mtime of anything in the run

    def latest_value(self, key: str) -> float | None:
        """The latest value of a metric, as MLflow shows it; None if the
        run has none (or the scan did not keep it)."""
        summary = self.metrics.get(key)
        if summary is not None:
            return summary.latest_value
        if key in self.latest_keys:
            return self.latest_values[self.latest_keys.index(key)]
        return None

    @property
    def status(self) -> str | None:
        if not self.meta.ok:  # missing or unreadable: nothing to tell
            return None
        value = self.meta.get("status", 1)
        return RUN_STATUSES.get(value) if isinstance(value, int) else None

    @property
    def lifecycle_stage(self) -> str:
        return str(self.meta.get("lifecycle_stage") or ACTIVE)

    @property
    def name(self) -> str:
        return str(self.meta.get("run_name") or "")

    @property
    def start_time(self) -> int | None:
        value = self.meta.get("start_time")
        return value if isinstance(value, int) else None


@dataclass
class LoggedModel:
    """An MLflow 3 logged model, `<exp>/models/m-<id>/`."""

    model_id: str  # the folder name
    experiment_id: str
    path: str
    meta: Meta
    bytes: int = 0
    artifact_bytes: int = 0
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    last_write: float = 0.0

    @property
    def source_run_id(self) -> str | None:
        value = self.meta.get("source_run_id")
        return str(value) if value else None


@dataclass
class Experiment:
    experiment_id: str  # the folder name
    path: str
    meta: Meta
    in_trash: bool = False
    runs: list[Run] = field(default_factory=list)
    logged_models: list[LoggedModel] = field(default_factory=list)
    bytes: int = 0

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def lifecycle_stage(self) -> str:
        return str(self.meta.get("lifecycle_stage") or "")


@dataclass
class ModelVersion:
    model_name: str
    version: str  # from the folder name, `version-<N>`
    path: str
    meta: Meta

    @property
    def deleted(self) -> bool:
        return self.meta.get("current_stage") == DELETED_VERSION_STAGE

    @property
    def run_id(self) -> str | None:
        value = self.meta.get("run_id")
        return str(value) if value else None

    @property
    def model_id(self) -> str | None:
        value = self.meta.get("model_id")
        return str(value) if value else None


@dataclass
class RegisteredModel:
    name: str  # the folder name
    path: str
    meta: Meta
    versions: list[ModelVersion] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version


@dataclass
class LargeFile:
    path: str
    bytes: int
    experiment_id: str | None = None
    run_id: str | None = None


@dataclass
class Snapshot:
    """Everything read from a store in one pass."""

    root: str  # absolute path (file store) or URI
    experiments: list[Experiment] = field(default_factory=list)
    registered_models: list[RegisteredModel] = field(default_factory=list)
    strays: list[Stray] = field(default_factory=list)
    largest_files: list[LargeFile] = field(default_factory=list)
    # Every file over the scan's `files_over` size, when it was given.
    large_files: list[LargeFile] = field(default_factory=list)
    bytes: int = 0
    files: int = 0
    scanned_at: float = 0.0

    def runs(self) -> list[Run]:
        return [run for exp in self.experiments for run in exp.runs]

    def logged_models(self) -> list[LoggedModel]:
        return [m for exp in self.experiments for m in exp.logged_models]
