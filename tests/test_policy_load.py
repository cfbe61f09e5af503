"""Policy files: every problem with its place, and the Policy they make."""

from __future__ import annotations

import dataclasses
import hashlib
import textwrap

import pytest

from janitor.errors import ConfigError
from janitor.policy.load import PolicyError, load_policy, validate_policy_text
from janitor.policy.model import (
    KeepRules,
    Limits,
    Policy,
    PruneRules,
    Safety,
    TopN,
)
from janitor.policy.schema import SECTIONS


def _problems(text: str) -> list[tuple[int | None, int | None, str, str]]:
    policy, problems = validate_policy_text(textwrap.dedent(text), "p.yaml")
    assert policy is None
    assert problems
    return [(p.line, p.column, p.message, p.hint) for p in problems]


def _policy(text: str) -> Policy:
    policy, problems = validate_policy_text(textwrap.dedent(text), "p.yaml")
    assert problems == []
    assert policy is not None
    return policy


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "hint"),
    [
        pytest.param(
            "version: 1\nkep: {}\n",
            2,
            1,
            "unknown key 'kep' in the top level",
            "did you mean 'keep'?",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "version: 1\nkeep:\n  newst: 3\n",
            3,
            3,
            "unknown key 'newst' in keep",
            "did you mean 'newest'?",
            id="unknown-section-key",
        ),
        pytest.param(
            "version: 1\nlimits:\n  zzz: 1MB\n",
            3,
            3,
            "unknown key 'zzz' in limits",
            "known keys: run_artifacts, experiment, store, file",
            id="unknown-key-no-close-match",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {metric: A, n: 1, ordre: min}\n",
            4,
            25,
            "unknown key 'ordre' in keep.top_n[0]",
            "did you mean 'order'?",
            id="unknown-top-n-key",
        ),
        pytest.param(
            "version: 1\nexperiments:\n  - match: a\n    prune: {stauts: []}\n",
            4,
            13,
            "unknown key 'stauts' in experiments[0].prune",
            "did you mean 'status'?",
            id="unknown-override-key",
        ),
        pytest.param(
            "version: 1\nkeep:\n  registered: yes please\n",
            3,
            15,
            "keep.registered must be true or false, not 'yes please'",
            "write true or false, without quotes",
            id="wrong-type-bool",
        ),
        pytest.param(
            "version: 1\nkeep: [registered]\n",
            2,
            7,
            "keep must be a mapping of keys, not a list",
            "indent its keys under it",
            id="wrong-type-section",
        ),
        pytest.param(
            "version: 1\nprune:\n  status: FAILED\n",
            3,
            11,
            "prune.status must be a list, not 'FAILED'",
            "write one '- item' per line, or [a, b] on one line",
            id="wrong-type-list",
        ),
        pytest.param(
            "version: 1\nkeep:\n  newest: five\n",
            3,
            11,
            "keep.newest must be a whole number 0 or more, not 'five'",
            "the N most recent runs",
            id="wrong-type-int",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n: [{metric: 7, n: 1}]\n",
            3,
            20,
            "keep.top_n[0].metric must be a non-empty text, not 7",
            "name the metric",
            id="wrong-type-text",
        ),
        pytest.param(
            "version: 1\nkeep:\n  tags: {a: [1]}\n",
            3,
            13,
            "keep.tags['a'] must be a text value, not a list",
            "write the value to match",
            id="wrong-type-tag-value",
        ),
        pytest.param(
            "version: 1\nsafety:\n  max_delete_percent: 150\n",
            3,
            23,
            "safety.max_delete_percent must be a number from 0 to 100, "
            "not 150",
            "as a percentage",
            id="percent-out-of-range",
        ),
        pytest.param(
            "version: 1\nkeep:\n  younger_than: 14x\n",
            3,
            17,
            "keep.younger_than must be a duration such as 14d, not '14x'",
            "write a number and a unit among s, m, h, d, w (e.g. 14d)",
            id="bad-duration",
        ),
        pytest.param(
            "version: 1\nprune:\n  older_than: 90\n",
            3,
            15,
            "prune.older_than must be a duration such as 14d, not 90",
            "a unit among s, m, h, d, w",
            id="duration-without-unit",
        ),
        pytest.param(
            "version: 1\nsafety:\n  min_idle:\n",
            3,
            12,
            "safety.min_idle must be a duration such as 14d, not empty",
            "a unit among s, m, h, d, w",
            id="duration-required",
        ),
        pytest.param(
            "version: 1\nlimits:\n  store: 20 gigs\n",
            3,
            10,
            "limits.store must be a size such as 200MB, not '20 gigs'",
            "a unit among B, kB, MB, GB, KiB, MiB, GiB",
            id="bad-size",
        ),
        pytest.param(
            "version: 1\nlimits:\n  file: -5\n",
            3,
            9,
            "limits.file must be a size such as 200MB, not -5",
            "a size cannot be negative",
            id="negative-size",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {metric: ROC_AUC, n: 0}\n",
            4,
            28,
            "keep.top_n[0].n must be a whole number 1 or more, not 0",
            "n is how many of the best runs to keep",
            id="zero-n",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {metric: ROC_AUC, n: -2}\n",
            4,
            28,
            "keep.top_n[0].n must be a whole number 1 or more, not -2",
            "n is how many",
            id="negative-n",
        ),
        pytest.param(
            "version: 1\nkeep:\n  newest: -1\n",
            3,
            11,
            "keep.newest must be a whole number 0 or more, not -1",
            "newest: N keeps the N most recent runs of each experiment",
            id="negative-newest",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {metric: A, n: 1, order: maximum}\n",
            4,
            32,
            "keep.top_n[0].order must be max or min, not 'maximum'",
            "did you mean 'max'?",
            id="unknown-order",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {metric: A, n: 1, order: best}\n",
            4,
            32,
            "keep.top_n[0].order must be max or min, not 'best'",
            "max keeps the highest values, min the lowest",
            id="unknown-order-no-close-match",
        ),
        pytest.param(
            "version: 1\nkeep:\n  top_n:\n    - {n: 2}\n",
            4,
            7,
            "keep.top_n[0] has no 'metric'",
            "add the metric to rank runs by",
            id="top-n-without-metric",
        ),
        pytest.param(
            "version: 1\nprune:\n  status: [failed, FAIL]\n",
            3,
            20,
            "prune.status[1] must be one of RUNNING, SCHEDULED, FINISHED, "
            "FAILED, KILLED, not 'FAIL'",
            "did you mean 'FAILED'?",
            id="unknown-status",
        ),
        pytest.param(
            "version: 1\naction: remove\n",
            2,
            9,
            "action must be delete or strip-artifacts, not 'remove'",
            "delete trashes whole runs; strip-artifacts keeps their records",
            id="unknown-action",
        ),
        pytest.param(
            "action: delete\nkeep: {newest: 3}\n",
            1,
            1,
            "the policy has no 'version'",
            "add 'version: 1' at the top of the file",
            id="version-missing",
        ),
        pytest.param(
            "# retention\nversion: 2\n",
            2,
            10,
            "version must be 1, not 2",
            "this janitor reads policies of version 1",
            id="version-2",
        ),
        pytest.param(
            "version: '1'\n",
            1,
            10,
            "version must be 1, not '1'",
            "version 1",
            id="version-as-text",
        ),
        pytest.param(
            "version: 1.0\n",
            1,
            10,
            "version must be 1, not 1.0",
            "version 1",
            id="version-as-float",
        ),
        pytest.param(
            "version: 1\nexperiments:\n  - keep: {newest: 1}\n",
            3,
            5,
            "experiments[0] has no 'match'",
            "add 'match: <glob>' naming the experiments it is for",
            id="override-without-match",
        ),
        pytest.param(
            "version: 1\nexperiments:\n  - match: ''\n",
            3,
            12,
            "experiments[0].match must be a non-empty text, not ''",
            "a glob of experiment names",
            id="override-with-empty-match",
        ),
        pytest.param(
            "version: 1\nkeep: {newest: 1}\naction: delete\nkeep: {newest: 2}\n",
            4,
            1,
            "duplicate key 'keep' in the top level (first at line 2)",
            "merge the two into one: YAML keeps only the last",
            id="duplicate-top-level-key",
        ),
        pytest.param(
            "version: 1\nprune:\n  deleted: true\n  deleted: false\n",
            4,
            3,
            "duplicate key 'deleted' in prune (first at line 3)",
            "YAML keeps only the last",
            id="duplicate-section-key",
        ),
        pytest.param(
            "version: 1\nkeep:\n  tags:\n    a: x\n    a: y\n",
            5,
            5,
            "duplicate key 'a' in keep.tags (first at line 4)",
            "YAML keeps only the last",
            id="duplicate-tag",
        ),
        pytest.param(
            "version: 1\nkeep: &base {newest: 1}\nprune:\n  <<: *base\n",
            4,
            3,
            "a merge key (<<) in prune",
            "merge keys are not supported",
            id="merge-key",
        ),
        pytest.param(
            "version: 1\n? [a, b]\n: 1\n",
            2,
            3,
            "a key in the top level is not a name",
            "write keys as plain words",
            id="key-not-a-name",
        ),
        pytest.param(
            "version: !!python/name:os.system 1\n",
            1,
            10,
            "version has a value YAML cannot read "
            "(tag:yaml.org,2002:python/name:os.system)",
            "remove the tag or quote the value",
            id="unknown-yaml-tag",
        ),
        pytest.param(
            "version: 1\nkeep:\n  newest: 3\n nope: 1\n",
            4,
            2,
            "invalid YAML: expected <block end>, but found "
            "'<block mapping start>'",
            "check the indentation, colons and quotes (while parsing a "
            "block mapping at line 1, column 1)",
            id="yaml-bad-indent",
        ),
        pytest.param(
            "version: 1\nkeep: {newest: 3\n",
            3,
            1,
            "invalid YAML: expected ',' or '}', but got '<stream end>'",
            "(while parsing a flow mapping at line 2, column 7)",
            id="yaml-unclosed-flow",
        ),
        pytest.param(
            "version: 1\nkeep: newest: 3\n",
            2,
            13,
            "invalid YAML: mapping values are not allowed here",
            "check the indentation, colons and quotes",
            id="yaml-colon",
        ),
        pytest.param(
            "version: 1\nkeep:\n\tnewest: 3\n",
            3,
            1,
            "invalid YAML: found character '\\t' that cannot start any token",
            "indent with spaces: YAML does not allow tabs there",
            id="yaml-tab",
        ),
        pytest.param(
            "version: 1\n---\nversion: 1\n",
            2,
            1,
            "invalid YAML: expected a single document in the stream (at "
            "line 1, column 1), but found another document",
            "a policy is one YAML document: remove the second '---'",
            id="yaml-two-documents",
        ),
        pytest.param(
            "version: 1\nkeep: *nowhere\n",
            2,
            7,
            "invalid YAML: found undefined alias 'nowhere'",
            "check the indentation",
            id="yaml-undefined-alias",
        ),
        pytest.param(
            "version: 1\nkeep: {tags: {a: \x07}}\n",
            2,
            18,
            "a character YAML does not allow (U+0007)",
            "remove it",
            id="yaml-control-character",
        ),
        pytest.param(
            "",
            1,
            1,
            "the policy is empty",
            "write at least 'version: 1', or start from policies/default.yaml",
            id="empty-file",
        ),
        pytest.param(
            "# only a comment\n\n",
            1,
            1,
            "the policy is empty",
            "version: 1",
            id="comments-only",
        ),
        pytest.param(
            "- version: 1\n",
            1,
            1,
            "the policy must be a mapping of keys, not a list",
            "write 'version: 1' then the sections keep, prune, limits",
            id="top-level-list",
        ),
        pytest.param(
            "just words\n",
            1,
            1,
            "the policy must be a mapping of keys, not 'just words'",
            "write 'version: 1'",
            id="top-level-scalar",
        ),
    ],
)
def test_each_problem_has_its_place_message_and_hint(
    text, line, column, message, hint
):
    ((got_line, got_column, got_message, got_hint),) = _problems(text)
    assert (got_line, got_column) == (line, column)
    assert got_message == message
    assert hint in got_hint


