"""The command line: parse options, dispatch to janitor.commands."""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from janitor import __version__
from janitor.errors import EXIT_USAGE, JanitorError
from janitor.units import parse_duration, parse_size

if TYPE_CHECKING:
    from janitor.repair import RebaseRequest

EXIT_INTERNAL = 3
F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("janitor")


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Size(click.ParamType):
    name = "size"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def verbosity(command: F) -> F:
    """-q and -v, shared by every command."""

    @click.option(
        "-v", "--verbose", count=True, help="More diagnostics on stderr."
    )
    @click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Only findings and the summary; no diagnostics.",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, verbose: int, quiet: bool, **kwargs: Any) -> Any:
        _configure_logging(verbose, quiet)
        return command(*args, quiet=quiet, **kwargs)

    return wrapper  # type: ignore[return-value]


def _configure_logging(verbose: int, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("janitor: %(message)s"))
    logger.handlers[:] = [handler]
    logger.propagate = False
    if quiet:
        logger.setLevel(logging.ERROR)
    elif verbose:
        logger.setLevel(logging.DEBUG)
    else:
        logger.setLevel(logging.WARNING)


store_argument = click.argument("store", required=False)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
policy_option = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Policy file whose limits apply.",
)
fail_on_option = click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default="error",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlflow-janitor")
def cli() -> None:
    """Keep MLflow tracking stores healthy and small.

    STORE is a file store folder; without it, a file: MLFLOW_TRACKING_URI,
    else ./mlruns.
    """


@cli.command()
@store_argument
@format_option
@fail_on_option
@click.option(
    "--stale-after",
    type=Duration(),
    default="24h",
    show_default=True,
    help="A RUNNING run idle this long is reported as stale.",
)
@verbosity
def audit(
    store: str | None,
    output_format: str,
    fail_on: str,
    stale_after: float,
    quiet: bool,
) -> None:
    """Check a store's integrity and account for its size.

    \b
    Examples:
      janitor audit examples/mlruns
      janitor audit ./mlruns --format json --fail-on warning
    """
    from janitor.commands.audit import audit as run_audit
    from janitor.report.progress import progress_line

    progress = progress_line(quiet)
    sys.exit(
        run_audit(store, output_format, fail_on, stale_after, quiet, progress)
    )


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where the trash, audit log and locks live "
    "[default: .janitor beside the store].",
)
yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation."
)
required_policy_option = click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The retention policy (YAML).",
)


@cli.command()
@store_argument
@required_policy_option
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@format_option
@yes_option
@click.option(
    "--force",
    is_flag=True,
    help="Prune even beyond the policy's safety limits.",
)
@state_dir_option
@verbosity
def prune(
    store: str | None,
    policy_path: str,
    dry_run: bool,
    output_format: str,
    yes: bool,
    force: bool,
    state_dir: str | None,
    quiet: bool,
) -> None:
    """Apply a retention policy: move pruned runs to the janitor's trash.

    \b
    Examples:
      janitor prune ./mlruns --policy policies/default.yaml --dry-run
      janitor prune ./mlruns --policy policies/default.yaml --yes
    """
    from janitor.commands.prune import prune as run_prune

    sys.exit(
        run_prune(
            store, policy_path, dry_run, yes, force, state_dir, output_format
        )
    )


@cli.command()
@store_argument
@policy_option
@click.option(
    "--max-store", type=Size(), help="Budget for the whole store, e.g. 2GB."
)
@click.option("--max-experiment", type=Size(), help="Budget per experiment.")
@click.option(
    "--max-run",
    type=Size(),
    help="Budget per run: its artifacts and logged models.",
)
@click.option("--max-file", type=Size(), help="Budget per file.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "github", "sarif"]),
    default="table",
    show_default=True,
    help="Output format; github writes workflow commands.",
)
@fail_on_option
@verbosity
def gate(
    store: str | None,
    policy_path: str | None,
    max_store: int | None,
    max_experiment: int | None,
    max_run: int | None,
    max_file: int | None,
    output_format: str,
    fail_on: str,
    quiet: bool,
) -> None:
    """Fail when a store is over its size budgets or has errors (for CI).

    Budgets come from the policy's `limits`; a --max-* option replaces
    the policy's value everywhere. Files are only sized, never parsed.

    \b
    Examples:
      janitor gate mlruns --max-file 50MB --max-run 500MB
      janitor gate mlruns --policy policies/retention.yaml --format github
    """
    from janitor.commands.gate import gate as run_gate
    from janitor.policy.model import Limits

    overrides = Limits(
        run_artifacts=max_run,
        experiment=max_experiment,
        store=max_store,
        file=max_file,
    )
    sys.exit(
        run_gate(store, policy_path, overrides, output_format, fail_on, quiet)
    )


@cli.command()
@click.argument("run_id")
@click.argument("store", required=False)
@required_policy_option
@verbosity
def explain(
    run_id: str, store: str | None, policy_path: str, quiet: bool
) -> None:
    """Say why a policy keeps or prunes one run: every matching rule.

    \b
    Example:
      janitor explain 99793d91397f425682e5fac3f17237b4 examples/mlruns \\
        --policy policies/default.yaml
    """
    from janitor.commands.prune import explain as run_explain

    sys.exit(run_explain(store, run_id, policy_path))


