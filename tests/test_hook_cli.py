"""`janitor hook` run by hand: where stores are found, what is skipped,
and the manual-edit rules on their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from janitor import git as git_module
from janitor.checks import history
from janitor.commands import hook as hook_command
from janitor.store.locate import StoreFinder, looks_like_store_root, place_of
from tests import mlflow_stores
from tests.conftest import janitor, rewrite_meta
from tests.hook_repo import git
from tests.test_gate import write_policy


@pytest.fixture
def committed(small_store):
    """The small store, committed in a git repository around it."""
    root = small_store.root.parent
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "store")
    return small_store


def hook(store, *files: str, env: dict | None = None):
    return janitor("hook", *files, cwd=store.root.parent, env=env)


def rel(store, path) -> str:
    return path.relative_to(store.root.parent).as_posix()


def test_without_files_it_checks_what_git_stages(committed):
    param = committed.run_dir(1) / "params" / "lr"
    param.write_text("0.9")
    git(committed.root.parent, "add", "-A")
    result = hook(committed)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{rel(committed, param)}: manual-edit: param 'lr' changed from "
        "'0.2' to '0.9'; MLflow never changes a logged param"
    ]


def test_unchanged_files_pass(committed):
    files = [
        rel(committed, path)
        for path in committed.run_dir(0).rglob("*")
        if path.is_file()
    ]
    result = hook(committed, *files)
    assert (result.returncode, result.stdout) == (0, "")


def test_a_meta_yaml_not_in_mlflow_form_fails(committed):
    meta = committed.run_dir(0) / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 3", "status:  3"))
    git(committed.root.parent, "add", "-A")
    result = hook(committed, rel(committed, meta))
    assert result.stdout == (
        f"{rel(committed, meta)}: manual-edit: meta.yaml is not in the form "
        "MLflow writes (sorted keys, block style, as PyYAML dumps it): "
        "edited by hand\n"
    )


def test_integrity_errors_of_touched_runs_fail(committed):
    # A crash mid-write leaves a torn metric line; audit and hook agree.
    metric = committed.run_dir(0) / "metrics" / "auc"
    metric.write_bytes(metric.read_bytes() + b"17000 0.")
    result = hook(committed, rel(committed, metric))
    assert result.returncode == 1
    assert result.stdout == (
        f"{rel(committed, metric)}: malformed-metric: metric 'auc' line 4: "
        "torn last line: no newline at the end (a write was cut short)\n"
    )


def test_the_file_limit_can_be_changed(committed):
    big = committed.run_dir(0) / "artifacts" / "big.bin"
    big.write_bytes(b"\0" * 3000)
    path = rel(committed, big)
    assert hook(committed, path).returncode == 0
    result = hook(committed, path, "--max-file", "2kB")
    assert result.returncode == 1
    assert result.stdout.startswith(
        f"{path}: large-file: 3.0 kB (3000 bytes) is over the file limit of "
        f"2.0 kB (run {committed.run_ids[0]})"
    )


def test_janitor_records_and_files_outside_stores_are_skipped(committed):
    # The state dir beside the store, with a store's copy in its trash.
    root = committed.root.parent
    log = root / ".janitor" / "audit.jsonl"
    log.parent.mkdir()
    log.write_text("pruned\n")
    kept = root / ".janitor" / "trash" / "b1" / "store"
    shutil.copytree(committed.root, kept)
    kept_meta = kept / committed.experiment_id / "meta.yaml"
    kept_meta.write_text("name:  edited\n")
    other = root / "notes.txt"
    other.write_text("x" * 100)
    git(root, "add", "-A")
    given = [rel(committed, log), rel(committed, kept_meta), "notes.txt"]
    result = hook(committed, *given, "--max-file", "1")
    assert (result.returncode, result.stdout) == (0, "")
    result = hook(committed, "--max-file", "1")
    assert (result.returncode, result.stdout) == (0, "")


def test_a_janitor_folder_inside_a_store_is_checked(committed):
    big = committed.run_dir(0) / "artifacts" / ".janitor" / "big.bin"
    big.parent.mkdir()
    big.write_bytes(b"\0" * 3000)
    meta = committed.root / ".janitor" / "meta.yaml"
    meta.parent.mkdir()
    meta.write_text("name:  x\n")
    git(committed.root.parent, "add", "-A")
    result = hook(committed, "--max-file", "2kB")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        f"{rel(committed, big)}: large-file: 3.0 kB (3000 bytes) is over the "
        f"file limit of 2.0 kB (run {committed.run_ids[0]}); keep large "
        "files out of git (Git LFS, or a remote artifact store)"
    ) in lines
    assert (
        f"{rel(committed, meta)}: manual-edit: meta.yaml is not in the form "
        "MLflow writes (sorted keys, block style, as PyYAML dumps it): "
        "edited by hand"
    ) in lines


def test_outside_git_only_manual_edits_are_not_checked(small_store):
    big = small_store.run_dir(0) / "artifacts" / "big.bin"
    big.write_bytes(b"\0" * 3000)
    result = hook(small_store, rel(small_store, big), "--max-file", "1kB")
    assert result.returncode == 1
    assert "large-file" in result.stdout
    assert "manual edits not checked" in result.stderr


def test_store_roots(tmp_path):
    default = tmp_path / "a"
    (default / "0").mkdir(parents=True)
    (default / "0" / "meta.yaml").write_text("name: Default\n")
    assert looks_like_store_root(str(default))

    trash = tmp_path / "b"
    (trash / ".trash" / "0").mkdir(parents=True)
    (trash / ".trash" / "0" / "meta.yaml").write_text("name: Default\n")
    assert looks_like_store_root(str(trash))
    assert not looks_like_store_root(str(trash / ".trash"), "0")

    numbered = tmp_path / "c"
    (numbered / "17" / "run").mkdir(parents=True)
    (numbered / "17" / "meta.yaml").write_text("name: x\n")
    assert not looks_like_store_root(str(numbered))
    assert looks_like_store_root(str(numbered), "17")
    finder = StoreFinder()
    assert finder.root_of(str(numbered / "17" / "run" / "meta.yaml")) == str(
        numbered
    )
    assert finder.root_of(str(trash / ".trash" / "0" / "meta.yaml")) == str(
        trash
    )
    assert finder.root_of(str(tmp_path / "d" / "file")) is None


RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("path", "kind", "unit", "part", "run_id"),
    [
        (f"1/{RUN}/params/lr", "run", f"1/{RUN}", "params/lr", RUN),
        (
            f".trash/1/{RUN}/meta.yaml",
            "run",
            f".trash/1/{RUN}",
            "meta.yaml",
            RUN,
        ),
        ("1/meta.yaml", "experiment", "1", "meta.yaml", None),
        ("1/tags/team", "experiment", "1", "tags/team", None),
        (
            "1/models/m-1/artifacts/MLmodel",
            "logged-model",
            "1/models/m-1",
            "artifacts/MLmodel",
            None,
        ),
        (
            "models/clf/version-1/meta.yaml",
            "registry",
            "models/clf/version-1",
            "meta.yaml",
            None,
        ),
        (
            "models/clf/aliases/champion",
            "registry",
            "models/clf",
            "aliases/champion",
            None,
        ),
        ("README", "root", ".", "README", None),
    ],
)
def test_places(path, kind, unit, part, run_id):
    place = place_of(path)
    assert (place.kind, place.unit, place.part, place.run_id) == (
        kind,
        unit,
        part,
        run_id,
    )


def _messages(findings) -> list[str]:
    return [finding.message for finding in findings]


def test_metric_lines_may_only_be_appended():
    place = place_of(f"1/{RUN}/metrics/loss")
    before = b"1 0.5 0\n2 0.4 1\n"
    check = history.modified
    assert _messages(check("p", place, before, before + b"3 0.3 2\n")) == []
    assert _messages(check("p", place, before, b"1 0.5 0\n")) == [
        "metric 'loss' line 2 was rewritten ('2 0.4 1' became ''); MLflow "
        "only appends lines"
    ]
    assert _messages(check("p", place, before, before[:-1])) == [
        "metric 'loss' was cut short (16 bytes before, 15 now); MLflow "
        "only appends lines"
    ]


def test_meta_keys_mlflow_changes_are_allowed():
    place = place_of(f"1/{RUN}/meta.yaml")
    before = b"end_time: null\nrun_id: a\nstatus: 1\nuser_id: me\n"
    after = b"end_time: 5\nrun_id: a\nstatus: 3\nuser_id: me\n"
    assert _messages(history.modified("p", place, before, after)) == []
    edited = b"end_time: 5\nrun_id: a\nstatus: 3\nuser_id: you\n"
    assert _messages(history.modified("p", place, before, edited)) == [
        "user_id changed from 'me' to 'you'; MLflow never changes it"
    ]
    lost = b"end_time: 5\nstatus: 3\nuser_id: me\n"
    assert _messages(history.modified("p", place, before, lost)) == [
        "run_id was removed (was 'a'); MLflow keeps it"
    ]


def test_deletions():
    run_file = place_of(f"1/{RUN}/metrics/loss")
    assert _messages(history.deleted("p", run_file, unit_kept=False)) == []
    assert len(list(history.deleted("p", run_file, unit_kept=True))) == 1
    tag = place_of(f"1/{RUN}/tags/team")
    assert _messages(history.deleted("p", tag, unit_kept=True)) == []
    artifact = place_of(f"1/{RUN}/artifacts/model.pkl")
    assert _messages(history.deleted("p", artifact, unit_kept=True)) == []


def test_without_files_deletions_alone_are_checked(committed):
    # What `always_run: true` gives: pre-commit runs the hook with no
    # file when a commit only deletes files.
    metric = committed.run_dir(0) / "metrics" / "auc"
    git(committed.root.parent, "rm", "-q", rel(committed, metric))
    result = hook(committed)
    assert result.returncode == 1
    # git removed the emptied metrics/ folder too: MLflow refuses the run.
    run = rel(committed, committed.run_dir(0))
    assert result.stdout.splitlines() == [
        f"{rel(committed, metric)}: manual-edit: deleted while run "
        f"{committed.run_ids[0]} is kept; MLflow deletes whole runs, never "
        "a part of one",
        f"{run}: orphan-run: run folder lacks "
        "metrics/; MLflow lists it but refuses to open it",
    ]


def test_the_policy_sets_the_file_limit(committed, tmp_path):
    big = committed.run_dir(1) / "artifacts" / "big.bin"
    big.write_bytes(b"\0" * 3000)
    policy = write_policy(tmp_path, file="2kB")
    result = hook(committed, rel(committed, big), "--policy", str(policy))
    assert result.returncode == 1
    assert "is over the file limit of 2.0 kB" in result.stdout


def test_a_bad_option_is_a_usage_error(committed):
    result = hook(committed, "--max-file", "huge")
    assert result.returncode == 2
    assert "bad size 'huge'" in result.stderr


def test_logged_models_and_the_registry_commit_clean(tmp_path):
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    result = hook(store)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr

    (model,) = (store.root / store.experiment_id / "models").iterdir()
    big = model / "artifacts" / "weights.bin"
    big.write_bytes(b"\0" * 3000)
    result = hook(store, rel(store, big), "--max-file", "1kB")
    assert result.returncode == 1
    assert f"(run {store.run_ids[0]})" in result.stdout


def test_what_repair_changes_in_a_cloned_store_passes(tmp_path):
    # Hand-made damage, as a crash or an editor leaves it, committed
    # before the store is cloned elsewhere and repaired there.
    first = tmp_path / "first"
    store = mlflow_stores.build_registered_store(first / "mlruns")
    run = store.run_dir(0)
    auc = run / "metrics" / "auc"
    auc.write_bytes(auc.read_bytes() + b"oops 0.5 0\n")
    (run / "metrics" / "torn").write_bytes(b"17000 0.")
    meta = store.root / store.experiment_id / "meta.yaml"
    meta.write_text(meta.read_text().replace(": ", ":  "))
    git(first, "init", "-q")
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "store")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(first), str(clone))

    repaired = janitor("repair", "mlruns", "--yes", cwd=clone)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    git(clone, "add", "-A")
    staged = git(clone, "diff", "--cached", "--name-status").splitlines()
    run_path = f"mlruns/{store.experiment_id}/{store.run_ids[0]}"
    assert f"M\t{run_path}/metrics/auc" in staged
    assert f"D\t{run_path}/metrics/torn" in staged
    assert any(line.endswith("/artifacts/MLmodel") for line in staged)
    assert "M\tmlruns/models/clf/version-1/meta.yaml" in staged
    result = janitor("hook", cwd=clone)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_a_hand_edit_among_repairs_still_fails(tmp_path):
    first = tmp_path / "first"
    store = mlflow_stores.build_small_store(first / "mlruns")
    git(first, "init", "-q")
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "store")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(first), str(clone))
    assert janitor("repair", "mlruns", "--yes", cwd=clone).returncode == 0
    meta = clone / "mlruns" / store.experiment_id / store.run_ids[1]
    meta = meta / "meta.yaml"
    elsewhere = f"file://{clone}/mlruns/{store.experiment_id}/other"
    rewrite_meta(meta, artifact_uri=elsewhere)
    git(clone, "add", "-A")
    result = janitor("hook", cwd=clone)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(
        f"mlruns/{store.experiment_id}/{store.run_ids[1]}/meta.yaml: "
        "manual-edit: artifact_uri changed from "
    )


def test_repairs_of_metric_files_and_nothing_more():
    place = place_of(f"1/{RUN}/metrics/loss")
    before = b"1 0.5 0\n1 0.5 0\n2 x 1\n3 0.3 2\n3 0.3 2\n4 0."
    repaired = b"1 0.5 0\n3 0.3 2\n"
    check = history.modified
    assert _messages(check("p", place, before, repaired)) == []
    assert _messages(check("p", place, before, b"1 0.5 0\n")) == [
        "metric 'loss' line 2 was rewritten ('1 0.5 0' became ''); MLflow "
        "only appends lines"
    ]
    # The first of two equal lines stays, in its place.
    later = b"1 0.5 0\n2 0.4 1\n1 0.5 0\n"
    assert len(list(check("p", place, later, b"2 0.4 1\n1 0.5 0\n"))) == 1
    # A bad line rewritten into a good one is a hand edit.
    assert len(list(check("p", place, before, repaired + b"2 0.2 1\n"))) == 1
    gone = place_of(f"1/{RUN}/metrics/torn")
    assert _messages(history.deleted("p", gone, True, b"2 x 1\n")) == []
    assert len(list(history.deleted("p", gone, True, b"2 0.1 1\n"))) == 1


@pytest.mark.parametrize(
    ("was", "now", "rebased"),
    [
        ("file:///old/mlruns/1/r/artifacts", "file:///new/x/1/r/artifacts", 1),
        ("/old/mlruns/1/r/artifacts", "/srv/1/r/artifacts", 1),
        ("/old/1/mlruns/1/r/artifacts", "/new/mlruns/1/r/artifacts", 1),
        ("file:///old/mlruns/1/r/artifacts", "/new/mlruns/1/r/artifacts", 0),
        ("file:///old/mlruns/1/r/artifacts", "file:///old/mlruns/1/q", 0),
        ("file:///old/mlruns/1/r/artifacts", "s3://b/mlruns/1/r/artifacts", 0),
        ("file:///old/mlruns/2/r/artifacts", "file:///new/2/r/artifacts", 0),
    ],
)
def test_only_a_rebase_may_change_a_location(was, now, rebased):
    place = place_of(f"1/{RUN}/meta.yaml")
    before = f"artifact_uri: {was}\nrun_id: a\n".encode()
    after = f"artifact_uri: {now}\nrun_id: a\n".encode()
    found = _messages(history.modified("p", place, before, after))
    assert len(found) == (0 if rebased else 1)


@pytest.fixture
def registered(tmp_path):
    """A store whose run's logged model is `clf` version 1, committed."""
    store = mlflow_stores.build_registered_store(tmp_path / "mlruns")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "store")
    return store