def test_problem_line_format():
    (problem,) = validate_policy_text("version: 1\nkep: {}\n", "x.yaml")[1]
    assert str(problem) == (
        "x.yaml:2:1: unknown key 'kep' in the top level; did you mean 'keep'?"
    )


def test_every_problem_is_reported_in_file_order():
    text = """\
        version: 3
        keep:
          newest: -1
          top_n:
            - {metric: A, n: 0, order: up}
        prune:
          status: [DONE]
          older_than: soon
        limits: {store: lots}
        action: burn
        safety: {max_delete: -1}
        experiments:
          - keep: {registered: maybe}
        """
    places = [(line, column) for line, column, _, _ in _problems(text)]
    assert places == [
        (1, 10),
        (3, 11),
        (5, 22),
        (5, 32),
        (7, 12),
        (8, 15),
        (9, 17),
        (10, 9),
        (11, 22),
        (13, 5),
        (13, 24),
    ]


def test_a_problem_in_an_override_names_the_override():
    text = """\
        version: 1
        experiments:
          - match: a
          - match: b
            limits: {file: huge}
        """
    ((line, column, message, _),) = _problems(text)
    assert (line, column) == (5, 20)
    assert message.startswith("experiments[1].limits.file must be a size")


def test_missing_file_is_one_problem_naming_it(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == (path, None, None)
    assert str(caught.value) == (
        f"{path}: cannot read the policy: No such file or directory; "
        "check the file name and its permissions"
    )


def test_a_folder_is_not_a_policy(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the policy: Is a"):
        load_policy(str(tmp_path))


def test_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\nkeep:\n  tags: {owner: Jos\xe9}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path))
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, 20)
    assert problem.message == "the policy is not UTF-8 text"


