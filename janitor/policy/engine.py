"""Decide, for every run, whether a policy keeps or prunes it.

Pure: reads a Snapshot (and a few tag files through the store), never
changes anything. Validation of the policy is done before this runs, so
a plan is never built from a bad policy.

Order of the decision, per run:
1. protected runs are kept whatever the rules say: carrying an integrity
   error, RUNNING or SCHEDULED, or written to within `safety.min_idle`;
2. a run matching any keep rule is kept (keep always wins), and so are
   the parents of kept nested runs;
3. a run matching any prune rule is pruned;
4. size limits prune more unkept runs, oldest first, until under budget.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from janitor.checks.finding import Finding, Severity
from janitor.checks.registry import version_run_id
from janitor.policy.model import ExperimentOverride, KeepRules, Policy
from janitor.sizes import logged_model_bytes, run_artifact_bytes
from janitor.store.model import (
    ACTIVE,
    DELETED,
    Experiment,
    LoggedModel,
    Run,
    Snapshot,
)

PARENT_TAG = "mlflow.parentRunId"
TagReader = Callable[[Run, Iterable[str]], dict[str, str]]


@dataclass(slots=True)
class Decision:
    run: Run
    experiment: Experiment
    prune: bool = False
    # Tuples: a plan holds one decision per run, most with no reason.
    keep_reasons: tuple[str, ...] = ()
    prune_reasons: tuple[str, ...] = ()
    protected: str = ""  # why the run may not be touched at all
    bytes: int = 0  # what pruning it frees, its logged models included
    logged_models: tuple[LoggedModel, ...] = ()

    @property
    def kept(self) -> bool:
        return not self.prune

    @property
    def rule(self) -> str:
        """The rule that decided: the first reason on the winning side."""
        if self.prune:
            return self.prune_reasons[0]
        if self.protected:
            return self.protected
        if self.keep_reasons:
            return self.keep_reasons[0]
        return "no prune rule matched"


@dataclass
class Plan:
    prune_id: str
    policy: Policy
    decisions: list[Decision]
    findings: list[Finding] = field(default_factory=list)
    total_runs: int = 0
    refusal: str = ""  # why the safety limits refuse this plan

    @property
    def pruned(self) -> list[Decision]:
        return [d for d in self.decisions if d.prune]

    @property
    def bytes_freed(self) -> int:
        return sum(d.bytes for d in self.pruned)

    def kept_by_reason(self) -> Counter[str]:
        return Counter(_reason_kind(d.rule) for d in self.decisions if d.kept)

    def decision_for(self, run_id: str) -> Decision | None:
        for decision in self.decisions:
            if decision.run.run_id == run_id:
                return decision
        return None


def new_prune_id(now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(3)}"


def make_plan(
    snapshot: Snapshot,
    policy: Policy,
    findings: list[Finding],
    read_tags: TagReader,
    now: float,
) -> Plan:
    # By run folder: a run copied into another experiment keeps its id.
    decisions: dict[str, Decision] = {}
    sizes = logged_model_bytes(snapshot)
    errors: set[tuple[str | None, str]] = {
        (finding.experiment_id, finding.run_id)
        for finding in findings
        if finding.severity is Severity.ERROR and finding.run_id
    }
    registered = _registered_runs(snapshot)
    needed_models = _needed_models(snapshot)
    for experiment in snapshot.experiments:
        rules = policy.for_experiment(experiment.name)
        ranked = _ranked_keeps(experiment, rules.keep)
        models_of = _models_by_run(experiment)
        for run in experiment.runs:
            decision = Decision(run, experiment)
            decision.protected = _protection(run, errors, policy, now)
            decision.keep_reasons = _keep_reasons(
                run,
                rules,
                ranked,
                registered,
                read_tags,
                now,
            )
            decision.prune_reasons = _prune_reasons(
                run,
                experiment,
                rules,
                sizes,
                now,
            )
            models = models_of.get(run.run_id, ())
            decision.logged_models = tuple(
                m for m in models if m.model_id not in needed_models
            )
            decision.bytes = run.bytes + sum(
                m.bytes for m in decision.logged_models
            )
            decisions[run.path] = decision

    _keep_parents(decisions, read_tags)
    for decision in decisions.values():
        decision.prune = bool(
            decision.prune_reasons
            and not decision.keep_reasons
            and not decision.protected
        )
    plan = Plan(
        new_prune_id(now),
        policy,
        list(decisions.values()),
        total_runs=len(decisions),
    )
    _apply_size_limits(plan, snapshot, policy)
    plan.findings += _kept_over_budget(plan, sizes, policy)
    plan.refusal = _refusal(plan, policy)
    return plan


# -- protection and keep rules ------------------------------------------


def _protection(
    run: Run,
    errors: set[tuple[str | None, str]],
    policy: Policy,
    now: float,
) -> str:
    # An integrity error first: it is what the user has to act on, and a
    # run that cannot be read has no status or write time to tell.
    if (run.experiment_id, run.run_id) in errors:
        return "protected: has integrity errors (see janitor audit)"
    if run.status in ("RUNNING", "SCHEDULED"):
        return f"protected: status {run.status}"
    if now - run.last_write < policy.safety.min_idle:
        return "protected: written to within safety.min_idle"
    return ""


def _keep_reasons(
    run: Run,
    rules: ExperimentOverride,
    ranked: dict[str, list[str]],
    registered: dict[str, str],
    read_tags: TagReader,
    now: float,
) -> tuple[str, ...]:
    keep = rules.keep
    reasons = []
    if keep.registered and run.run_id in registered:
        reasons.append(f"keep.registered: {registered[run.run_id]}")
    reasons += ranked.get(run.run_id, [])
    started = run.start_time
    if keep.younger_than is not None and started is not None:
        if now - started / 1000 < keep.younger_than:
            reasons.append("keep.younger_than")
    if keep.tags:
        values = read_tags(run, keep.tags)
        if all(values.get(k) == v for k, v in keep.tags.items()):
            reasons.append("keep.tags")
    return tuple(reasons)


def _ranked_keeps(
    experiment: Experiment,
    keep: KeepRules,
) -> dict[str, list[str]]:
    """Run id -> the top_n and newest rules that keep it. Only active
    runs are ranked: a run the user deleted holds no place."""
    active = [
        run
        for run in experiment.runs
        if not experiment.in_trash and run.lifecycle_stage == ACTIVE
    ]
    reasons: dict[str, list[str]] = {}
    for rule in keep.top_n:
        scored = []
        for run in active:
            value = run.latest_value(rule.metric)
            if value is None or value != value:  # absent or NaN
                continue
            score = value if rule.order == "max" else -value
            scored.append((score, run.start_time or 0, run.run_id))
        # Ties go to the newer run.
        scored.sort(reverse=True)
        label = f"keep.top_n: {rule.order} {rule.metric} top {rule.n}"
        for _score, _start, run_id in scored[: rule.n]:
            reasons.setdefault(run_id, []).append(label)
    if keep.newest:
        newest = sorted(
            active,
            key=lambda run: (run.start_time or 0, run.run_id),
        )[-keep.newest :]
        for run in newest:
            reasons.setdefault(run.run_id, []).append(
                f"keep.newest: {keep.newest}",
            )
    return reasons


def _registered_runs(snapshot: Snapshot) -> dict[str, str]:
    """Run id -> the live registry version that names it, by run_id, by a
    runs:/ or file source inside the run, or through a logged model."""
    model_sources = {
        model.model_id: model.source_run_id
        for model in snapshot.logged_models()
    }
    run_folders = {
        os.path.join(snapshot.root, run.path): run.run_id
        for run in snapshot.runs()
    }
    names: dict[str, str] = {}
    for registered in snapshot.registered_models:
        for version in registered.versions:
            if not version.meta.ok or version.deleted:
                continue
            label = f"{registered.name} v{version.version}"
            for run_id in (
                version_run_id(version),
                model_sources.get(version.model_id or ""),
                _file_source_run(version.meta.get("source"), run_folders),
            ):
                if run_id:
                    names.setdefault(run_id, label)
    return names


def _file_source_run(source: object, run_folders: dict[str, str]) -> str:
    from janitor.checks.paths import local_path

    if not isinstance(source, str):
        return ""
    path = local_path(source)
    while path and path != os.path.dirname(path):
        if path in run_folders:
            return run_folders[path]
        path = os.path.dirname(path)
    return ""


def _needed_models(snapshot: Snapshot) -> set[str]:
    """Logged models a live registry version points at."""
    return {
        version.model_id
        for registered in snapshot.registered_models
        for version in registered.versions
        if version.meta.ok and not version.deleted and version.model_id
    }


def _models_by_run(experiment: Experiment) -> dict[str, list[LoggedModel]]:
    """An experiment's logged models by the run that logged them."""
    found: dict[str, list[LoggedModel]] = {}
    for model in experiment.logged_models:
        source = model.source_run_id
        if source:
            found.setdefault(source, []).append(model)
    return found


