"""The one exception family the user is expected to act on."""

from __future__ import annotations

# Exit codes, the contract documented in README.md.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class JanitorError(Exception):
    """Something the user must fix; the message says what and how."""

    exit_code = EXIT_USAGE


class StoreError(JanitorError):
    """The store cannot be opened or read at all."""


class ConfigError(JanitorError):
    """A policy or option is invalid."""


class RefusedError(JanitorError):
    """The tool refuses to act, for safety; a flag can override it."""

    exit_code = EXIT_FINDINGS
