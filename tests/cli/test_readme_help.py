"""The manual shows each command's real ``--help``: a changed option must change the docs too.

Each block lives on the page of its command (docs/karbon.rst, docs/torus.rst, docs/tools.rst);
the test finds it in whichever file of the manual (README.rst and docs/) holds it, and a
command shown in two places is an error, so no stale copy can hide beside the checked one.
"""
import glob
import os
import subprocess
import sys
from typing import List, Tuple

import pytest

from tests.conftest import ROOT

COMMANDS = ["karbon", "torus", "schema_debug", "schema_test", "migrate", "karbon_replay",
            "torus_delete", "torus_token"]


def manual_files() -> List[str]:
    """README.rst and every page of docs/, the places a help block may be shown."""
    pages = glob.glob(os.path.join(ROOT, "docs", "**", "*.rst"), recursive=True)
    return [os.path.join(ROOT, "README.rst")] + sorted(pages)


def _usage_block(lines: List[str], start: int) -> str:
    """The indented literal block starting at ``lines[start]`` (``usage: <command> ...``)."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        block.append(line[indent:])
    return "\n".join(block).strip()


def help_blocks(command: str) -> List[Tuple[str, str]]:
    """``(file, block)`` for every block of the manual that starts with ``usage: <command> ``."""
    found = []
    for path in manual_files():
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("usage: %s " % command):
                found.append((os.path.relpath(path, ROOT), _usage_block(lines, number)))
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_docs_show_the_real_help(command):
    blocks = help_blocks(command)
    assert len(blocks) == 1, "usage: %s is shown %d times: %s" % (
        command, len(blocks), [path for path, _ in blocks])
    env = dict(os.environ, COLUMNS="80")
    real = subprocess.run([sys.executable, os.path.join(ROOT, "bin", command), "--help"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert real.returncode == 0
    path, block = blocks[0]
    assert block == real.stdout.strip(), "%s shows another --help of %s" % (path, command)


def test_each_block_is_on_its_commands_page():
    """karbon's help on the karbon page, torus's on the torus page, the tools' on the tools page."""
    pages = {"karbon": "docs/karbon.rst", "torus": "docs/torus.rst"}
    for command in COMMANDS:
        assert [path for path, _ in help_blocks(command)] == [
            pages.get(command, "docs/tools.rst")], command
