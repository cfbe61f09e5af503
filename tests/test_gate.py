"""`janitor gate` as CI runs it: budgets, formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from mlflow import MlflowClient

from janitor.checks import CheckContext, stat_checks
from janitor.checks.metrics import check_metrics
from janitor.report.github import escape_data, escape_property
from janitor.store import open_store
from tests.conftest import REPO, janitor

SARIF_SCHEMA = REPO / "tests" / "fixtures" / "sarif-2.1.0.json"


def log_artifact(store, index: int, name: str, size: int, tmp_path) -> str:
    """Log a file of ``size`` bytes to a run, as MLflow does; its path
    relative to the store."""
    local = tmp_path / "upload" / name
    local.parent.mkdir(exist_ok=True)
    local.write_bytes(b"\0" * size)
    run_id = store.run_ids[index]
    client = MlflowClient(tracking_uri="file:" + str(store.root))
    client.log_artifact(run_id, str(local))
    return f"{store.experiment_id}/{run_id}/artifacts/{name}"


@pytest.fixture
def heavy_store(small_store, tmp_path):
    """The small store with a 300 kB artifact in its second run."""
    small_store.weights = log_artifact(
        small_store, 1, "weights.bin", 300_000, tmp_path
    )
    return small_store


def gate(store, *options: str, env: dict | None = None):
    return janitor("gate", str(store.root), *options, env=env)


def gate_json(store, *options: str) -> tuple[int, dict]:
    result = gate(store, "--format", "json", *options)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_within_budget_exits_0(heavy_store):
    result = gate(
        heavy_store,
        "--max-store",
        "10MB",
        "--max-file",
        "1MB",
        "--max-run",
        "1MB",
        "--max-experiment",
        "5MB",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert last.startswith("Within budget; 0 failing findings; store ")
    assert last.endswith("(limit 10.0 MB)")
    assert "Over budget" not in result.stdout


@pytest.mark.parametrize(
    ("option", "budget"),
    [
        ("--max-store", "store"),
        ("--max-experiment", "experiment"),
        ("--max-run", "run"),
        ("--max-file", "file"),
    ],
)
def test_each_budget_exceeded_exits_1_naming_the_offender(
    heavy_store, option, budget
):
    expected_path = {
        "store": ".",
        "experiment": heavy_store.experiment_id,
        "run": f"{heavy_store.experiment_id}/{heavy_store.run_ids[1]}",
        "file": heavy_store.weights,
    }[budget]
    code, report = gate_json(heavy_store, option, "200kB")
    assert code == 1
    (offender,) = report["offenders"]
    assert offender["budget"] == budget
    assert offender["path"] == expected_path
    assert offender["limit"] == 200_000
    assert offender["bytes"] >= 300_000
    assert offender["over_by"] == offender["bytes"] - 200_000

    table = gate(heavy_store, option, "200kB")
    assert table.returncode == 1
    assert any(
        line.split()[:2] == [budget, expected_path]
        for line in table.stdout.splitlines()
    ), table.stdout
    assert table.stdout.splitlines()[-1].startswith(
        f"Over budget: 1 {budget}; 0 failing findings; "
    )


def test_offenders_come_largest_excess_first(heavy_store, tmp_path):
    log_artifact(heavy_store, 0, "small.bin", 150_000, tmp_path)
    code, report = gate_json(heavy_store, "--max-file", "100kB")
    assert code == 1
    assert [o["bytes"] for o in report["offenders"]] == [300_000, 150_000]
    assert report["offenders"][0]["run_id"] == heavy_store.run_ids[1]


def test_json_shape(heavy_store):
    code, report = gate_json(heavy_store, "--max-file", "100kB")
    assert code == 1
    assert set(report) == {
        "store",
        "passed",
        "fail_on",
        "summary",
        "budgets",
        "offenders",
        "findings",
    }
    assert report["passed"] is False
    assert report["store"] == str(heavy_store.root)
    assert [b["budget"] for b in report["budgets"]] == [
        "store",
        "experiment",
        "run",
        "file",
    ]
    store_budget, _exp, run_budget, file_budget = report["budgets"]
    assert store_budget == {
        "budget": "store",
        "limit": None,
        "actual": report["summary"]["store_bytes"],
        "path": ".",
        "offenders": 0,
    }
    assert run_budget["limit"] is None and run_budget["actual"] >= 300_000
    assert file_budget == {
        "budget": "file",
        "limit": 100_000,
        "actual": 300_000,
        "path": heavy_store.weights,
        "offenders": 1,
    }
    (offender,) = report["offenders"]
    assert set(offender) == {
        "budget",
        "path",
        "bytes",
        "limit",
        "over_by",
        "experiment_id",
        "run_id",
        "name",
    }
    assert report["summary"]["offenders"] == 1
    assert report["findings"] == []


def test_integrity_errors_fail_the_gate(small_store):
    # A full disk leaves a meta.yaml empty.
    (small_store.run_dir(0) / "meta.yaml").write_bytes(b"")
    code, report = gate_json(small_store, "--max-store", "1GB")
    assert code == 1
    assert report["offenders"] == []
    assert [f["code"] for f in report["findings"]] == ["empty-meta"]
    result = gate(small_store, "--fail-on", "never")
    assert result.returncode == 0
    assert "Within budget; 0 failing findings" in result.stdout


def test_the_gate_parses_no_metric_file(small_store):
    # A torn last line (a crash mid-write): `audit` reports it, the gate,
    # which only stats files, does not read it at all.
    metric = small_store.run_dir(0) / "metrics" / "auc"
    metric.write_bytes(metric.read_bytes() + b"1700000000000 0.")
    assert janitor("audit", str(small_store.root)).returncode == 1
    assert gate(small_store).returncode == 0

    snapshot = open_store(str(small_store.root)).scan(metrics=False)
    context = CheckContext(now=0.0, store_root=str(small_store.root))
    assert list(check_metrics(snapshot, context)) == []
    assert check_metrics not in stat_checks()


def test_github_annotations_escape_data_and_properties(small_store, tmp_path):
    name = "we,ird:na%me\nx.bin"
    path = log_artifact(small_store, 0, name, 2000, tmp_path)
    result = gate(small_store, "--max-file", "1kB", "--format", "github")
    assert result.returncode == 1
    escaped_path = (
        path.replace("%", "%25")
        .replace("\n", "%0A")
        .replace(":", "%3A")
        .replace(",", "%2C")
    )
    message = (
        path.replace("%", "%25").replace("\n", "%0A")
        + ": 2.0 kB, 1.0 kB over the file budget of 1.0 kB (run "
        + small_store.run_ids[0]
        + ")"
    )
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"::error file={escaped_path},title=File over budget::{message}"
    )
    assert lines[-1].startswith("Over budget: 1 file; ")


def test_escape_functions():
    assert escape_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert escape_property("50% a\r\nb: c, d") == "50%25 a%0D%0Ab%3A c%2C d"


def test_github_paths_are_relative_to_the_repository(small_store):
    repo = small_store.root.parent
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (small_store.run_dir(1) / "meta.yaml").write_bytes(b"")
    result = gate(small_store, "--format", "github")
    assert result.returncode == 1
    meta = f"mlruns/{small_store.experiment_id}/{small_store.run_ids[1]}"
    assert result.stdout.startswith(
        f"::error file={meta}/meta.yaml,title=empty-meta::"
    )


def test_step_summary_is_appended(heavy_store, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = gate(
        heavy_store,
        "--max-file",
        "100kB",
        "--format",
        "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n### janitor gate failed\n")
    assert "| file | 100.0 kB | 300.0 kB | 1 |" in text
    assert (
        f"| file | {heavy_store.weights} | 300.0 kB | 100.0 kB | 200.0 kB |"
        in text
    )
    assert text.rstrip().endswith("(no limit)")


def test_no_step_summary_without_the_variable(heavy_store, tmp_path):
    result = gate(
        heavy_store, "--format", "github", env={"GITHUB_STEP_SUMMARY": ""}
    )
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "Within budget; 0 failing findings; store "
        + result.stdout.split("store ", 1)[1].strip()
    ]


def test_sarif_validates_against_the_schema(heavy_store):
    (heavy_store.run_dir(0) / "meta.yaml").write_bytes(b"")
    result = gate(heavy_store, "--max-file", "100kB", "--format", "sarif")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(log)

    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for budget in ("store", "experiment", "run", "file"):
        assert f"budget-{budget}" in rules
    assert "empty-meta" in rules and "malformed-metric" in rules
    by_rule = {result["ruleId"]: result for result in run["results"]}
    assert set(by_rule) == {"budget-file", "empty-meta"}
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    weights = by_rule["budget-file"]["locations"][0]["physicalLocation"]
    assert weights["artifactLocation"]["uri"] == heavy_store.weights
    assert by_rule["empty-meta"]["level"] == "error"
    root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert root == Path(heavy_store.root).as_uri() + "/"


def test_usage_errors_exit_2(small_store, tmp_path):
    bad_size = gate(small_store, "--max-run", "lots")
    assert bad_size.returncode == 2
    assert "bad size 'lots'" in bad_size.stderr
    missing = janitor("gate", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("janitor: error: ")
    unwritable = gate(
        small_store,
        "--format",
        "github",
        env={"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such.md")},
    )
    assert unwritable.returncode == 2
    assert "cannot append the step summary" in unwritable.stderr


def write_policy(tmp_path, **limits: str) -> Path:
    lines = ["version: 1", "limits:"]
    lines += [f"  {key}: {value}" for key, value in limits.items()]
    policy = tmp_path / "policy.yaml"
    policy.write_text("\n".join(lines) + "\n")
    return policy


def test_policy_limits_apply(heavy_store, tmp_path):
    policy = write_policy(tmp_path, file="100kB", run_artifacts="200kB")
    code, report = gate_json(heavy_store, "--policy", str(policy))
    assert code == 1
    assert [o["budget"] for o in report["offenders"]] == ["file", "run"]
    limits = {b["budget"]: b["limit"] for b in report["budgets"]}
    assert limits == {
        "store": None,
        "experiment": None,
        "run": 200_000,
        "file": 100_000,
    }


def test_options_replace_the_policy_limits(heavy_store, tmp_path):
    policy = write_policy(tmp_path, file="100kB", store="1kB")
    code, report = gate_json(
        heavy_store,
        "--policy",
        str(policy),
        "--max-file",
        "1MB",
        "--max-store",
        "1GB",
    )
    assert code == 0, report["offenders"]


def test_a_bad_policy_is_a_usage_error(small_store, tmp_path):
    policy = write_policy(tmp_path, file="lots")
    result = gate(small_store, "--policy", str(policy))
    assert result.returncode == 2
    assert str(policy) in result.stderr


def test_per_experiment_limits_apply_to_matching_experiments(
    heavy_store, tmp_path
):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\n"
        "limits:\n  file: 1MB\n"
        "experiments:\n"
        "  - match: 'sm*'\n    limits:\n      file: 100kB\n"
        "  - match: 'other'\n    limits:\n      file: 1kB\n"
    )
    code, report = gate_json(heavy_store, "--policy", str(policy))
    assert code == 1
    (offender,) = report["offenders"]
    assert (offender["path"], offender["limit"]) == (
        heavy_store.weights,
        100_000,
    )
    file_budget = report["budgets"][3]
    assert file_budget["limit"] == 1_000_000


def test_a_run_copied_into_another_experiment_is_sized_as_itself(
    heavy_store, tmp_path
):
    # Runs copied between stores or experiments keep their folder name,
    # so two experiments can hold runs with the same id. Each is held to
    # the run budget with its own bytes.
    client = MlflowClient(tracking_uri="file:" + str(heavy_store.root))
    other = client.create_experiment("copies")
    light = heavy_store.run_ids[0]
    source = heavy_store.run_dir(0)
    subprocess.run(
        ["cp", "-r", str(source), str(heavy_store.root / other / light)],
        check=True,
    )
    (heavy_store.root / other / light / "artifacts" / "big.bin").write_bytes(
        b"\0" * 200_000
    )
    code, report = gate_json(
        heavy_store, "--max-run", "250kB", "--fail-on", "never"
    )
    assert code == 1
    assert [o["path"] for o in report["offenders"]] == [
        f"{heavy_store.experiment_id}/{heavy_store.run_ids[1]}"
    ]
    code, report = gate_json(
        heavy_store, "--max-run", "150kB", "--fail-on", "never"
    )
    assert sorted(o["path"] for o in report["offenders"]) == sorted(
        [
            f"{heavy_store.experiment_id}/{heavy_store.run_ids[1]}",
            f"{other}/{light}",
        ]
    )


def test_sarif_names_a_file_that_is_not_utf8_by_its_bytes(small_store):
    # A file name in Latin-1 bytes: the SARIF location keeps those bytes,
    # percent-escaped, instead of failing to encode the name.
    name = os.fsdecode(b"poids-\xe9.bin")
    folder = small_store.run_dir(1) / "artifacts"
    (folder / name).write_bytes(b"x" * 5000)
    result = gate(small_store, "--max-file", "1kB", "--format", "sarif")
    assert result.returncode == 1, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    uris = [
        found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for found in run["results"]
    ]
    assert any(uri.endswith("/artifacts/poids-%E9.bin") for uri in uris)
