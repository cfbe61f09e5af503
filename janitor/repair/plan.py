"""Plan a repair: what the janitor can fix safely, and what it leaves to a
person.

Planning reads the snapshot, the audit's findings and the few files it
must see (through `Files`), and decides; it changes nothing. Each `Fix`
carries the new bytes of a rewritten file, so carrying out the plan is
only moving files and writing bytes. A finding no fix covers stays in
`RepairPlan.manual`, with its hint as the manual step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from janitor.actions.trash import CREATED, REPLACED, new_batch_id
from janitor.checks.finding import Finding
from janitor.checks.layout import REQUIRED_RUN_FOLDERS
from janitor.checks.paths import (
    inside_root,
    local_path,
    moved_from,
    old_root,
    store_relative_tail,
)
from janitor.errors import JanitorError
from janitor.repair.metrics import clean_metric
from janitor.repair.reader import Files
from janitor.repair.rebase import (
    AUTO,
    Rebase,
    RebaseRequest,
    former_home,
    rebase_location,
    rebase_mlmodel,
)
from janitor.store.metayaml import dump_canonical
from janitor.store.model import (
    Experiment,
    Meta,
    MetricSummary,
    Run,
    Snapshot,
)
from janitor.units import plural

REWRITE = "rewrite"
MOVE = "move"
CREATE = "create"

# The recorded locations a rebase rewrites, by kind of meta.yaml.
EXPERIMENT_LOCATIONS = ("artifact_location",)
RUN_LOCATIONS = ("artifact_uri",)
VERSION_LOCATIONS = ("storage_location", "source")


@dataclass
class Fix:
    """One change to one store path: a file rewritten, or a path moved
    to the trash."""

    path: str
    action: str  # rewrite | move | create
    problems: list[str]
    remedy: str
    codes: list[str]
    item_kind: str  # REPLACED, run, logged-model, folder or file
    size: int = 0  # of what goes to the trash
    content: bytes | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    detail: str = ""

    @property
    def problem(self) -> str:
        return "; ".join(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "problem": self.problem,
            "fix": self.remedy,
            "codes": self.codes,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
        }


@dataclass
class RepairPlan:
    store: str
    repair_id: str
    rebases: list[Rebase] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    manual: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fixed(self, finding: Finding) -> bool:
        return finding not in self.manual

    def counts(self) -> dict[str, int]:
        rewrites = sum(fix.action == REWRITE for fix in self.fixes)
        created = sum(fix.action == CREATE for fix in self.fixes)
        return {
            "fixes": len(self.fixes),
            "rewrites": rewrites,
            "created": created,
            "moves": len(self.fixes) - rewrites - created,
            "manual": len(self.manual),
        }


HomeTest = Callable[[str, Iterable[str]], bool]


def plan_repair(
    snapshot: Snapshot,
    findings: list[Finding],
    request: RebaseRequest,
    files: Files,
    now: float,
    is_former_home: HomeTest = former_home,
) -> RepairPlan:
    planner = _Planner(snapshot, findings, files)
    plan = RepairPlan(snapshot.root, new_batch_id(now))
    planner.plan_moves(plan)
    plan.rebases = planner.rebases(request, is_former_home, plan.notes)
    planner.plan_metas(plan.rebases)
    planner.plan_metric_files()
    if plan.rebases:
        planner.plan_mlmodels(plan.rebases)
    plan.fixes = sorted(planner.fixes.values(), key=lambda fix: fix.path)
    plan.manual = [f for f in findings if not planner.fixes_finding(f, plan)]
    return plan


class _Planner:
    def __init__(
        self, snapshot: Snapshot, findings: list[Finding], files: Files
    ) -> None:
        self.snapshot = snapshot
        self.findings = findings
        self.files = files
        self.fixes: dict[str, Fix] = {}
        self.moved: list[str] = []

    def add(self, fix: Fix) -> None:
        self.fixes[fix.path] = fix
        if fix.action == MOVE:
            self.moved.append(fix.path)

    def is_moved(self, path: str) -> bool:
        return any(
            path == moved or path.startswith(moved + "/")
            for moved in self.moved
        )

    # -- moves -------------------------------------------------------------

    def plan_moves(self, plan: RepairPlan) -> None:
        """Folders MLflow misreads go to the trash. A run MLflow refuses
        to open because it lacks empty folders (git drops them) gets them
        back; a run whose experiment has no valid meta.yaml stays: only
        restoring that file brings it back."""
        runs = {
            run.path: (experiment, run)
            for experiment in self.snapshot.experiments
            for run in experiment.runs
        }
        for finding in self.findings:
            if finding.code == "orphan-run" and finding.path in runs:
                experiment, run = runs[finding.path]
                if experiment.meta.ok and run.meta.ok:
                    self._create_folders(finding, experiment, run)
            elif finding.code == "foreign-folder":
                self._move_folder(finding, plan)

    def _create_folders(
        self, finding: Finding, experiment: Experiment, run: Run
    ) -> None:
        for name in REQUIRED_RUN_FOLDERS:
            if name in run.subfolders:
                continue
            self.add(
                Fix(
                    f"{run.path}/{name}",
                    CREATE,
                    [finding.message],
                    f"create the empty {name}/ folder MLflow expects",
                    ["orphan-run"],
                    CREATED,
                    experiment_id=experiment.experiment_id,
                    run_id=run.run_id,
                )
            )

    def _move_folder(self, finding: Finding, plan: RepairPlan) -> None:
        name = finding.path.rsplit("/", 1)[-1]
        if name.startswith("."):
            plan.notes.append(
                f"{finding.path}: not moved: hidden folders (.git, editor "
                "state) are moved by hand only",
            )
            return
        self.add(
            Fix(
                finding.path,
                MOVE,
                ["a folder MLflow would misread"],
                "move it to the trash",
                ["foreign-folder"],
                "folder",
                self.files.size(finding.path),
                experiment_id=finding.experiment_id,
            )
        )

    # -- rebasing ----------------------------------------------------------

    def rebases(
        self,
        request: RebaseRequest,
        is_former_home: HomeTest,
        notes: list[str],
    ) -> list[Rebase]:
        chosen = list(request.pairs)
        if not request.auto:
            return chosen
        for old, experiment_ids in sorted(self._former_roots().items()):
            if any(rebase.apply(old) is not None for rebase in chosen):
                continue
            if is_former_home(old, sorted(experiment_ids)):
                chosen.append(Rebase(old, self.snapshot.root, AUTO))
            else:
                notes.append(
                    f"{old}: not rebased automatically: it exists and holds "
                    "no copy of this store (an artifact root?); pass "
                    f"--rebase {old}=NEW to rewrite it",
                )
        return chosen

    def _former_roots(self) -> dict[str, set[str]]:
        """Old store roots the recorded locations imply, each with the
        experiments that point there (as `janitor.checks.paths` infers
        them)."""
        roots: dict[str, set[str]] = {}
        for meta, keys, folder in _locations(self.snapshot):
            for key in keys:
                path = _local(meta, key)
                if path is None or inside_root(path, self.snapshot.root):
                    continue
                tail = folder or store_relative_tail(path)
                previous = old_root(path, tail)
                if previous:
                    experiment_id = tail.removeprefix(".trash/").split("/")[0]
                    roots.setdefault(previous, set()).add(experiment_id)
        return roots

    # -- meta.yaml files ---------------------------------------------------

    def plan_metas(self, rebases: list[Rebase]) -> None:
        hand_edited = {
            finding.path
            for finding in self.findings
            if finding.code == "manual-edit"
        }
        ids = _meta_ids(self.snapshot)
        for meta, keys, _folder in _locations(self.snapshot):
            if not meta.ok or self.is_moved(meta.path):
                continue
            data = dict(meta.data)
            problems, remedies = [], []
            for key in keys:
                value = data.get(key)
                rebase = _rebase_for(value, rebases)
                if rebase is None or not isinstance(value, str):
                    continue
                new = rebase_location(value, rebases)
                if new is None or new == value:
                    continue
                data[key] = new
                problems.append(f"{key} under {rebase.old}")
                remedies.append(f"{key} under {rebase.new}")
            codes = ["foreign-path"] if problems else []
            if meta.path in hand_edited:
                problems.append("not in the form MLflow writes")
                codes.append("manual-edit")
            if not problems:
                continue
            remedy = "rewrite it in MLflow's form"
            if remedies:
                remedy += " with " + ", ".join(remedies)
            experiment_id, run_id = ids.get(meta.path, (None, None))
            self.add(
                Fix(
                    meta.path,
                    REWRITE,
                    problems,
                    remedy,
                    codes,
                    REPLACED,
                    self.files.size(meta.path),
                    dump_canonical(data).encode("utf-8"),
                    experiment_id,
                    run_id,
                )
            )

    # -- metric files ------------------------------------------------------

    def plan_metric_files(self) -> None:
        for experiment in self.snapshot.experiments:
            exp_id = experiment.experiment_id
            for run in experiment.runs:
                if not self.is_moved(run.path):
                    for summary in run.metrics.values():
                        self._metric_file(summary, False, exp_id, run.run_id)
            for model in experiment.logged_models:
                if not self.is_moved(model.path):
                    for summary in model.metrics.values():
                        self._metric_file(summary, True, exp_id, None)

    def _metric_file(
        self,
        summary: MetricSummary,
        logged_model: bool,
        experiment_id: str,
        run_id: str | None,
    ) -> None:
        if not (summary.duplicate_lines or summary.bad_lines):
            return
        try:
            raw = self.files.read(summary.path)
        except (OSError, JanitorError):
            return  # the finding stays, with its manual step
        if not raw:
            self.add(
                Fix(
                    summary.path,
                    MOVE,
                    ["the file is empty"],
                    "move the file to the trash",
                    ["malformed-metric"],
                    "file",
                    0,
                    experiment_id=experiment_id,
                    run_id=run_id,
                )
            )
            return
        cleaned = clean_metric(raw, logged_model)
        if not cleaned.changed:
            return
        problems, codes, details = [], [], []
        if cleaned.duplicates:
            problems.append(plural(len(cleaned.duplicates), "duplicated line"))
            codes.append("duplicate-metric-entries")
            details.append("duplicate lines " + _numbers(cleaned.duplicates))
        if cleaned.bad:
            number, reason = cleaned.bad[0]
            more = len(cleaned.bad) - 1
            problems.append(
                f"line {number}: {reason}"
                + (f" (and {plural(more, 'more bad line')})" if more else "")
            )
            codes.append("malformed-metric")
            details.append(
                "bad lines " + _numbers([n for n, _ in cleaned.bad])
            )
        if cleaned.kept:
            action, kind, content = REWRITE, REPLACED, cleaned.content()
            remedy = (
                f"keep {plural(len(cleaned.kept), 'good line')}, each once; "
                "the original goes to the trash"
            )
        else:
            action, kind, content = MOVE, "file", None
            remedy = "no good line left: move the file to the trash"
        self.add(
            Fix(
                summary.path,
                action,
                problems,
                remedy,
                codes,
                kind,
                len(raw),
                content,
                experiment_id,
                run_id,
                "; ".join(details),
            )
        )

    # -- MLmodel files -----------------------------------------------------

    def plan_mlmodels(self, rebases: list[Rebase]) -> None:
        for folder, exp_id, run_id in self._artifact_folders():
            if self.is_moved(folder):
                continue
            for path in self.files.find(folder, "MLmodel"):
                try:
                    raw = self.files.read(path)
                except (OSError, JanitorError):
                    continue
                content = rebase_mlmodel(raw, rebases)
                if content is None or content == raw:
                    continue
                text = raw.decode("utf-8", "replace")
                used = [r for r in rebases if r.old in text] or rebases
                self.add(
                    Fix(
                        path,
                        REWRITE,
                        ["model paths under " + used[0].old],
                        f"rewrite them under {used[0].new}",
                        ["foreign-path"],
                        REPLACED,
                        len(raw),
                        content,
                        exp_id,
                        run_id,
                    )
                )

    def _artifact_folders(self) -> Iterator[tuple[str, str, str | None]]:
        for experiment in self.snapshot.experiments:
            exp_id = experiment.experiment_id
            for run in experiment.runs:
                if "artifacts" in run.subfolders:
                    yield f"{run.path}/artifacts", exp_id, run.run_id
            for model in experiment.logged_models:
                yield f"{model.path}/artifacts", exp_id, model.source_run_id

    # -- what stays manual -------------------------------------------------

    def fixes_finding(self, finding: Finding, plan: RepairPlan) -> bool:
        if finding.path != "." and self.is_moved(finding.path):
            return True
        if finding.code == "foreign-path" and finding.path == ".":
            previous = moved_from(finding)
            return previous is not None and any(
                rebase.apply(previous) is not None for rebase in plan.rebases
            )
        return any(
            finding.code in fix.codes and _related(fix.path, finding.path)
            for fix in self.fixes.values()
        )


def _locations(
    snapshot: Snapshot,
) -> Iterator[tuple[Meta, tuple[str, ...], str | None]]:
    """(meta, location keys, store-relative folder) of every meta.yaml;
    a registry version's folder says nothing of where its files are."""
    for experiment in snapshot.experiments:
        yield experiment.meta, EXPERIMENT_LOCATIONS, experiment.path
        for run in experiment.runs:
            yield run.meta, RUN_LOCATIONS, run.path
        for model in experiment.logged_models:
            yield model.meta, EXPERIMENT_LOCATIONS, model.path
    for registered in snapshot.registered_models:
        yield registered.meta, (), registered.path
        for version in registered.versions:
            yield version.meta, VERSION_LOCATIONS, None


def _meta_ids(snapshot: Snapshot) -> dict[str, tuple[str, str | None]]:
    ids: dict[str, tuple[str, str | None]] = {}
    for experiment in snapshot.experiments:
        exp_id = experiment.experiment_id
        ids[experiment.meta.path] = (exp_id, None)
        for run in experiment.runs:
            ids[run.meta.path] = (exp_id, run.run_id)
        for model in experiment.logged_models:
            ids[model.meta.path] = (exp_id, model.source_run_id)
    return ids


def _local(meta: Meta, key: str) -> str | None:
    value = meta.get(key) if meta.ok else None
    return local_path(value) if isinstance(value, str) else None


def _rebase_for(value: Any, rebases: list[Rebase]) -> Rebase | None:
    path = local_path(value) if isinstance(value, str) else None
    if path is None:
        return None
    return next((r for r in rebases if r.apply(path) is not None), None)


def _related(path: str, other: str) -> bool:
    """One path is the other or lies below it."""
    return (
        path == other
        or path.startswith(other + "/")
        or other.startswith(path + "/")
    )


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:10])
    return shown + (
        f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    )
