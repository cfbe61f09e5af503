"""Render a repair plan and a migration check: tables and JSON.

Verbs follow the mode: "would repair" in a dry run, "repairing" for
real.
"""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from janitor.checks.finding import Finding
from janitor.repair import RepairPlan
from janitor.repair.migration import Blocker
from janitor.units import plural

FIX_WIDTHS = [None, 45, 45]
MANUAL_WIDTHS = [None, None, 40, 60]
BLOCKER_WIDTHS = [None, None, 40, 40]


def render_plan_table(plan: RepairPlan, dry_run: bool) -> str:
    lines = [f"Store: {plan.store}"]
    for rebase in plan.rebases:
        how = (
            "automatic: the store was moved"
            if rebase.source == "auto"
            else ("--rebase")
        )
        lines.append(f"Rebase: {rebase.old} -> {rebase.new} ({how})")
    lines.append("")
    if plan.fixes:
        rows = [[fix.path, fix.problem, fix.remedy] for fix in plan.fixes]
        lines += [
            tabulate(
                rows,
                headers=["path", "problem", "fix"],
                maxcolwidths=FIX_WIDTHS,
            ),
            "",
        ]
    if plan.manual:
        lines += [
            "Needs a manual step (repair does not guess):",
            _manual_table(plan.manual),
            "",
        ]
    lines += [f"Note: {note}" for note in plan.notes]
    if plan.fixes:
        lines.append(_plan_summary(plan, dry_run))
    return "\n".join(lines).rstrip("\n")


def _manual_table(findings: list[Finding]) -> str:
    rows = [[f.severity.label, f.code, f.path, f.hint] for f in findings]
    return tabulate(
        rows,
        headers=["severity", "code", "path", "manual step"],
        maxcolwidths=MANUAL_WIDTHS,
    )


def _plan_summary(plan: RepairPlan, dry_run: bool) -> str:
    counts = plan.counts()
    verb = "Would repair" if dry_run else "Repairing"
    text = (
        f"{verb} {plural(counts['fixes'], 'path')}: "
        f"{counts['rewrites']} rewritten, {counts['moves']} moved to the "
        "trash"
    )
    return text + (" (dry run: nothing was changed)." if dry_run else ".")


def plan_document(plan: RepairPlan, dry_run: bool) -> dict[str, Any]:
    return {
        "store": plan.store,
        "repair_id": plan.repair_id,
        "dry_run": dry_run,
        "rebase": [rebase.to_dict() for rebase in plan.rebases],
        "summary": plan.counts(),
        "fixes": [fix.to_dict() for fix in plan.fixes],
        "manual": [finding.to_dict() for finding in plan.manual],
        "notes": plan.notes,
    }


def render_plan_json(plan: RepairPlan, dry_run: bool) -> str:
    return json.dumps(
        plan_document(plan, dry_run), indent=2, ensure_ascii=False
    )


def verdict(blockers: list[Blocker]) -> str:
    if not blockers:
        return (
            "Ready to migrate: no finding makes `mlflow migrate-filestore` "
            "fail or lose data."
        )
    total = plural(len(blockers), "blocking finding")
    repairable = sum(blocker.repairable for blocker in blockers)
    if repairable == len(blockers):
        them = "it" if repairable == 1 else "them"
        return (
            f"Migration would fail: {total}; run `janitor repair` to fix "
            f"{them}, then check again."
        )
    manual = len(blockers) - repairable
    if repairable:
        return (
            f"Migration would fail: {total}; run `janitor repair` to fix "
            f"{repairable} of them, and take the manual step shown for "
            f"the other {manual}."
        )
    them = "it" if manual == 1 else "them"
    return (
        f"Migration would fail: {total}; `janitor repair` cannot fix "
        f"{them}: take the manual step shown."
    )


def render_check_table(store: str, blockers: list[Blocker]) -> str:
    lines = [f"Store: {store}", ""]
    if blockers:
        rows = [
            [b.finding.code, b.finding.path, b.effect, b.fix] for b in blockers
        ]
        lines += [
            tabulate(
                rows,
                headers=["code", "path", "migration", "fix"],
                maxcolwidths=BLOCKER_WIDTHS,
            ),
            "",
        ]
    lines.append(verdict(blockers))
    return "\n".join(lines)


def render_check_json(store: str, blockers: list[Blocker]) -> str:
    repairable = sum(blocker.repairable for blocker in blockers)
    document = {
        "store": store,
        "ready": not blockers,
        "summary": {
            "blocking": len(blockers),
            "repairable": repairable,
            "manual": len(blockers) - repairable,
        },
        "blocking": [blocker.to_dict() for blocker in blockers],
        "verdict": verdict(blockers),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)
