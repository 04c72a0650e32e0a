"""Sphinx configuration of the torus manual.

Build it from the checkout's root (warnings are errors, as in tests/cli/test_docs_build.py)::

    python3 -m sphinx -W -b html docs docs/_build/html
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# autodoc reads the checkout being documented, not another installed copy of torus
sys.path.insert(0, ROOT)

with open(os.path.join(ROOT, "kairos", "__init__.py"), encoding="utf-8") as _handle:
    release = re.search(r'__version__ = "([^"]+)"', _handle.read()).group(1)
version = release

project = "torus"
author = "the torus authors"
copyright = "torus authors, BSD licence"

extensions = ["sphinx.ext.autodoc"]
# the optional drivers: the API pages build without pymongo or cassandra-driver installed
autodoc_mock_imports = ["pymongo", "bson", "cassandra"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"

exclude_patterns = ["_build"]

html_theme = "alabaster"
html_title = "torus %s" % release
html_theme_options = {"description": "Carbon ingest, Graphite queries, kairos timeseries"}
