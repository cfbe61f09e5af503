"""Every semantic rule of a retention policy, on a store MLflow wrote.

Plans are computed with `now` moved into the future where age matters,
so no file times are faked.
"""

from __future__ import annotations

import time

import pytest

from janitor.checks import CheckContext, run_checks
from janitor.commands.prune import build_plan
from janitor.policy.engine import make_plan
from janitor.policy.model import (
    ExperimentOverride,
    KeepRules,
    Limits,
    Policy,
    PruneRules,
    Safety,
    TopN,
)
from janitor.store import open_store
from tests import mlflow_stores

DAY = 86400.0


@pytest.fixture(scope="session")
def policy_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("policy") / "mlruns"
    ids = mlflow_stores.build_policy_store(root)
    return root, ids


def policy(**sections) -> Policy:
    keep = sections.pop("keep", KeepRules(registered=False))
    prune = sections.pop("prune", PruneRules())
    safety = sections.pop(
        "safety", Safety(max_delete=None, max_delete_percent=None, min_idle=0)
    )
    return Policy(
        "test.yaml",
        "0" * 64,
        keep=keep,
        prune=prune,
        safety=safety,
        **sections,
    )


def decide(policy_store, rules: Policy, later: float = 0.0):
    root, ids = policy_store
    store = open_store(str(root))
    plan = build_plan(store, rules, time.time() + later)
    names = {run_id: name for name, run_id in ids.items()}
    pruned = {names[d.run.run_id] for d in plan.pruned}
    return plan, pruned, names


def test_nothing_pruned_without_prune_rules(policy_store):
    plan, pruned, _ = decide(policy_store, policy())
    assert pruned == set()
    assert plan.total_runs == 9


def test_prune_by_status(policy_store):
    _, pruned, _ = decide(
        policy_store, policy(prune=PruneRules(status=["FAILED", "KILLED"]))
    )
    assert pruned == {"r0", "r2", "c"}


def test_prune_deleted(policy_store):
    _, pruned, _ = decide(policy_store, policy(prune=PruneRules(deleted=True)))
    assert pruned == {"r4"}


def test_running_runs_are_protected(policy_store):
    plan, pruned, names = decide(
        policy_store, policy(prune=PruneRules(older_than=DAY)), later=2 * DAY
    )
    assert "r6" not in pruned
    (running,) = [d for d in plan.decisions if names[d.run.run_id] == "r6"]
    assert running.protected == "protected: status RUNNING"
    assert pruned == {"r0", "r1", "r2", "r3", "r4", "r5", "p", "c"}


def test_min_idle_protects_recent_writes(policy_store):
    rules = policy(
        prune=PruneRules(status=["FAILED"]),
        safety=Safety(None, None, min_idle=3600),
    )
    plan, pruned, _ = decide(policy_store, rules)
    assert pruned == set()
    assert {d.rule for d in plan.decisions if d.run.status == "FAILED"} == {
        "protected: written to within safety.min_idle"
    }


def test_keep_always_wins_registered(policy_store):
    rules = policy(
        keep=KeepRules(registered=True), prune=PruneRules(older_than=DAY)
    )
    plan, pruned, names = decide(policy_store, rules, later=2 * DAY)
    assert "r1" not in pruned
    (r1,) = [d for d in plan.decisions if names[d.run.run_id] == "r1"]
    assert r1.keep_reasons == ("keep.registered: prod v1",)
    assert r1.prune_reasons == ("prune.older_than",)


def test_top_n_max_ranks_latest_values_and_newer_wins_ties(policy_store):
    rules = policy(
        keep=KeepRules(registered=False, top_n=[TopN("ROC_AUC", 1, "max")]),
        prune=PruneRules(older_than=DAY),
    )
    _, pruned, _ = decide(policy_store, rules, later=2 * DAY)
    # r1 and r5 tie at 0.80: the newer one, r5, is kept.
    assert "r5" not in pruned and "r1" in pruned


def test_top_n_min_and_nan_not_ranked(policy_store):
    rules = policy(
        keep=KeepRules(registered=False, top_n=[TopN("ROC_AUC", 2, "min")]),
        prune=PruneRules(older_than=DAY),
    )
    plan, pruned, names = decide(policy_store, rules, later=2 * DAY)
    kept = {
        names[d.run.run_id]
        for d in plan.decisions
        if any(r.startswith("keep.top_n") for r in d.keep_reasons)
    }
    assert kept == {"r0", "r2"}  # r3 (NaN) and r4 (absent) are not ranked


def test_newest(policy_store):
    rules = policy(
        keep=KeepRules(registered=False, newest=2),
        prune=PruneRules(older_than=DAY),
    )
    plan, _, names = decide(policy_store, rules, later=2 * DAY)
    kept = {
        names[d.run.run_id]
        for d in plan.decisions
        if any(r.startswith("keep.newest") for r in d.keep_reasons)
    }
    # r6 is newest in credit, then r5 (r4 is deleted: not ranked);
    # in nested, the child started after its parent.
    assert kept == {"r6", "r5", "c", "p"}