def _version_meta(store) -> Path:
    return store.root / "models" / "clf" / "version-1" / "meta.yaml"


def test_deleting_a_registered_run_and_its_model_fails(registered):
    (model,) = (
        registered.root / registered.experiment_id / "models"
    ).iterdir()
    root = registered.root.parent
    git(root, "rm", "-r", "-q", rel(registered, registered.run_dir(0)))
    git(root, "rm", "-r", "-q", rel(registered, model))
    # The empty folders MLflow made stay, as in no clone of the store.
    shutil.rmtree(registered.run_dir(0))
    shutil.rmtree(model)
    result = hook(registered)
    assert result.returncode == 1
    version = rel(registered, _version_meta(registered))
    assert result.stdout.splitlines() == [
        f"{version}: dangling-version: version 1 of 'clf' names logged model "
        f"{model.name}, which is not in the store; loading the version fails "
        "without it",
        f"{version}: dangling-version: version 1 of 'clf' names run "
        f"{registered.run_ids[0]}, which is not in the store; loading the "
        "version fails without it",
        f"{version}: missing-artifacts: the model files of this version are "
        f"gone ({model}/artifacts); loading it fails",
    ]


@pytest.mark.parametrize("key", ["model_id", "source"])
def test_a_version_edited_to_name_a_missing_model_fails(registered, key):
    value = "m-0000" if key == "model_id" else "models:/m-0000"
    rewrite_meta(_version_meta(registered), **{key: value})
    git(registered.root.parent, "add", "-A")
    result = hook(registered)
    assert result.returncode == 1
    assert (
        f"{rel(registered, _version_meta(registered))}: dangling-version: "
        "version 1 of 'clf' names logged model m-0000, which is not in the "
        "store; loading the version fails without it"
    ) in result.stdout.splitlines()


