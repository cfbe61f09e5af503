"""Render a prune plan: a table for people, JSON for programs.

Verbs follow the mode: "would prune" in a dry run, "pruned" for real.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from janitor.policy.engine import Decision, Plan
from janitor.report import natural_size, short_age
from janitor.report.json_report import Rows


def _age(decision: Decision, now: float) -> str:
    started = decision.run.start_time
    if started is None:
        return "?"
    return short_age(now - started / 1000)


def render_table(plan: Plan, store: str, now: float, dry_run: bool) -> str:
    from tabulate import tabulate  # not imported for JSON output

    policy = plan.policy
    lines = [
        f"Store: {store}",
        f"Policy: {policy.path} (sha256 {policy.sha256[:12]})",
        "",
    ]
    pruned = sorted(
        plan.pruned,
        key=lambda d: (d.experiment.name, d.experiment.experiment_id),
    )
    for (name, exp_id), group in groupby(
        pruned, key=lambda d: (d.experiment.name, d.experiment.experiment_id)
    ):
        rows = [
            [
                d.run.run_id,
                d.run.name,
                _age(d, now),
                natural_size(d.bytes),
                ", ".join(d.prune_reasons),
            ]
            for d in group
        ]
        lines += [
            f"Experiment {name!r} ({exp_id})",
            tabulate(
                rows,
                headers=["run", "name", "age", "size", "rule"],
                disable_numparse=True,  # ids and sizes are text
            ),
            "",
        ]
    for finding in plan.findings:
        lines.append(
            f"{finding.severity.label}: {finding.code}: "
            f"{finding.path}: {finding.message}"
        )
    kept = plan.kept_by_reason()
    if kept:
        detail = ", ".join(
            f"{reason} {count}"
            for reason, count in sorted(kept.items(), key=lambda kv: -kv[1])
        )
        total = sum(kept.values())
        noun = "run" if total == 1 else "runs"
        lines.append(f"Kept {total} {noun}: {detail}.")
    verb = "Would prune" if dry_run else "Will prune"
    lines.append(
        f"{verb} {len(plan.pruned)} of {plan.total_runs} runs, freeing "
        f"{natural_size(plan.bytes_freed)}"
        + (" (dry run: nothing was changed)." if dry_run else "."),
    )
    if plan.refusal:
        lines.append(f"Refused: {plan.refusal}; pass --force to prune anyway.")
    return "\n".join(lines)


def plan_document(plan: Plan, store: str, dry_run: bool) -> dict[str, Any]:
    return {
        "store": store,
        "prune_id": plan.prune_id,
        "dry_run": dry_run,
        "policy": {
            "path": plan.policy.path,
            "sha256": plan.policy.sha256,
            "action": plan.policy.action,
        },
        "summary": {
            "runs": plan.total_runs,
            "pruned": len(plan.pruned),
            "kept": plan.total_runs - len(plan.pruned),
            "bytes_freed": plan.bytes_freed,
            "kept_by_reason": dict(plan.kept_by_reason()),
        },
        "refusal": plan.refusal or None,
        "runs": Rows(lambda: map(_run_document, plan.decisions)),
        "findings": [finding.to_dict() for finding in plan.findings],
    }


def _run_document(decision: Decision) -> dict[str, Any]:
    return {
        "experiment_id": decision.experiment.experiment_id,
        "experiment": decision.experiment.name,
        "run_id": decision.run.run_id,
        "name": decision.run.name,
        "decision": "prune" if decision.prune else "keep",
        "rule": decision.rule,
        "keep_reasons": decision.keep_reasons,
        "prune_reasons": decision.prune_reasons,
        "protected": decision.protected or None,
        "start_time": decision.run.start_time,
        "bytes": decision.bytes,
        "logged_models": [m.model_id for m in decision.logged_models],
    }


def render_explanation(decision: Decision, now: float) -> str:
    run = decision.run
    verdict = "PRUNE" if decision.prune else "KEEP"
    lines = [
        f"Run {run.run_id} ({run.name or 'no name'}) in experiment "
        f"{decision.experiment.name!r} ({decision.experiment.experiment_id})",
        f"started {_age(decision, now)} ago, {natural_size(decision.bytes)}",
        f"Decision: {verdict} ({decision.rule})",
    ]
    if decision.protected:
        lines.append(f"  {decision.protected}")
    for reason in decision.keep_reasons:
        lines.append(f"  keep rule matched: {reason}")
    for reason in decision.prune_reasons:
        lines.append(f"  prune rule matched: {reason}")
    if not (decision.keep_reasons or decision.prune_reasons):
        lines.append(
            "  no rule matched: runs are kept unless a prune rule matches"
        )
    if decision.logged_models:
        ids = ", ".join(m.model_id for m in decision.logged_models)
        lines.append(f"  pruned along with it: logged models {ids}")
    return "\n".join(lines)
