"""Every UPPER_CASE setting a configuration module may define, in one place.

A configuration file is Python, so a typo (``SCHEMA = ...``, ``MAX_POINT = 5``)
would otherwise be a variable nobody reads and a setting silently left at its
default. Loading therefore refuses any UPPER_CASE name that is not listed here,
and names the close match. Lower-case names and names starting with ``_`` are
the module's own (helpers, intermediate values) and are never checked; the hooks
``on_load`` and ``on_reload`` are lower case too.

A name read with ``Configuration.setting`` must be listed here and documented in README
(``tests/unit/test_config.py`` checks both).
"""
from __future__ import annotations

import types
from typing import Any, Dict, List

from .errors import ConfigError
from .typos import unknown

#: setting -> what it is (README, "Configuration" and "Settings read by torus", says more)
SETTINGS: Dict[str, str] = {
    "SCHEMAS": "schema name -> definition (torus.schema)",
    "AGGREGATES": "(rollup, source) pairs (torus.aggregates)",
    "TRANSFORMS": "name -> function usable in queries as name(stat)",
    "MACROS": "name -> query options usable as name(stat)",
    "DEBUG": "0, 1 or 2: how much karbon and torus log",
    "MAX_POINTS": "the most keys one /series request may read (torus.queries)",
    "MAX_STATS": "the most stats one /series or /properties request may name",
    "CORS_ORIGIN": "Access-Control-Allow-Origin of read answers (torus.cors)",
    "CORS_INSERT_ORIGIN": "the web origin allowed to write through /insert (torus.cors)",
    "SELF_METRICS": "karbon writes its own figures under a prefix every N s (torus.self_metrics)",
    "TOKENS": "token name -> hash, read/write scopes and expiry of the HTTP API (torus.access)",
}


def is_setting_name(name: str) -> bool:
    """UPPER_CASE names (not starting with "_") are settings; the rest belongs to the module."""
    return not name.startswith("_") and name.isupper()


def unknown_settings(module: types.ModuleType) -> List[str]:
    """The UPPER_CASE names a configuration module defines that torus does not read."""
    return sorted(name for name in vars(module) if is_setting_name(name) and name not in SETTINGS)


#: settings that must be a positive whole number, and their defaults
COUNTS: Dict[str, int] = {"MAX_POINTS": 100_000, "MAX_STATS": 100}


def positive_count(config: Any, name: str) -> int:
    """A whole-number setting of ``config`` (a Configuration), or its default."""
    value = config.setting(name, COUNTS[name])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("%s must be a positive whole number, not %r" % (name, value))
    return value


def check_module(origin: str, module: types.ModuleType) -> None:
    """ConfigError naming every unknown setting of ``module`` with its close match, or a
    count setting that is not a positive whole number."""
    names = unknown_settings(module)
    if names:
        raise ConfigError("%s: %s: torus reads %s; name your own values in lower case or with a "
                          "leading underscore" % (origin, unknown("setting", names, SETTINGS),
                                                  ", ".join(SETTINGS)))
    for name in COUNTS:
        value = getattr(module, name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError("%s: %s must be a positive whole number, not %r" % (origin, name, value))
    if hasattr(module, "SELF_METRICS"):
        from .self_metrics import parse_setting  # here: it loads prometheus-client
        parse_setting(module.SELF_METRICS, "%s: SELF_METRICS" % origin)
