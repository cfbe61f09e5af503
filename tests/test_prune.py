"""`janitor prune`, `trash` and `explain` end to end, checked by MLflow."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import time

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from janitor.actions.auditlog import read_records
from janitor.actions.lock import StoreLock
from janitor.actions.trash import Batch, Item, Trash
from janitor.policy.engine import Decision
from janitor.report.plan import render_explanation
from janitor.store import open_store
from tests import mlflow_stores
from tests.conftest import janitor, tree

POLICY = """\
version: 1
keep:
  registered: true
  top_n:
    - {metric: ROC_AUC, n: 1, order: max}
prune:
  deleted: true
  status: [FAILED, KILLED]
safety:
  max_delete: 100
  max_delete_percent: 90
  min_idle: 0s
"""


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "mlruns"
    ids = mlflow_stores.build_policy_store(root)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return root, ids, policy


def listed_runs(root) -> set[str]:
    client = MlflowClient(tracking_uri="file:" + str(root))
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs(
        [e.experiment_id for e in experiments], run_view_type=ViewType.ALL
    )
    return {run.info.run_id for run in runs}


def test_dry_run_changes_nothing_and_shows_the_plan(store):
    root, ids, policy = store
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(policy), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert tree(root) == before
    for name in ("r0", "r2", "r4", "c"):
        assert ids[name] in result.stdout
    assert ids["r1"] not in result.stdout
    assert "Would prune 4 of 9 runs" in result.stdout
    assert "(dry run: nothing was changed)" in result.stdout
    (record,) = read_records(str(root.parent / ".janitor" / "audit.jsonl"))
    assert (record["dry_run"], record["action"], record["pruned"]) == (
        True,
        "plan",
        4,
    )


def test_dry_run_json_lists_every_run_with_its_decision(store):
    root, ids, policy = store
    result = janitor(
        "prune",
        str(root),
        "--policy",
        str(policy),
        "--dry-run",
        "--format",
        "json",
    )
    document = json.loads(result.stdout)
    decisions = {run["run_id"]: run for run in document["runs"]}
    assert len(decisions) == 9
    assert decisions[ids["r0"]]["decision"] == "prune"
    assert decisions[ids["r0"]]["rule"] == "prune.status: FAILED"
    assert decisions[ids["r1"]]["keep_reasons"] == ["keep.registered: prod v1"]
    # The ranked metric's latest value was read: r5 ties r1 and is newer.
    (reason,) = decisions[ids["r5"]]["keep_reasons"]
    assert reason.startswith("keep.top_n") and "ROC_AUC" in reason
    assert decisions[ids["c"]]["decision"] == "prune"
    assert document["summary"]["pruned"] == 4


def test_a_run_copied_into_another_experiment_is_planned_as_itself(
    small_store, tmp_path
):
    # Copied between experiments, a run keeps its folder name: two runs
    # with one id. Each gets its own decision, by its own size.
    client = MlflowClient(tracking_uri="file:" + str(small_store.root))
    other = client.create_experiment("copies")
    run_id = small_store.run_ids[0]
    copy = small_store.root / other / run_id
    subprocess.run(["cp", "-r", str(small_store.run_dir(0)), str(copy)])
    meta = (copy / "meta.yaml").read_text()
    (copy / "meta.yaml").write_text(
        meta.replace(
            f"experiment_id: '{small_store.experiment_id}'",
            f"experiment_id: '{other}'",
        )
    )
    (copy / "artifacts" / "big.bin").write_bytes(b"\0" * 80_000)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nlimits:\n  run_artifacts: 50kB\n"
        "safety:\n  min_idle: 0s\n  max_delete_percent: 100\n"
    )
    result = janitor(
        "prune",
        str(small_store.root),
        "--policy",
        str(policy),
        "--dry-run",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["runs"] == 3
    decisions = {
        (run["experiment_id"], run["run_id"]): run["decision"]
        for run in document["runs"]
    }
    assert decisions[(other, run_id)] == "prune"
    assert decisions[(small_store.experiment_id, run_id)] == "keep"


def test_prune_then_restore(store, caplog):
    root, ids, policy = store
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 0, result.stderr
    pruned = {ids["r0"], ids["r2"], ids["r4"], ids["c"]}
    assert listed_runs(root) == {ids[n] for n in ("r1", "r3", "r5", "r6", "p")}
    assert not (root / ids["credit"] / "models" / ids["r2_model"]).exists()

    with caplog.at_level(logging.WARNING):
        listed_runs(root)
    assert [r for r in caplog.records if r.name.startswith("mlflow")] == []

    audit = read_records(str(root.parent / ".janitor" / "audit.jsonl"))
    moved = [
        r
        for r in audit
        if r.get("outcome") == "done" and r.get("kind") == "run"
    ]
    assert {r["run_id"] for r in moved} == pruned
    for field in (
        "ts",
        "actor",
        "janitor_version",
        "command",
        "prune_id",
        "policy",
        "policy_sha256",
        "action",
        "experiment_id",
        "run_id",
        "path",
        "bytes",
        "rule",
        "dry_run",
        "outcome",
    ):
        assert field in moved[0], field
    assert (
        moved[0]["policy_sha256"]
        == hashlib.sha256(policy.read_bytes()).hexdigest()
    )

    listing = janitor("trash", "list", "--store", str(root))
    prune_id = moved[0]["prune_id"]
    assert prune_id in listing.stdout and "complete" in listing.stdout
    restored = janitor(
        "trash", "restore", prune_id, "--store", str(root), "--yes"
    )
    assert restored.returncode == 0, restored.stderr
    assert tree(root) == before
    assert listed_runs(root) >= pruned


def test_every_surviving_version_still_loads(store):
    root, _, policy = store
    result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 0, result.stderr
    import mlflow.pyfunc

    mlflow.set_tracking_uri("file:" + str(root))
    mlflow.set_registry_uri("file:" + str(root))
    model = mlflow.pyfunc.load_model("models:/prod/1")
    assert model.predict([1.0]) == [2.0]


def test_prune_needs_confirmation_without_a_terminal(store):
    root, _, policy = store
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(policy))
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert tree(root) == before


def test_blast_radius_is_refused_unless_forced(store, tmp_path):
    root, _, _ = store
    strict = tmp_path / "strict.yaml"
    strict.write_text(POLICY.replace("max_delete: 100", "max_delete: 2"))
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(strict), "--yes")
    assert result.returncode == 1
    assert "prunes 4 runs, more than safety.max_delete (2)" in result.stderr
    assert tree(root) == before
    forced = janitor(
        "prune", str(root), "--policy", str(strict), "--yes", "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert tree(root) != before


def test_a_second_prune_on_a_locked_store_is_refused(store):
    root, _, policy = store
    with StoreLock(str(root)):
        result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 1
    assert "another janitor is changing this store" in result.stderr


def cut_short(root, ids, names) -> tuple[Trash, Batch]:
    """The state kill -9 leaves: the manifest written, the first run
    moved, the others not yet."""
    trash = Trash(str(root.parent / ".janitor"))
    trash.prepare(str(root))
    items = [
        Item(
            f"{ids['credit']}/{ids[name]}", "run", 0, ids["credit"], ids[name]
        )
        for name in names
    ]
    batch = Batch(
        "20260101T000000Z-abcdef", str(root), "prune", time.time(), items
    )
    trash.save(batch)
    trash.move_out(batch, items[0])
    return trash, batch


def test_a_prune_cut_short_is_finished_by_the_next_one(store):
    root, ids, policy = store
    # r3 is one no rule of today's policy prunes: the batch still moves it.
    trash, batch = cut_short(root, ids, ("r0", "r3"))
    assert ids["r0"] not in listed_runs(root)  # MLflow still reads it
    result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 0, result.stderr
    assert "finishing prune 20260101T000000Z-abcdef" in result.stderr
    assert Trash(trash.state_dir).load(batch.prune_id).state == "complete"
    assert not {ids["r0"], ids["r3"], ids["r2"]} & listed_runs(root)


def test_a_resumed_prune_spares_runs_written_to_since(store):
    root, ids, policy = store
    trash, batch = cut_short(root, ids, ("r0", "r3"))
    time.sleep(0.05)
    MlflowClient(tracking_uri=f"file:{root}").log_metric(ids["r3"], "x", 1)
    result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 0, result.stderr
    assert ids["r3"] in listed_runs(root)
    kept = Trash(trash.state_dir).load(batch.prune_id)
    assert [item.run_id for item in kept.items] == [ids["r0"]]
    records = read_records(str(root.parent / ".janitor" / "audit.jsonl"))
    assert any(
        r.get("outcome") == "skipped" and r["run_id"] == ids["r3"]
        for r in records
    )


def test_strip_artifacts_keeps_the_run_readable(store, tmp_path):
    root, ids, _ = store
    strip = tmp_path / "strip.yaml"
    strip.write_text(POLICY + "action: strip-artifacts\n")
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(strip), "--yes")
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri="file:" + str(root))
    run = client.get_run(ids["r0"])
    assert run.data.metrics == {"ROC_AUC": 0.70}
    assert run.data.params == {"name": "r0"}
    assert client.list_artifacts(ids["r0"]) == []
    assert (root / ids["credit"] / ids["r0"] / "artifacts").is_dir()
    prune_id = next(iter(os.listdir(root.parent / ".janitor" / "trash")))
    janitor("trash", "restore", prune_id, "--store", str(root), "--yes")
    assert tree(root) == before


def test_purge_deletes_old_prunes_for_good(store):
    root, _, policy = store
    janitor("prune", str(root), "--policy", str(policy), "--yes")
    kept = janitor(
        "trash", "purge", "--older-than", "7d", "--store", str(root), "--yes"
    )
    assert "Nothing in the trash is that old." in kept.stdout
    _purge_everything(root)


def test_state_dir_option_and_inside_store_refused(store, tmp_path):
    root, _, policy = store
    state = tmp_path / "state"
    result = janitor(
        "prune",
        str(root),
        "--policy",
        str(policy),
        "--yes",
        "--state-dir",
        str(state),
    )
    assert result.returncode == 0, result.stderr
    assert (state / "audit.jsonl").exists()
    assert (state / ".gitignore").read_text().count("trash/") == 1
    inside = janitor(
        "prune",
        str(root),
        "--policy",
        str(policy),
        "--yes",
        "--state-dir",
        str(root / "state"),
    )
    assert inside.returncode == 2
    assert "inside the store" in inside.stderr
    assert not (root / "state").exists() or not any((root / "state").iterdir())


def test_explain(store):
    root, ids, policy = store
    result = janitor("explain", ids["r1"], str(root), "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    assert "Decision: KEEP (keep.registered: prod v1)" in result.stdout
    assert (
        "keep rule matched: keep.top_n: max ROC_AUC top 1" not in result.stdout
    )  # r5 wins the tie
    result = janitor("explain", ids["r0"], str(root), "--policy", str(policy))
    assert "Decision: PRUNE (prune.status: FAILED)" in result.stdout
    missing = janitor("explain", "0" * 32, str(root), "--policy", str(policy))
    assert missing.returncode == 2 and "no such run" in missing.stderr


def test_explain_says_protected_once(store):
    root, ids, _policy = store
    snapshot = open_store(str(root)).scan()
    experiment = next(e for e in snapshot.experiments if e.runs)
    decision = Decision(
        experiment.runs[0], experiment, protected="protected: status RUNNING"
    )
    text = render_explanation(decision, time.time())
    assert "Decision: KEEP (protected: status RUNNING)" in text
    assert "\n  protected: status RUNNING" in text
    assert "protected: protected" not in text


def test_prune_never_follows_a_symlink_out(store, tmp_path):
    root, ids, policy = store
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.bin").write_bytes(b"keep me")
    (root / ids["credit"] / ids["r0"] / "artifacts" / "link").symlink_to(
        outside
    )
    result = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert result.returncode == 0, result.stderr
    assert (outside / "data.bin").read_bytes() == b"keep me"
    janitor(
        "trash", "purge", "--older-than", "0s", "--store", str(root), "--yes"
    )
    assert (outside / "data.bin").read_bytes() == b"keep me"


def test_prune_on_the_mlflow2_store(mlflow2_store, tmp_path):
    policy = tmp_path / "p.yaml"
    no_top_n = "  top_n:\n    - {metric: ROC_AUC, n: 1, order: max}\n"
    assert no_top_n in POLICY
    policy.write_text(POLICY.replace(no_top_n, ""))
    before = listed_runs(mlflow2_store)
    result = janitor(
        "prune", str(mlflow2_store), "--policy", str(policy), "--yes"
    )
    assert result.returncode == 0, result.stderr
    after = listed_runs(mlflow2_store)
    # The FAILED run, the deleted run and the deleted experiment's run go.
    assert len(before - after) == 3


def test_strip_artifacts_with_a_name_that_is_not_utf8(store, tmp_path):
    # A file name in bytes that are not UTF-8 (copied from a Latin-1
    # system): MLflow logs such files as they come. The trash manifest
    # and the audit log must hold it, and the restore bring it back.
    root, ids, _ = store
    name = os.fsdecode(b"caf\xe9.bin")
    artifacts = root / ids["credit"] / ids["r0"] / "artifacts"
    (artifacts / name).write_bytes(b"latin-1 named")
    strip = tmp_path / "strip.yaml"
    strip.write_text(POLICY + "action: strip-artifacts\n")
    before = tree(root)
    result = janitor("prune", str(root), "--policy", str(strip), "--yes")
    assert result.returncode == 0, result.stderr
    assert not (artifacts / name).exists()
    trash = root.parent / ".janitor" / "trash"
    (prune_id,) = os.listdir(trash)
    assert not (trash / prune_id / "manifest.json.tmp").exists()
    listed = janitor("trash", "list", "--store", str(root))
    assert prune_id in listed.stdout
    restored = janitor(
        "trash", "restore", prune_id, "--store", str(root), "--yes"
    )
    assert restored.returncode == 0, restored.stderr
    assert tree(root) == before
    assert (artifacts / name).read_bytes() == b"latin-1 named"


def test_a_run_without_its_meta_is_protected_for_its_errors(store):
    # A run folder whose meta.yaml was lost (a sync that skipped it): its
    # status is unknown, not RUNNING, and the plan says why it is kept.
    root, ids, policy = store
    (root / ids["credit"] / ids["r0"] / "meta.yaml").unlink()
    result = janitor(
        "prune", str(root), "--policy", str(policy), "--dry-run",
        "--format", "json",
    )  # fmt: skip
    decisions = {
        run["run_id"]: run for run in json.loads(result.stdout)["runs"]
    }
    assert decisions[ids["r0"]]["decision"] == "keep"
    assert decisions[ids["r0"]]["rule"] == (
        "protected: has integrity errors (see janitor audit)"
    )


def test_a_folder_swapped_for_a_link_before_the_move_is_not_followed(
    store, tmp_path, monkeypatch
):
    # The window between checking a run's path and moving it: the
    # experiment folder is renamed away and a link to a look-alike folder
    # outside the store put in its place (replayed in-process, right after
    # the check). Nothing outside may be moved.
    from janitor.actions import trash as trash_module

    root, ids, policy = store
    experiment = root / ids["credit"]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / ids["r0"]).mkdir()
    (mirror / ids["r0"] / "precious.txt").write_text("keep me")
    real_inside = trash_module.inside
    swapped = []

    def checked_then_swapped(base, relative):
        path = real_inside(base, relative)
        if not swapped and relative.startswith(ids["credit"] + "/"):
            experiment.rename(tmp_path / "moved-away")
            experiment.symlink_to(mirror)
            swapped.append(relative)
        return path

    monkeypatch.setattr(trash_module, "inside", checked_then_swapped)
    from janitor.cli import main

    with pytest.raises(SystemExit):
        main(["prune", str(root), "--policy", str(policy), "--yes"])
    assert swapped
    assert (mirror / ids["r0"] / "precious.txt").read_text() == "keep me"
    assert sorted(os.listdir(mirror)) == [ids["r0"]]


def test_purge_removes_a_tree_deeper_than_the_stack(store):
    # Hand-made: a copied-in artifact tree 1,200 folders deep in a run the
    # policy prunes; purging its batch must not stop half-way.
    root, ids, policy = store
    folder = os.open(
        root / ids["credit"] / ids["r0"] / "artifacts",
        os.O_RDONLY | os.O_DIRECTORY,
    )
    for _level in range(1200):
        os.mkdir("d", dir_fd=folder)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
        os.close(folder)
        folder = inner
    os.close(folder)
    pruned = janitor("prune", str(root), "--policy", str(policy), "--yes")
    assert pruned.returncode == 0, pruned.stderr
    _purge_everything(root)


def _purge_everything(root) -> None:
    """Purge the one prune in the trash, and check it is gone."""
    trash = root.parent / ".janitor" / "trash"
    assert len(os.listdir(trash)) == 1
    purged = janitor(
        "trash", "purge", "--older-than", "0s", "--store", str(root), "--yes"
    )
    assert purged.returncode == 0, purged.stderr
    assert os.listdir(trash) == []


def test_strip_artifacts_lists_only_what_is_in_the_store(store, tmp_path):
    # A run's artifacts folder swapped for a link to elsewhere between
    # the plan and the listing of what to strip: no name or size from
    # the link's target may enter the batch.
    from janitor.commands.prune import build_plan, load, plan_items

    root, _ids, _policy = store
    strip = tmp_path / "strip.yaml"
    strip.write_text(POLICY + "action: strip-artifacts\n")
    files = open_store(str(root))
    plan = build_plan(files, load(str(strip)), time.time())
    before = {item.path: item.bytes for item in plan_items(plan, files)}
    assert before, "the plan strips nothing"
    holder = next(iter(before)).split("/artifacts/")[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "BIG.bin").write_bytes(b"b" * 5000)
    artifacts = root / holder / "artifacts"
    artifacts.rename(tmp_path / "moved-away")
    artifacts.symlink_to(outside)
    after = {item.path: item.bytes for item in plan_items(plan, files)}
    assert not any("BIG" in path for path in after)
    assert after == {
        path: size
        for path, size in before.items()
        if not path.startswith(holder + "/")
    }
