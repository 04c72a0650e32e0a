"""README.rst, the front page: plain reStructuredText that GitHub and PyPI render (no Sphinx
roles, no warning), links into docs/ that lead somewhere, and the two commands at its top that
CI and newcomers run verbatim.
"""
import io
import os
import re

import pytest

from tests.conftest import ROOT, require_module

RUN_COMMAND = "python3 -m pip install -e . honcho && honcho -f Procfile.dev start"
TEST_COMMAND = "python3 -m pip install -q -r development.pip && python3 -m pytest"


def _readme() -> str:
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as handle:
        return handle.read()


def test_readme_renders_without_sphinx_and_without_a_warning():
    require_module("docutils")
    from docutils.core import publish_doctree
    from docutils.utils import SystemMessage
    try:
        publish_doctree(_readme(), source_path="README.rst", settings_overrides={
            "report_level": 2, "halt_level": 2, "warning_stream": io.StringIO()})
    except SystemMessage as err:
        pytest.fail("README.rst does not render cleanly: %s" % err)


def test_readme_links_lead_to_files_of_the_checkout():
    targets = re.findall(r"`[^`<]+<([^>`]+)>`_", _readme())
    local = [target for target in targets if "://" not in target]
    assert any(target.startswith("docs/") for target in local)
    for target in local:
        assert os.path.exists(os.path.join(ROOT, target.split("#")[0])), target


def test_the_two_commands_open_the_readme():
    top = _readme().split("\n", 40)[:40]
    assert "    " + RUN_COMMAND in top
    assert "    " + TEST_COMMAND in top


def test_ci_runs_the_readme_test_command_verbatim():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as handle:
        commands = [line for line in handle.read().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == TEST_COMMAND
