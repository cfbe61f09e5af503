"""The shape of a retention policy, declared once, as data.

Keys are the model's field names (janitor.policy.model) and defaults are
the model's too, so each is written once, there; the tests hold the two
together.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from janitor.policy.kinds import (
    Bool,
    Choice,
    Const,
    Duration,
    Int,
    ListOf,
    Number,
    Section,
    Size,
    Text,
    TextMap,
)
from janitor.policy.model import (
    ACTIONS,
    ORDERS,
    STATUSES,
    ExperimentOverride,
    KeepRules,
    Limits,
    Policy,
    PruneRules,
    Safety,
    TopN,
)

KEEP = Section(
    nullable=True,
    fields={
        "registered": Bool(),
        "top_n": ListOf(
            nullable=True,
            item=Section(
                fields={
                    "metric": Text(hint="name the metric, e.g. ROC_AUC"),
                    "n": Int(
                        minimum=1,
                        hint="n is how many of the best runs to keep",
                    ),
                    "order": Choice(
                        values=ORDERS,
                        hint="max keeps the highest values, min the lowest",
                    ),
                },
                required={
                    "metric": "add the metric to rank runs by, e.g. "
                    "'metric: ROC_AUC'",
                    "n": "add how many runs to keep, e.g. 'n: 3'",
                },
                build=TopN,
            ),
        ),
        "newest": Int(
            nullable=True,
            minimum=0,
            hint="newest: N keeps the N most recent runs of each experiment",
        ),
        "younger_than": Duration(nullable=True),
        "tags": TextMap(nullable=True),
    },
)
PRUNE = Section(
    nullable=True,
    fields={
        "deleted": Bool(),
        "status": ListOf(
            nullable=True,
            unique=True,
            item=Choice(
                values=STATUSES,
                fold_case=True,
                hint="use MLflow's run statuses, in any case",
            ),
        ),
        "status_older_than": Duration(nullable=True),
        "older_than": Duration(nullable=True),
    },
)
LIMITS = Section(
    nullable=True,
    fields={
        limit.name: Size(nullable=True) for limit in dataclass_fields(Limits)
    },
)
SAFETY = Section(
    nullable=True,
    fields={
        "max_delete": Int(
            nullable=True,
            minimum=0,
            hint="the most runs one prune may delete; leave it empty for "
            "no cap",
        ),
        "max_delete_percent": Number(
            nullable=True,
            minimum=0,
            maximum=100,
            hint="the most runs one prune may delete, as a percentage of "
            "the store's runs",
        ),
        "min_idle": Duration(),
    },
)
OVERRIDE = Section(
    fields={
        "match": Text(
            hint="write a glob of experiment names, e.g. 'credit_*'"
        ),
        "keep": KEEP,
        "prune": PRUNE,
        "limits": LIMITS,
    },
    required={
        "match": "add 'match: <glob>' naming the experiments it is for",
    },
)
POLICY = Section(
    fields={
        "version": Const(
            value=1, hint="this janitor reads policies of version 1"
        ),
        "keep": KEEP,
        "prune": PRUNE,
        "limits": LIMITS,
        "action": Choice(
            values=ACTIONS,
            hint="delete trashes whole runs; strip-artifacts keeps their "
            "records",
        ),
        "safety": SAFETY,
        "experiments": ListOf(nullable=True, item=OVERRIDE),
    },
    required={"version": "add 'version: 1' at the top of the file"},
    hint="write 'version: 1' then the sections keep, prune, limits…",
)

# Each section's keys are its model's fields, checked by the tests.
SECTIONS: dict[type, Section] = {
    KeepRules: KEEP,
    PruneRules: PRUNE,
    Limits: LIMITS,
    Safety: SAFETY,
    ExperimentOverride: OVERRIDE,
    Policy: POLICY,
}