def test_policy_error_is_a_config_error_with_exit_code_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nkep: {}\naction: x\n")
    with pytest.raises(ConfigError) as caught:
        load_policy(str(path))
    assert isinstance(caught.value, PolicyError)
    assert caught.value.exit_code == 2
    assert str(caught.value).splitlines() == [
        f"{path}:2:1: unknown key 'kep' in the top level; "
        "did you mean 'keep'?",
        f"{path}:3:9: action must be delete or strip-artifacts, not 'x'; "
        "delete trashes whole runs; strip-artifacts keeps their records",
    ]


def test_sha256_is_the_hash_of_the_file_bytes_and_path_as_given(
    tmp_path, monkeypatch
):
    raw = "version: 1 # ünïcode\r\nkeep: {newest: 2}\r\n".encode()
    (tmp_path / "p.yaml").write_bytes(raw)
    monkeypatch.chdir(tmp_path)
    policy = load_policy("p.yaml")
    assert policy.sha256 == hashlib.sha256(raw).hexdigest()
    assert policy.path == "p.yaml"
    assert policy.keep.newest == 2


def test_text_sha256_defaults_to_its_utf8_bytes():
    text = "version: 1\n"
    policy = _policy(text)
    assert policy.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_version_alone_gives_the_model_defaults():
    policy = _policy("version: 1\n")
    assert policy == Policy(path="p.yaml", sha256=policy.sha256)
    assert policy.keep.registered is True
    assert policy.safety == Safety(
        max_delete=500, max_delete_percent=50.0, min_idle=3600.0
    )


