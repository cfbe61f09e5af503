"""`janitor policy check` as a user and a pre-commit hook run it."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, janitor

SHIPPED = sorted((REPO / "policies").glob("*.yaml"))


def test_the_shipped_policies_are_there():
    assert [path.name for path in SHIPPED] == [
        "default.yaml",
        "git-friendly.yaml",
        "keep-best.yaml",
        "size-cap.yaml",
    ]


@pytest.mark.parametrize("policy", SHIPPED, ids=lambda path: path.name)
def test_each_shipped_policy_is_valid(policy):
    result = janitor("policy", "check", str(policy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{policy}: ok; keeps registered, ")
    assert result.stderr == ""


def test_exit_0_and_one_summary_line_per_valid_file():
    result = janitor("policy", "check", *(str(path) for path in SHIPPED))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == len(SHIPPED)


def test_the_default_policy_summary():
    result = janitor("policy", "check", "policies/default.yaml", cwd=REPO)
    assert result.stdout == (
        "policies/default.yaml: ok; keeps registered, newest 5, "
        "top 3 by ROC_AUC, tag janitor.keep=true; prunes deleted, "
        "FAILED or KILLED older than 30d; action delete\n"
    )


def test_exit_2_and_every_problem_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nkep: {}\nkeep:\n  newest: -1\n")
    result = janitor("policy", "check", str(bad))
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"{bad}:2:1: unknown key 'kep' in the top level; did you mean 'keep'?",
        f"{bad}:4:11: keep.newest must be a whole number 0 or more, "
        "not -1; newest: N keeps the N most recent runs of each experiment",
    ]


def test_one_bad_file_among_good_ones_fails_the_lot(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    good = REPO / "policies" / "default.yaml"
    result = janitor("policy", "check", str(good), str(bad), str(good))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{good}: ok; ")
    assert lines[1] == (
        f"{bad}:1:10: version must be 1, not 2; "
        "this janitor reads policies of version 1"
    )
    assert lines[2] == lines[0]


def test_missing_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = janitor("policy", "check", str(missing))
    assert result.returncode == 2
    assert result.stdout == (
        f"{missing}: cannot read the policy: No such file or directory; "
        "check the file name and its permissions\n"
    )
    assert "Traceback" not in result.stderr


def test_syntax_error_is_a_problem_not_a_traceback(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nkeep: [\n")
    result = janitor("policy", "check", str(bad))
    assert result.returncode == 2
    assert result.stdout.startswith(f"{bad}:3:1: invalid YAML: ")
    assert result.stderr == ""


def test_quiet_prints_only_problems(tmp_path):
    bad = tmp_path / "empty.yaml"
    bad.write_text("")
    good = REPO / "policies" / "default.yaml"
    quiet = janitor("policy", "check", "-q", str(good))
    assert (quiet.returncode, quiet.stdout) == (0, "")
    result = janitor("policy", "check", "-q", str(good), str(bad))
    assert result.returncode == 2
    assert result.stdout == (
        f"{bad}:1:1: the policy is empty; write at least 'version: 1', "
        "or start from policies/default.yaml\n"
    )


def test_no_file_is_a_usage_error():
    result = janitor("policy", "check")
    assert result.returncode == 2
    assert "Missing argument 'FILES...'" in result.stderr
