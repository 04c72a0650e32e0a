"""Configuration: Python modules loaded into one immutable ``Configuration``, swapped on reload.

A configuration file is a Python module (seed 000, "Configuration") that may
define the settings of ``torus.settings`` (SCHEMAS, AGGREGATES, TRANSFORMS,
MACROS, DEBUG, MAX_POINTS...) and the hooks on_load and on_reload; any other
UPPER_CASE name is refused as a likely typo, with the close match.
``long_or_float`` is available inside it without an import. Several files merge
in the order given: schemas, transforms and macros by name (a later file wins),
aggregates appended, the last DEBUG wins.

``ConfigHolder`` keeps the current Configuration. ``reload()`` builds a complete
new one first and only then swaps it in: a request or batch in flight sees the
old or the new configuration, never a half-built one, and a file that fails to
load leaves the old configuration serving. Requests and batches hold the
configuration they use (``ConfigHolder.lease``/``acquire``): the one a reload
replaced closes its storage engines once the last of them is done (``leases``).
"""
from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .access import SETTING as TOKENS_SETTING, Tokens, tokens_of
from .aggregates import Aggregate, parse_aggregates
from .errors import ConfigError
from .leases import Leases
from .routing import Hop, Route, routes, walk
from .schema import Schema
from .settings import check_module
from .values import long_or_float

log = logging.getLogger(__name__)

_module_ids = itertools.count()
#: routes remembered per configuration (stat names seen); bounded so odd traffic cannot grow memory
ROUTE_CACHE_SIZE = 200_000


def load_module(path: str) -> types.ModuleType:
    """Execute one configuration file as a fresh module (siblings importable while it runs)."""
    if not os.path.isfile(path):
        raise ConfigError("configuration file %s does not exist" % path)
    name = "torus_config_%d_%s" % (next(_module_ids),
                                   os.path.splitext(os.path.basename(path))[0].replace("-", "_"))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError("%s is not a Python module" % path)
    module = importlib.util.module_from_spec(spec)
    # predefined in the file's namespace; mypy knows no attributes of a module built at run time
    module.long_or_float = long_or_float  # type: ignore[attr-defined]
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ConfigError("%s failed to load: %s: %s" % (path, type(err).__name__, err)) from err
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    return module