def test_an_alias_of_a_missing_version_fails(registered):
    alias = registered.root / "models" / "clf" / "aliases" / "champion"
    alias.parent.mkdir()
    alias.write_text("7")
    git(registered.root.parent, "add", "-A")
    result = hook(registered)
    assert result.returncode == 1
    assert result.stdout == (
        f"{rel(registered, alias)}: dangling-version: alias 'champion' of "
        "'clf' points at version '7', which does not exist or is deleted\n"
    )


def test_older_registry_damage_blocks_no_commit(registered):
    # Damage committed before (without the hook) stays for `janitor
    # audit`; a commit that touches other entries passes.
    broken = registered.root / "models" / "old" / "version-1" / "meta.yaml"
    broken.parent.mkdir(parents=True)
    shutil.copy(_version_meta(registered), broken)
    rewrite_meta(broken, name="old", model_id="m-0000")
    root = registered.root.parent
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "damage")
    _mlflow, client = mlflow_stores._client(registered.root)
    client.set_registered_model_alias("clf", "champion", "1")
    client.set_tag(registered.run_ids[0], "team", "risk")
    git(root, "add", "-A")
    result = hook(registered)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_a_run_change_reads_no_registry():
    change = git_module.Change("M", f"1/{RUN}/metrics/auc")
    deleted = git_module.Change("D", f"1/{RUN}/tags/team")
    found = hook_command._registry_change(
        {change.path: change, deleted.path: deleted}
    )
    assert not (found.paths or found.runs or found.models)
