"""A schema: which stats it captures (``match``), how they are transformed, where they are stored.

Every key of a schema definition (seed 000, "SCHEMAS") is checked here; keys torus
does not know are passed to the kairos ``Timeseries`` constructor (``table_name``,
``value_type``...), which rejects what it does not know either, so a typo fails
the load with the schema's name instead of being silently ignored.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Pattern, Tuple

import kairos
from kairos.registry import redact_url

from .errors import ConfigError
from .values import long_or_float

#: keys torus interprets itself; the rest go to kairos.Timeseries
TORUS_KEYS = ("match", "rolling", "transform", "generator")
#: keys passed to kairos under their own name
KAIROS_KEYS = ("type", "host", "client_config", "prefix", "read_func", "write_func", "intervals")
REQUIRED = ("type", "host", "intervals")


class Schema:
    """One named entry of SCHEMAS, with its kairos timeseries."""

    def __init__(self, name: str, definition: Dict[str, Any]):
        self.name = name
        if not isinstance(definition, dict):
            raise self._error(None, "must be a dict, not %s" % type(definition).__name__)
        missing = [key for key in REQUIRED if key not in definition]
        if missing:
            raise self._error(missing[0], "is required")
        self.definition = dict(definition)
        self.type: str = definition["type"]
        self.host = definition["host"]
        self.patterns: List[Pattern[str]] = self._compile_match(definition.get("match"))
        self.rolling: int = self._rolling(definition.get("rolling", 0))
        self.transform: Optional[Callable] = self._callable("transform", definition.get("transform"))
        self.generator: Optional[Callable] = self._callable("generator", definition.get("generator"))
        self.read_func = self._callable("read_func", definition.get("read_func", long_or_float))
        self.write_func = self._callable("write_func", definition.get("write_func", long_or_float))
        options = {key: value for key, value in definition.items() if key not in TORUS_KEYS}
        # write_func is applied by torus.processing point by point (a failing value costs only
        # itself), so the timeseries itself stores values as given
        options["read_func"] = self.read_func
        options.pop("write_func", None)
        prefix = options.get("prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise self._error("prefix", "must be a string")
        try:
            self.timeseries = kairos.Timeseries(options.pop("host"), **options)
        except kairos.KairosError as err:
            raise self._error(None, str(err)) from err
        except TypeError as err:  # an unexpected keyword reached a constructor
            raise self._error(None, "invalid option: %s" % err) from err
        except ImportError as err:  # the engine's driver is not installed
            raise self._error(None, str(err)) from err

    def __repr__(self) -> str:
        return "Schema(%r, type=%r)" % (self.name, self.type)

    # -- validation -------------------------------------------------------
    def _error(self, key: Optional[str], message: str) -> ConfigError:
        where = "schema %r" % self.name if key is None else "schema %r key %r" % (self.name, key)
        return ConfigError("%s %s" % (where, message))

    def _compile_match(self, match: Any) -> List[Pattern[str]]:
        if match is None:
            raise self._error("match", "is required: a regular expression or a list of them")
        patterns = [match] if isinstance(match, str) else match
        if not isinstance(patterns, (list, tuple)) or not patterns:
            raise self._error("match", "must be a regular expression or a non-empty list of them")
        compiled = []
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise self._error("match", "holds %r, which is not a string" % (pattern,))
            try:
                compiled.append(re.compile(pattern))
            except re.error as err:
                raise self._error("match", "has an invalid regular expression %r: %s" % (pattern, err))
        return compiled

    def _rolling(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error("rolling", "must be a whole number of intervals, not %r" % (value,))
        return value

    def _callable(self, key: str, value: Any) -> Optional[Callable]:
        if value is not None and not callable(value):
            raise self._error(key, "must be callable, not %r" % (value,))
        return value

    # -- use ----------------------------------------------------------------
    def match(self, stat: str) -> Optional[str]:
        """The pattern (source text) that captures ``stat`` (``re.search``), or None."""
        for pattern in self.patterns:
            if pattern.search(stat):
                return pattern.pattern
        return None

    def apply_transform(self, stat: str, value: Any) -> Tuple[Optional[str], Any]:
        """``(stat, value)`` after the schema's transform; a None stat means "do not store"."""
        if self.transform is None:
            return stat, value
        result = self.transform(stat, value)
        if not isinstance(result, tuple) or len(result) != 2:
            raise ConfigError("schema %r transform must return (stat, value), returned %r"
                              % (self.name, result))
        return result

    def describe_host(self) -> str:
        """Where the data goes, without credentials (for logs and schema_debug)."""
        host = self.host
        return redact_url(host) if isinstance(host, str) else repr(host)
