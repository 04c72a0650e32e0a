"""kairos and torus are typed packages: mypy passes with the project's ``mypy.ini``, and both
ship the ``py.typed`` marker so that code importing them is checked against their hints.

mypy comes from development.pip: without it the mypy test is skipped, or fails under ``CI``.
"""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_module

CONFIG = os.path.join(ROOT, "mypy.ini")
#: mypy's incremental cache (gitignored): a run after a small change takes a second or two
CACHE = os.path.join(ROOT, ".mypy_cache")


def test_mypy_passes_on_kairos_and_torus():
    require_module("mypy")
    # the files to check are named by mypy.ini, so this is exactly `python3 -m mypy`
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", CONFIG,
                             "--cache-dir", CACHE], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        pytest.fail("mypy failed (exit %d):\n%s%s" % (result.returncode, result.stdout, result.stderr),
                    pytrace=False)


def test_both_packages_ship_py_typed(tmp_path):
    """What setup.py puts in a build (package_data) holds the markers, not only the checkout."""
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for package in ("kairos", "torus"):
        assert (tmp_path / package / "py.typed").is_file(), "%s/py.typed is not shipped" % package
