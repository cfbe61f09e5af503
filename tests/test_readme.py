"""README's two commands are the ones CI and newcomers run."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_install_and_test_commands():
    install, test = _commands()[:2]
    assert "pip install ." in install
    assert install.endswith("janitor audit examples/mlruns")
    assert "pip install -e '.[test]'" in test
    assert "MLFLOW_ALLOW_FILE_STORE=true python -m pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    test = _commands()[1]
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


def test_every_check_code_is_documented():
    from janitor.checks import CODES

    text = (REPO / "README.md").read_text()
    for code in CODES:
        assert f"| `{code}` |" in text, code
