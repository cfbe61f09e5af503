"""A retention policy, validated: what `load_policy` returns.

Durations are seconds and sizes are bytes; None means "not set".
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORDERS = ("max", "min")
ACTIONS = ("delete", "strip-artifacts")
STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class TopN:
    metric: str
    n: int
    order: str = "max"  # max | min


@dataclass
class KeepRules:
    registered: bool = True
    top_n: list[TopN] = field(default_factory=list)
    newest: int | None = None
    younger_than: float | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class PruneRules:
    deleted: bool = False
    status: list[str] = field(default_factory=list)
    # The status rule matches only runs at least this old (None: any age).
    status_older_than: float | None = None
    older_than: float | None = None


@dataclass
class Limits:
    run_artifacts: int | None = None
    experiment: int | None = None
    store: int | None = None
    file: int | None = None


@dataclass
class Safety:
    max_delete: int | None = 500
    max_delete_percent: float | None = 50.0
    min_idle: float = 3600.0


@dataclass
class ExperimentOverride:
    """Rules for experiments whose name matches a glob. Each key given
    replaces the same key of the top-level section; others are kept."""

    match: str
    keep: KeepRules
    prune: PruneRules
    limits: Limits


@dataclass
class Policy:
    path: str
    sha256: str
    version: int = 1
    keep: KeepRules = field(default_factory=KeepRules)
    prune: PruneRules = field(default_factory=PruneRules)
    limits: Limits = field(default_factory=Limits)
    action: str = "delete"
    safety: Safety = field(default_factory=Safety)
    experiments: list[ExperimentOverride] = field(default_factory=list)

    def ranked_metrics(self) -> set[str]:
        """The metrics some top_n rule ranks runs by."""
        rules = [self.keep, *(override.keep for override in self.experiments)]
        return {top.metric for keep in rules for top in keep.top_n}

    def for_experiment(self, name: str) -> ExperimentOverride:
        """The rules in force for one experiment: the first override whose
        glob matches its name, else the top-level rules."""
        from fnmatch import fnmatchcase

        for override in self.experiments:
            if fnmatchcase(name, override.match):
                return override
        return ExperimentOverride("*", self.keep, self.prune, self.limits)
