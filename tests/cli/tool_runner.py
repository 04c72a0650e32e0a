"""Run the operator tools (bin/schema_debug, bin/schema_test, bin/migrate) as a user would."""
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def tool(name, *args, env=None, timeout=120):
    """``python bin/<name> args...`` from the repository; CompletedProcess with text output."""
    full_env = dict(os.environ, COLUMNS="80")
    full_env.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)


def one_line_error(result, status, *fragments):
    """The command failed with ``status`` and said why on exactly one stderr line."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def write_config(path, text):
    """Write a configuration module (dedented) and return its path as a string."""
    path.write_text(textwrap.dedent(text))
    return str(path)
