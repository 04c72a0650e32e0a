"""A schema: which stats it captures (``match``), how they are transformed, where they are stored.

Every key of a schema definition (seed 000, "SCHEMAS") is checked here: keys torus
interprets, keys of the kairos ``Timeseries`` constructor and the options of the
engine serving ``host`` (``table_name``, ``prefix``, ``value_type``...). Anything
else, and any unknown key of an interval, fails the load with the schema's name
and the close match (``intervalls``: did you mean ``intervals``?) instead of
being silently ignored.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Dict, List, Optional, Pattern, Tuple

import kairos
from kairos import registry
from kairos.registry import redact_url
from kairos.transforms import BUILTIN_NAMES

from .errors import ConfigError
from .typos import unknown
from .values import long_or_float

#: keys torus interprets itself; the rest go to kairos.Timeseries
TORUS_KEYS = ("match", "rolling", "transform", "generator", "reduce")
#: keys passed to kairos under their own name
KAIROS_KEYS = ("type", "host", "client_config", "prefix", "read_func", "write_func", "intervals")
REQUIRED = ("type", "host", "intervals")
#: keys of one interval (kairos.intervals.Interval)
INTERVAL_KEYS = ("step", "steps", "resolution")


def engine_options(host: Any) -> Tuple[str, ...]:
    """The options the engine serving ``host`` takes (none known when it cannot be found)."""
    try:
        engine: type[kairos.Timeseries] = registry.engine_for(host)
    except (kairos.KairosError, ImportError):
        return ()  # kairos.Timeseries reports an unknown scheme or a missing driver itself
    parameters = inspect.signature(engine._setup).parameters.values()
    return tuple(p.name for p in parameters if p.name not in ("self", "client")
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _as_given(value: Any) -> Any:
    """The ``write_func`` of a schema configured with ``'write_func': None``."""
    return value


def _an(text: str) -> str:
    """"an unknown key 'x'" for one name, "unknown keys 'x', 'y'" for several."""
    return text if text.startswith("unknown keys") else "an " + text


class Schema:
    """One named entry of SCHEMAS, with its kairos timeseries."""

    def __init__(self, name: str, definition: Dict[str, Any]):
        self.name = name
        if not isinstance(definition, dict):
            raise self._error(None, "must be a dict, not %s" % type(definition).__name__)
        self._check_keys(definition)
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
        self.reduce = self._reduce(definition.get("reduce"))
        self.read_func = self._callable("read_func", definition.get("read_func", long_or_float))
        # None means "store as given", as for a kairos Timeseries: processing calls write_func
        # on every point, so None becomes a function that returns the value
        self.write_func: Callable[[Any], Any] = (
            self._callable("write_func", definition.get("write_func", long_or_float)) or _as_given)
        #: no transform and the default write_func: ``plan`` takes a parsed int or non-integral
        #: float as it is, without the two calls
        self.plain_numbers = self.transform is None and self.write_func is long_or_float
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

    def _check_keys(self, definition: Dict[str, Any]) -> None:
        """Refuse misspelt keys (``intervalls``, ``roling``, ``stpe``) naming the close match."""
        known = TORUS_KEYS + KAIROS_KEYS + engine_options(definition.get("host"))
        strange = [key for key in definition if key not in known]
        if strange:
            raise self._error(None, "has %s; a schema takes %s" % (
                _an(unknown("key", map(str, strange), known)), ", ".join(dict.fromkeys(known))))
        intervals = definition.get("intervals")
        if isinstance(intervals, dict):
            for interval, spec in intervals.items():
                strange = [key for key in spec if key not in INTERVAL_KEYS] if isinstance(spec, dict) else []
                if strange:
                    raise self._error(None, "interval %r has %s; an interval takes %s" % (
                        interval, _an(unknown("key", map(str, strange), INTERVAL_KEYS)),
                        ", ".join(INTERVAL_KEYS)))

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

    def _reduce(self, value: Any) -> Any:
        """The Graphite API's rule making one number of a bucket (``torus.graphite.archives``)."""
        if value is None or callable(value) or value in BUILTIN_NAMES:
            return value
        raise self._error("reduce", "must be one of %s or a callable (data, seconds) -> number, "
                                    "not %r" % (", ".join(BUILTIN_NAMES), value))

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