def test_younger_than(policy_store):
    rules = policy(
        keep=KeepRules(registered=False, younger_than=7 * DAY),
        prune=PruneRules(older_than=DAY),
    )
    _, pruned, _ = decide(policy_store, rules, later=2 * DAY)
    assert pruned == set()
    _, pruned, _ = decide(policy_store, rules, later=8 * DAY)
    assert "r0" in pruned


def test_tags_keep_and_parent_of_kept_nested_run(policy_store):
    rules = policy(
        keep=KeepRules(registered=False, tags={"janitor.keep": "true"}),
        prune=PruneRules(older_than=DAY),
    )
    plan, pruned, names = decide(policy_store, rules, later=2 * DAY)
    assert {"r3", "c", "p"}.isdisjoint(pruned)
    (parent,) = [d for d in plan.decisions if names[d.run.run_id] == "p"]
    child_id = _id(plan, names, "c")
    assert parent.keep_reasons == (f"keep: parent of kept run {child_id}",)


def _id(plan, names, wanted):
    return next(
        d.run.run_id for d in plan.decisions if names[d.run.run_id] == wanted
    )


def test_pruned_run_takes_its_logged_model_unless_registered(policy_store):
    rules = policy(prune=PruneRules(older_than=DAY))
    plan, _, names = decide(policy_store, rules, later=2 * DAY)
    root, ids = policy_store
    by_name = {names[d.run.run_id]: d for d in plan.decisions}
    assert [m.model_id for m in by_name["r2"].logged_models] == [
        ids["r2_model"]
    ]
    # r1's model backs registry version prod v1: it stays.
    assert by_name["r1"].logged_models == ()


def test_integrity_errors_protect_a_run(policy_store, tmp_path):
    import shutil

    root, ids = policy_store
    copy = tmp_path / "mlruns"
    shutil.copytree(root, copy)
    metric = copy / ids["credit"] / ids["r0"] / "metrics" / "ROC_AUC"
    metric.write_text("garbage\n")
    store = open_store(str(copy))
    plan = build_plan(
        store, policy(prune=PruneRules(status=["FAILED"])), time.time()
    )
    r0 = plan.decision_for(ids["r0"])
    assert not r0.prune
    assert r0.protected.startswith("protected: has integrity errors")


def test_run_artifacts_limit(policy_store):
    rules = policy(
        limits=Limits(run_artifacts=2000), keep=KeepRules(registered=True)
    )
    plan, pruned, _ = decide(policy_store, rules)
    # r2's logged model pushes it over; r1's is registered: kept, reported.
    assert pruned == {"r2"}
    (finding,) = plan.findings
    assert (finding.code, finding.severity.label) == ("over-budget", "warning")


def test_experiment_limit_prunes_oldest_first(policy_store):
    root, ids = policy_store
    snapshot = open_store(str(root)).scan()
    credit = next(
        e for e in snapshot.experiments if e.experiment_id == ids["credit"]
    )
    rules = policy(limits=Limits(experiment=credit.bytes - 1))
    plan, pruned, _ = decide(policy_store, rules)
    assert pruned == {"r0"}
    assert plan.pruned[0].prune_reasons == ("limits.experiment",)


def test_store_limit_still_over_is_an_error(policy_store):
    rules = policy(
        limits=Limits(store=1000), keep=KeepRules(registered=False, newest=1)
    )
    plan, pruned, _ = decide(policy_store, rules)
    assert "r6" not in pruned  # protected: RUNNING
    (finding,) = [f for f in plan.findings if f.path == "."]
    assert (finding.code, finding.severity.label) == ("over-budget", "error")


def test_safety_limits_refuse_big_plans(policy_store):
    rules = policy(
        prune=PruneRules(older_than=DAY),
        safety=Safety(max_delete=3, max_delete_percent=None, min_idle=0),
    )
    plan, _, _ = decide(policy_store, rules, later=2 * DAY)
    assert "more than safety.max_delete (3)" in plan.refusal
    rules.safety = Safety(max_delete=None, max_delete_percent=50, min_idle=0)
    plan, _, _ = decide(policy_store, rules, later=2 * DAY)
    assert "of 9 runs" in plan.refusal and "max_delete_percent" in plan.refusal


def test_experiment_override_first_match_wins(policy_store):
    keep_all = KeepRules(registered=False, newest=100)
    rules = policy(prune=PruneRules(status=["FAILED", "KILLED"]))
    rules.experiments = [
        ExperimentOverride("cred*", keep_all, rules.prune, Limits()),
        ExperimentOverride(
            "*", KeepRules(registered=False), rules.prune, Limits()
        ),
    ]
    _, pruned, _ = decide(policy_store, rules)
    assert pruned == {"c"}


def test_make_plan_reads_no_tags_it_does_not_need(policy_store):
    root, _ = policy_store
    snapshot = open_store(str(root)).scan()
    findings = run_checks(snapshot, CheckContext(now=time.time()))
    asked = []

    def read_tags(run, keys):
        asked.append(list(keys))
        return {}

    make_plan(snapshot, policy(), findings, read_tags, time.time())
    assert asked == []