def test_keeping_nothing_and_pruning_nothing_is_valid():
    policy = _policy("""\
        version: 1
        keep: {registered: false}
        prune: {}
        """)
    assert policy.keep == KeepRules(registered=False)
    assert policy.prune == PruneRules()


def test_empty_sections_are_empty():
    policy = _policy("""\
        version: 1
        keep:
          # nothing yet
        prune:
        limits:
        safety:
        experiments:
        """)
    assert policy.keep == KeepRules()
    assert policy.experiments == []


def test_a_full_policy_converts_every_value():
    policy = _policy("""\
        version: 1
        keep:
          registered: false
          top_n:
            - {metric: ROC_AUC, n: 3}
            - {metric: Log_Loss, n: 1, order: min}
          newest: 0
          younger_than: 2w
          tags: {janitor.keep: "true"}
        prune:
          deleted: true
          status: [failed, Killed, FAILED]
          older_than: 90d
        limits:
          run_artifacts: 200MB
          experiment: 5GB
          store: 1.5GiB
          file: 1000
        action: strip-artifacts
        safety:
          max_delete: 0
          max_delete_percent: 12.5
          min_idle: 30m
        """)
    assert policy.keep == KeepRules(
        registered=False,
        top_n=[TopN("ROC_AUC", 3, "max"), TopN("Log_Loss", 1, "min")],
        newest=0,
        younger_than=14 * 86400,
        tags={"janitor.keep": "true"},
    )
    assert policy.prune == PruneRules(
        deleted=True, status=["FAILED", "KILLED"], older_than=90 * 86400
    )
    assert policy.limits == Limits(
        run_artifacts=200_000_000,
        experiment=5_000_000_000,
        store=1536 * 1024**2,
        file=1000,
    )
    assert policy.action == "strip-artifacts"
    assert policy.safety == Safety(
        max_delete=0, max_delete_percent=12.5, min_idle=1800.0
    )


