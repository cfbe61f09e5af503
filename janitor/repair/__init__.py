"""Repair a file store: plan the fixes (pure), then carry them out with
the trash and the audit log, so every change can be undone."""

from janitor.repair.plan import MOVE, REWRITE, Fix, RepairPlan, plan_repair
from janitor.repair.rebase import Rebase, RebaseRequest, parse_request

__all__ = [
    "MOVE",
    "REWRITE",
    "Fix",
    "Rebase",
    "RebaseRequest",
    "RepairPlan",
    "parse_request",
    "plan_repair",
]