def _rebase_request(
    ctx: Any, param: Any, values: tuple[str, ...]
) -> RebaseRequest:
    from janitor.repair import parse_request

    try:
        return parse_request(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@cli.command()
@store_argument
@click.option(
    "--dry-run", is_flag=True, help="Show what would be fixed; change nothing."
)
@click.option(
    "--rebase",
    "rebase",
    multiple=True,
    metavar="OLD=NEW|auto",
    callback=_rebase_request,
    help="Rewrite recorded absolute paths under OLD to NEW (repeatable). "
    "`auto`, the default without the option, rewrites the old root of a "
    "moved or cloned store to this store's path.",
)
@format_option
@yes_option
@state_dir_option
@verbosity
def repair(
    store: str | None,
    rebase: RebaseRequest,
    dry_run: bool,
    output_format: str,
    yes: bool,
    state_dir: str | None,
    quiet: bool,
) -> None:
    """Fix what the audit finds and can be fixed safely; the originals go
    to the janitor's trash, so `janitor trash restore` undoes it.

    \b
    Examples:
      janitor repair ./mlruns --dry-run
      janitor repair ./mlruns --yes
      janitor repair ./mlruns --rebase /home/ci/mlruns=/srv/mlruns --yes
    """
    from janitor.commands.repair import repair as run_repair

    sys.exit(run_repair(store, rebase, dry_run, yes, state_dir, output_format))


@cli.command("migrate-check")
@store_argument
@format_option
@verbosity
def migrate_check(store: str | None, output_format: str, quiet: bool) -> None:
    """Say whether `mlflow migrate-filestore` would fail on a store or lose
    data, and which findings are to blame.

    \b
    Examples:
      janitor migrate-check ./mlruns
      janitor migrate-check ./mlruns --format json
    """
    from janitor.commands.migrate_check import migrate_check as run_check

    sys.exit(run_check(store, output_format))


@cli.group()
def trash() -> None:
    """List, restore or purge what prune and repair moved out of stores."""


trash_store_option = click.option(
    "--store",
    "store",
    default=None,
    help="The store whose state dir to use [default: as for audit].",
)


@trash.command("list")
@state_dir_option
@trash_store_option
@verbosity
def trash_list(state_dir: str | None, store: str | None, quiet: bool) -> None:
    """List prunes and repairs in the trash."""
    from janitor.commands import trash as commands

    sys.exit(commands.list_batches(commands.trash_for(state_dir, store)))


@trash.command("restore")
@click.argument("prune_id")
@state_dir_option
@trash_store_option
@yes_option
@verbosity
def trash_restore(
    prune_id: str,
    state_dir: str | None,
    store: str | None,
    yes: bool,
    quiet: bool,
) -> None:
    """Put back everything a prune or a repair moved or rewrote."""
    from janitor.commands import trash as commands

    sys.exit(
        commands.restore(commands.trash_for(state_dir, store), prune_id, yes)
    )


@trash.command("purge")
@click.option(
    "--older-than",
    type=Duration(),
    required=True,
    help="Delete prunes older than this for good (e.g. 7d).",
)
@click.option(
    "--all-stores",
    is_flag=True,
    help="Purge the prunes of every store sharing this state dir.",
)
@state_dir_option
@trash_store_option
@yes_option
@verbosity
def trash_purge(
    older_than: float,
    all_stores: bool,
    state_dir: str | None,
    store: str | None,
    yes: bool,
    quiet: bool,
) -> None:
    """Delete a store's old prunes from the trash for good."""
    from janitor.commands import trash as commands

    place = commands.trash_for(state_dir, store)
    sys.exit(commands.purge(place, older_than, yes, all_stores))


@cli.group()
def policy() -> None:
    """Work with retention policy files."""


@policy.command("check")
@click.argument("files", nargs=-1, required=True)
@verbosity
def policy_check(files: tuple[str, ...], quiet: bool) -> None:
    """Validate policy files: every problem with its line and column.

    Exit 0 when all are valid, 2 when any is not. -q prints only the
    problems, as a pre-commit hook would want.

    \b
    Examples:
      janitor policy check policies/default.yaml
      janitor policy check policies/*.yaml
    """
    from janitor.commands.policy import check

    sys.exit(check(files, quiet))


@cli.command()
@click.argument("files", nargs=-1, type=click.Path())
@policy_option
@click.option(
    "--max-file",
    type=Size(),
    help="File limit, replacing the policy's (default 50MB).",
)
@verbosity
def hook(
    files: tuple[str, ...],
    policy_path: str | None,
    max_file: int | None,
    quiet: bool,
) -> None:
    """Check staged store files before a commit (the pre-commit hook).

    Reads only the runs FILES belong to: their integrity errors, files
    over the file limit, and changes MLflow would not make (against
    git's HEAD). Without FILES, checks every staged change.

    \b
    Examples:
      janitor hook mlruns/1/0123abcd.../params/lr
      janitor hook --max-file 20MB
    """
    from janitor.commands.hook import hook as run_hook

    sys.exit(run_hook(files, policy_path, max_file, quiet))


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn JanitorError into a one-line message."""
    # One command per process, building a million objects and no cycle:
    # the cycle collector would only walk them over and over.
    gc.disable()
    for stream in (sys.stdout, sys.stderr):
        # File names need not be valid UTF-8; never crash printing them.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        cli.main(args=argv, prog_name="janitor", standalone_mode=False)
    except JanitorError as exc:
        click.echo(f"janitor: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("janitor: aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("janitor: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a bug: keep the traceback, say where
        log = _write_crash_log()
        where = f"traceback in {log}" if log else "no traceback kept"
        click.echo(
            f"janitor: internal error: {type(exc).__name__}: {exc} "
            f"({where}); please report it",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


def _write_crash_log() -> str:
    """Append the traceback to a private log; "" when that fails."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"),
        ".cache",
    )
    folder = os.path.join(cache, "mlflow-janitor")
    path = os.path.join(folder, "crash.log")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        handle = os.open(path, flags, 0o600)
        with os.fdopen(handle, "a", encoding="utf-8") as log:
            log.write(traceback.format_exc())
    except Exception:
        return ""
    return path