def _keep_parents(
    decisions: dict[str, Decision],
    read_tags: TagReader,
) -> None:
    """A kept nested run keeps its parent, and so on up the tree."""
    pending = [d for d in decisions.values() if d.keep_reasons or d.protected]
    while pending:
        child = pending.pop()
        if PARENT_TAG not in child.run.tag_keys:
            continue
        parent_id = read_tags(child.run, [PARENT_TAG]).get(PARENT_TAG, "")
        # MLflow nests runs within one experiment.
        parent = decisions.get(f"{child.experiment.path}/{parent_id.strip()}")
        if parent is None:
            continue
        label = f"keep: parent of kept run {child.run.run_id}"
        if label in parent.keep_reasons:
            continue
        was_kept = bool(parent.keep_reasons)
        parent.keep_reasons += (label,)
        if not was_kept:
            pending.append(parent)


# -- prune rules and size limits ----------------------------------------


def _prune_reasons(
    run: Run,
    experiment: Experiment,
    rules: ExperimentOverride,
    sizes: dict[str, int],
    now: float,
) -> tuple[str, ...]:
    prune = rules.prune
    reasons = []
    if prune.deleted and (
        experiment.in_trash or run.lifecycle_stage == DELETED
    ):
        reasons.append("prune.deleted")
    started = run.start_time
    if run.status and run.status in prune.status:
        gate = prune.status_older_than
        old_enough = gate is None or (
            started is not None and now - started / 1000 > gate
        )
        if old_enough:
            reasons.append(sys.intern(f"prune.status: {run.status}"))
    if prune.older_than is not None and started is not None:
        if now - started / 1000 > prune.older_than:
            reasons.append("prune.older_than")
    limit = rules.limits.run_artifacts
    if limit is not None and run_artifact_bytes(run, sizes) > limit:
        reasons.append("limits.run_artifacts")
    return tuple(reasons)


