"""The progress line shows on a terminal only, and never on stdout."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

from janitor.report.progress import ProgressLine, progress_line
from tests.conftest import REPO, janitor

NOW = {"JANITOR_PROGRESS_DELAY": "0"}


def _on_a_terminal(*args: str, env: dict[str, str]) -> tuple[str, str, int]:
    """Run the CLI with stderr on a pseudo-terminal: (stdout, what the
    terminal got, exit code)."""
    outer = {key: value for key, value in os.environ.items() if key != "CI"}
    full_env = {**outer, "PYTHONPATH": str(REPO), "TERM": "xterm", **env}
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "janitor", *args],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=full_env,
    )
    os.close(terminal)
    stdout = child.communicate()[0].decode()
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return stdout, shown.decode(), child.returncode


def test_a_terminal_sees_the_progress_line(small_store):
    stdout, shown, code = _on_a_terminal(
        "audit", str(small_store.root), "--format", "json", env=NOW
    )
    assert code == 0
    assert "\rjanitor: reading the store: 1 experiment, " in shown
    assert shown.endswith("\r")  # erased before the results
    assert json.loads(stdout)["summary"]["runs"] == 2


def test_quiet_or_ci_shows_no_progress(small_store):
    store = str(small_store.root)
    assert _on_a_terminal("audit", store, "-q", env=NOW)[1] == ""
    assert _on_a_terminal("audit", store, env={**NOW, "CI": "true"})[1] == ""


def test_a_quick_scan_shows_no_progress(small_store):
    shown = _on_a_terminal("audit", str(small_store.root), env={})[1]
    assert shown == ""


def test_a_pipe_gets_no_progress(small_store):
    result = janitor("audit", str(small_store.root), env=NOW)
    assert result.returncode == 0
    assert result.stderr == ""


def test_line_is_redrawn_in_place_and_erased():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    line = ProgressLine(stream, delay=0)
    line(1, 250)
    line.drawn_at = 0  # as if a tenth of a second went by
    line(2, 500)
    line.finish()
    text = stream.getvalue()
    assert text.count("\r") == 4  # two draws, then erase and return
    assert "2 experiments, 500 runs" in text
    assert text.endswith("\r")
    assert progress_line(quiet=True, stream=stream) is None
