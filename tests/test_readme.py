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


def test_every_policy_key_is_documented():
    from janitor.policy.kinds import Section
    from janitor.policy.schema import KEEP, OVERRIDE, POLICY

    text = (REPO / "README.md").read_text()
    top_n = KEEP.fields["top_n"].item.fields
    names = [f"keep.top_n[].{key}" for key in top_n]
    # One row covers an override's sections: they are the top level's.
    assert list(OVERRIDE.fields) == ["match", "keep", "prune", "limits"]
    names += ["experiments[].match", "experiments[].keep`, `.prune`, `.limits"]
    for key, kind in POLICY.fields.items():
        if isinstance(kind, Section):
            names += [f"{key}.{field}" for field in kind.fields]
        else:
            names.append(key)
    for name in names:
        assert f"| `{name}` |" in text, name
