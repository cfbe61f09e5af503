"""`janitor audit` as a user runs it: output formats and exit codes."""

from __future__ import annotations

import json
import os

from tests.conftest import REPO, janitor


def test_exit_0_on_a_clean_store(small_store):
    result = janitor("audit", str(small_store.root))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Store: {small_store.root}"
    assert "No findings." in lines
    assert lines[-1].startswith("0 errors, 0 warnings, 0 info; ")
    assert "2 runs" in lines[-1]


def test_exit_1_on_an_error_finding(small_store):
    (small_store.run_dir(0) / "meta.yaml").write_text("")
    result = janitor("audit", str(small_store.root))
    assert result.returncode == 1
    assert "empty-meta" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 error, ")


def test_fail_on_levels(small_store):
    meta = small_store.run_dir(0) / "meta.yaml"
    meta.write_text(
        meta.read_text().replace("run_name: run-0", "run_name: 'run-0'")
    )
    store = str(small_store.root)
    assert janitor("audit", store).returncode == 0
    assert janitor("audit", store, "--fail-on", "warning").returncode == 1
    (small_store.run_dir(1) / "meta.yaml").write_text("")
    assert janitor("audit", store, "--fail-on", "never").returncode == 0


def test_json_shape(small_store):
    (small_store.run_dir(0) / "meta.yaml").unlink()
    result = janitor("audit", str(small_store.root), "--format", "json")
    report = json.loads(result.stdout)
    assert set(report) == {"store", "summary", "sizes", "findings"}
    assert report["store"] == str(small_store.root)
    (finding,) = report["findings"]
    assert set(finding) == {
        "code",
        "severity",
        "path",
        "experiment_id",
        "run_id",
        "message",
        "hint",
    }
    assert finding["experiment_id"] == small_store.experiment_id
    sizes = report["sizes"]
    assert sizes["store_bytes"] == report["summary"]["bytes"] > 0
    assert {run["run_id"] for run in sizes["largest_runs"]} == set(
        small_store.run_ids
    )


def test_sizes_count_artifact_bytes(small_store):
    payload = small_store.run_dir(1) / "artifacts" / "weights.bin"
    payload.write_bytes(b"\0" * 300_000)
    report = json.loads(
        janitor("audit", str(small_store.root), "--format", "json").stdout
    )
    largest = report["sizes"]["largest_runs"][0]
    assert largest["run_id"] == small_store.run_ids[1]
    assert largest["artifact_bytes"] >= 300_000
    assert report["sizes"]["largest_files"][0]["path"].endswith(
        "artifacts/weights.bin"
    )


def test_missing_store_is_a_one_line_usage_error(tmp_path):
    result = janitor("audit", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("janitor: error: ")
    assert "nope: no such folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_store_that_is_a_file(tmp_path):
    path = tmp_path / "mlruns"
    path.write_text("x")
    result = janitor("audit", str(path))
    assert result.returncode == 2
    assert "not a folder" in result.stderr


def test_bad_option_is_exit_2(small_store):
    result = janitor("audit", str(small_store.root), "--format", "xml")
    assert result.returncode == 2
    result = janitor("audit", str(small_store.root), "--stale-after", "3y")
    assert result.returncode == 2
    assert "bad duration" in result.stderr


def test_store_from_tracking_uri(small_store, tmp_path):
    result = janitor(
        "audit",
        env={"MLFLOW_TRACKING_URI": f"file://{small_store.root}"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"Store: {small_store.root}" in result.stdout


def test_default_store_is_mlruns_in_the_current_folder(small_store):
    result = janitor("audit", cwd=small_store.root.parent)
    assert result.returncode == 0, result.stderr
    assert f"Store: {small_store.root}" in result.stdout


def test_non_file_tracking_uri_is_refused(tmp_path):
    result = janitor(
        "audit",
        env={"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "only file stores" in result.stderr


def test_quiet_leaves_out_size_tables(small_store):
    result = janitor("audit", str(small_store.root), "-q")
    assert "Largest runs" not in result.stdout
    assert (
        janitor("audit", str(small_store.root)).stdout.count("Largest runs")
        == 1
    )


def test_example_store_audits_without_errors():
    result = janitor("audit", str(REPO / "examples" / "mlruns"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 runs" in result.stdout.splitlines()[-1]


def test_not_a_store_is_refused(tmp_path, small_store):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = janitor("audit", str(empty))
    assert result.returncode == 2
    assert "not an MLflow store" in result.stderr
    experiment = small_store.root / small_store.experiment_id
    result = janitor("audit", str(experiment))
    assert result.returncode == 2
    assert "pass the store root" in result.stderr


def test_bad_uris_are_one_line_errors(tmp_path):
    for location in ("http://[::1", "file://[x", "file://otherhost/x", ""):
        result = janitor("audit", location, cwd=tmp_path)
        assert result.returncode == 2, location
        assert result.stderr.startswith("janitor: error: "), location
        assert "Traceback" not in result.stderr


def test_file_names_that_are_not_utf8(small_store):
    weird = (
        os.fsencode(str(small_store.run_dir(0) / "artifacts")) + b"/caf\xe9"
    )
    with open(weird, "wb") as handle:
        handle.write(b"x" * 10_000_000)
    result = janitor(
        "audit",
        str(small_store.root),
        "--format",
        "json",
        env={"PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sizes"]["largest_files"][0]["path"].endswith("caf?")