def _prunable(decision: Decision) -> bool:
    return not (decision.prune or decision.keep_reasons or decision.protected)


def _oldest_first(decisions: Iterable[Decision]) -> list[Decision]:
    return sorted(
        decisions,
        key=lambda d: (d.run.start_time or 0, d.run.run_id),
    )


def _apply_size_limits(
    plan: Plan,
    snapshot: Snapshot,
    policy: Policy,
) -> None:
    by_experiment: dict[str, list[Decision]] = {}
    for decision in plan.decisions:
        exp_id = decision.experiment.experiment_id
        by_experiment.setdefault(exp_id, []).append(decision)
    for experiment in snapshot.experiments:
        limit = policy.for_experiment(experiment.name).limits.experiment
        decisions = by_experiment.get(experiment.experiment_id, [])
        if limit is None:
            continue
        size = _prune_down_to(
            decisions,
            experiment.bytes - sum(d.bytes for d in decisions if d.prune),
            limit,
            "limits.experiment",
        )
        if size > limit:
            plan.findings.append(
                _over_budget(
                    "experiment",
                    experiment.path,
                    size,
                    limit,
                    experiment.experiment_id,
                )
            )
    limit = policy.limits.store
    if limit is None:
        return
    size = _prune_down_to(
        plan.decisions,
        snapshot.bytes - plan.bytes_freed,
        limit,
        "limits.store",
    )
    if size > limit:
        plan.findings.append(_over_budget("store", ".", size, limit, None))


def _prune_down_to(
    decisions: list[Decision], size: int, limit: int, reason: str
) -> int:
    """Prune the oldest prunable runs until ``size`` fits ``limit``;
    what is left."""
    for decision in _oldest_first(filter(_prunable, decisions)):
        if size <= limit:
            break
        decision.prune = True
        decision.prune_reasons += (reason,)
        size -= decision.bytes
    return size


def _kept_over_budget(
    plan: Plan,
    sizes: dict[str, int],
    policy: Policy,
) -> list[Finding]:
    found = []
    for decision in plan.decisions:
        if decision.prune:
            continue
        rules = policy.for_experiment(decision.experiment.name)
        limit = rules.limits.run_artifacts
        if limit is None:
            continue
        size = run_artifact_bytes(decision.run, sizes)
        if size > limit:
            finding = _over_budget(
                "run",
                decision.run.path,
                size,
                limit,
                decision.experiment.experiment_id,
                decision.run.run_id,
            )
            found.append(finding)
    return found


def _over_budget(
    what: str,
    path: str,
    size: int,
    limit: int,
    experiment_id: str | None,
    run_id: str | None = None,
) -> Finding:
    from janitor.report import natural_size

    severity = Severity.WARNING if what == "run" else Severity.ERROR
    return Finding(
        "over-budget",
        severity,
        path,
        f"{what} is {natural_size(size)}, over its limit of "
        f"{natural_size(limit)}, after pruning everything the policy "
        "allows",
        f"raise limits.{_LIMIT_KEYS[what]}, or strip the artifacts of "
        "kept runs (action: strip-artifacts)",
        experiment_id,
        run_id,
    )


_LIMIT_KEYS = {
    "run": "run_artifacts",
    "experiment": "experiment",
    "store": "store",
}


def _refusal(plan: Plan, policy: Policy) -> str:
    count = len(plan.pruned)
    safety = policy.safety
    if safety.max_delete is not None and count > safety.max_delete:
        return (
            f"the plan prunes {count} runs, more than safety.max_delete "
            f"({safety.max_delete})"
        )
    if safety.max_delete_percent is not None and plan.total_runs:
        share = 100.0 * count / plan.total_runs
        if share > safety.max_delete_percent:
            return (
                f"the plan prunes {count} of {plan.total_runs} runs "
                f"({share:.0f}%), more than safety.max_delete_percent "
                f"({safety.max_delete_percent:g}%)"
            )
    return ""


def _reason_kind(rule: str) -> str:
    """`keep.top_n: max ROC_AUC top 3` -> `keep.top_n`; protections are
    kept whole, they are few and each says something different."""
    if rule.startswith("protected:"):
        return rule
    return rule.split(":", 1)[0]
