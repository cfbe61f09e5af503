"""The command line: parse options, dispatch to janitor.commands."""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from janitor import __version__
from janitor.errors import EXIT_USAGE, JanitorError
from janitor.units import parse_duration, parse_size

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

    sys.exit(run_audit(store, output_format, fail_on, stale_after, quiet))


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
        click.echo(
            f"janitor: internal error: {type(exc).__name__}: {exc} "
            f"(traceback in {log}); please report it",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


def _write_crash_log() -> str:
    path = os.path.join(tempfile.gettempdir(), "mlflow-janitor-crash.log")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(traceback.format_exc())
    return path