def _debug_level(value: Any, origin: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and 0 <= value <= 2:
        return value
    raise ConfigError("%s: DEBUG must be False/True or 0, 1, 2, not %r" % (origin, value))


def _named_callables(value: Any, what: str, origin: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("%s: %s must be a dict of names to definitions" % (origin, what))
    for key in value:
        if not isinstance(key, str):
            raise ConfigError("%s: %s key %r must be a string" % (origin, what, key))
    return value


class Configuration:
    """Everything loaded from a set of configuration files; treated as immutable once built."""

    def __init__(self, paths: Sequence[str], modules: Optional[List[types.ModuleType]] = None):
        self.paths = list(paths)
        self.modules = modules if modules is not None else [load_module(p) for p in self.paths]
        self.schemas: "OrderedDict[str, Schema]" = OrderedDict()
        self.aggregates: List[Aggregate] = []
        self.transforms: Dict[str, Callable] = {}
        self.macros: Dict[str, dict] = {}
        self.debug = 0
        for path, module in zip(self.paths, self.modules):
            self._merge(path, module)
        self._routes: Dict[str, Tuple[Route, ...]] = {}
        #: ``route``'s answer if it is cached, else None: one dict lookup, no call of
        #: ``route`` (the planner's per-point lookup; it calls ``route`` on a miss)
        self.cached_route: Callable[[str], Optional[Tuple[Route, ...]]] = self._routes.get
        #: the access tokens of torus's HTTP API (None: open), checked here so a bad one fails the load
        self.tokens: Optional[Tokens] = tokens_of(self.setting(TOKENS_SETTING),
                                                  self._defined_in(TOKENS_SETTING))
        #: the requests and batches using this configuration's storage (see ``ConfigHolder``)
        self.leases = Leases(self.close)

    def close(self) -> None:
        """Close every schema's storage engine (what it opened from its URL); idempotent.

        A client object given as a schema's ``host`` belongs to the configuration file
        that built it and is left open (other schemas may share it).
        """
        for schema in self.schemas.values():
            try:
                schema.timeseries.close()
            except Exception as err:  # one engine failing to close must not keep the others open
                log.warning("schema %s: closing its storage failed: %s: %s", schema.name,
                            type(err).__name__, err)

    def _merge(self, origin: str, module: types.ModuleType) -> None:
        check_module(origin, module)
        schemas = getattr(module, "SCHEMAS", {})
        if not isinstance(schemas, dict):
            raise ConfigError("%s: SCHEMAS must be a dict of names to schema definitions" % origin)
        for name, definition in schemas.items():
            if name in self.schemas:
                log.warning("%s: schema %r replaces the one defined earlier", origin, name)
            try:
                self.schemas[name] = Schema(name, definition)
            except ConfigError as err:
                raise ConfigError("%s: %s" % (origin, err)) from err
        self.aggregates.extend(parse_aggregates(getattr(module, "AGGREGATES", []), origin))
        transforms = _named_callables(getattr(module, "TRANSFORMS", {}), "TRANSFORMS", origin)
        for name, func in transforms.items():
            if not callable(func):
                raise ConfigError("%s: TRANSFORMS[%r] must be callable" % (origin, name))
        self.transforms.update(transforms)
        macros = _named_callables(getattr(module, "MACROS", {}), "MACROS", origin)
        for name, macro in macros.items():
            if not isinstance(macro, dict):
                raise ConfigError("%s: MACROS[%r] must be a dict of query options" % (origin, name))
        self.macros.update(macros)
        if hasattr(module, "DEBUG"):
            self.debug = _debug_level(module.DEBUG, origin)

    def setting(self, name: str, default: Any = None) -> Any:
        """A constant from the configuration files (the last file defining it wins)."""
        for module in reversed(self.modules):
            if hasattr(module, name):
                return getattr(module, name)
        return default

    def _defined_in(self, name: str) -> str:
        """The file whose ``name`` setting wins (the last one defining it)."""
        for path, module in zip(reversed(self.paths), reversed(self.modules)):
            if hasattr(module, name):
                return path
        return "configuration"

    def call_hooks(self, hook: str) -> None:
        """Call ``on_load`` or ``on_reload`` of every module that defines it."""
        for path, module in zip(self.paths, self.modules):
            func = getattr(module, hook, None)
            if callable(func):
                try:
                    func()
                except Exception:
                    log.exception("%s: %s() failed", path, hook)

    # -- routing -------------------------------------------------------------
    def route(self, stat: str) -> Tuple[Route, ...]:
        """Every (schema, stat) a stat is stored under: its own matches, then its aggregates'.

        The routes of ``walk`` (aggregates followed recursively, each name visited once,
        so rules that feed each other cannot loop), cached per stat name.
        """
        found = self._routes.get(stat)
        if found is None:
            found = routes(self.walk(stat))
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[stat] = found
        return found

    def walk(self, stat: str) -> Hop:
        """The routing tree of ``stat`` (``torus.routing``): what ``route`` flattens and
        schema_debug prints."""
        return walk(stat, self.schemas.values(), self.aggregates)

    def schemas_for(self, stat: str) -> List[Schema]:
        """Schemas whose ``match`` captures ``stat`` itself, in configuration order (for queries)."""
        return [schema for schema in self.schemas.values() if schema.match(stat) is not None]


class ConfigHolder:
    """The configuration a daemon serves, reloadable atomically (e.g. on SIGHUP).

    Users of the storage take the configuration with ``lease()`` (or ``acquire()`` and
    ``Configuration.leases.release()`` when the work outlives a block, like a batch
    handed to a writer): a configuration replaced by ``reload`` or let go by ``close``
    closes its engines when its last lease is released.
    """

    def __init__(self, paths: Sequence[str]):
        if not paths:
            raise ConfigError("no configuration file given (use --config FILE)")
        self.paths = list(paths)
        self.current = Configuration(self.paths)
        self.current.call_hooks("on_load")
        self.generation = 1

    def reload(self) -> bool:
        """Load every file again; swap only if all loaded. True when the new one serves."""
        try:
            fresh = Configuration(self.paths)
        except ConfigError as err:
            log.error("reload failed, still serving the previous configuration: %s", err)
            return False
        except Exception:  # a bug outside the config files must not stop the daemon either
            log.exception("reload failed, still serving the previous configuration")
            return False
        old, self.current = self.current, fresh
        self.generation += 1
        log.info("configuration reloaded from %s (%d schemas, %d aggregates)",
                 ", ".join(self.paths), len(fresh.schemas), len(fresh.aggregates))
        fresh.call_hooks("on_reload")
        old.leases.retire()  # its engines close once the requests and batches using it are done
        return True

    def acquire(self) -> Configuration:
        """The current configuration, counted as in use until its ``leases.release()``."""
        while True:
            config = self.current
            if config.leases.acquire() or config is self.current:
                # (a closed current configuration: only after close(); its storage calls
                # raise kairos.Closed, a BackendError)
                return config
            config.leases.release()  # closed by a reload between the two lines above

    @contextmanager
    def lease(self) -> Iterator[Configuration]:
        """The current configuration, whose engines stay open until the block ends."""
        config = self.acquire()
        try:
            yield config
        finally:
            config.leases.release()

    def close(self) -> None:
        """Let the current configuration go (a daemon's exit): its engines close once the
        work in flight is done."""
        self.current.leases.retire()