def test_tag_values_are_the_text_as_written():
    policy = _policy("""\
        version: 1
        keep:
          tags: {a: true, b: 1, c: yes, d: 1.50, e: "quoted", 7: seven}
        """)
    assert policy.keep.tags == {
        "a": "true",
        "b": "1",
        "c": "yes",
        "d": "1.50",
        "e": "quoted",
        "7": "seven",
    }


def test_empty_means_not_set():
    policy = _policy("""\
        version: 1
        keep: {newest: ~, younger_than: }
        limits: {store: null}
        safety: {max_delete: ~, max_delete_percent: ~}
        """)
    assert policy.keep.newest is None
    assert policy.keep.younger_than is None
    assert policy.limits.store is None
    assert policy.safety.max_delete is None
    assert policy.safety.max_delete_percent is None


OVERRIDES = """\
    version: 1
    keep:
      newest: 5
      top_n: [{metric: ROC_AUC, n: 3}]
      tags: {janitor.keep: "true"}
    prune:
      deleted: true
      status: [FAILED]
      older_than: 30d
    limits: {store: 20GB, file: 50MB}
    experiments:
      - match: "credit_*"
        keep:
          top_n: [{metric: Score_Metier, n: 1}]
        limits: {file: ~}
      - match: "credit_scoring_*"
        prune: {older_than: 7d}
      - match: "scratch-?"
        keep: {}
        prune:
          status: []
    """


def test_overrides_replace_the_keys_they_give_and_inherit_the_rest():
    policy = _policy(OVERRIDES)
    credit = policy.for_experiment("credit_scoring_lightgbm")
    assert credit.match == "credit_*"
    assert credit.keep == KeepRules(
        newest=5,
        top_n=[TopN("Score_Metier", 1)],
        tags={"janitor.keep": "true"},
    )
    assert credit.prune == policy.prune
    assert credit.limits == Limits(store=20_000_000_000, file=None)


def test_the_first_matching_override_wins():
    policy = _policy(OVERRIDES)
    # "credit_scoring_*" also matches, but comes second.
    assert policy.for_experiment("credit_scoring_x").match == "credit_*"
    scratch = policy.for_experiment("scratch-1")
    assert scratch.keep == policy.keep
    assert scratch.prune == PruneRules(deleted=True, older_than=30 * 86400)
    assert policy.for_experiment("scratch-12").match == "*"


def test_no_matching_override_gives_the_top_level_rules():
    policy = _policy(OVERRIDES)
    rules = policy.for_experiment("Default")
    assert (rules.keep, rules.prune, rules.limits) == (
        policy.keep,
        policy.prune,
        policy.limits,
    )


def test_matching_is_case_sensitive():
    policy = _policy(OVERRIDES)
    assert policy.for_experiment("CREDIT_x").match == "*"


def test_overrides_share_no_mutable_state_with_the_top_level():
    policy = _policy(OVERRIDES)
    scratch = policy.for_experiment("scratch-1")
    scratch.keep.tags["other"] = "x"
    scratch.keep.top_n.append(TopN("B", 1))
    assert policy.keep.tags == {"janitor.keep": "true"}
    assert policy.keep.top_n == [TopN("ROC_AUC", 3)]


def test_the_schema_has_the_model_fields():
    for model, section in SECTIONS.items():
        names = {field.name for field in dataclasses.fields(model)}
        if model is Policy:
            names -= {"path", "sha256"}
        assert set(section.fields) == names, model.__name__


def test_ranked_metrics_come_from_every_top_n_rule():
    policy = _policy(
        """\
        version: 1
        keep:
          top_n: [{metric: roc_auc, n: 3, order: max}]
        experiments:
          - match: "nlp-*"
            keep:
              top_n:
                - {metric: bleu, n: 1, order: max}
                - {metric: val/loss, n: 2, order: min}
          - match: other
            keep: {newest: 2}
        """
    )
    assert policy.ranked_metrics() == {"roc_auc", "bleu", "val/loss"}
    assert _policy("version: 1\n").ranked_metrics() == set()
