"""The statsd quick start (examples/statsd.py) stored in Redis instead of SQLite.

Same schemas, match expressions, intervals, aggregates and generators; every
schema writes to ``TORUS_REDIS_URL`` (default ``redis://localhost:6379/0``)
under its own key prefix ``<TORUS_REDIS_PREFIX>:<schema>:`` (default
``torus:<schema>:``). Redis expires old buckets by itself (each interval's
``steps``), so nothing needs to call ``expire``. ``TORUS_REDIS_LAYOUT=hash`` stores
counts and gauges in window hashes (the engine's ``layout`` option: less Redis work
per point; see docs/kairos/redis.rst before switching a prefix holding data).

    karbon --config examples/redis.py
    torus --config examples/redis.py
"""
import os
import runpy

redis_url = os.environ.get("TORUS_REDIS_URL", "redis://localhost:6379/0")
prefix = os.environ.get("TORUS_REDIS_PREFIX", "torus")
layout = os.environ.get("TORUS_REDIS_LAYOUT", "key")

_statsd = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "statsd.py"))

DEBUG = _statsd["DEBUG"]
SCHEMAS = {name: dict(schema, host=redis_url, prefix="%s:%s" % (prefix, name), layout=layout)
           for name, schema in _statsd["SCHEMAS"].items()}
AGGREGATES = _statsd["AGGREGATES"]
TRANSFORMS = _statsd["TRANSFORMS"]
