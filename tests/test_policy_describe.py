"""A policy in plain words: the summary `janitor policy check` prints."""

from __future__ import annotations

import pytest

from janitor.policy.describe import describe, duration_text, size_text
from janitor.policy.model import (
    ExperimentOverride,
    KeepRules,
    Limits,
    Policy,
    PruneRules,
    TopN,
)


def test_a_policy_that_does_nothing():
    policy = Policy("p.yaml", "0", keep=KeepRules(registered=False))
    assert describe(policy) == "keeps nothing; prunes nothing; action delete"


def test_every_clause():
    keep = KeepRules(
        top_n=[TopN("ROC_AUC", 3), TopN("Log_Loss", 1, "min")],
        newest=0,
        younger_than=3600,
        tags={"a": "1"},
    )
    policy = Policy(
        "p.yaml",
        "0",
        keep=keep,
        prune=PruneRules(older_than=90 * 86400),
        limits=Limits(run_artifacts=200_000_000, file=50 * 1024**2),
        action="strip-artifacts",
        experiments=[
            ExperimentOverride("a*", keep, PruneRules(), Limits()),
        ],
    )
    assert describe(policy) == (
        "keeps registered, newest 0, top 3 by ROC_AUC, "
        "top 1 by Log_Loss (lowest), younger than 1h, tag a=1; "
        "prunes any run older than 90d; "
        "limits run artifacts 200 MB, file 50 MiB; "
        "action strip-artifacts; 1 experiment override"
    )


def test_status_alone_selects_on_its_own():
    prune = PruneRules(status=["FAILED"])
    policy = Policy("p.yaml", "0", prune=prune)
    assert "; prunes FAILED; " in describe(policy)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (90, "90s"),
        (5400, "90m"),
        (14 * 86400, "14d"),
        (1.5, "1.5s"),
    ],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(1, "1 Byte"), (1500, "1.5 kB"), (20 * 10**9, "20 GB"), (1024, "1 KiB")],
)
def test_size_text(size, text):
    assert size_text(size) == text
