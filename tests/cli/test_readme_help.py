"""The README shows each command's real ``--help``: a changed option must change the README too."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

COMMANDS = ["karbon", "torus", "schema_debug", "schema_test", "migrate", "karbon_replay",
            "torus_delete", "torus_token"]


def _readme_block(text: str, command: str) -> str:
    """The indented literal block of the README that starts with ``usage: <command>``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("usage: %s " % command))
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        block.append(line[indent:])
    return "\n".join(block).strip()


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_shows_the_real_help(command):
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as handle:
        readme = handle.read()
    env = dict(os.environ, COLUMNS="80")
    real = subprocess.run([sys.executable, os.path.join(ROOT, "bin", command), "--help"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert real.returncode == 0
    assert _readme_block(readme, command) == real.stdout.strip()
