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
from janitor.units import parse_duration

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
