"""The statsd quick start (examples/statsd.py) stored in Redis instead of SQLite.

Same schemas, match expressions, intervals, aggregates and generators; every
schema writes to ``TORUS_REDIS_URL`` (default ``redis://localhost:6379/0``)
under its own key prefix ``<TORUS_REDIS_PREFIX>:<schema>:`` (default
``torus:<schema>:``). Redis expires old buckets by itself (each interval's
``steps``), so nothing needs to call ``expire``. Counts and gauges of a new prefix
are stored in window hashes (less Redis work per point); a prefix holding data keeps
its layout. ``TORUS_REDIS_LAYOUT=key`` (or ``hash``) sets the engine's ``layout`` option
instead: see docs/kairos/redis.rst ("Which layout a prefix holds").

    karbon --config examples/redis.py
    torus --config examples/redis.py
"""
import os
import runpy

redis_url = os.environ.get("TORUS_REDIS_URL", "redis://localhost:6379/0")
prefix = os.environ.get("TORUS_REDIS_PREFIX", "torus")
layout = os.environ.get("TORUS_REDIS_LAYOUT") or None  # None: the prefix's own, 'hash' if new

_statsd = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "statsd.py"))

DEBUG = _statsd["DEBUG"]
SCHEMAS = {name: dict(schema, host=redis_url, prefix="%s:%s" % (prefix, name),
                      **({"layout": layout} if layout else {}))
           for name, schema in _statsd["SCHEMAS"].items()}
AGGREGATES = _statsd["AGGREGATES"]
TRANSFORMS = _statsd["TRANSFORMS"]
