"""The trash keeps every promise: restore only where a batch came from,
purge only one store, never a fragment, never through a link."""

from __future__ import annotations

import os
import shutil

from janitor.actions.lock import StoreLock
from tests import mlflow_stores
from tests.conftest import janitor, tree

POLICY = """\
version: 1
keep: {registered: false}
prune: {status: [FINISHED]}
safety: {max_delete_percent: 100, min_idle: 0s}
"""


def pruned(tmp_path, name="mlruns"):
    """A store with both runs pruned; (store, policy, prune id)."""
    store = mlflow_stores.build_small_store(tmp_path / name)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = janitor(
        "prune", str(store.root), "--policy", str(policy), "--yes"
    )
    assert result.returncode == 0, result.stderr
    (prune_id,) = os.listdir(tmp_path / ".janitor" / "trash")
    return store, policy, prune_id


def restore(store_root, prune_id, *extra):
    return janitor(
        "trash",
        "restore",
        prune_id,
        "--store",
        str(store_root),
        "--yes",
        *extra,
    )


def test_restore_goes_only_to_the_store_the_batch_came_from(tmp_path):
    store, policy, prune_id = pruned(tmp_path)
    other = mlflow_stores.build_small_store(tmp_path / "other")
    before = tree(other.root)
    result = restore(
        other.root, prune_id, "--state-dir", str(tmp_path / ".janitor")
    )
    assert result.returncode == 2
    assert f"pass --store {store.root}" in result.stderr
    assert tree(other.root) == before


def test_restore_into_a_moved_project(tmp_path):
    store, _, prune_id = pruned(tmp_path / "proj")
    moved = tmp_path / "proj2"
    shutil.move(tmp_path / "proj", moved)
    result = restore(moved / "mlruns", prune_id)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "proj").exists()
    assert (moved / "mlruns" / store.experiment_id / store.run_ids[0]).is_dir()


def test_purge_leaves_other_stores_prunes_alone(tmp_path):
    _, _, prune_a = pruned(tmp_path, "a")
    b = mlflow_stores.build_small_store(tmp_path / "b")
    result = janitor(
        "trash", "purge", "--older-than", "0s", "--store", str(b.root), "--yes"
    )
    assert "Nothing in the trash is that old." in result.stdout
    assert os.listdir(tmp_path / ".janitor" / "trash") == [prune_a]
    everything = janitor(
        "trash",
        "purge",
        "--older-than",
        "0s",
        "--store",
        str(b.root),
        "--yes",
        "--all-stores",
    )
    assert everything.returncode == 0, everything.stderr
    assert os.listdir(tmp_path / ".janitor" / "trash") == []


def test_restore_refuses_when_the_trash_copy_is_gone(tmp_path):
    store, _, prune_id = pruned(tmp_path)
    batch = tmp_path / ".janitor" / "trash" / prune_id
    shutil.rmtree(batch / "store" / store.experiment_id / store.run_ids[0])
    result = restore(store.root, prune_id)
    assert result.returncode == 1
    assert "no longer in the trash" in result.stderr
    assert batch.is_dir()  # kept: not everything is back


def test_restore_never_puts_back_a_fragment(tmp_path):
    # The experiment was deleted after the prune: its runs have no place.
    store, _, prune_id = pruned(tmp_path)
    shutil.rmtree(store.root / store.experiment_id)
    result = restore(store.root, prune_id)
    assert result.returncode == 1
    assert "its folder is no longer in the store" in result.stderr
    assert not (store.root / store.experiment_id).exists()


def test_the_lock_is_the_store_whatever_the_state_dir(tmp_path):
    store = mlflow_stores.build_small_store(tmp_path / "mlruns")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    link = tmp_path / "link"
    link.symlink_to(store.root)
    with StoreLock(str(store.root)):
        result = janitor(
            "prune",
            str(link),
            "--policy",
            str(policy),
            "--yes",
            "--state-dir",
            str(tmp_path / "other"),
        )
    assert result.returncode == 1
    assert "another janitor is changing this store" in result.stderr


def test_stray_files_in_the_trash_are_passed_over(tmp_path):
    store, _, prune_id = pruned(tmp_path)
    trash = tmp_path / ".janitor" / "trash"
    (trash / ".DS_Store").write_text("x")
    (trash / "broken").mkdir()
    (trash / "broken" / "manifest.json").write_text('{"items": 3}')
    listing = janitor("trash", "list", "--store", str(store.root))
    assert listing.returncode == 0, listing.stderr
    assert prune_id in listing.stdout
    assert restore(store.root, prune_id).returncode == 0


def test_a_linked_audit_log_is_refused(tmp_path):
    store = mlflow_stores.build_small_store(tmp_path / "mlruns")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    state = tmp_path / ".janitor"
    state.mkdir()
    (state / "audit.jsonl").symlink_to(victim)
    result = janitor(
        "prune", str(store.root), "--policy", str(policy), "--yes"
    )
    assert result.returncode == 2
    assert "is a symbolic link" in result.stderr
    assert victim.read_text() == "precious\n"


def test_a_store_inside_the_state_dir_is_refused(tmp_path):
    store = mlflow_stores.build_small_store(tmp_path / "trash")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = janitor(
        "prune",
        str(store.root),
        "--policy",
        str(policy),
        "--yes",
        "--state-dir",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert "is inside this state dir" in result.stderr


def test_restoring_a_repair_never_loses_later_writes(tmp_path):
    store = mlflow_stores.build_small_store(tmp_path / "mlruns")
    metric = store.run_dir(0) / "metrics" / "auc"
    first = metric.read_text().splitlines()[0]
    with metric.open("a") as handle:
        handle.write(first + "\n")
    result = janitor("repair", str(store.root), "--yes")
    assert result.returncode == 0, result.stderr
    with metric.open("a") as handle:
        handle.write("1900000000000 0.99 9\n")
    (repair_id,) = os.listdir(tmp_path / ".janitor" / "trash")
    undo = restore(store.root, repair_id)
    assert undo.returncode == 1
    assert "changed since the repair wrote it" in undo.stderr
    assert metric.read_text().endswith("1900000000000 0.99 9\n")
